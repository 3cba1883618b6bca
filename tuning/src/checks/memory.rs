//! Memory the kernel may take from under the item arena: transparent huge pages (collapse
//! and compaction stalls) and swap.
//!
//! ringcache maps its arena with a plain anonymous `mmap` and no `madvise(MADV_HUGEPAGE)`, so
//! THP `madvise` or `never` give it ordinary pages; `always` makes khugepaged collapse the arena
//! behind its back and, with defrag `always`, makes a page fault wait on compaction.

use super::sysctl::{self, DROP_IN};
use crate::report::{Finding, Status};
use crate::Host;

const THP_DIR: &str = "sys/kernel/mm/transparent_hugepage";

/// The bracketed choice in a THP file: `always [madvise] never` → `madvise`.
fn selected(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

pub fn thp_enabled(host: &Host) -> Finding {
    const CHECK: &str = "thp_enabled";
    let path = format!("{THP_DIR}/enabled");
    let Some(text) = host.read(&path) else {
        return Finding::info(
            CHECK,
            "no transparent huge pages (kernel without CONFIG_TRANSPARENT_HUGEPAGE)",
        );
    };
    match selected(&text) {
        Some("always") => Finding::warn(
            CHECK,
            "transparent_hugepage/enabled = always: khugepaged collapses the item arena into \
             huge pages in the background (latency spikes while it scans and copies), though \
             ringcache never asks for them",
            format!(
                "echo madvise > /{path} (to keep it: transparent_hugepage=madvise on the kernel \
                 command line)"
            ),
        ),
        Some(mode @ ("madvise" | "never")) => {
            Finding::ok(CHECK, format!("transparent_hugepage/enabled = {mode}"))
        }
        _ => Finding::info(CHECK, format!("unexpected /{path}: {}", text.trim())),
    }
}

pub fn thp_defrag(host: &Host) -> Finding {
    const CHECK: &str = "thp_defrag";
    let path = format!("{THP_DIR}/defrag");
    let Some(text) = host.read(&path) else {
        return Finding::info(
            CHECK,
            "no transparent huge pages (kernel without CONFIG_TRANSPARENT_HUGEPAGE)",
        );
    };
    match selected(&text) {
        Some("always") => Finding::warn(
            CHECK,
            "transparent_hugepage/defrag = always: a page fault waits while the kernel compacts \
             memory to find a huge page, a stall of milliseconds on a busy host",
            format!(
                "echo defer+madvise > /{path} (to keep it: a tmpfiles.d line \
                 'w /{path} - - - - defer+madvise')"
            ),
        ),
        Some(mode @ ("defer" | "defer+madvise" | "madvise" | "never")) => {
            Finding::ok(CHECK, format!("transparent_hugepage/defrag = {mode}"))
        }
        _ => Finding::info(CHECK, format!("unexpected /{path}: {}", text.trim())),
    }
}

/// One line of `/proc/swaps`.
struct SwapArea {
    name: String,
    size_kib: u64,
    used_kib: u64,
}

fn swap_areas(text: &str) -> Vec<SwapArea> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            Some(SwapArea {
                name: fields.first()?.to_string(),
                size_kib: fields.get(2)?.parse().ok()?,
                used_kib: fields.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

pub fn swap(host: &Host) -> Finding {
    const CHECK: &str = "swap";
    let rule = sysctl::rule("vm.swappiness").expect("a known sysctl");
    assert_eq!(rule.check, CHECK);
    let Some(swaps) = host.read("proc/swaps") else {
        return Finding::info(CHECK, "cannot read /proc/swaps");
    };
    let swappiness = sysctl::value(host, rule);
    let swappiness_text = swappiness.map_or_else(|| "unknown".to_string(), |v| v.to_string());
    let areas = swap_areas(&swaps);
    if areas.is_empty() {
        return Finding::ok(
            CHECK,
            format!("no swap (vm.swappiness = {swappiness_text} does not matter without it)"),
        );
    }
    let listed: Vec<String> = areas
        .iter()
        .map(|area| {
            format!(
                "{} {} MiB ({} MiB used)",
                area.name,
                area.size_kib / 1024,
                area.used_kib / 1024
            )
        })
        .collect();
    let on = format!("swap on: {}", listed.join(", "));
    let swapoff = "swapoff -a and remove the swap lines from /etc/fstab";
    match swappiness.map(rule.judge) {
        Some(Status::Ok) => Finding::info(
            CHECK,
            format!(
                "{on}; vm.swappiness = {swappiness_text} keeps ringcache's memory in RAM until \
                 the host runs short"
            ),
        )
        .with_fix(format!("to be sure: {swapoff}")),
        _ => Finding::warn(
            CHECK,
            format!("{on}; vm.swappiness = {swappiness_text}: {}", (rule.why)()),
            format!(
                "sysctl -w vm.swappiness={} (to keep it: install {DROP_IN}), or {swapoff}",
                rule.recommended
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bracketed_mode_is_selected() {
        assert_eq!(selected("always [madvise] never\n"), Some("madvise"));
        assert_eq!(
            selected("always defer [defer+madvise] madvise never"),
            Some("defer+madvise")
        );
        assert_eq!(selected("always madvise never"), None);
    }

    #[test]
    fn swap_areas_skip_the_header() {
        let text = "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 8388604 1024 -2\n";
        let areas = swap_areas(text);
        assert_eq!(areas.len(), 1);
        assert_eq!(areas[0].name, "/dev/sda2");
        assert_eq!(areas[0].size_kib, 8_388_604);
        assert!(swap_areas("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
    }
}
