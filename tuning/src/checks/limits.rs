//! Process limits against what the plan needs: `RLIMIT_NOFILE` by the server's own rule, and
//! `RLIMIT_MEMLOCK`, which only kernels before 5.12 charge io_uring rings to.

use super::io_uring::kernel_version;
use crate::host::{Limit, Resource};
use crate::plan::{Plan, NOFILE_PER_SHARD_COUNT};
use crate::report::Finding;
use crate::Host;
use ringcache_net::runtime::limits::NOFILE_HEADROOM_COUNT;

/// From this release, ring memory is charged to the memory cgroup, not to `RLIMIT_MEMLOCK`.
const KERNEL_RINGS_UNLOCKED: (u32, u32) = (5, 12);

/// The unit that sets the service's limits, named in fixes.
const UNIT: &str = "tuning/systemd/ringcache.service";

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

fn show_bytes(value: Option<u64>) -> String {
    match value {
        None => "unlimited".to_string(),
        Some(bytes) if bytes >= 1 << 20 && bytes % (1 << 20) == 0 => format!("{} MiB", bytes >> 20),
        Some(bytes) if bytes >= 1 << 10 && bytes % (1 << 10) == 0 => format!("{} KiB", bytes >> 10),
        Some(bytes) => format!("{bytes} bytes"),
    }
}

/// Whose limits these are, for the finding.
fn whose(host: &Host) -> &'static str {
    if host.is_live() {
        "this shell's limits; under systemd the unit's own apply"
    } else {
        "from proc/self/limits"
    }
}

fn unreadable(host: &Host, check: &'static str) -> Finding {
    Finding::info(
        check,
        if host.is_live() {
            "getrlimit failed"
        } else {
            "cannot read proc/self/limits"
        },
    )
}

pub fn memlock(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "memlock";
    let Some(Limit { soft, .. }) = host.limit(Resource::Memlock) else {
        return unreadable(host, CHECK);
    };
    let kernel = kernel_version(host).map(|(_, version)| version);
    if kernel.is_some_and(|version| version >= KERNEL_RINGS_UNLOCKED) {
        return Finding::ok(
            CHECK,
            format!(
                "RLIMIT_MEMLOCK {} ({}): not needed, since Linux 5.12 charges io_uring rings to \
                 the memory cgroup and ringcache locks no other memory",
                show_bytes(soft),
                whose(host)
            ),
        );
    }
    let needed = plan.memlock_needed_bytes();
    let observed = format!(
        "RLIMIT_MEMLOCK {} ({}); {} shards' rings need {} on a kernel before 5.12",
        show_bytes(soft),
        whose(host),
        plan.shard_count,
        show_bytes(Some(needed))
    );
    if soft.is_none_or(|soft| soft >= needed) {
        return Finding::ok(CHECK, observed);
    }
    let fix = format!(
        "LimitMEMLOCK=infinity in the unit ({UNIT}); from a shell: ulimit -l unlimited as root, \
         or memlock in /etc/security/limits.conf"
    );
    if kernel.is_some() {
        Finding::fail(CHECK, observed, fix)
    } else {
        // Without the kernel's version the limit may not apply: warn rather than fail.
        Finding::warn(CHECK, format!("{observed} (kernel version unknown)"), fix)
    }
}

pub fn nofile(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "nofile";
    let Some(Limit { soft, hard }) = host.limit(Resource::Nofile) else {
        return unreadable(host, CHECK);
    };
    let needed = plan.nofile_needed_count();
    let rule = format!(
        "-c {} + {NOFILE_HEADROOM_COUNT} + {NOFILE_PER_SHARD_COUNT} per shard x {}",
        plan.conn_limit, plan.shard_count
    );
    let limits = format!(
        "RLIMIT_NOFILE soft {}, hard {} ({})",
        show(soft),
        show(hard),
        whose(host)
    );
    if soft.is_none_or(|soft| soft >= needed) {
        return Finding::ok(
            CHECK,
            format!("{limits}; ringcache needs {needed} ({rule})"),
        );
    }
    if hard.is_none_or(|hard| hard >= needed) {
        return Finding::ok(
            CHECK,
            format!(
                "{limits}; ringcache needs {needed} ({rule}) and raises its soft limit to that \
                 at start-up"
            ),
        );
    }
    let hard = hard.expect("a finite hard limit below the need");
    let conn_limit_max = hard.saturating_sub(
        NOFILE_HEADROOM_COUNT + NOFILE_PER_SHARD_COUNT * u64::from(plan.shard_count),
    );
    Finding::fail(
        CHECK,
        format!(
            "{limits}; ringcache needs {needed} ({rule}) and refuses to start above the hard \
             limit"
        ),
        format!(
            "LimitNOFILE={needed} or more in the unit ({UNIT}); from a shell: ulimit -n {needed} \
             as root, or nofile in /etc/security/limits.conf; or run with -c {conn_limit_max} or less"
        ),
    )
}
