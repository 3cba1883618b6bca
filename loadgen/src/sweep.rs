//! `--sweep START:END:STEP`: one run per rate, then the latency-versus-throughput table and
//! plot an operator reads capacity from.

use std::fmt::Write as _;

use crate::report::Report;

/// One line of the table: what was asked, what was achieved, and the latency there.
pub struct SweepPoint {
    pub target_ops_per_sec: f64,
    pub report: Report,
}

/// The table, aligned for a terminal.
pub fn table(points: &[SweepPoint]) -> String {
    let mut out = String::from(
        "  target/s  achieved/s   p50 us   p90 us   p99 us p99.9 us   max us   errors  stalls\n",
    );
    for p in points {
        let r = &p.report;
        let l = &r.latency_us;
        let _ = writeln!(
            out,
            "{:>10.0} {:>11.0} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            p.target_ops_per_sec,
            r.throughput_ops_per_sec,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            r.errors,
            r.schedule_stalls
        );
    }
    out
}

/// The same as CSV.
pub fn csv(points: &[SweepPoint]) -> String {
    let mut out = String::from(
        "target_ops_per_sec,achieved_ops_per_sec,latency_us_p50,latency_us_p90,latency_us_p99,latency_us_p999,latency_us_max,service_time_us_p50,service_time_us_p99,errors,schedule_stalls\n",
    );
    for p in points {
        let r = &p.report;
        let l = &r.latency_us;
        let _ = writeln!(
            out,
            "{:.0},{:.1},{},{},{},{},{},{},{},{},{}",
            p.target_ops_per_sec,
            r.throughput_ops_per_sec,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            r.service_time_us.p50,
            r.service_time_us.p99,
            r.errors,
            r.schedule_stalls
        );
    }
    out
}
