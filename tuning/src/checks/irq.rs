//! Interrupts and packet processing versus the shard cores: irqbalance, the NICs' receive
//! queues (and RPS, which moves receive work to other CPUs), and where the NICs' IRQs may run.
//!
//! A NIC is an interface under `/sys/class/net` with a `device` link; `lo` and virtual
//! interfaces (bridges, veth, ifb, tun) have none and are skipped. Its IRQs are the lines of
//! `/proc/interrupts` that name the interface (`eth0-TxRx-0`) and the MSI vectors of its device
//! (`device/msi_irqs`, or the parent's for virtio, `virtio2-input.0`), less control vectors.

use crate::cpus::{format_list, format_mask, intersect, minus, parse_list, parse_mask};
use crate::report::Finding;
use crate::{Host, Plan};

/// Names of MSI vectors that carry no packets (virtio config, mlx5 async, ena management, i40e misc).
const CONTROL_IRQ_MARKERS: [&str; 5] = ["config", "async", "mgmnt", "mgmt", "misc"];

/// IRQs listed in a finding before "and N more".
const IRQS_SHOWN_MAX: usize = 4;

pub fn irqbalance(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "irqbalance";
    let pids: Vec<String> = host
        .entries("proc")
        .into_iter()
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            host.read_trimmed(&format!("proc/{pid}/comm")).as_deref() == Some("irqbalance")
        })
        .collect();
    if pids.is_empty() {
        return Finding::ok(CHECK, "irqbalance is not running");
    }
    Finding::warn(
        CHECK,
        format!(
            "irqbalance is running (pid {}): it moves IRQs, the NIC's included, onto shard cores \
             and undoes hand-set affinity",
            pids.join(", ")
        ),
        format!(
            "systemctl disable --now irqbalance; or keep it off the shard cores: \
             IRQBALANCE_BANNED_CPULIST={} in /etc/default/irqbalance (irqbalance 1.8 or later), \
             then systemctl restart irqbalance",
            format_list(&plan.shard_cores)
        ),
    )
}

/// Interfaces backed by a device, sorted; `lo` and virtual interfaces are left out.
pub fn physical_nics(host: &Host) -> Vec<String> {
    host.entries("sys/class/net")
        .into_iter()
        .filter(|name| name != "lo" && host.path(&format!("sys/class/net/{name}/device")).exists())
        .collect()
}

/// One line of `/proc/interrupts`: the IRQ number and the text after the per-CPU counts.
#[derive(Debug)]
struct IrqLine {
    irq: u32,
    description: String,
}

fn irq_lines(host: &Host) -> Vec<IrqLine> {
    let Some(text) = host.read("proc/interrupts") else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let cpu_count = lines
        .next()
        .map_or(0, |header| header.split_whitespace().count());
    lines
        .filter_map(|line| {
            let (irq, rest) = line.split_once(':')?;
            let irq = irq.trim().parse().ok()?;
            let description = rest
                .split_whitespace()
                .skip(cpu_count)
                .collect::<Vec<_>>()
                .join(" ");
            Some(IrqLine { irq, description })
        })
        .collect()
}

