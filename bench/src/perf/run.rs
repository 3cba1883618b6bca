//! The order of a run. For each shard count and workload:
//!
//! 1. closed loop, per repeat, memcached and ringcache back to back (the order alternates
//!    between repeats): start the server fresh; a loadgen run that prefills the keys and
//!    warms up (not measured); the measured loadgen run (`--warmup 0s --no-prefill`, server
//!    CPU read just before it starts and just after it exits); then, on the same server, the
//!    measured memaslap run; stop the server.
//! 2. memcached's peak = the median of its closed-loop loadgen throughputs.
//! 3. open loop, per repeat, both servers back to back: probe the machine's stops on both
//!    CPUs (`pauses`), start fresh, then one loadgen run per rate (50/70/90% of that peak;
//!    the first run prefills; each has its own warm-up).
//!
//! Only one server runs at a time; it is killed when its turn ends.

use std::path::PathBuf;

use super::loadgen::{self, Spec};
use super::memaslap;
use super::pauses;
use super::process::Target;
use super::record::{
    ClosedFigures, ClosedRun, Driver, OpenFigures, OpenProbe, OpenRun, Peak, Results, Settings,
};
use super::stats::Summary;
use super::workload::Workload;
use crate::server::{Kind, Launch, Server};

/// The flags both servers get, the same for each: `-m -c -t -p -l -U`; ringcache also gets
/// `--cpus` so its shards share the server CPU, as memcached's threads do under taskset.
pub fn server_flags(
    settings: &Settings,
    kind: Kind,
    shards_count: usize,
    port: u16,
) -> Vec<String> {
    let mut flags: Vec<String> = [
        "-m",
        &settings.memory_limit_mb.to_string(),
        "-c",
        &settings.conn_limit.to_string(),
        "-t",
        &shards_count.to_string(),
        "-p",
        &port.to_string(),
        "-l",
        "127.0.0.1",
        "-U",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if kind == Kind::Ringcache {
        flags.extend(["--cpus".into(), settings.server_cpu.to_string()]);
    }
    flags
}

/// memcached first in even repeats, ringcache first in odd ones.
pub fn servers_in_order(repeat_index: usize) -> [Kind; 2] {
    if repeat_index % 2 == 0 {
        [Kind::Memcached, Kind::Ringcache]
    } else {
        [Kind::Ringcache, Kind::Memcached]
    }
}

/// One shard count and workload, for the progress lines.
#[derive(Clone, Copy)]
struct Block {
    workload: Workload,
    shards_count: usize,
}

impl Block {
    fn tag(&self, repeat_index: usize, kind: Kind) -> String {
        format!(
            "[{} shards {} repeat {}] {}",
            self.workload.id(),
            self.shards_count,
            repeat_index + 1,
            kind.name()
        )
    }
}

struct Runner<'a> {
    settings: &'a Settings,
    work_dir: PathBuf,
}

