//! Why `io_uring_setup` failed, as the operator's fix. The host's state (sysctls, limits,
//! seccomp) is read only after a failure; [`message`] is a pure function of it so every case
//! is unit-tested, including those this machine cannot produce.

use std::io;

/// What the host says about io_uring, read when ring set-up has failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingHost {
    /// `kernel.io_uring_disabled`: 0 everyone may, 1 only members of `kernel.io_uring_group`
    /// (and CAP_SYS_ADMIN), 2 nobody. `None`: no such sysctl (kernels before 6.6).
    pub io_uring_disabled: Option<u32>,
    /// `kernel.io_uring_group` (-1: no group).
    pub io_uring_group: Option<i64>,
    /// The soft RLIMIT_MEMLOCK in bytes; `None` when unlimited.
    pub memlock_soft_bytes: Option<u64>,
    /// `Seccomp:` in /proc/self/status is 2: a seccomp filter screens this process's calls.
    pub seccomp_filtered: bool,
}

impl RingHost {
    pub fn read() -> RingHost {
        let sysctl = |name: &str| {
            std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
                .ok()
                .and_then(|text| text.trim().parse().ok())
        };
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is valid for writing.
        let memlock_ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0;
        let seccomp_filtered = std::fs::read_to_string("/proc/self/status")
            .map(|status| {
                status
                    .lines()
                    .any(|line| line.split_whitespace().eq(["Seccomp:", "2"]))
            })
            .unwrap_or(false);
        RingHost {
            io_uring_disabled: sysctl("io_uring_disabled").map(|v: i64| v as u32),
            io_uring_group: sysctl("io_uring_group"),
            memlock_soft_bytes: (memlock_ok && limit.rlim_cur != libc::RLIM_INFINITY)
                .then_some(limit.rlim_cur),
            seccomp_filtered,
        }
    }
}

/// The operator's message for a failed `io_uring_setup` of `cq_entries_count` completions.
pub fn explain(error: &io::Error, cq_entries_count: u32) -> String {
    let errno = error.raw_os_error().unwrap_or(0);
    message(
        errno,
        &RingHost::read(),
        cq_entries_count,
        &error.to_string(),
    )
}

const ALLOW_SYSCALLS: &str = "allow io_uring_setup, io_uring_enter and io_uring_register \
(Docker/Podman: run with a seccomp profile that allows them; systemd: SystemCallFilter= must \
not exclude them)";

/// The fix for `errno` from `io_uring_setup` on `host`; `detail` is the error's text.
pub fn message(errno: i32, host: &RingHost, cq_entries_count: u32, detail: &str) -> String {
    let seccomp = if host.seccomp_filtered {
        "this process runs under a seccomp filter (Seccomp: 2 in /proc/self/status)"
    } else {
        "a seccomp filter or security module"
    };
    match errno {
        libc::EPERM | libc::EACCES => match host.io_uring_disabled {
            Some(2) => "io_uring is disabled on this host (sysctl kernel.io_uring_disabled = 2): \
                 enable it with sysctl -w kernel.io_uring_disabled=0 and keep it in \
                 /etc/sysctl.d/"
                .to_string(),
            Some(1) => format!(
                "io_uring is limited to one group on this host (sysctl kernel.io_uring_disabled \
                 = 1, kernel.io_uring_group = {}): run ringcache in that group \
                 (SupplementaryGroups= in the systemd unit) or sysctl -w \
                 kernel.io_uring_disabled=0",
                host.io_uring_group.unwrap_or(-1)
            ),
            _ => format!(
                "io_uring_setup was refused ({detail}) although kernel.io_uring_disabled is 0: \
                 {seccomp} blocks io_uring: {ALLOW_SYSCALLS}"
            ),
        },
        libc::ENOSYS => format!(
            "io_uring_setup does not exist here ({detail}): {seccomp} hides it, or the kernel \
             is built without io_uring (CONFIG_IO_URING; ringcache needs Linux 6.1 or later): \
             {ALLOW_SYSCALLS}"
        ),
        libc::ENOMEM => {
            let memlock = match host.memlock_soft_bytes {
                Some(bytes) => format!("{} KiB", bytes >> 10),
                None => "unlimited".into(),
            };
            format!(
                "cannot create the io_uring ring of {cq_entries_count} completions ({detail}): \
                 kernels before 5.12 charge rings to RLIMIT_MEMLOCK (here {memlock}): raise it \
                 (LimitMEMLOCK=infinity in the systemd unit, or ulimit -l unlimited); on newer \
                 kernels the host or the service's memory limit (MemoryMax=) is too low for \
                 -c and -t"
            )
        }
        libc::EMFILE | libc::ENFILE => format!(
            "cannot create the io_uring ring ({detail}): out of file descriptors: raise \
             LimitNOFILE= (ulimit -n) or lower -c"
        ),
        _ => format!("cannot create the io_uring ring: {detail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(disabled: Option<u32>) -> RingHost {
        RingHost {
            io_uring_disabled: disabled,
            io_uring_group: Some(1234),
            memlock_soft_bytes: Some(64 << 10),
            seccomp_filtered: false,
        }
    }

    #[test]
    fn sysctl_disabled_says_which_sysctl() {
        let text = message(libc::EPERM, &host(Some(2)), 4096, "denied");
        assert!(
            text.contains("sysctl -w kernel.io_uring_disabled=0"),
            "{text}"
        );
        let text = message(libc::EPERM, &host(Some(1)), 4096, "denied");
        assert!(text.contains("kernel.io_uring_group = 1234"), "{text}");
        assert!(text.contains("SupplementaryGroups="), "{text}");
    }

    #[test]
    fn refusal_with_sysctl_allowing_is_seccomp() {
        for disabled in [Some(0), None] {
            let text = message(libc::EPERM, &host(disabled), 4096, "denied");
            assert!(text.contains("seccomp filter"), "{text}");
            assert!(text.contains("allow io_uring_setup"), "{text}");
        }
        let filtered = RingHost {
            seccomp_filtered: true,
            ..host(Some(0))
        };
        let text = message(libc::EPERM, &filtered, 4096, "denied");
        assert!(text.contains("Seccomp: 2"), "{text}");
    }

    #[test]
    fn missing_syscall_is_seccomp_or_kernel() {
        let text = message(libc::ENOSYS, &host(None), 4096, "nosys");
        assert!(
            text.contains("seccomp") && text.contains("Linux 6.1"),
            "{text}"
        );
    }

    #[test]
    fn out_of_memory_is_memlock_with_the_limit() {
        let text = message(libc::ENOMEM, &host(Some(0)), 4096, "nomem");
        assert!(text.contains("here 64 KiB"), "{text}");
        assert!(
            text.contains("LimitMEMLOCK=infinity") && text.contains("ulimit -l"),
            "{text}"
        );
        let unlimited = RingHost {
            memlock_soft_bytes: None,
            ..host(Some(0))
        };
        let text = message(libc::ENOMEM, &unlimited, 4096, "nomem");
        assert!(text.contains("here unlimited"), "{text}");
    }

    #[test]
    fn this_host_reads() {
        let host = RingHost::read();
        assert!(host.io_uring_disabled.is_none_or(|v| v <= 2), "{host:?}");
    }
}
