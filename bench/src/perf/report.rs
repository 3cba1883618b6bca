//! `perf.md`: the closed-loop table (server CPU per operation, throughput at saturation), the
//! open-loop table (latency percentiles at fixed rates), notes on anything that went wrong,
//! and how it was measured, on which machine.

use std::fmt::Write;

use super::pauses;
use super::record::Results;
use super::stats::Summary;
use super::summary::{closed_rows, open_rows, ByServer, ClosedRow, OpenRow, SHORT_RATE_FRACTION};
use super::workload::{KEYS_COUNT, KEY_SIZE_BYTES, MEMASLAP_WINDOW, VALUE_SIZE_BYTES};
use crate::server::running_as_root;

/// A generator pause above this (us) is worth a note: the driver, not the server, lost time.
const GENERATOR_PAUSE_NOTE_US: u64 = 1000;

/// A closed-loop server busy less than this share of its core was waiting on the driver.
const SATURATED_BUSY_FRACTION: f64 = 0.93;

/// `1234567.8` as `1 234 568`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if value < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// `median [min–max]` over the repeats (the range only with more than one), or `-`.
pub fn cell(summary: Option<Summary>, format: impl Fn(f64) -> String) -> String {
    match summary {
        None => "-".into(),
        Some(s) if s.count > 1 => {
            format!("{} [{}–{}]", format(s.median), format(s.min), format(s.max))
        }
        Some(s) => format(s.median),
    }
}

/// A ratio ringcache / memcached: two decimals, with its range (does it cross 1?).
pub fn ratio_cell(summary: Option<Summary>) -> String {
    cell(summary, decimals(2))
}

fn decimals(places: usize) -> impl Fn(f64) -> String {
    move |v| format!("{v:.places$}")
}

fn closed_table(md: &mut String, rows: &[ClosedRow]) {
    md.push_str(
        "| workload | shards | driver | CPU us/op memcached | CPU us/op ringcache \
         | CPU ratio rc/mc (lower is better) | ops/s memcached | ops/s ringcache \
         | ops/s ratio rc/mc (higher is better) | server CPU busy mc / rc |\n",
    );
    md.push_str("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            r.workload.label(),
            r.shards_count,
            r.driver.name(),
            cell(r.cpu_us_per_op.memcached, decimals(2)),
            cell(r.cpu_us_per_op.ringcache, decimals(2)),
            ratio_cell(r.cpu_us_per_op.ratio),
            cell(r.throughput_ops_per_sec.memcached, thousands),
            cell(r.throughput_ops_per_sec.ringcache, thousands),
            ratio_cell(r.throughput_ops_per_sec.ratio),
            busy_text(r.busy_fraction.memcached),
            busy_text(r.busy_fraction.ringcache),
        );
    }
}

/// The median share of one core a server kept busy, as a percentage.
fn busy_text(summary: Option<Summary>) -> String {
    summary.map_or_else(|| "-".into(), |s| format!("{:.0}%", s.median * 100.0))
}

fn open_table(md: &mut String, rows: &[OpenRow]) {
    md.push_str(
        "| workload | shards | rate ops/s (% of memcached's peak) \
         | p50 us memcached | p50 us ringcache | p50 rc/mc \
         | p99 us memcached | p99 us ringcache | p99 rc/mc \
         | p99.9 us memcached | p99.9 us ringcache | p99.9 rc/mc \
         | p99.9 us the machine's stops alone give |\n",
    );
    md.push_str(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: \
         | ---: |\n",
    );
    for r in rows {
        let flag = if open_row_suspect(r) { " (!)" } else { "" };
        let _ = write!(
            md,
            "| {} | {} | {} ({}%){flag} |",
            r.workload.label(),
            r.shards_count,
            thousands(r.rate_ops_per_sec),
            r.rate_percent
        );
        for p in [&r.latency_us_p50, &r.latency_us_p99, &r.latency_us_p999] {
            let _ = write!(
                md,
                " {} | {} | {} |",
                cell(p.memcached, decimals(0)),
                cell(p.ringcache, decimals(0)),
                ratio_cell(p.ratio)
            );
        }
        let _ = writeln!(md, " {} |", cell(r.machine_floor_us_p999, decimals(0)));
    }
}

