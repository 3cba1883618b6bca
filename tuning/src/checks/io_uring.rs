//! Can ringcache have its rings: the kernel's version, `kernel.io_uring_disabled`, and (on
//! the live host) a real `io_uring_setup`, explaining seccomp and containers when it is refused.

use super::sysctl::{self, DROP_IN};
use crate::report::{Finding, Status};
use crate::Host;

/// Multishot receive on provided buffer rings, which every connection arms (multishot
/// accept, on every listener, needs 5.19).
const KERNEL_MIN: (u32, u32) = (6, 0);
/// `IORING_SETUP_SINGLE_ISSUER` and `DEFER_TASKRUN`; before this the server runs a plain ring.
const KERNEL_TUNED_RING: (u32, u32) = (6, 1);
const _: () = assert!(
    KERNEL_MIN.0 < KERNEL_TUNED_RING.0
        || (KERNEL_MIN.0 == KERNEL_TUNED_RING.0 && KERNEL_MIN.1 < KERNEL_TUNED_RING.1)
);

/// The running kernel's release text and (major, minor).
pub fn kernel_version(host: &Host) -> Option<(String, (u32, u32))> {
    let release = host.read_trimmed("proc/sys/kernel/osrelease")?;
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    let major = numbers.next()??;
    let minor = numbers.next()??;
    Some((release, (major, minor)))
}

pub fn kernel(host: &Host) -> Finding {
    const CHECK: &str = "kernel";
    let Some((release, version)) = kernel_version(host) else {
        return Finding::info(CHECK, "cannot read /proc/sys/kernel/osrelease");
    };
    if version < KERNEL_MIN {
        return Finding::fail(
            CHECK,
            format!(
                "Linux {release}: ringcache's connections use io_uring multishot receive, \
                 which needs {}.{}",
                KERNEL_MIN.0, KERNEL_MIN.1
            ),
            format!(
                "upgrade to Linux {}.{} or later",
                KERNEL_TUNED_RING.0, KERNEL_TUNED_RING.1
            ),
        );
    }
    if version < KERNEL_TUNED_RING {
        return Finding::warn(
            CHECK,
            format!(
                "Linux {release}: ringcache falls back to a plain ring (SINGLE_ISSUER and \
                 DEFER_TASKRUN need {}.{}), with more wake-ups per request",
                KERNEL_TUNED_RING.0, KERNEL_TUNED_RING.1
            ),
            format!(
                "upgrade to Linux {}.{} or later",
                KERNEL_TUNED_RING.0, KERNEL_TUNED_RING.1
            ),
        );
    }
    Finding::ok(
        CHECK,
        format!("Linux {release}: multishot receive, SINGLE_ISSUER and DEFER_TASKRUN"),
    )
}

pub fn io_uring_sysctl(host: &Host) -> Finding {
    const CHECK: &str = "io_uring_sysctl";
    let rule = sysctl::rule("kernel.io_uring_disabled").expect("a known sysctl");
    assert_eq!(rule.check, CHECK);
    let Some(value) = sysctl::value(host, rule) else {
        return Finding::info(
            CHECK,
            "no kernel.io_uring_disabled (kernels before 6.6 lack it): io_uring is on unless \
             the kernel was built without it",
        );
    };
    match (rule.judge)(value) {
        Status::Ok => Finding::ok(CHECK, "kernel.io_uring_disabled = 0: io_uring is on"),
        Status::Warn => {
            let group = host
                .read_trimmed("proc/sys/kernel/io_uring_group")
                .unwrap_or_else(|| "?".into());
            Finding::warn(
                CHECK,
                format!(
                    "kernel.io_uring_disabled = 1: only root and members of group {group} \
                     (kernel.io_uring_group) may create rings"
                ),
                format!(
                    "sysctl -w kernel.io_uring_disabled=0 (to keep it: install {DROP_IN}), or \
                     run ringcache with supplementary group {group} (SupplementaryGroups= in \
                     the unit)"
                ),
            )
        }
        _ => Finding::fail(
            CHECK,
            format!("kernel.io_uring_disabled = {value}: io_uring is disabled for every process"),
            rule.fix(),
        ),
    }
}

