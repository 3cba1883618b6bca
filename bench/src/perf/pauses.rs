//! How often the machine itself stops a running thread: a thread pinned to a CPU reads the
//! monotonic clock in a tight loop for a while and counts the gaps between reads. On bare
//! metal with an idle CPU the longest gap is tens of microseconds; a hypervisor that
//! deschedules its virtual CPUs shows gaps of milliseconds, and every latency percentile the
//! run reports past their rate is set by them, whatever the server does. Measured on both
//! the servers' and the drivers' CPU at once, at the start of a run and before every
//! server's open-loop turn (nothing else runs then).
//!
//! From the gaps, [`floor_us`] gives the latency percentile the stops alone impose: a lower
//! bound for any server on this machine at that moment, against which a p99.9 target can be
//! judged.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long each CPU is probed.
pub const PROBE_MS: u64 = 2_000;

/// The quantile the reports take of the stops' delays ([`floor_us`]): p99.9, the tail the
/// project's latency target is set on.
pub const P999: f64 = 0.999;

/// Gaps longer than this are kept one by one (`Pauses::gaps`); a probe of [`PROBE_MS`]
/// holds at most `PROBE_MS * 1000 / GAP_KEPT_OVER_US` of them.
pub const GAP_KEPT_OVER_US: u64 = 100;

/// Gaps between consecutive clock reads on one CPU while nothing else ran there.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Pauses {
    pub cpu: usize,
    pub probe_ms: u64,
    /// Gaps over 100 µs, over 1 ms and over 5 ms.
    pub over_100us_count: u64,
    pub over_1ms_count: u64,
    pub over_5ms_count: u64,
    pub longest_us: u64,
    /// Every gap over [`GAP_KEPT_OVER_US`], in probe order (absent in older runs).
    #[serde(default)]
    pub gaps: Vec<Gap>,
}

/// One stop: when it began, from the start of the probe (the same start for CPUs probed
/// together), and how long it lasted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub start_us: u64,
    pub length_us: u64,
}

impl Pauses {
    /// Gaps over a millisecond per second of probing.
    pub fn over_1ms_per_sec(&self) -> f64 {
        self.over_1ms_count as f64 * 1000.0 / self.probe_ms.max(1) as f64
    }
}

/// Pins the calling thread to `cpu` and probes it for `probe_ms`, with gaps' starts counted
/// from `epoch`; `None` if it cannot be pinned.
fn probe_here(cpu: usize, probe_ms: u64, epoch: Instant) -> Option<Pauses> {
    pin_to(cpu)?;
    let mut pauses = Pauses {
        cpu,
        probe_ms,
        ..Pauses::default()
    };
    let start = Instant::now();
    let end = start + Duration::from_millis(probe_ms);
    let mut last = start;
    while last < end {
        let now = Instant::now();
        let gap_us = now.duration_since(last).as_micros() as u64;
        pauses.over_100us_count += u64::from(gap_us > GAP_KEPT_OVER_US);
        pauses.over_1ms_count += u64::from(gap_us > 1_000);
        pauses.over_5ms_count += u64::from(gap_us > 5_000);
        pauses.longest_us = pauses.longest_us.max(gap_us);
        if gap_us > GAP_KEPT_OVER_US {
            pauses.gaps.push(Gap {
                start_us: last.duration_since(epoch).as_micros() as u64,
                length_us: gap_us,
            });
        }
        last = now;
    }
    Some(pauses)
}

/// Probes every CPU of `cpus` at the same time, each from its own pinned thread; CPUs that
/// cannot be pinned are left out.
pub fn probe_all(cpus: &[usize], probe_ms: u64) -> Vec<Pauses> {
    let epoch = Instant::now();
    let threads: Vec<_> = cpus
        .iter()
        .map(|&cpu| std::thread::spawn(move || probe_here(cpu, probe_ms, epoch)))
        .collect();
    threads
        .into_iter()
        .filter_map(|t| t.join().ok().flatten())
        .collect()
}

