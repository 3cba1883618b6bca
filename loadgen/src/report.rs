//! Results: the JSON document, the human table and the HdrHistogram log.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::{Args, Arrivals, KeyDistribution, ValueSize};
use crate::run::RunOutcome;
use crate::stats::Errors;

/// A generator pause from this long on is called out under the table.
pub const GENERATOR_PAUSE_WARN_US: u64 = 1000;

/// Percentiles in microseconds.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        let q = |quantile| h.value_at_quantile(quantile);
        Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max: h.max(),
        }
    }
}

/// The run's parameters, as given.
#[derive(Clone, Debug, Serialize)]
pub struct Parameters {
    pub servers: Vec<String>,
    pub threads: usize,
    pub connections: usize,
    pub pipeline: usize,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub seed: u64,
    /// `null`: closed loop.
    pub rate_ops_per_sec: Option<f64>,
    pub arrivals: Arrivals,
    pub keys: u64,
    pub key_size_bytes: usize,
    pub key_distribution: KeyDistribution,
    pub value_size_bytes: ValueSize,
    pub get_ratio: f64,
    pub multiget: usize,
    pub validate: bool,
    pub prefill: bool,
    pub backlog: usize,
    pub poll_us: u64,
}

impl Parameters {
    pub fn of(args: &Args, rate_ops_per_sec: Option<f64>) -> Parameters {
        Parameters {
            servers: args.servers.clone(),
            threads: args.threads,
            connections: args.connections,
            pipeline: args.pipeline_depth,
            duration_secs: args.duration.as_secs_f64(),
            warmup_secs: args.warmup.as_secs_f64(),
            seed: args.seed,
            rate_ops_per_sec,
            arrivals: args.arrivals,
            keys: args.key_count,
            key_size_bytes: args.key_size_bytes,
            key_distribution: args.key_distribution,
            value_size_bytes: args.value_size,
            get_ratio: args.get_ratio,
            multiget: args.multiget_keys,
            validate: args.validate,
            prefill: !args.no_prefill,
            backlog: args.backlog_max,
            poll_us: args.poll_us,
        }
    }
}

/// One run's results: the `--output-json` document.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub throughput_ops_per_sec: f64,
    pub ops: u64,
    pub gets: u64,
    pub sets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub errors_by_kind: Errors,
    pub schedule_stalls: u64,
    /// Longest pause of the generator's own loop (see `Stats::generator_pause_us_max`).
    pub generator_pause_us_max: u64,
    pub latency_us: Percentiles,
    pub service_time_us: Percentiles,
    pub parameters: Parameters,
}

impl Report {
    pub fn new(args: &Args, outcome: &RunOutcome) -> Report {
        let s = &outcome.stats;
        Report {
            throughput_ops_per_sec: s.ops as f64 / outcome.measured_secs,
            ops: s.ops,
            gets: s.gets,
            sets: s.sets,
            hits: s.hits,
            misses: s.misses,
            errors: s.errors.total(),
            errors_by_kind: s.errors,
            schedule_stalls: s.schedule_stalls,
            generator_pause_us_max: s.generator_pause_us_max,
            latency_us: Percentiles::of(&s.latency_us),
            service_time_us: Percentiles::of(&s.service_us),
            parameters: Parameters::of(args, outcome.rate_ops_per_sec),
        }
    }

    /// The final human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let target = self
            .parameters
            .rate_ops_per_sec
            .map_or("closed loop".to_string(), |r| {
                format!("target {r:.0} ops/s")
            });
        out += &format!(
            "throughput {:.0} ops/s ({target}), {} ops in {}s: {} gets, {} sets\n",
            self.throughput_ops_per_sec,
            self.ops,
            self.parameters.duration_secs,
            self.gets,
            self.sets
        );
        let keys = self.hits + self.misses;
        out += &format!(
            "hits {} misses {} (hit ratio {:.2}%), errors {}",
            self.hits,
            self.misses,
            if keys == 0 {
                0.0
            } else {
                100.0 * self.hits as f64 / keys as f64
            },
            self.errors
        );
        let e = &self.errors_by_kind;
        if self.errors > 0 {
            out += &format!(
                " (error replies {}, wrong values {}, protocol {}, connection {}, unanswered {})",
                e.error_reply, e.wrong_value, e.protocol, e.connection, e.unanswered
            );
        }
        if self.schedule_stalls > 0 {
            out += &format!(
                "\nschedule stalls {} (a connection's backlog was full; latency still counts from the intended time)",
                self.schedule_stalls
            );
        }
        if self.generator_pause_us_max >= GENERATOR_PAUSE_WARN_US {
            out += &format!(
                "\nwarning: the generator itself paused for up to {} us (its CPU was busy?); latencies include such pauses",
                self.generator_pause_us_max
            );
        }
        out += "\n\n              p50      p90      p99    p99.9   p99.99      max\n";
        for (name, p) in [
            ("latency us", &self.latency_us),
            ("service us", &self.service_time_us),
        ] {
            out += &format!(
                "{name:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                p.p50, p.p90, p.p99, p.p999, p.p9999, p.max
            );
        }
        out
    }
}

pub fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    serde_json::to_writer_pretty(&mut file, value)?;
    file.write_all(b"\n")?;
    file.flush()
}

/// HdrHistogram interval log: one `latency` and one `service` histogram per measured second.
pub fn write_hdr_log(path: &Path, outcome: &RunOutcome) -> io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("ringcache-loadgen: values in microseconds; tags latency (from intended send time) and service (from actual send)")
        .with_start_time(SystemTime::now())
        .begin_log_with(&mut file, &mut serializer)?;
    let latency = Tag::new("latency").expect("valid tag");
    let service = Tag::new("service").expect("valid tag");
    for (tick, stats) in &outcome.intervals {
        let start = Duration::from_secs(tick - 1);
        let one = Duration::from_secs(1);
        log.write_histogram(&stats.latency_us, start, one, Some(latency))
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        log.write_histogram(&stats.service_us, start, one, Some(service))
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
    }
    drop(log);
    file.flush()
}
