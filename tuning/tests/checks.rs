//! Every check against fixture trees: `tuned` (a host set up as the guide says, shards meant
//! for CPUs 2-7, NIC IRQs on 0-1), `untuned` (everything wrong at once), `old-kernel` (Linux
//! 5.10 with little else), and scratch trees for single variations.

mod common;

use common::{finding, fix, report, report_for, scratch_tree};
use ringcache_tune::checks::CHECK_NAMES;
use ringcache_tune::Status;

// ---- the well-tuned host

#[test]
fn the_tuned_host_has_no_warning_and_no_failure() {
    let report = report("tuned", Some("2-7"));
    for finding in &report.findings {
        let expected = if finding.check == "io_uring_probe" {
            Status::Info
        } else {
            Status::Ok
        };
        assert_eq!(finding.status, expected, "{finding:?}");
        assert!(finding.fix.is_none(), "{finding:?}");
    }
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn every_report_names_every_check_once_in_order() {
    for (case, cpus) in [
        ("tuned", Some("2-7")),
        ("untuned", None),
        ("old-kernel", None),
    ] {
        let report = report(case, cpus);
        let names: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
        assert_eq!(names, CHECK_NAMES, "{case}");
    }
}

#[test]
fn the_tuned_host_with_shards_on_its_irq_cores_warns() {
    let report = report("tuned", None);
    let found = finding(&report, "nic_irq_affinity");
    assert_eq!(found.status, Status::Warn, "{found:?}");
    assert!(
        found.observed.contains("60 (eth0-TxRx-0) on 0"),
        "{found:?}"
    );
    assert_eq!(report.exit_code(), 0, "a warning alone exits 0");
}

// ---- io_uring

#[test]
fn io_uring_disabled_by_sysctl_fails_with_the_sysctl_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "io_uring_sysctl");
    assert_eq!(found.status, Status::Fail);
    assert!(
        found.observed.contains("kernel.io_uring_disabled = 2"),
        "{found:?}"
    );
    assert!(
        fix(found).contains("sysctl -w kernel.io_uring_disabled=0"),
        "{found:?}"
    );
    assert!(fix(found).contains("90-ringcache.conf"), "{found:?}");
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn io_uring_limited_to_a_group_warns_naming_the_group() {
    let root = scratch_tree(
        "io-uring-group",
        &[
            ("proc/sys/kernel/io_uring_disabled", "1\n"),
            ("proc/sys/kernel/io_uring_group", "1001\n"),
            ("proc/self/status", "Cpus_allowed_list:\t0\n"),
        ],
    );
    let report = report_for(&root, None);
    let found = finding(&report, "io_uring_sysctl");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("group 1001"), "{found:?}");
    assert!(fix(found).contains("SupplementaryGroups="), "{found:?}");
}

#[test]
fn the_io_uring_probe_is_skipped_off_the_live_root() {
    let report = report("untuned", None);
    let found = finding(&report, "io_uring_probe");
    assert_eq!(found.status, Status::Info);
    assert!(found.observed.contains("skipped"), "{found:?}");
}

#[test]
fn a_kernel_without_multishot_receive_fails() {
    let report = report("old-kernel", None);
    let found = finding(&report, "kernel");
    assert_eq!(found.status, Status::Fail);
    assert!(found.observed.contains("5.10.0") && found.observed.contains("6.0"));
    assert!(fix(found).contains("6.1"), "{found:?}");
}

#[test]
fn a_kernel_before_6_1_warns_about_the_plain_ring() {
    let root = scratch_tree(
        "kernel-6-0",
        &[
            ("proc/sys/kernel/osrelease", "6.0.12-100.fc35.x86_64\n"),
            ("proc/self/status", "Cpus_allowed_list:\t0\n"),
        ],
    );
    let found = report_for(&root, None).finding("kernel").unwrap().clone();
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("plain ring"), "{found:?}");
}

#[test]
fn no_io_uring_sysctl_on_an_old_kernel_is_info() {
    let report = report("old-kernel", None);
    assert_eq!(finding(&report, "io_uring_sysctl").status, Status::Info);
}

// ---- limits

#[test]
fn a_nofile_hard_limit_below_the_need_fails_with_the_limitnofile_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "nofile");
    assert_eq!(found.status, Status::Fail);
    // -c 1024 + 64 + 4 per shard x 8 shards, the server's own rule.
    assert!(found.observed.contains("needs 1120"), "{found:?}");
    assert!(fix(found).contains("LimitNOFILE=1120"), "{found:?}");
    assert!(fix(found).contains("ringcache.service"), "{found:?}");
    assert!(fix(found).contains("-c 928 or less"), "{found:?}");
}

#[test]
fn a_low_nofile_soft_limit_is_ok_when_the_server_can_raise_it() {
    let report = report("old-kernel", None);
    let found = finding(&report, "nofile");
    assert_eq!(found.status, Status::Ok);
    assert!(
        found.observed.contains("raises its soft limit"),
        "{found:?}"
    );
}