/// True when `text` contains `name` as a whole word (`eth0` in `eth0-TxRx-0`, not in `eth01`).
fn names(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// A NIC's packet IRQs with their descriptions.
fn nic_irqs(host: &Host, lines: &[IrqLine], nic: &str) -> Vec<(u32, String)> {
    let mut msi: Vec<u32> = Vec::new();
    for dir in ["device/msi_irqs", "device/../msi_irqs"] {
        msi = host
            .entries(&format!("sys/class/net/{nic}/{dir}"))
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        if !msi.is_empty() {
            break;
        }
    }
    lines
        .iter()
        .filter(|line| {
            names(&line.description, nic)
                || (msi.contains(&line.irq)
                    && !CONTROL_IRQ_MARKERS
                        .iter()
                        .any(|marker| line.description.contains(marker)))
        })
        .map(|line| {
            let name = line.description.split_whitespace().last().unwrap_or("");
            (line.irq, name.to_string())
        })
        .collect()
}

/// Where an IRQ may run (`smp_affinity_list`, else the mask in `smp_affinity`).
fn irq_affinity(host: &Host, irq: u32) -> Option<Vec<usize>> {
    if let Some(list) = host.read(&format!("proc/irq/{irq}/smp_affinity_list")) {
        return parse_list(&list).ok();
    }
    parse_mask(&host.read(&format!("proc/irq/{irq}/smp_affinity"))?).ok()
}

/// CPUs that run no shard, where interrupts and packet work can go.
fn spare_cpus(host: &Host, plan: &Plan) -> Vec<usize> {
    host.online_cpus()
        .map(|online| minus(&online, &plan.shard_cores))
        .unwrap_or_default()
}

fn no_nic(check: &'static str) -> Finding {
    Finding::info(check, "no physical NIC (only lo and virtual interfaces)")
}

pub fn nic_rx_queues(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "nic_rx_queues";
    let nics = physical_nics(host);
    if nics.is_empty() {
        return no_nic(CHECK);
    }
    let spare = spare_cpus(host, plan);
    let mut seen = Vec::new();
    let mut fixes = Vec::new();
    for nic in &nics {
        let queues: Vec<String> = host
            .entries(&format!("sys/class/net/{nic}/queues"))
            .into_iter()
            .filter(|name| name.starts_with("rx-"))
            .collect();
        let mut rps_on_shards = Vec::new();
        for queue in &queues {
            let rps = host
                .read(&format!("sys/class/net/{nic}/queues/{queue}/rps_cpus"))
                .and_then(|mask| parse_mask(&mask).ok())
                .unwrap_or_default();
            if !intersect(&rps, &plan.shard_cores).is_empty() {
                rps_on_shards.push(queue.clone());
                fixes.push(format!(
                    "echo {} > /sys/class/net/{nic}/queues/{queue}/rps_cpus",
                    format_mask(&spare)
                ));
            }
        }
        let mut text = format!(
            "{nic}: {} rx queue{}",
            queues.len(),
            if queues.len() == 1 { "" } else { "s" }
        );
        if !rps_on_shards.is_empty() {
            text.push_str(&format!(
                " (RPS sends {} to shard cores)",
                rps_on_shards.join(", ")
            ));
        }
        seen.push(text);
    }
    let observed = seen.join("; ");
    if fixes.is_empty() {
        return Finding::ok(CHECK, format!("{observed}; no RPS onto shard cores"));
    }
    Finding::warn(
        CHECK,
        format!("{observed}: receive processing then competes with the shards for their cores"),
        format!(
            "{} ({})",
            fixes.join("; "),
            if spare.is_empty() {
                "0 turns RPS off: every online CPU runs a shard"
            } else {
                "the mask names the CPUs without a shard"
            }
        ),
    )
}

pub fn nic_irq_affinity(host: &Host, plan: &Plan) -> Finding {
    const CHECK: &str = "nic_irq_affinity";
    let nics = physical_nics(host);
    if nics.is_empty() {
        return no_nic(CHECK);
    }
    let lines = irq_lines(host);
    let mut seen = Vec::new();
    let mut offending: Vec<u32> = Vec::new();
    for nic in &nics {
        let irqs = nic_irqs(host, &lines, nic);
        if irqs.is_empty() {
            seen.push(format!("{nic}: no IRQ found in /proc/interrupts"));
            continue;
        }
        let mut on_shards = Vec::new();
        for (irq, name) in &irqs {
            let Some(affinity) = irq_affinity(host, *irq) else {
                continue;
            };
            let shared = intersect(&affinity, &plan.shard_cores);
            if !shared.is_empty() {
                offending.push(*irq);
                on_shards.push(format!("{irq} ({name}) on {}", format_list(&affinity)));
            }
        }
        let count = on_shards.len();
        if count == 0 {
            seen.push(format!("{nic}: {} IRQs, none on shard cores", irqs.len()));
            continue;
        }
        let more = count.saturating_sub(IRQS_SHOWN_MAX);
        on_shards.truncate(IRQS_SHOWN_MAX);
        seen.push(format!(
            "{nic}: {count} of {} IRQs may run on shard cores: {}{}",
            irqs.len(),
            on_shards.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    let observed = format!(
        "{} (shard cores {})",
        seen.join("; "),
        format_list(&plan.shard_cores)
    );
    if offending.is_empty() {
        return Finding::ok(CHECK, observed);
    }
    offending.sort_unstable();
    Finding::warn(
        CHECK,
        format!("{observed}: a packet interrupt stops the shard running on that core"),
        affinity_fix(host, plan, &offending),
    )
}

fn affinity_fix(host: &Host, plan: &Plan, irqs: &[u32]) -> String {
    let irqs: Vec<String> = irqs.iter().map(u32::to_string).collect();
    let set = |cpus: &str| {
        format!(
            "for irq in {}; do echo {cpus} > /proc/irq/$irq/smp_affinity_list; done",
            irqs.join(" ")
        )
    };
    let spare = spare_cpus(host, plan);
    if !spare.is_empty() {
        return format!(
            "{} (stop irqbalance first, or it moves them back)",
            set(&format_list(&spare))
        );
    }
    // Every online CPU runs a shard: give the NIC the first shard core and the shards the rest.
    let nic_core = plan.shard_cores[0];
    let rest: Vec<usize> = plan.shard_cores[1..].to_vec();
    if rest.is_empty() {
        return "one online CPU: there is no other core to move the IRQs to".to_string();
    }
    format!(
        "every online CPU runs a shard: leave one to the NIC, e.g. run ringcache with --cpus {} \
         and {} (stop irqbalance first, or it moves them back)",
        format_list(&rest),
        set(&nic_core.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_name_matches_as_a_whole_word() {
        assert!(names("IR-PCI-MSI 524288-edge eth0-TxRx-0", "eth0"));
        assert!(names("eth0", "eth0"));
        assert!(!names("IR-PCI-MSI 524288-edge eth01-TxRx-0", "eth0"));
        assert!(!names("IR-PCI-MSI 524288-edge veth0", "eth0"));
    }
}
