//! Process limits set at start-up (open files for `-c`, core files for `-r`), as memcached
//! sets them, with the operator's fix when the host does not allow it.

use crate::config::ServerConfig;

/// File descriptors the server needs beyond its connections (listeners, rings, stdio, slack).
pub const NOFILE_HEADROOM_COUNT: u64 = 64;
/// File descriptors each shard needs besides connections (ring, eventfd, listeners).
pub const NOFILE_PER_SHARD_COUNT: u64 = 4;

/// Everything the process sets about itself before the shards start.
pub fn prepare_process(config: &ServerConfig) -> Result<(), String> {
    ensure_nofile(config.conn_limit, config.shard_count)?;
    if config.coredumps_enabled {
        enable_coredumps()?;
    }
    Ok(())
}

/// Open files `conn_limit` connections over `shard_count` shards need.
pub fn nofile_needed(conn_limit: u32, shard_count: u32) -> u64 {
    u64::from(conn_limit) + NOFILE_HEADROOM_COUNT + NOFILE_PER_SHARD_COUNT * u64::from(shard_count)
}

fn get(resource: libc::__rlimit_resource_t, name: &str) -> Result<libc::rlimit, String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is valid for writing.
    if unsafe { libc::getrlimit(resource, &mut limit) } < 0 {
        return Err(format!(
            "getrlimit({name}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(limit)
}

fn set(resource: libc::__rlimit_resource_t, limit: libc::rlimit) -> std::io::Result<()> {
    // SAFETY: `limit` is a valid rlimit, read for the call.
    if unsafe { libc::setrlimit(resource, &limit) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Raises the open-files limit to fit `conn_limit` connections: the soft limit, and the hard
/// one too where the process may (root, CAP_SYS_RESOURCE), as memcached does.
pub fn ensure_nofile(conn_limit: u32, shard_count: u32) -> Result<(), String> {
    let needed = nofile_needed(conn_limit, shard_count);
    let limit = get(libc::RLIMIT_NOFILE, "RLIMIT_NOFILE")?;
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    let raised = libc::rlimit {
        rlim_cur: needed,
        rlim_max: limit.rlim_max.max(needed),
    };
    set(libc::RLIMIT_NOFILE, raised).map_err(|e| {
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|text| text.trim().parse().ok());
        let limits = NofileLimits {
            soft: limit.rlim_cur,
            hard: limit.rlim_max,
            nr_open,
        };
        nofile_advice(conn_limit, shard_count, &limits, &e.to_string())
    })
}

/// The open-files limits in force when `-c` did not fit.
#[derive(Clone, Copy, Debug)]
pub struct NofileLimits {
    pub soft: u64,
    pub hard: u64,
    /// `fs.nr_open`: no process may have more, root included.
    pub nr_open: Option<u64>,
}

/// What to do when `-c conn_limit` needs more open files than the process may have.
pub fn nofile_advice(
    conn_limit: u32,
    shard_count: u32,
    limits: &NofileLimits,
    detail: &str,
) -> String {
    let needed = nofile_needed(conn_limit, shard_count);
    let mut message = format!(
        "-c {conn_limit} needs {needed} open files, but the limit is {} (hard {}) and cannot \
         be raised ({detail}): set LimitNOFILE={needed} in the systemd unit (or ulimit -n \
         {needed} before starting",
        limits.soft, limits.hard
    );
    if let Some(nr_open) = limits.nr_open.filter(|&nr_open| needed > nr_open) {
        message.push_str(&format!(
            "; above the kernel's fs.nr_open = {nr_open} also sysctl -w fs.nr_open={needed}"
        ));
    }
    message.push(')');
    let usable = limits.hard.min(limits.nr_open.unwrap_or(u64::MAX));
    let conn_limit_max = usable.saturating_sub(nofile_needed(0, shard_count));
    if conn_limit_max > 0 {
        message.push_str(&format!(", or lower -c to at most {conn_limit_max}"));
    }
    message
}

/// memcached's `-r`: raise the core file size limit to unlimited, or else to the hard limit,
/// and fail only if no core file could be written at all.
pub fn enable_coredumps() -> Result<(), String> {
    let before = get(libc::RLIMIT_CORE, "RLIMIT_CORE")?;
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    if set(libc::RLIMIT_CORE, unlimited).is_err() {
        let to_hard = libc::rlimit {
            rlim_cur: before.rlim_max,
            rlim_max: before.rlim_max,
        };
        // Lowering the soft limit to the hard one cannot fail; the check below decides.
        let _ = set(libc::RLIMIT_CORE, to_hard);
    }
    let after = get(libc::RLIMIT_CORE, "RLIMIT_CORE")?;
    if after.rlim_cur == 0 {
        return Err(
            "-r (enable_coredumps): no core file can be written: the hard core file \
                    size limit is 0; raise it (LimitCORE=infinity in the systemd unit, or \
                    ulimit -c unlimited) or leave -r out"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_advice_gives_the_limit_and_the_largest_c() {
        let limits = NofileLimits {
            soft: 1024,
            hard: 4096,
            nr_open: Some(1 << 20),
        };
        let text = nofile_advice(5000, 2, &limits, "Operation not permitted");
        assert!(text.starts_with("-c 5000 needs 5072 open files"), "{text}");
        assert!(
            text.contains("LimitNOFILE=5072") && text.contains("ulimit -n 5072"),
            "{text}"
        );
        assert!(text.contains("at most 4024"), "{text}");
        assert!(!text.contains("nr_open"), "{text}");
    }

    #[test]
    fn nofile_advice_names_nr_open_when_the_kernel_caps_it() {
        let limits = NofileLimits {
            soft: 64,
            hard: 64,
            nr_open: Some(1 << 20),
        };
        let text = nofile_advice(2_000_000, 1, &limits, "Operation not permitted");
        assert!(text.contains("sysctl -w fs.nr_open=2000068"), "{text}");
        assert!(!text.contains("at most"), "no -c fits in 64 files: {text}");
    }

    #[test]
    fn the_current_limit_is_kept_when_it_fits() {
        assert_eq!(ensure_nofile(1, 1), Ok(()));
    }
}