/// The `quantile` (0.999 for p99.9) of the delay that the stops in `probes` (CPUs probed
/// together) alone add to requests arriving evenly over the probed time, in µs; `None`
/// without probes.
///
/// A request needs both CPUs (the driver's to be sent, the server's to be answered), so
/// the stops of all CPUs are merged into spans where some CPU was stopped; one arriving
/// `t` into a span of length `g` waits at least `g - t`. The share of requests delayed over
/// `d` is then `Σ max(0, g - d) / probed time`, and the result is the smallest `d` at which
/// that share is at most `1 - quantile`. It is a lower bound: gaps under
/// [`GAP_KEPT_OVER_US`] are not kept, and a stopped server also has a backlog to work off.
/// `None` too for probes that counted gaps without keeping them (runs before they were kept).
pub fn floor_us(probes: &[Pauses], quantile: f64) -> Option<u64> {
    assert!((0.0..1.0).contains(&quantile), "a quantile below 1");
    if probes
        .iter()
        .any(|p| p.gaps.len() as u64 != p.over_100us_count)
    {
        return None;
    }
    let probed_us = probes.iter().map(|p| p.probe_ms).max()? * 1000;
    let budget_us = (1.0 - quantile) * probed_us as f64;
    let spans_us = merged_lengths_us(probes.iter().flat_map(|p| &p.gaps).copied().collect());
    let delayed_us = |d: u64| -> u64 { spans_us.iter().map(|&g| g.saturating_sub(d)).sum() };
    // delayed_us falls as d grows and is 0 at the longest span: bisect for the first d
    // within the budget.
    let (mut low, mut high) = (0, spans_us.iter().copied().max().unwrap_or(0));
    if delayed_us(low) as f64 <= budget_us {
        return Some(0);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if delayed_us(middle) as f64 <= budget_us {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

/// The lengths of the spans covered by `gaps` (overlapping or touching gaps make one).
fn merged_lengths_us(mut gaps: Vec<Gap>) -> Vec<u64> {
    gaps.sort_by_key(|g| g.start_us);
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for g in gaps {
        let end_us = g.start_us + g.length_us;
        match spans.last_mut() {
            Some(last) if g.start_us <= last.1 => last.1 = last.1.max(end_us),
            _ => spans.push((g.start_us, end_us)),
        }
    }
    spans.into_iter().map(|(start, end)| end - start).collect()
}

fn pin_to(cpu: usize) -> Option<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it (cpu is
    // checked against the set's size first); sched_setaffinity(0, ..) pins the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return None;
        }
        libc::CPU_SET(cpu, &mut set);
        (libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0)
            .then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_probe_counts_consistently() {
        let pauses = probe_all(&[0], 50).pop().expect("CPU 0 exists");
        assert_eq!((pauses.cpu, pauses.probe_ms), (0, 50));
        assert!(pauses.over_100us_count >= pauses.over_1ms_count);
        assert!(pauses.over_1ms_count >= pauses.over_5ms_count);
        assert_eq!(pauses.gaps.len() as u64, pauses.over_100us_count);
        assert!(pauses.gaps.iter().all(|g| g.length_us <= pauses.longest_us));
        assert!(pauses
            .gaps
            .windows(2)
            .all(|w| w[0].start_us < w[1].start_us));
    }

    #[test]
    fn both_cpus_are_probed_together() {
        let probes = probe_all(&[0, 0], 30);
        assert_eq!(probes.iter().map(|p| p.cpu).collect::<Vec<_>>(), [0, 0]);
    }

    /// A probe of `probe_ms` with stops of `(start_us, length_us)`.
    fn with_gaps(probe_ms: u64, gaps: &[(u64, u64)]) -> Pauses {
        Pauses {
            probe_ms,
            over_100us_count: gaps.len() as u64,
            longest_us: gaps.iter().map(|g| g.1).max().unwrap_or(0),
            gaps: gaps
                .iter()
                .map(|&(start_us, length_us)| Gap {
                    start_us,
                    length_us,
                })
                .collect(),
            ..Pauses::default()
        }
    }

    #[test]
    fn the_floor_is_where_the_stops_delay_one_request_in_a_thousand() {
        // 1 s probed: p99.9 allows 1 ms of delayed time. One 5 ms stop: the delay over d
        // is 5000 - d, within 1000 from d = 4000.
        let one = with_gaps(1000, &[(0, 5000)]);
        assert_eq!(floor_us(&[one], 0.999), Some(4000));
        // Two 3 ms stops: 2 * (3000 - d) <= 1000 from d = 2500.
        let two = with_gaps(1000, &[(0, 3000), (500_000, 3000)]);
        assert_eq!(floor_us(&[two], 0.999), Some(2500));
        // The same two stops, one on each CPU, count alike.
        let split = [
            with_gaps(1000, &[(0, 3000)]),
            with_gaps(1000, &[(500_000, 3000)]),
        ];
        assert_eq!(floor_us(&split, 0.999), Some(2500));
        // p99 allows 10 ms of delay: those stops delay nobody past it.
        assert_eq!(floor_us(&split, 0.99), Some(0));
    }

    #[test]
    fn stops_of_both_cpus_at_once_delay_a_request_once() {
        // The host stopped both CPUs for the same 3 ms: one span, 3000 - d <= 1000.
        let together = [
            with_gaps(1000, &[(100, 3000)]),
            with_gaps(1000, &[(100, 3000)]),
        ];
        assert_eq!(floor_us(&together, 0.999), Some(2000));
        // Overlapping stops make one span from the first start to the last end (5 ms).
        let overlapping = [
            with_gaps(1000, &[(0, 3000)]),
            with_gaps(1000, &[(2000, 3000)]),
        ];
        assert_eq!(floor_us(&overlapping, 0.999), Some(4000));
    }

    #[test]
    fn a_quiet_machine_has_no_floor_and_no_probe_has_none() {
        let quiet = with_gaps(2000, &[(10, 150), (900_000, 300)]);
        assert_eq!(floor_us(&[quiet], 0.999), Some(0));
        assert_eq!(floor_us(&[with_gaps(2000, &[])], 0.999), Some(0));
        assert_eq!(floor_us(&[], 0.999), None);
        // A run from before the gaps were kept counted some: no floor, rather than 0.
        let counted_only = Pauses {
            over_100us_count: 2,
            ..with_gaps(2000, &[])
        };
        assert_eq!(floor_us(&[counted_only], 0.999), None);
    }
}
