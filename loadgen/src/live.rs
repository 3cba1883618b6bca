//! The live line: once a second on stderr, the achieved rate, latency percentiles, hits and
//! errors of that second, under a progress bar (indicatif). When stderr is not a terminal the
//! bar hides itself and each line is printed plainly instead.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Stats;

pub struct Live {
    bar: ProgressBar,
    warmup_secs: u64,
}

impl Live {
    pub fn new(total_secs: u64, warmup_secs: u64) -> Live {
        let bar = ProgressBar::with_draw_target(Some(total_secs), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:24.cyan/blue} {pos:>4}/{len}s {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Live { bar, warmup_secs }
    }

    /// Shows second `tick` (1-based) of the run.
    pub fn second(&mut self, tick: u64, stats: &Stats) {
        let line = line(tick, tick <= self.warmup_secs, stats);
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(&line);
        }
        self.bar.set_position(tick);
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// `[  12s] run   98 812 ops/s  p50 41us  p99 120us  p99.9 410us  hits 89.1%  errors 0`
pub fn line(tick: u64, warmup: bool, stats: &Stats) -> String {
    let q = |quantile| stats.latency_us.value_at_quantile(quantile);
    let keys = stats.hits + stats.misses;
    let hit_percent = if keys == 0 {
        0.0
    } else {
        100.0 * stats.hits as f64 / keys as f64
    };
    format!(
        "[{tick:>4}s] {phase:<6} {ops:>9} ops/s  p50 {p50}us  p99 {p99}us  p99.9 {p999}us  hits {hit_percent:.1}%  errors {errors}{stalls}",
        phase = if warmup { "warmup" } else { "run" },
        ops = stats.ops,
        p50 = q(0.5),
        p99 = q(0.99),
        p999 = q(0.999),
        errors = stats.errors.total(),
        stalls = if stats.schedule_stalls > 0 {
            format!("  schedule stalls {}", stats.schedule_stalls)
        } else {
            String::new()
        },
    )
}
