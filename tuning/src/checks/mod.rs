//! Every check, one finding each, in the order [`CHECK_NAMES`] gives. A check reads the host
//! and the plan and never fails: what it cannot read becomes an `info` finding saying so.
//!
//! | check | looks at |
//! | --- | --- |
//! | `cpus` | the shard cores versus `/sys/devices/system/cpu/online` and this process's affinity |
//! | `kernel` | `/proc/sys/kernel/osrelease`: multishot receive (6.0), the tuned ring (6.1) |
//! | `io_uring_sysctl` | `kernel.io_uring_disabled` (and `kernel.io_uring_group`) |
//! | `io_uring_probe` | a real `io_uring_setup` (live host only), seccomp state, container markers |
//! | `memlock` | `RLIMIT_MEMLOCK` versus the rings' size, on kernels before 5.12 only |
//! | `nofile` | `RLIMIT_NOFILE` versus `-c` + headroom + 4 per shard (the server's rule) |
//! | `somaxconn` | `net.core.somaxconn` versus the server's listen backlog |
//! | `tcp_max_syn_backlog` | `net.ipv4.tcp_max_syn_backlog` versus the server's listen backlog |
//! | `netdev_max_backlog` | `net.core.netdev_max_backlog`, drops in `/proc/net/softnet_stat` |
//! | `thp_enabled` | `/sys/kernel/mm/transparent_hugepage/enabled` |
//! | `thp_defrag` | `/sys/kernel/mm/transparent_hugepage/defrag` |
//! | `cpu_governor` | `cpufreq/scaling_governor` of every shard core |
//! | `irqbalance` | `/proc/*/comm` |
//! | `nic_rx_queues` | `/sys/class/net/*/queues/rx-*` and their `rps_cpus` |
//! | `nic_irq_affinity` | the NICs' lines in `/proc/interrupts`, `/proc/irq/N/smp_affinity_list` |
//! | `numa` | `/sys/devices/system/node/node*/cpulist` versus the shard cores |
//! | `swap` | `/proc/swaps` and `vm.swappiness` |

pub mod cpu;
pub mod io_uring;
pub mod irq;
pub mod limits;
pub mod memory;
pub mod sysctl;

use crate::report::Finding;
use crate::{Host, Plan};

/// Every check's name, in report order.
pub const CHECK_NAMES: [&str; 17] = [
    "cpus",
    "kernel",
    "io_uring_sysctl",
    "io_uring_probe",
    "memlock",
    "nofile",
    "somaxconn",
    "tcp_max_syn_backlog",
    "netdev_max_backlog",
    "thp_enabled",
    "thp_defrag",
    "cpu_governor",
    "irqbalance",
    "nic_rx_queues",
    "nic_irq_affinity",
    "numa",
    "swap",
];

/// Runs every check.
pub fn run_all(host: &Host, plan: &Plan) -> Vec<Finding> {
    let findings = vec![
        cpu::cpus(host, plan),
        io_uring::kernel(host),
        io_uring::io_uring_sysctl(host),
        io_uring::io_uring_probe(host),
        limits::memlock(host, plan),
        limits::nofile(host, plan),
        sysctl::somaxconn(host),
        sysctl::tcp_max_syn_backlog(host),
        sysctl::netdev_max_backlog(host),
        memory::thp_enabled(host),
        memory::thp_defrag(host),
        cpu::cpu_governor(host, plan),
        irq::irqbalance(host, plan),
        irq::nic_rx_queues(host, plan),
        irq::nic_irq_affinity(host, plan),
        cpu::numa(host, plan),
        memory::swap(host),
    ];
    assert!(
        findings.iter().map(|f| f.check).eq(CHECK_NAMES),
        "one finding per check, in order"
    );
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sysctl_rule_reports_through_a_check() {
        for rule in sysctl::SYSCTL_RULES {
            assert!(CHECK_NAMES.contains(&rule.check), "{}", rule.key);
        }
    }
}