/// Server CPU per op at each open-loop rate: below saturation a server sleeps and is woken
/// more often per request, so this is the cost at the loads a cache mostly runs at.
fn open_cpu_table(md: &mut String, rows: &[OpenRow]) {
    md.push_str(
        "| workload | shards | rate ops/s (% of memcached's peak) | CPU us/op memcached \
         | CPU us/op ringcache | CPU ratio rc/mc (lower is better) |\n",
    );
    md.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} ({}%) | {} | {} | {} |",
            r.workload.label(),
            r.shards_count,
            thousands(r.rate_ops_per_sec),
            r.rate_percent,
            cell(r.cpu_us_per_op.memcached, decimals(2)),
            cell(r.cpu_us_per_op.ringcache, decimals(2)),
            ratio_cell(r.cpu_us_per_op.ratio),
        );
    }
}

fn failure_notes(results: &Results) -> Vec<String> {
    let first_line = |e: &str| e.lines().next().unwrap_or("").to_string();
    let closed = results.closed.iter().filter_map(|run| {
        let e = run.result.as_ref().err()?;
        Some(format!(
            "FAILED closed loop {} shards {} {} repeat {} {}: {}",
            run.workload.id(),
            run.shards_count,
            run.driver.name(),
            run.repeat_index + 1,
            run.server.name(),
            first_line(e)
        ))
    });
    let open = results.open.iter().filter_map(|run| {
        let e = run.result.as_ref().err()?;
        Some(format!(
            "FAILED open loop {} shards {} at {}% repeat {} {}: {}",
            run.workload.id(),
            run.shards_count,
            run.rate_percent,
            run.repeat_index + 1,
            run.server.name(),
            first_line(e)
        ))
    });
    closed.chain(open).collect()
}

/// Whether an open-loop row is marked `(!)`: a run failed, fell short of the rate, or the
/// driver counted errors.
fn open_row_suspect(r: &OpenRow) -> bool {
    r.failed_runs_count.total() + r.short_runs_count.total() + r.driver_errors_count.total() > 0
}

/// One line per open-loop row with something to say.
fn open_note(r: &OpenRow) -> Option<String> {
    let per_server = |c: ByServer| {
        format!(
            "memcached {}/{}, ringcache {}/{}",
            c.memcached, r.runs_count.memcached, c.ringcache, r.runs_count.ringcache
        )
    };
    let mut parts = Vec::new();
    if r.short_runs_count.total() > 0 {
        parts.push(format!(
            "runs under {:.0}% of the rate: {}",
            SHORT_RATE_FRACTION * 100.0,
            per_server(r.short_runs_count)
        ));
    }
    if r.driver_errors_count.total() > 0 {
        let kinds: Vec<String> = r
            .driver_errors_by_kind
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        parts.push(format!(
            "driver errors: memcached {}, ringcache {} ({})",
            r.driver_errors_count.memcached,
            r.driver_errors_count.ringcache,
            kinds.join(", ")
        ));
    }
    if r.generator_pause_us_max > GENERATOR_PAUSE_NOTE_US {
        parts.push(format!(
            "the loadgen itself was paused up to {} ms (its CPU was busy; latencies include it)",
            r.generator_pause_us_max / 1000
        ));
    }
    if parts.is_empty() {
        return None;
    }
    let flag = if open_row_suspect(r) { " (!)" } else { "" };
    Some(format!(
        "{} shards {} at {}%{flag}: {}",
        r.workload.id(),
        r.shards_count,
        r.rate_percent,
        parts.join("; ")
    ))
}

fn notes(results: &Results, closed: &[ClosedRow], open: &[OpenRow]) -> Vec<String> {
    let mut notes = failure_notes(results);
    for r in closed.iter().filter(|r| r.driver_errors_count > 0) {
        notes.push(format!(
            "{} shards {} {}: the driver counted {} errors",
            r.workload.id(),
            r.shards_count,
            r.driver.name(),
            r.driver_errors_count
        ));
    }
    notes.extend(closed.iter().filter_map(driver_bound_note));
    notes.extend(open.iter().filter_map(open_note));
    notes.extend(machine_floor_note(open));
    for p in results
        .machine
        .pauses
        .iter()
        .filter(|p| p.over_1ms_count > 0)
    {
        notes.push(format!(
            "CPU {} was stopped for over 1 ms {:.0} times per second (longest {} us) with \
             nothing else running: at rates where 1 request in 1000 meets such a stop, p99.9 \
             is set by the machine for both servers",
            p.cpu,
            p.over_1ms_per_sec(),
            p.longest_us
        ));
    }
    notes
}