pub fn io_uring_probe(host: &Host) -> Finding {
    const CHECK: &str = "io_uring_probe";
    let Some(result) = host.probe_io_uring() else {
        return Finding::info(
            CHECK,
            "skipped: --root is not /, and io_uring_setup can only be tried on the live host",
        );
    };
    let seccomp = match host.status_field("Seccomp").as_deref() {
        Some("0") => "no seccomp filter",
        Some("1") => "seccomp strict mode",
        Some("2") => "a seccomp filter is active",
        _ => "seccomp state unknown",
    };
    probe_finding(result, seccomp, in_container(host))
}

/// The probe's finding for its result: the fix follows the errno, as the server's own
/// start-up error does (`new_ring` in `net/src/runtime/shard.rs`).
fn probe_finding(result: std::io::Result<()>, seccomp: &str, container: bool) -> Finding {
    const CHECK: &str = "io_uring_probe";
    let error = match result {
        Ok(()) => {
            return Finding::ok(
                CHECK,
                format!("io_uring_setup works for this process ({seccomp})"),
            )
        }
        Err(error) => error,
    };
    let observed = format!(
        "io_uring_setup failed: {error} ({seccomp}{})",
        if container {
            "; inside a container"
        } else {
            ""
        }
    );
    let seccomp_fix = "allow io_uring_setup, io_uring_enter and io_uring_register in the \
                       seccomp profile (Docker and containerd block them by default: \
                       --security-opt seccomp=<profile>, or a Kubernetes seccompProfile that \
                       allows them), or run ringcache outside the container";
    let fix = match error.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "sysctl -w kernel.io_uring_disabled=0 (or 1 with ringcache's user in \
             kernel.io_uring_group); {seccomp_fix}"
        ),
        Some(libc::ENOSYS) => format!(
            "the kernel was built without io_uring (CONFIG_IO_URING) or a seccomp filter \
             answers ENOSYS: {seccomp_fix}; else boot a kernel with io_uring, Linux {}.{} or later",
            KERNEL_TUNED_RING.0, KERNEL_TUNED_RING.1
        ),
        Some(libc::ENOMEM) => {
            "raise RLIMIT_MEMLOCK: ulimit -l unlimited, or LimitMEMLOCK=infinity \
                               in the unit (tuning/systemd/ringcache.service)"
                .to_string()
        }
        _ => "see io_uring_setup(2) for this error".to_string(),
    };
    Finding::fail(CHECK, observed, fix)
}

/// A guess from the usual markers; only used to word the finding.
fn in_container(host: &Host) -> bool {
    host.path(".dockerenv").exists()
        || host.path("run/.containerenv").exists()
        || host
            .read("proc/1/environ")
            .is_some_and(|environ| environ.split('\0').any(|v| v.starts_with("container=")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Error;

    #[test]
    fn a_refused_probe_in_a_container_points_at_the_seccomp_profile() {
        let found = probe_finding(
            Err(Error::from_raw_os_error(libc::EPERM)),
            "a seccomp filter is active",
            true,
        );
        assert_eq!(found.status, Status::Fail);
        assert!(found.observed.contains("inside a container"), "{found:?}");
        let fix = found.fix.unwrap();
        assert!(fix.contains("kernel.io_uring_disabled=0"), "{fix}");
        assert!(fix.contains("seccomp profile"), "{fix}");
    }

    #[test]
    fn a_missing_syscall_names_the_kernel_and_seccomp() {
        let found = probe_finding(Err(Error::from_raw_os_error(libc::ENOSYS)), "x", false);
        assert_eq!(found.status, Status::Fail);
        let fix = found.fix.unwrap();
        assert!(
            fix.contains("CONFIG_IO_URING") && fix.contains("seccomp"),
            "{fix}"
        );
    }

    #[test]
    fn no_memory_for_the_ring_names_memlock() {
        let found = probe_finding(Err(Error::from_raw_os_error(libc::ENOMEM)), "x", false);
        assert!(found.fix.unwrap().contains("LimitMEMLOCK=infinity"));
    }

    #[test]
    fn a_working_probe_is_ok() {
        assert_eq!(probe_finding(Ok(()), "x", false).status, Status::Ok);
    }
}
