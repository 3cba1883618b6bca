//! What a run produced: the settings, the machine, every measurement (raw), and the memcached
//! peaks the open-loop rates derive from. Serialized whole as `perf.json`, and read back by
//! `perf-compare --from-json` to render the report again without measuring.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cpu::CpuWindow;
use super::loadgen::Percentiles;
use super::machine::Machine;
use super::pauses::Pauses;
use super::stats::Summary;
use super::workload::Workload;
use crate::server::Kind;

/// Everything a run is configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub ringcache_bin: PathBuf,
    pub loadgen_bin: PathBuf,
    pub memcached_bin: PathBuf,
    pub memaslap_bin: PathBuf,
    pub out_dir: PathBuf,
    pub server_cpu: usize,
    pub driver_cpu: usize,
    pub repeats_count: usize,
    /// Measured time of every run.
    pub duration_ms: u64,
    /// Warm-up before every measured run (a separate loadgen run before a closed-loop one).
    pub warmup_ms: u64,
    pub workloads: Vec<Workload>,
    pub shards_counts: Vec<usize>,
    /// Open-loop rates, in percent of memcached's closed-loop peak.
    pub rates_percent: Vec<u32>,
    pub memory_limit_mb: u64,
    pub conn_limit: usize,
    pub connections_count: usize,
    pub seed: u64,
    pub quick: bool,
}

impl Settings {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_millis(self.warmup_ms)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Loadgen,
    Memaslap,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Loadgen => "ringcache-loadgen",
            Driver::Memaslap => "memaslap",
        }
    }
}

/// One closed-loop measurement of one server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClosedRun {
    pub workload: Workload,
    pub shards_count: usize,
    pub driver: Driver,
    pub repeat_index: usize,
    pub server: Kind,
    /// The figures, or why there are none.
    pub result: Result<ClosedFigures, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClosedFigures {
    /// Requests the driver completed in its measured time (a multi-get is one).
    pub ops: u64,
    pub throughput_ops_per_sec: f64,
    /// Server CPU from just before the driver started to just after it exited.
    pub cpu: CpuWindow,
    pub cpu_us_per_op: Option<f64>,
    /// Wall time of that window.
    pub window_secs: f64,
    /// Errors the driver counted (error replies, wrong values, unanswered...).
    pub errors: u64,
    pub misses: u64,
    /// The driver's own report: the loadgen's JSON, or memaslap's parsed summary.
    pub raw: serde_json::Value,
}

impl ClosedFigures {
    /// The server's CPU seconds per second of the driver's measured time (1.0 is one core
    /// fully busy). Not over the whole window: memaslap spends about a second starting and
    /// stopping in it, while the server idles.
    pub fn busy_fraction(&self) -> Option<f64> {
        (self.ops > 0)
            .then(|| self.cpu.cpu_us * self.throughput_ops_per_sec / self.ops as f64 / 1e6)
    }
}

/// One open-loop measurement of one server at one rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenRun {
    pub workload: Workload,
    pub shards_count: usize,
    pub repeat_index: usize,
    pub server: Kind,
    pub rate_percent: u32,
    pub rate_ops_per_sec: f64,
    pub result: Result<OpenFigures, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenFigures {
    pub achieved_ops_per_sec: f64,
    /// Server CPU from just before the measured loadgen run started to just after it exited
    /// (absent from reports written before it was measured).
    #[serde(default)]
    pub cpu: Option<CpuWindow>,
    #[serde(default)]
    pub cpu_us_per_op: Option<f64>,
    /// From each request's intended send time.
    pub latency_us: Percentiles,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub schedule_stalls: u64,
    pub generator_pause_us_max: u64,
    pub raw: serde_json::Value,
}

/// The machine's stops on the servers' and the drivers' CPU, probed together just before
/// one server's open-loop turn (nothing else running).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpenProbe {
    pub workload: Workload,
    pub shards_count: usize,
    pub repeat_index: usize,
    /// The server whose turn came next.
    pub server: Kind,
    pub pauses: Vec<Pauses>,
}

/// memcached's closed-loop throughput with the loadgen, over the repeats: the base of the
/// open-loop rates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Peak {
    pub workload: Workload,
    pub shards_count: usize,
    pub memcached_ops_per_sec: Option<Summary>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// The command line the run was started with.
    pub command: String,
    pub settings: Settings,
    pub machine: Machine,
    pub closed: Vec<ClosedRun>,
    pub open: Vec<OpenRun>,
    pub peaks: Vec<Peak>,
    /// Absent in runs made before the probes.
    #[serde(default)]
    pub open_probes: Vec<OpenProbe>,
}

/// Settings for unit tests: every default of the command line, nothing found on disk.
#[cfg(test)]
pub fn example_settings() -> Settings {
    Settings {
        ringcache_bin: "/x/ringcache".into(),
        loadgen_bin: "/x/ringcache-loadgen".into(),
        memcached_bin: "/usr/bin/memcached".into(),
        memaslap_bin: "/usr/bin/memcaslap".into(),
        out_dir: "/tmp/perf-out".into(),
        server_cpu: 0,
        driver_cpu: 1,
        repeats_count: 3,
        duration_ms: 10_000,
        warmup_ms: 2_000,
        workloads: super::workload::ALL.to_vec(),
        shards_counts: vec![1, 2],
        rates_percent: vec![50, 70, 90],
        memory_limit_mb: 1024,
        conn_limit: 1024,
        connections_count: 32,
        seed: 1,
        quick: false,
    }
}