impl Runner<'_> {
    /// A fresh server of `kind`, and where drivers reach it.
    fn start(&self, kind: Kind, shards_count: usize) -> (Server, Target) {
        let launch = Launch {
            ringcache_bin: self.settings.ringcache_bin.clone(),
            memcached_bin: self.settings.memcached_bin.clone(),
            server_cpu: self.settings.server_cpu,
        };
        let server = Server::start_with(&launch, kind, |port| {
            server_flags(self.settings, kind, shards_count, port)
        });
        let target = Target {
            addr: server.addr(),
            pid: server.pid(),
        };
        (server, target)
    }

    fn spec(&self, workload: Workload, repeat_index: usize) -> Spec {
        Spec {
            workload,
            rate_ops_per_sec: None,
            warmup: self.settings.warmup(),
            duration: self.settings.duration(),
            prefill: false,
            seed: self.settings.seed + repeat_index as u64,
            connections_count: self.settings.connections_count,
        }
    }

    fn loadgen(&self, spec: &Spec, target: Target) -> Result<loadgen::Outcome, String> {
        let json_path = self.work_dir.join("loadgen.json");
        loadgen::run(
            &self.settings.loadgen_bin,
            self.settings.driver_cpu,
            spec,
            target,
            &json_path,
        )
    }

    /// A run at `measured`'s load that is not measured (with the prefill if `prefill`), then
    /// `measured` itself, whose warm-up must be zero: the server CPU window of the measured
    /// run then holds only its start-up (connecting), the measured time and the drain.
    fn warm_then_measure(
        &self,
        measured: Spec,
        prefill: bool,
        target: Target,
    ) -> Result<loadgen::Outcome, String> {
        assert!(
            measured.warmup.is_zero(),
            "the measured run warms up separately"
        );
        let warm = Spec {
            prefill,
            duration: self.settings.warmup(),
            ..measured.clone()
        };
        self.loadgen(&warm, target)
            .map_err(|e| format!("prefill and warm-up run: {e}"))?;
        self.loadgen(&measured, target)
    }

    /// The measured closed-loop run, after the prefill and a warm-up.
    fn closed_loadgen(
        &self,
        workload: Workload,
        repeat_index: usize,
        target: Target,
    ) -> Result<ClosedFigures, String> {
        let measured = Spec {
            warmup: std::time::Duration::ZERO,
            ..self.spec(workload, repeat_index)
        };
        let out = self.warm_then_measure(measured, true, target)?;
        let r = &out.report;
        Ok(ClosedFigures {
            ops: r.ops,
            throughput_ops_per_sec: r.throughput_ops_per_sec,
            cpu: out.cpu,
            cpu_us_per_op: out.cpu.us_per_op(r.ops),
            window_secs: out.finished.wall_secs,
            errors: r.errors,
            misses: r.misses,
            raw: out.raw,
        })
    }

    fn closed_memaslap(&self, workload: Workload, target: Target) -> Result<ClosedFigures, String> {
        let out = memaslap::run(
            &self.settings.memaslap_bin,
            self.settings.driver_cpu,
            workload,
            target,
            &self.work_dir.join("memaslap.cfg"),
            self.settings.connections_count,
            self.settings.duration(),
        )?;
        let r = &out.report;
        let ops = r.requests();
        Ok(ClosedFigures {
            ops,
            throughput_ops_per_sec: r.throughput_ops_per_sec(),
            cpu: out.cpu,
            cpu_us_per_op: out.cpu.us_per_op(ops),
            window_secs: out.finished.wall_secs,
            errors: 0,
            misses: r.get_misses,
            raw: serde_json::to_value(r).expect("memaslap report serializes"),
        })
    }

    fn closed_phase(&self, block: Block, results: &mut Results) {
        for repeat_index in 0..self.settings.repeats_count {
            for kind in servers_in_order(repeat_index) {
                // The server lives until the end of this turn: dropping it stops it.
                let (_server, target) = self.start(kind, block.shards_count);
                let mut drivers = vec![Driver::Loadgen];
                if block.workload.memaslap_can_run() {
                    drivers.push(Driver::Memaslap);
                }
                for driver in drivers {
                    let result = match driver {
                        Driver::Loadgen => {
                            self.closed_loadgen(block.workload, repeat_index, target)
                        }
                        Driver::Memaslap => self.closed_memaslap(block.workload, target),
                    };
                    eprintln!(
                        "{} closed loop, {}: {}",
                        block.tag(repeat_index, kind),
                        driver.name(),
                        describe_closed(&result)
                    );
                    results.closed.push(ClosedRun {
                        workload: block.workload,
                        shards_count: block.shards_count,
                        driver,
                        repeat_index,
                        server: kind,
                        result,
                    });
                }
            }
        }
    }

    fn open_phase(&self, block: Block, peak_ops_per_sec: f64, results: &mut Results) {
        for repeat_index in 0..self.settings.repeats_count {
            for kind in servers_in_order(repeat_index) {
                let probed = pauses::probe_all(
                    &[self.settings.server_cpu, self.settings.driver_cpu],
                    pauses::PROBE_MS,
                );
                eprintln!(
                    "{} machine's stops before the open loop: p99.9 from them alone {} us",
                    block.tag(repeat_index, kind),
                    pauses::floor_us(&probed, pauses::P999).map_or("-".into(), |us| us.to_string())
                );
                results.open_probes.push(OpenProbe {
                    workload: block.workload,
                    shards_count: block.shards_count,
                    repeat_index,
                    server: kind,
                    pauses: probed,
                });
                // The server lives until the end of this turn: dropping it stops it.
                let (_server, target) = self.start(kind, block.shards_count);
                for (rate_index, &rate_percent) in self.settings.rates_percent.iter().enumerate() {
                    let rate_ops_per_sec = peak_ops_per_sec * f64::from(rate_percent) / 100.0;
                    let measured = Spec {
                        rate_ops_per_sec: Some(rate_ops_per_sec),
                        warmup: std::time::Duration::ZERO,
                        ..self.spec(block.workload, repeat_index)
                    };
                    // The first rate's warm-up run prefills.
                    let result = self
                        .warm_then_measure(measured, rate_index == 0, target)
                        .map(|out| OpenFigures {
                            achieved_ops_per_sec: out.report.throughput_ops_per_sec,
                            cpu: Some(out.cpu),
                            cpu_us_per_op: out.cpu.us_per_op(out.report.ops),
                            latency_us: out.report.latency_us,
                            errors: out.report.errors,
                            errors_by_kind: out.report.errors_by_kind,
                            schedule_stalls: out.report.schedule_stalls,
                            generator_pause_us_max: out.report.generator_pause_us_max,
                            raw: out.raw,
                        });
                    eprintln!(
                        "{} open loop at {rate_percent}% ({rate_ops_per_sec:.0} ops/s): {}",
                        block.tag(repeat_index, kind),
                        describe_open(&result)
                    );
                    results.open.push(OpenRun {
                        workload: block.workload,
                        shards_count: block.shards_count,
                        repeat_index,
                        server: kind,
                        rate_percent,
                        rate_ops_per_sec,
                        result,
                    });
                }
            }
        }
    }
}

