//! How often the machine itself stops a running thread: a thread pinned to a CPU reads the
//! monotonic clock in a tight loop for a while and counts the gaps between reads. On bare
//! metal with an idle CPU the longest gap is tens of microseconds; a hypervisor that
//! deschedules its virtual CPUs shows gaps of milliseconds, and every latency percentile the
//! run reports past their rate is set by them, whatever the server does. Measured on both
//! the servers' and the drivers' CPU at the start of a run.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long each CPU is probed.
pub const PROBE_MS: u64 = 2_000;

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
}

impl Pauses {
    /// Gaps over a millisecond per second of probing.
    pub fn over_1ms_per_sec(&self) -> f64 {
        self.over_1ms_count as f64 * 1000.0 / self.probe_ms.max(1) as f64
    }
}

/// Probes `cpu` for `probe_ms` from a thread pinned to it; `None` if it cannot be pinned.
pub fn probe(cpu: usize, probe_ms: u64) -> Option<Pauses> {
    std::thread::spawn(move || {
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
            pauses.over_100us_count += u64::from(gap_us > 100);
            pauses.over_1ms_count += u64::from(gap_us > 1_000);
            pauses.over_5ms_count += u64::from(gap_us > 5_000);
            pauses.longest_us = pauses.longest_us.max(gap_us);
            last = now;
        }
        Some(pauses)
    })
    .join()
    .ok()
    .flatten()
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
        let pauses = probe(0, 50).expect("CPU 0 exists");
        assert_eq!((pauses.cpu, pauses.probe_ms), (0, 50));
        assert!(pauses.over_100us_count >= pauses.over_1ms_count);
        assert!(pauses.over_1ms_count >= pauses.over_5ms_count);
    }
}
