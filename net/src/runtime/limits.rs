//! Process limits checked at start-up, with the fix for the operator.

/// File descriptors the server needs beyond its connections (listeners, rings, stdio, slack).
pub const NOFILE_HEADROOM_COUNT: u64 = 64;

/// Raises the soft open-files limit to fit `conn_limit` connections, as memcached does.
pub fn ensure_nofile(conn_limit: u32, shard_count: u32) -> Result<(), String> {
    let needed = u64::from(conn_limit) + NOFILE_HEADROOM_COUNT + 4 * u64::from(shard_count);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is valid for writing.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } < 0 {
        return Err(format!(
            "getrlimit(RLIMIT_NOFILE): {}",
            std::io::Error::last_os_error()
        ));
    }
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    if limit.rlim_max < needed {
        return Err(format!(
            "-c {conn_limit} needs {needed} open files but the hard limit is {}: raise it \
             (ulimit -n {needed}, or LimitNOFILE={needed} in the systemd unit) or lower -c",
            limit.rlim_max
        ));
    }
    limit.rlim_cur = needed;
    // SAFETY: `limit` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } < 0 {
        return Err(format!(
            "setrlimit(RLIMIT_NOFILE, {needed}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