/// CPU per op for a progress line: two decimals, or `-` when it could not be measured.
fn cpu_text(cpu_us_per_op: Option<f64>) -> String {
    cpu_us_per_op.map_or("-".into(), |c| format!("{c:.2}"))
}

fn describe_closed(result: &Result<ClosedFigures, String>) -> String {
    match result {
        Ok(f) => format!(
            "{:.0} ops/s, {} us CPU/op, {} errors",
            f.throughput_ops_per_sec,
            cpu_text(f.cpu_us_per_op),
            f.errors
        ),
        Err(e) => format!("FAILED: {e}"),
    }
}

fn describe_open(result: &Result<OpenFigures, String>) -> String {
    match result {
        Ok(f) => format!(
            "{:.0} ops/s, {} us CPU/op, p50 {} us, p99 {} us, p99.9 {} us, {} errors",
            f.achieved_ops_per_sec,
            cpu_text(f.cpu_us_per_op),
            f.latency_us.p50,
            f.latency_us.p99,
            f.latency_us.p999,
            f.errors
        ),
        Err(e) => format!("FAILED: {e}"),
    }
}

/// memcached's closed-loop loadgen throughputs in `block`, summarized.
fn memcached_peak(
    closed: &[ClosedRun],
    workload: Workload,
    shards_count: usize,
) -> Option<Summary> {
    let values: Vec<f64> = closed
        .iter()
        .filter(|r| {
            r.workload == workload
                && r.shards_count == shards_count
                && r.driver == Driver::Loadgen
                && r.server == Kind::Memcached
        })
        .filter_map(|r| r.result.as_ref().ok())
        .map(|f| f.throughput_ops_per_sec)
        .collect();
    Summary::of(&values)
}

/// Runs every block; `results` starts empty and receives every measurement.
pub fn run_all(settings: &Settings, results: &mut Results) -> Result<(), String> {
    let work_dir = settings.out_dir.join(".work");
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("create {}: {e}", work_dir.display()))?;
    let runner = Runner {
        settings,
        work_dir: work_dir.clone(),
    };
    for &shards_count in &settings.shards_counts {
        for &workload in &settings.workloads {
            let block = Block {
                workload,
                shards_count,
            };
            runner.closed_phase(block, results);
            let peak = memcached_peak(&results.closed, workload, shards_count);
            results.peaks.push(Peak {
                workload,
                shards_count,
                memcached_ops_per_sec: peak,
            });
            match peak {
                Some(peak) => runner.open_phase(block, peak.median, results),
                None => eprintln!(
                    "[{} shards {shards_count}] no memcached closed-loop peak: open loop skipped",
                    workload.id()
                ),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::record::example_settings;

    #[test]
    fn both_servers_get_the_same_flags_and_ringcache_its_core() {
        let s = example_settings();
        let memcached = server_flags(&s, Kind::Memcached, 2, 4000);
        let ringcache = server_flags(&s, Kind::Ringcache, 2, 4000);
        assert_eq!(
            memcached.join(" "),
            "-m 1024 -c 1024 -t 2 -p 4000 -l 127.0.0.1 -U 0"
        );
        assert_eq!(ringcache[..memcached.len()], memcached[..]);
        assert_eq!(ringcache[memcached.len()..], ["--cpus", "0"]);
    }

    #[test]
    fn servers_alternate_between_repeats() {
        assert_eq!(servers_in_order(0), [Kind::Memcached, Kind::Ringcache]);
        assert_eq!(servers_in_order(1), [Kind::Ringcache, Kind::Memcached]);
        assert_eq!(servers_in_order(2), servers_in_order(0));
    }
}
