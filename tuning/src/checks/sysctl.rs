//! The sysctls ringcache-tune knows, with the threshold each is judged by and the value
//! `tuning/sysctl/90-ringcache.conf` sets (a test holds the drop-in to this table), and the
//! checks that are nothing but a sysctl: the accept and SYN backlogs and the packet backlog.

use ringcache_net::runtime::listener::LISTEN_BACKLOG;

use crate::report::{Finding, Status};
use crate::Host;

/// The drop-in's path in the repository, named in fixes.
pub const DROP_IN: &str = "tuning/sysctl/90-ringcache.conf";

/// A sysctl ringcache-tune judges.
#[derive(Debug)]
pub struct SysctlRule {
    /// The dotted name, as `sysctl` and the drop-in write it.
    pub key: &'static str,
    /// The check whose finding reports it.
    pub check: &'static str,
    /// The status its value alone earns.
    pub judge: fn(u64) -> Status,
    /// What the drop-in sets and fixes recommend.
    pub recommended: u64,
    /// Why a value the judge does not accept matters, for the finding.
    pub why: fn() -> String,
}

impl SysctlRule {
    /// Its file under `/proc/sys`.
    pub fn path(&self) -> String {
        format!("proc/sys/{}", self.key.replace('.', "/"))
    }

    /// The fix for a value the judge does not accept.
    pub fn fix(&self) -> String {
        format!(
            "sysctl -w {}={} (to keep it: install {DROP_IN} in /etc/sysctl.d/)",
            self.key, self.recommended
        )
    }
}

/// `net.core.netdev_max_backlog` below the kernel's own default is a host someone shrank.
pub const NETDEV_BACKLOG_MIN_COUNT: u64 = 1000;
/// Above this, the kernel pages anonymous memory (the item arena) out rather than drop cache.
pub const SWAPPINESS_MAX: u64 = 10;

pub const SYSCTL_RULES: &[SysctlRule] = &[
    SysctlRule {
        key: "kernel.io_uring_disabled",
        check: "io_uring_sysctl",
        judge: |value| match value {
            0 => Status::Ok,
            1 => Status::Warn,
            _ => Status::Fail,
        },
        recommended: 0,
        why: || "1 allows io_uring only to root and kernel.io_uring_group, 2 to nobody".into(),
    },
    SysctlRule {
        key: "net.core.somaxconn",
        check: "somaxconn",
        judge: |value| at_least(value, LISTEN_BACKLOG as u64),
        recommended: 4096,
        why: || {
            format!(
                "below ringcache's listen backlog of {LISTEN_BACKLOG} (memcached's -b): the kernel \
                 cuts each shard's accept queue down to this, so a burst of reconnecting clients \
                 meets dropped SYNs and 1 s retries"
            )
        },
    },
    SysctlRule {
        key: "net.ipv4.tcp_max_syn_backlog",
        check: "tcp_max_syn_backlog",
        judge: |value| at_least(value, LISTEN_BACKLOG as u64),
        recommended: 4096,
        why: || {
            format!(
                "below ringcache's listen backlog of {LISTEN_BACKLOG}: half-open connections \
                 beyond this are dropped (or answered with syncookies), so a burst of new clients \
                 waits on SYN retries"
            )
        },
    },
    SysctlRule {
        key: "net.core.netdev_max_backlog",
        check: "netdev_max_backlog",
        judge: |value| at_least(value, NETDEV_BACKLOG_MIN_COUNT),
        recommended: 8192,
        why: || {
            format!(
                "below the kernel's default of {NETDEV_BACKLOG_MIN_COUNT}: packets waiting for the \
                 stack on a CPU beyond this (loopback and RPS traffic queue there) are dropped, \
                 and TCP answers with retransmits"
            )
        },
    },
    SysctlRule {
        key: "vm.swappiness",
        check: "swap",
        judge: |value| {
            if value <= SWAPPINESS_MAX {
                Status::Ok
            } else {
                Status::Warn
            }
        },
        recommended: 1,
        why: || {
            format!(
                "above {SWAPPINESS_MAX}: the kernel pages anonymous memory, the item arena included, \
                 out to swap rather than drop page cache, and a get of a paged-out item waits \
                 for the disk"
            )
        },
    },
];

fn at_least(value: u64, min: u64) -> Status {
    if value >= min {
        Status::Ok
    } else {
        Status::Warn
    }
}

/// The rule for `key`, if ringcache-tune knows it.
pub fn rule(key: &str) -> Option<&'static SysctlRule> {
    SYSCTL_RULES.iter().find(|rule| rule.key == key)
}

/// The current value of a rule's sysctl.
pub fn value(host: &Host, rule: &SysctlRule) -> Option<u64> {
    host.read_u64(&rule.path())
}

/// The finding of a sysctl judged by its value alone.
fn plain(host: &Host, key: &str) -> Finding {
    let rule = rule(key).expect("a known sysctl");
    let Some(value) = value(host, rule) else {
        return Finding::info(rule.check, format!("cannot read /{}", rule.path()));
    };
    let status = (rule.judge)(value);
    let observed = format!("{} = {value}", rule.key);
    if status == Status::Ok {
        Finding::ok(rule.check, observed)
    } else {
        Finding::new(rule.check, status, format!("{observed}: {}", (rule.why)()))
            .with_fix(rule.fix())
    }
}

pub fn somaxconn(host: &Host) -> Finding {
    plain(host, "net.core.somaxconn")
}

pub fn tcp_max_syn_backlog(host: &Host) -> Finding {
    plain(host, "net.ipv4.tcp_max_syn_backlog")
}

/// The packet backlog, and whether it already overflowed (`/proc/net/softnet_stat`'s second
/// column counts packets dropped because a CPU's backlog was full).
pub fn netdev_max_backlog(host: &Host) -> Finding {
    let finding = plain(host, "net.core.netdev_max_backlog");
    if finding.status != Status::Ok {
        return finding;
    }
    let drops: u64 = host
        .read("proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok())
        .sum();
    if drops == 0 {
        return finding;
    }
    let rule = rule("net.core.netdev_max_backlog").expect("a known sysctl");
    let raised = value(host, rule)
        .unwrap_or(0)
        .saturating_mul(2)
        .max(rule.recommended);
    Finding::warn(
        rule.check,
        format!(
            "{}, but {drops} packets were dropped on full per-CPU backlogs since boot \
             (/proc/net/softnet_stat, second column)",
            finding.observed
        ),
        format!(
            "sysctl -w {}={raised} (and set the same in /etc/sysctl.d/90-ringcache.conf)",
            rule.key
        ),
    )
}
