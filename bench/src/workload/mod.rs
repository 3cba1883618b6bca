//! The workloads: each starts memcached, runs, stops it, then does the same with ringcache
//! (never both at once, so they never share the server CPU), and turns the two measurements
//! into a [`Section`] of the report.

pub mod cache_aside;
pub mod calcification;
pub mod capacity;
pub mod ceiling;
pub mod expiry;
pub mod hitratio;

use crate::report::{num, ratio, Row};
use crate::server::Kind;

/// One server's measurement, or why it could not be taken (server died, protocol error).
pub type Measured<M> = Result<M, String>;

/// What a figure is held to.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Reported only.
    None,
    /// ringcache / memcached at most this.
    RatioAtMost(f64),
    /// ringcache / memcached at least this.
    RatioAtLeast(f64),
    /// ringcache's figure is 0.
    RingcacheZero,
    /// Both figures are 0 (errors).
    BothZero,
}

impl Target {
    fn describe(self) -> String {
        match self {
            Target::None => String::new(),
            Target::RatioAtMost(x) => format!("ratio <= {x}"),
            Target::RatioAtLeast(x) => format!("ratio >= {x}"),
            Target::RingcacheZero => "ringcache 0".into(),
            Target::BothZero => "0 on both".into(),
        }
    }

    fn verdict(self, mc: f64, rc: f64) -> Option<bool> {
        match self {
            Target::None => None,
            Target::RatioAtMost(x) => Some(ratio(rc, mc).is_some_and(|r| r <= x)),
            Target::RatioAtLeast(x) => Some(ratio(rc, mc).is_some_and(|r| r >= x)),
            Target::RingcacheZero => Some(rc == 0.0),
            Target::BothZero => Some(mc == 0.0 && rc == 0.0),
        }
    }
}

fn show<M>(m: &Measured<M>, f: &impl Fn(&M) -> f64, decimals: usize) -> (String, Option<f64>) {
    match m {
        Ok(m) => (num(f(m), decimals), Some(f(m))),
        Err(e) => (format!("error: {e}"), None),
    }
}

/// A row comparing one figure of the two measurements.
pub fn row<M>(
    figure: &str,
    mc: &Measured<M>,
    rc: &Measured<M>,
    decimals: usize,
    target: Target,
    f: impl Fn(&M) -> f64,
) -> Row {
    let (mc_text, mc_value) = show(mc, &f, decimals);
    let (rc_text, rc_value) = show(rc, &f, decimals);
    let (ratio_value, verdict) = match (mc_value, rc_value) {
        (Some(m), Some(r)) => (ratio(r, m), target.verdict(m, r)),
        _ => (None, (!matches!(target, Target::None)).then_some(false)),
    };
    Row {
        figure: figure.into(),
        memcached: mc_text,
        ringcache: rc_text,
        ratio: ratio_value,
        target: target.describe(),
        verdict,
    }
}

/// Runs `measure` against memcached, then ringcache, logging progress to stderr.
pub fn each_server<M>(
    workload: &str,
    mut measure: impl FnMut(Kind) -> Measured<M>,
) -> (Measured<M>, Measured<M>) {
    let mut run = |kind: Kind| {
        eprintln!("memory-compare: {workload} on {} ...", kind.name());
        let started = std::time::Instant::now();
        let result = measure(kind);
        if let Err(e) = &result {
            eprintln!("memory-compare: {workload} on {}: {e}", kind.name());
        }
        eprintln!(
            "memory-compare: {workload} on {} done in {:.1?}",
            kind.name(),
            started.elapsed()
        );
        result
    };
    let mc = run(Kind::Memcached);
    let rc = run(Kind::Ringcache);
    (mc, rc)
}

/// Converts an I/O error of a run into the report's error text.
pub fn io_text(e: std::io::Error) -> String {
    format!("{}: {e}", e.kind())
}