/// A p99.9 target of this many µs cannot be judged where the machine's stops alone give more.
const P999_TARGET_US: f64 = 1000.0;

/// Whether the machine's stops alone put p99.9 over [`P999_TARGET_US`] in some open-loop
/// block: then no server can show that target on this machine, and the p99.9 columns compare
/// the servers under the machine's stops.
fn machine_floor_note(open: &[OpenRow]) -> Option<String> {
    let floors: Vec<f64> = open
        .iter()
        .filter_map(|r| r.machine_floor_us_p999)
        .map(|s| s.median)
        .collect();
    let over = floors.iter().filter(|&&f| f > P999_TARGET_US).count();
    if over == 0 {
        return None;
    }
    let (min, max) = floors
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &f| (lo.min(f), hi.max(f)));
    let medians = if min == max {
        format!("median {min:.0} us")
    } else {
        format!("medians {min:.0}–{max:.0} us")
    };
    Some(format!(
        "in {over} of {} open-loop rows the machine's own stops put p99.9 above {:.0} ms \
         before any server ran ({medians}, last column): a p99.9 under {:.0} ms cannot be \
         shown on this machine, by either server",
        floors.len(),
        P999_TARGET_US / 1000.0,
        P999_TARGET_US / 1000.0
    ))
}

/// A closed-loop row where a server kept its core busy less than [`SATURATED_BUSY_FRACTION`]
/// of the time: the driver set the pace, not that server.
fn driver_bound_note(row: &ClosedRow) -> Option<String> {
    let idle: Vec<String> = [
        ("memcached", row.busy_fraction.memcached),
        ("ringcache", row.busy_fraction.ringcache),
    ]
    .into_iter()
    .filter_map(|(name, busy)| {
        let median = busy?.median;
        (median < SATURATED_BUSY_FRACTION).then(|| format!("{name} {:.0}%", median * 100.0))
    })
    .collect();
    if idle.is_empty() {
        return None;
    }
    Some(format!(
        "{} shards {} {}: the server's core was busy only {} of the time, so the driver set \
         the pace: that server's throughput is a lower bound, and its CPU per op includes \
         sleeping and being woken between requests, which a saturated server does not pay",
        row.workload.id(),
        row.shards_count,
        row.driver.name(),
        idle.join(", ")
    ))
}

fn machine_section(md: &mut String, results: &Results) {
    let m = &results.machine;
    let s = &results.settings;
    let _ = writeln!(md, "## Machine and settings\n");
    let _ = writeln!(
        md,
        "- CPU: {} x {} (`/proc/cpuinfo`); kernel {}",
        m.cpu_model, m.cpus_count, m.kernel
    );
    let _ = writeln!(
        md,
        "- memcached: {}; ringcache: {}",
        m.memcached_version, m.ringcache_version
    );
    let _ = writeln!(
        md,
        "- drivers: {}; {}",
        m.loadgen_version, m.memaslap_version
    );
    let _ = writeln!(
        md,
        "- load average at start / end: {} / {}; CPU pressure at start / end: {} / {}",
        m.loadavg_start, m.loadavg_end, m.cpu_pressure_start, m.cpu_pressure_end
    );
    for p in &m.pauses {
        let _ = writeln!(
            md,
            "- CPU {} stopped a running thread (a pinned clock-reading loop, {} ms): {} gaps over \
             100 us, {} over 1 ms ({:.0} per second), {} over 5 ms, the longest {} us",
            p.cpu,
            p.probe_ms,
            p.over_100us_count,
            p.over_1ms_count,
            p.over_1ms_per_sec(),
            p.over_5ms_count,
            p.longest_us
        );
    }
    if let Some(floor_us) = pauses::floor_us(&m.pauses, pauses::P999) {
        let _ = writeln!(
            md,
            "- p99.9 that those stops alone give requests needing both CPUs: {floor_us} us \
             (and before each open-loop turn: last column of the open-loop table)"
        );
    }
    let _ = writeln!(md, "- command: `{}`", results.command);
    let _ = writeln!(
        md,
        "- {} repeats, {} ms measured per run, {} ms warm-up; servers on CPU {}, drivers on CPU {}; seed {}",
        s.repeats_count, s.duration_ms, s.warmup_ms, s.server_cpu, s.driver_cpu, s.seed
    );
}

