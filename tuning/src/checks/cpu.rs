//! The shard cores: whether the server may run there, how fast they are allowed to clock, and
//! which NUMA nodes they sit on.

use std::collections::BTreeMap;

use crate::cpus::{format_list, intersect, minus, parse_list};
use crate::report::Finding;
use crate::{Host, Plan};

pub fn cpus(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "cpus";
    let shards = format!(
        "{} shard{} on CPUs {}",
        plan.shard_count,
        if plan.shard_count == 1 { "" } else { "s" },
        format_list(&plan.shard_cores)
    );
    if let Some(online) = host.online_cpus() {
        let offline = minus(&plan.shard_cores, &online);
        if !offline.is_empty() {
            return Finding::fail(
                CHECK,
                format!(
                    "{shards}, but CPUs {} are not online (online: {})",
                    format_list(&offline),
                    format_list(&online)
                ),
                format!("name online cores: --cpus {}", format_list(&online)),
            );
        }
    }
    let allowed = host.allowed_cpus();
    if let Some(allowed) = &allowed {
        let refused = minus(&plan.shard_cores, allowed);
        if !refused.is_empty() {
            return Finding::warn(
                CHECK,
                format!(
                    "{shards}, but this process may not run on CPUs {} (allowed: {}): ringcache \
                     refuses --cpus naming them when started with the same affinity",
                    format_list(&refused),
                    format_list(allowed)
                ),
                format!(
                    "widen the affinity (taskset, CPUAffinity= in the unit) or name allowed \
                     cores: --cpus {}",
                    format_list(allowed)
                ),
            );
        }
    }
    let sharing = plan.shard_count as usize > plan.shard_cores.len();
    let observed = format!(
        "{shards}{}{}",
        if plan.cpus_from_flag {
            " (--cpus)".to_string()
        } else {
            " (every CPU this process may use)".to_string()
        },
        if sharing {
            "; several shards share a core"
        } else {
            ""
        }
    );
    if sharing {
        Finding::info(CHECK, observed).with_fix(format!(
            "one shard per core: -t {} or --cpus naming {} cores",
            plan.shard_cores.len(),
            plan.shard_count
        ))
    } else {
        Finding::ok(CHECK, observed)
    }
}

pub fn cpu_governor(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "cpu_governor";
    let mut by_governor: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for &cpu in &plan.shard_cores {
        match host.read_trimmed(&format!(
            "sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
        )) {
            Some(governor) => by_governor.entry(governor).or_default().push(cpu),
            None => unknown.push(cpu),
        }
    }
    if by_governor.is_empty() {
        return Finding::info(
            CHECK,
            format!(
                "no cpufreq on shard cores {} (a VM, or the firmware sets the frequency)",
                format_list(&plan.shard_cores)
            ),
        );
    }
    let mut parts: Vec<String> = by_governor
        .iter()
        .map(|(governor, cpus)| format!("{governor} on {}", format_list(cpus)))
        .collect();
    if !unknown.is_empty() {
        parts.push(format!("no cpufreq on {}", format_list(&unknown)));
    }
    let observed = parts.join("; ");
    let slow: Vec<usize> = by_governor
        .iter()
        .filter(|(governor, _)| governor.as_str() != "performance")
        .flat_map(|(_, cpus)| cpus.iter().copied())
        .collect();
    if slow.is_empty() {
        return Finding::ok(CHECK, observed);
    }
    let mut slow = slow;
    slow.sort_unstable();
    let cores: Vec<String> = slow.iter().map(usize::to_string).collect();
    Finding::warn(
        CHECK,
        format!(
            "{observed}: a shard core below `performance` clocks down between bursts and \
             answers the next request slower"
        ),
        format!(
            "for c in {}; do echo performance > /sys/devices/system/cpu/cpu$c/cpufreq/scaling_governor; \
             done (or cpupower frequency-set -g performance; to keep it: a tmpfiles.d line per \
             core, 'w /sys/devices/system/cpu/cpuN/cpufreq/scaling_governor - - - - performance')",
            cores.join(" ")
        ),
    )
}

/// NUMA nodes and their CPUs, from `/sys/devices/system/node/node*/cpulist`.
fn numa_nodes(host: &Host) -> Vec<(usize, Vec<usize>)> {
    host.entries("sys/devices/system/node")
        .iter()
        .filter_map(|name| {
            let node = name.strip_prefix("node")?.parse().ok()?;
            let cpus =
                parse_list(&host.read(&format!("sys/devices/system/node/{name}/cpulist"))?).ok()?;
            Some((node, cpus))
        })
        .collect()
}

pub fn numa(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "numa";
    let nodes = numa_nodes(host);
    if nodes.is_empty() {
        return Finding::info(
            CHECK,
            "no /sys/devices/system/node (kernel without NUMA): one memory node",
        );
    }
    let used: Vec<(usize, Vec<usize>)> = nodes
        .iter()
        .map(|(node, cpus)| (*node, intersect(&plan.shard_cores, cpus)))
        .filter(|(_, shard_cores)| !shard_cores.is_empty())
        .collect();
    let describe = |list: &[(usize, Vec<usize>)]| {
        list.iter()
            .map(|(node, cpus)| format!("node{node}: {}", format_list(cpus)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if used.len() <= 1 {
        return Finding::ok(
            CHECK,
            format!(
                "shards on one node ({} node{}: {})",
                nodes.len(),
                if nodes.len() == 1 { "" } else { "s" },
                describe(&nodes)
            ),
        );
    }
    // The node with the most shard cores; the lowest-numbered one on a tie.
    let (best_node, _) = used
        .iter()
        .min_by_key(|(node, cpus)| (std::cmp::Reverse(cpus.len()), *node))
        .expect("at least two nodes in use");
    let best_cpus = &nodes
        .iter()
        .find(|(node, _)| node == best_node)
        .expect("a node in use is a node")
        .1;
    let usable = host.allowed_cpus().map_or_else(
        || best_cpus.clone(),
        |allowed| intersect(best_cpus, &allowed),
    );
    Finding::warn(
        CHECK,
        format!(
            "shard cores span {} NUMA nodes ({}): every request whose key a shard on another \
             node owns, and its reply, crosses the interconnect",
            used.len(),
            describe(&used)
        ),
        format!(
            "keep one ringcache on one node: --cpus {} (node{best_node}); to use every node, run \
             one ringcache per node on its own port",
            format_list(&usable)
        ),
    )
}