#[test]
fn memlock_is_not_judged_on_kernels_that_charge_rings_to_the_memory_cgroup() {
    let report = report("untuned", None);
    let found = finding(&report, "memlock");
    assert_eq!(found.status, Status::Ok);
    assert!(found.observed.contains("64 KiB") && found.observed.contains("5.12"));
}

#[test]
fn memlock_below_the_rings_fails_on_a_kernel_before_5_12() {
    let report = report("old-kernel", None);
    let found = finding(&report, "memlock");
    assert_eq!(found.status, Status::Fail);
    assert!(found.observed.contains("400 KiB"), "{found:?}");
    assert!(fix(found).contains("LimitMEMLOCK=infinity"), "{found:?}");
}

// ---- sysctls

#[test]
fn a_somaxconn_below_the_listen_backlog_warns_with_the_drop_in_value() {
    let report = report("untuned", None);
    let found = finding(&report, "somaxconn");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("= 128") && found.observed.contains("1024"));
    assert!(
        fix(found).contains("sysctl -w net.core.somaxconn=4096"),
        "{found:?}"
    );
}

#[test]
fn a_syn_backlog_below_the_listen_backlog_warns() {
    let report = report("untuned", None);
    let found = finding(&report, "tcp_max_syn_backlog");
    assert_eq!(found.status, Status::Warn);
    assert!(
        fix(found).contains("net.ipv4.tcp_max_syn_backlog=4096"),
        "{found:?}"
    );
}

#[test]
fn backlog_drops_warn_even_at_the_default_netdev_backlog() {
    let report = report("untuned", None);
    let found = finding(&report, "netdev_max_backlog");
    assert_eq!(found.status, Status::Warn);
    // 0x2a + 0x10 in softnet_stat's second column.
    assert!(
        found.observed.contains("58 packets were dropped"),
        "{found:?}"
    );
    assert!(
        fix(found).contains("net.core.netdev_max_backlog=8192"),
        "{found:?}"
    );
}

#[test]
fn missing_files_give_info_not_failures() {
    let report = report("old-kernel", None);
    for check in [
        "somaxconn",
        "tcp_max_syn_backlog",
        "netdev_max_backlog",
        "thp_enabled",
        "thp_defrag",
        "cpu_governor",
        "nic_rx_queues",
        "nic_irq_affinity",
        "numa",
        "swap",
    ] {
        assert_eq!(finding(&report, check).status, Status::Info, "{check}");
    }
}

// ---- memory

#[test]
fn thp_always_warns_with_the_madvise_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "thp_enabled");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("enabled = always"), "{found:?}");
    assert!(
        fix(found).contains("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled"),
        "{found:?}"
    );
}

#[test]
fn thp_defrag_always_warns_with_the_defer_madvise_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "thp_defrag");
    assert_eq!(found.status, Status::Warn);
    assert!(
        fix(found).contains("echo defer+madvise > /sys/kernel/mm/transparent_hugepage/defrag"),
        "{found:?}"
    );
}

#[test]
fn swap_with_a_high_swappiness_warns_with_the_swappiness_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "swap");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("/dev/sda2") && found.observed.contains("= 60"));
    assert!(
        fix(found).contains("sysctl -w vm.swappiness=1"),
        "{found:?}"
    );
    assert!(fix(found).contains("swapoff -a"), "{found:?}");
}

#[test]
fn swap_with_a_low_swappiness_is_info() {
    let root = common::copy_of("untuned");
    common::write_files(&root, &[("proc/sys/vm/swappiness", "1\n")]);
    let report = report_for(&root, None);
    assert_eq!(finding(&report, "swap").status, Status::Info);
}

// ---- CPUs

#[test]
fn a_powersave_governor_warns_naming_only_the_slow_shard_cores() {
    let report = report("untuned", None);
    let found = finding(&report, "cpu_governor");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("powersave on 0-5"), "{found:?}");
    assert!(fix(found).contains("for c in 0 1 2 3 4 5;"), "{found:?}");
}

#[test]
fn governors_of_cores_without_a_shard_are_not_judged() {
    let report = report("untuned", Some("6-7"));
    assert_eq!(finding(&report, "cpu_governor").status, Status::Ok);
}

#[test]
fn no_cpufreq_is_info() {
    let report = report("old-kernel", None);
    let found = finding(&report, "cpu_governor");
    assert_eq!(found.status, Status::Info);
    assert!(found.observed.contains("no cpufreq"), "{found:?}");
}

#[test]
fn shards_spanning_two_numa_nodes_warn_with_a_cpus_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "numa");
    assert_eq!(found.status, Status::Warn);
    assert!(
        found.observed.contains("node0: 0-3, node1: 4-7"),
        "{found:?}"
    );
    assert!(fix(found).contains("--cpus 0-3 (node0)"), "{found:?}");
}

#[test]
fn shards_on_one_node_of_two_are_ok() {
    let report = report("untuned", Some("4-7"));
    assert_eq!(finding(&report, "numa").status, Status::Ok);
}