fn method_section(md: &mut String, results: &Results) {
    let s = &results.settings;
    let user = if running_as_root() {
        "`-u nobody` and "
    } else {
        ""
    };
    let _ = writeln!(md, "## How it was measured\n");
    let _ = writeln!(
        md,
        "- Servers: each started fresh for its turn with {user}`-m {} -c {} -t SHARDS -p PORT -l 127.0.0.1 -U 0` \
         under `taskset -c {cpu}` (ringcache also `--cpus {cpu}`: all shards on that core, as memcached's \
         threads); only one server runs at a time, memcached and ringcache back to back, the order \
         alternating between repeats.",
        s.memory_limit_mb, s.conn_limit, cpu = s.server_cpu
    );
    let _ = writeln!(
        md,
        "- Workloads: {} connections, {KEY_SIZE_BYTES}-byte keys, {VALUE_SIZE_BYTES}-byte values; the loadgen \
         uses {KEYS_COUNT} keys, uniformly, each set once before the runs (prefill); an op is a request \
         (a 10-key multi-get is one op).",
        s.connections_count
    );
    let _ = writeln!(
        md,
        "- CPU per op: utime + stime of the server process, all threads (`/proc/PID/stat`, clock ticks \
         of 1/`sysconf(_SC_CLK_TCK)` s), read just before the measured driver process starts and just \
         after it exits, divided by the ops the driver completed. The loadgen's measured run has \
         `--warmup 0s --no-prefill` and follows a separate prefill and warm-up run, so the window holds \
         only its start-up (connecting), the measured time and the drain; memaslap has no warm-up and \
         is measured whole."
    );
    let _ = writeln!(
        md,
        "- Throughput: closed loop (no `--rate`; memaslap always). memaslap: `-T 1 -c {} -w {MEMASLAP_WINDOW} \
         -t SECS`, a `-F` file with the keys, values and set/get proportions, `-d 10` for the multi-get; \
         its ops count every key of a multi-get, so the harness counts `cmd_get / 10 + cmd_set` requests. \
         memaslap has no pipelining, so no memaslap row for pipeline 16.",
        s.connections_count
    );
    let _ = writeln!(
        md,
        "- Latency: ringcache-loadgen open loop (Poisson arrivals) at {} % of memcached's median \
         closed-loop loadgen throughput from this run, latency counted from each request's intended \
         send time (loadgen/README.md). Each measured run follows a warm-up run at its rate (the \
         first rate's also prefills), and its server CPU is taken as in the closed loop.",
        s.rates_percent.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        md,
        "- The machine's stops: before each server's open-loop turn, with nothing else running, a \
         thread pinned to each of CPUs {} and {} reads the clock in a loop for {} ms and keeps every \
         gap over {} us. A request arriving evenly in time is delayed by the part of a gap \
         after its arrival; the last open-loop column is the p99.9 of those delays (both CPUs' \
         gaps merged, as a request needs both): the least any server could have shown while the \
         probe ran. It stands for the turn that follows, not a bound on it (the machine's stops come \
         and go from minute to minute); within the probe it is a lower bound, as shorter gaps are \
         not kept and a stopped server has a backlog to work off after the stop.",
        s.server_cpu,
        s.driver_cpu,
        pauses::PROBE_MS,
        pauses::GAP_KEPT_OVER_US
    );
    let _ = writeln!(
        md,
        "- Each cell: the median over the repeats, then [lowest–highest]. A ratio is the median \
         of the per-repeat ratios ringcache / memcached of back-to-back pairs (not the ratio of \
         the medians), with the range of those ratios."
    );
}