#[test]
fn cpus_that_are_not_online_fail() {
    let report = report("tuned", Some("6-9"));
    let found = finding(&report, "cpus");
    assert_eq!(found.status, Status::Fail);
    assert!(found.observed.contains("8-9"), "{found:?}");
}

// ---- interrupts and NICs

#[test]
fn a_running_irqbalance_warns_with_the_disable_and_ban_fixes() {
    let report = report("untuned", Some("2-7"));
    let found = finding(&report, "irqbalance");
    assert_eq!(found.status, Status::Warn);
    assert!(found.observed.contains("pid 733"), "{found:?}");
    assert!(
        fix(found).contains("systemctl disable --now irqbalance"),
        "{found:?}"
    );
    assert!(
        fix(found).contains("IRQBALANCE_BANNED_CPULIST=2-7"),
        "{found:?}"
    );
}

#[test]
fn nic_irqs_on_shard_cores_warn_with_the_affinity_fix() {
    let report = report("untuned", None);
    let found = finding(&report, "nic_irq_affinity");
    assert_eq!(found.status, Status::Warn);
    assert!(
        found.observed.contains("60 (eth0-TxRx-0) on 0-7"),
        "{found:?}"
    );
    // Every online CPU runs a shard: the fix gives one back to the NIC.
    assert!(fix(found).contains("--cpus 1-7"), "{found:?}");
    assert!(
        fix(found).contains(
            "for irq in 60 61 62 63 64 71 72; do echo 0 > /proc/irq/$irq/smp_affinity_list"
        ),
        "{found:?}"
    );
}

#[test]
fn nic_irqs_move_to_the_cores_without_a_shard() {
    let report = report("untuned", Some("2-7"));
    let found = finding(&report, "nic_irq_affinity");
    assert_eq!(found.status, Status::Warn);
    assert!(
        fix(found).contains("do echo 0-1 > /proc/irq/$irq/smp_affinity_list"),
        "{found:?}"
    );
    assert!(!fix(found).contains("--cpus"), "{found:?}");
}

#[test]
fn nic_irqs_are_found_by_interface_name_and_by_msi_vector() {
    let report = report("untuned", None);
    let observed = &finding(&report, "nic_irq_affinity").observed;
    assert!(observed.contains("eth0: 5 of 5 IRQs"), "{observed}");
    assert!(observed.contains("ens1f0: 2 of 2 IRQs"), "{observed}");
    assert!(
        observed.contains("71 (mlx5_comp0@pci:0000:5e:00.0) on 3"),
        "{observed}"
    );
}

#[test]
fn control_vectors_of_a_nic_are_not_counted() {
    let report = report("untuned", None);
    let found = finding(&report, "nic_irq_affinity");
    assert!(!found.observed.contains("mlx5_async0"), "{found:?}");
    assert!(!fix(found).contains(" 70 "), "{found:?}");
}

#[test]
fn lo_and_virtual_interfaces_are_skipped() {
    // docker0 in `tuned` and veth3f2a in `untuned` steer RPS to every CPU; neither counts.
    let tuned = report("tuned", Some("2-7"));
    assert_eq!(finding(&tuned, "nic_rx_queues").status, Status::Ok);
    let untuned = report("untuned", None);
    let observed = &finding(&untuned, "nic_rx_queues").observed;
    for name in ["lo:", "veth3f2a", "docker0"] {
        assert!(!observed.contains(name), "{observed}");
    }
    assert!(
        observed.contains("ens1f0: 2 rx queues; eth0: 5 rx queues"),
        "{observed}"
    );
}

#[test]
fn rps_onto_shard_cores_warns_with_an_rps_fix() {
    let report = report("untuned", Some("2-7"));
    let found = finding(&report, "nic_rx_queues");
    assert_eq!(found.status, Status::Warn);
    assert!(
        found.observed.contains("RPS sends rx-0 to shard cores"),
        "{found:?}"
    );
    // CPUs 0-1 run no shard: RPS may go there (mask 3).
    assert!(
        fix(found).contains("echo 3 > /sys/class/net/eth0/queues/rx-0/rps_cpus"),
        "{found:?}"
    );
}

#[test]
fn no_physical_nic_is_info() {
    let report = report("old-kernel", None);
    let found = finding(&report, "nic_irq_affinity");
    assert_eq!(found.status, Status::Info);
    assert!(found.observed.contains("no physical NIC"), "{found:?}");
}

// ---- the report

#[test]
fn the_untuned_host_fails_and_counts_every_status() {
    let report = report("untuned", None);
    let s = &report.summary;
    assert_eq!(s.ok + s.info + s.warn + s.fail, CHECK_NAMES.len());
    assert_eq!(s.fail, 2, "io_uring_sysctl and nofile: {report:#?}");
    assert_eq!(report.exit_code(), 1);
    let text = report.to_text();
    assert!(text.contains("fail  io_uring_sysctl"), "{text}");
    assert!(text.contains("exit status 1"), "{text}");
}