/// Renders the whole report.
pub fn render(results: &Results) -> String {
    let closed = closed_rows(results);
    let open = open_rows(results);
    let mut md = String::new();
    md.push_str("# perf-compare: ringcache against memcached\n\n");
    if results.settings.quick {
        md.push_str("**--quick run: tiny durations, the figures mean nothing.**\n\n");
    }
    md.push_str("## Closed loop: server CPU per operation and throughput at saturation\n\n");
    closed_table(&mut md, &closed);
    md.push_str("\n## Open loop (ringcache-loadgen): latency from the intended send time\n\n");
    open_table(&mut md, &open);
    md.push_str("\n## Open loop: server CPU per operation at each rate\n\n");
    open_cpu_table(&mut md, &open);
    let notes = notes(results, &closed, &open);
    if !notes.is_empty() {
        md.push_str("\n## Notes\n\n");
        for note in notes {
            let _ = writeln!(md, "- {note}");
        }
    }
    md.push('\n');
    machine_section(&mut md, results);
    md.push('\n');
    method_section(&mut md, results);
    md
}

/// Whether any driver run failed outright.
pub fn any_failure(results: &Results) -> bool {
    results.closed.iter().any(|r| r.result.is_err())
        || results.open.iter().any(|r| r.result.is_err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::cpu::CpuWindow;
    use crate::perf::loadgen::Percentiles;
    use crate::perf::machine::Machine;
    use crate::perf::pauses::{Gap, Pauses};
    use crate::perf::record::{
        example_settings, ClosedFigures, ClosedRun, Driver, OpenFigures, OpenProbe, OpenRun,
        Results,
    };
    use crate::perf::workload::Workload;
    use crate::server::Kind;

    fn closed(
        driver: Driver,
        repeat_index: usize,
        server: Kind,
        cpu_us_per_op: f64,
        ops_per_sec: f64,
    ) -> ClosedRun {
        ClosedRun {
            workload: Workload::Get90,
            shards_count: 1,
            driver,
            repeat_index,
            server,
            result: Ok(ClosedFigures {
                ops: (ops_per_sec * 10.0) as u64,
                throughput_ops_per_sec: ops_per_sec,
                cpu: CpuWindow {
                    ticks: 0,
                    cpu_us: cpu_us_per_op * ops_per_sec * 10.0,
                    schedstat_cpu_us: None,
                },
                cpu_us_per_op: Some(cpu_us_per_op),
                window_secs: 10.0,
                errors: 0,
                misses: 0,
                raw: serde_json::Value::Null,
            }),
        }
    }

    fn open(repeat_index: usize, server: Kind, achieved: f64, p999_us: u64) -> OpenRun {
        OpenRun {
            workload: Workload::Get90,
            shards_count: 1,
            repeat_index,
            server,
            rate_percent: 70,
            rate_ops_per_sec: 70_000.0,
            result: Ok(OpenFigures {
                achieved_ops_per_sec: achieved,
                cpu: None,
                cpu_us_per_op: Some(match server {
                    Kind::Memcached => 12.0,
                    Kind::Ringcache => 9.0,
                }),
                latency_us: Percentiles {
                    p50: 100,
                    p99: 400,
                    p999: p999_us,
                    ..Percentiles::default()
                },
                errors: 0,
                errors_by_kind: Default::default(),
                schedule_stalls: 0,
                generator_pause_us_max: 0,
                raw: serde_json::Value::Null,
            }),
        }
    }

    fn results() -> Results {
        let mut settings = example_settings();
        settings.repeats_count = 2;
        Results {
            command: "perf-compare --repeats 2".into(),
            settings,
            machine: Machine::default(),
            closed: vec![
                closed(Driver::Loadgen, 0, Kind::Memcached, 8.0, 100_000.0),
                closed(Driver::Loadgen, 0, Kind::Ringcache, 4.0, 150_000.0),
                closed(Driver::Loadgen, 1, Kind::Ringcache, 6.0, 130_000.0),
                closed(Driver::Loadgen, 1, Kind::Memcached, 8.0, 100_000.0),
                closed(Driver::Memaslap, 0, Kind::Memcached, 9.0, 90_000.0),
                ClosedRun {
                    result: Err("memaslap exited with 1\nmore".into()),
                    ..closed(Driver::Memaslap, 0, Kind::Ringcache, 0.0, 0.0)
                },
            ],
            open: vec![
                open(0, Kind::Memcached, 70_000.0, 1000),
                open(0, Kind::Ringcache, 60_000.0, 500),
            ],
            peaks: Vec::new(),
            open_probes: Vec::new(),
        }
    }

    #[test]
    fn thousands_are_grouped_by_spaces() {
        assert_eq!(thousands(1_234_567.8), "1 234 568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1 000");
        assert_eq!(thousands(0.2), "0");
        assert_eq!(thousands(-12_345.0), "-12 345");
    }

    #[test]
    fn a_cell_shows_the_median_and_the_spread_of_several_repeats() {
        let three = Summary::of(&[110.0, 90.0, 100.0]);
        assert_eq!(cell(three, decimals(1)), "100.0 [90.0–110.0]");
        assert_eq!(cell(three, thousands), "100 [90–110]");
        assert_eq!(
            ratio_cell(Summary::of(&[0.5, 1.2, 0.8])),
            "0.80 [0.50–1.20]"
        );
        assert_eq!(ratio_cell(Summary::of(&[0.5])), "0.50");
        assert_eq!(ratio_cell(None), "-");
        assert_eq!(cell(Summary::of(&[7.0]), decimals(2)), "7.00");
        assert_eq!(cell(None, decimals(2)), "-");
    }

    #[test]
    fn the_closed_table_has_both_servers_and_paired_ratios() {
        let md = render(&results());
        assert!(
            md.contains(
                "| CPU us/op memcached | CPU us/op ringcache | CPU ratio rc/mc (lower is better) |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| ops/s ratio rc/mc (higher is better) |"),
            "{md}"
        );
        // CPU/op: mc 8 and 8, rc 4 and 6 (median 5, ±20%); ratios 0.5 and 0.75 (median 0.625).
        // Throughput: ratios 1.5 and 1.3.
        assert!(
            md.contains("| 90/10 get/set | 1 | ringcache-loadgen | 8.00 [8.00–8.00] | 5.00 [4.00–6.00] | 0.62 [0.50–0.75] | 100 000 [100 000–100 000] | 140 000 [130 000–150 000] | 1.40 [1.30–1.50] |"),
            "{md}"
        );
        // memaslap: ringcache's run failed: no ratio, and a note names it.
        assert!(
            md.contains("| 90/10 get/set | 1 | memaslap | 9.00 | - | - | 90 000 | - | - |"),
            "{md}"
        );
        assert!(md.contains("- FAILED closed loop 90-10 shards 1 memaslap repeat 1 ringcache: memaslap exited with 1\n"), "{md}");
        assert!(any_failure(&results()));
    }

    #[test]
    fn a_server_that_left_its_core_idle_is_named_as_driver_bound() {
        let md = render(&results());
        // Busy = CPU us/op x ops/s: memcached 8 x 100k = 80%; ringcache 4 x 150k = 60% and
        // 6 x 130k = 78%, median 69%.
        assert!(md.contains("| server CPU busy mc / rc |"), "{md}");
        assert!(md.contains("| 1.40 [1.30–1.50] | 80% / 69% |"), "{md}");
        assert!(
            md.contains(
                "- 90-10 shards 1 ringcache-loadgen: the server's core was busy only memcached \
                 80%, ringcache 69% of the time, so the driver set the pace"
            ),
            "{md}"
        );

        // A saturated memcached is not named; a ringcache below the line still is.
        let mut results = results();
        results.closed = vec![
            closed(Driver::Loadgen, 0, Kind::Memcached, 10.0, 98_000.0),
            closed(Driver::Loadgen, 0, Kind::Ringcache, 7.0, 130_000.0),
        ];
        let said = notes(&results, &closed_rows(&results), &[]);
        let bound: Vec<&String> = said.iter().filter(|n| n.contains("the driver")).collect();
        assert_eq!(bound.len(), 1, "{said:?}");
        assert!(bound[0].contains("busy only ringcache 91% of"), "{said:?}");

        results.closed[1] = closed(Driver::Loadgen, 0, Kind::Ringcache, 7.5, 130_000.0);
        let said = notes(&results, &closed_rows(&results), &[]);
        assert!(!said.iter().any(|n| n.contains("the driver")), "{said:?}");
    }

    #[test]
    fn the_open_table_flags_a_rate_a_server_could_not_reach() {
        let md = render(&results());
        assert!(
            md.contains(
                "| p99.9 us memcached | p99.9 us ringcache | p99.9 rc/mc \
                         | p99.9 us the machine's stops alone give |"
            ),
            "{md}"
        );
        // A run made before the machine was probed has no floor to show.
        assert!(
            md.contains("| 90/10 get/set | 1 | 70 000 (70%) (!) | 100 | 100 | 1.00 | 400 | 400 | 1.00 | 1000 | 500 | 0.50 | - |"),
            "{md}"
        );
        assert!(
            md.contains(
                "- 90-10 shards 1 at 70% (!): runs under 95% of the rate: memcached 0/1, ringcache 1/1\n"
            ),
            "{md}"
        );
    }

    /// A probe before `server`'s turn that saw one stop of `stop_us` on the server's CPU in
    /// one second.
    fn probe(server: Kind, stop_us: u64) -> OpenProbe {
        OpenProbe {
            workload: Workload::Get90,
            shards_count: 1,
            repeat_index: 0,
            server,
            pauses: vec![
                Pauses {
                    cpu: 0,
                    probe_ms: 1000,
                    over_100us_count: 1,
                    longest_us: stop_us,
                    gaps: vec![Gap {
                        start_us: 0,
                        length_us: stop_us,
                    }],
                    ..Pauses::default()
                },
                Pauses {
                    cpu: 1,
                    probe_ms: 1000,
                    ..Pauses::default()
                },
            ],
        }
    }

    #[test]
    fn the_machine_floor_of_each_row_is_shown_and_over_1_ms_noted() {
        let mut results = results();
        // Stops of 3 and 5 ms in a second: floors of 2000 and 4000 us, median 3000.
        results.open_probes = vec![probe(Kind::Memcached, 3000), probe(Kind::Ringcache, 5000)];
        let md = render(&results);
        assert!(
            md.contains("| 1000 | 500 | 0.50 | 3000 [2000–4000] |"),
            "{md}"
        );
        assert!(
            md.contains(
                "- in 1 of 1 open-loop rows the machine's own stops put p99.9 above 1 ms before \
                 any server ran (median 3000 us, last column)"
            ),
            "{md}"
        );
        // Stops of 1.5 ms leave a floor of 500 us: no note.
        results.open_probes = vec![probe(Kind::Memcached, 1500)];
        let md = render(&results);
        assert!(md.contains("| 0.50 | 500 |"), "{md}");
        assert!(!md.contains("own stops"), "{md}");
    }

    #[test]
    fn the_open_loop_cpu_table_pairs_the_servers_at_each_rate() {
        let md = render(&results());
        assert!(
            md.contains("## Open loop: server CPU per operation at each rate"),
            "{md}"
        );
        assert!(
            md.contains("| 90/10 get/set | 1 | 70 000 (70%) | 12.00 | 9.00 | 0.75 |"),
            "{md}"
        );
        // A report written before open-loop CPU was measured still renders, with dashes.
        let mut old = results();
        for run in &mut old.open {
            if let Ok(f) = &mut run.result {
                f.cpu_us_per_op = None;
            }
        }
        let md = render(&old);
        assert!(
            md.contains("| 90/10 get/set | 1 | 70 000 (70%) | - | - | - |"),
            "{md}"
        );
    }

    #[test]
    fn driver_errors_are_noted_by_server_and_kind() {
        let mut results = results();
        let mut errored = open(0, Kind::Ringcache, 69_000.0, 500);
        if let Ok(f) = &mut errored.result {
            f.errors = 7;
            f.errors_by_kind = [("unanswered".to_string(), 7), ("protocol".to_string(), 0)]
                .into_iter()
                .collect();
            f.generator_pause_us_max = 52_000;
        }
        results.open[1] = errored;
        let md = render(&results);
        assert!(
            md.contains(
                "- 90-10 shards 1 at 70% (!): driver errors: memcached 0, ringcache 7 \
                 (unanswered 7); the loadgen itself was paused up to 52 ms"
            ),
            "{md}"
        );
    }

    #[test]
    fn the_report_says_how_and_where_it_was_measured() {
        let md = render(&results());
        for expected in [
            "## Machine and settings",
            "- command: `perf-compare --repeats 2`",
            "`/proc/PID/stat`",
            "-m 1024 -c 1024 -t SHARDS -p PORT -l 127.0.0.1 -U 0",
            "`taskset -c 0`",
            "at 50, 70, 90 % of memcached's median",
        ] {
            assert!(md.contains(expected), "{expected} missing:\n{md}");
        }
        assert!(!md.contains("--quick run"));
    }
}
