//! `ringcache-loadgen` as a subprocess: its command line and the part of its `--output-json`
//! document this harness reads (loadgen/README.md, "Output"). Only the CLI and the JSON are
//! relied on, never the loadgen's library.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cpu::CpuWindow;
use super::process::{self, Finished, Target};
use super::workload::{Workload, KEYS_COUNT, KEY_SIZE_BYTES, VALUE_SIZE_BYTES};

/// Time a run may take beyond its warmup and duration: start-up, the prefill of
/// `KEYS_COUNT` keys on a slow machine, the drain (2 s by default).
const RUN_TIMEOUT_MARGIN: Duration = Duration::from_secs(120);

/// One loadgen invocation.
#[derive(Clone, Debug)]
pub struct Spec {
    pub workload: Workload,
    /// Open loop at this rate; closed loop without.
    pub rate_ops_per_sec: Option<f64>,
    pub warmup: Duration,
    pub duration: Duration,
    /// Set every key once before the run (the first run against a fresh server).
    pub prefill: bool,
    pub seed: u64,
    pub connections_count: usize,
}

/// Latency percentiles, integer microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

/// The fields of the loadgen's JSON document that the harness uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub throughput_ops_per_sec: f64,
    pub ops: u64,
    pub gets: u64,
    pub sets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    /// `error_reply`, `wrong_value`, `protocol`, `connection`, `unanswered`.
    #[serde(default)]
    pub errors_by_kind: BTreeMap<String, u64>,
    pub schedule_stalls: u64,
    pub generator_pause_us_max: u64,
    pub latency_us: Percentiles,
    pub service_time_us: Percentiles,
}

fn duration_arg(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// The loadgen's arguments for `spec` against `server`, writing its JSON to `json_path`.
pub fn args(spec: &Spec, server: SocketAddr, json_path: &Path) -> Vec<String> {
    let w = spec.workload;
    let mut args: Vec<String> = vec![
        "--server".into(),
        server.to_string(),
        "--threads".into(),
        "1".into(),
        "--connections".into(),
        spec.connections_count.to_string(),
        "--pipeline".into(),
        w.pipeline_depth().to_string(),
        "--multiget".into(),
        w.keys_per_get().to_string(),
        "--get-ratio".into(),
        w.get_ratio().to_string(),
        "--keys".into(),
        KEYS_COUNT.to_string(),
        "--key-size".into(),
        KEY_SIZE_BYTES.to_string(),
        "--value-size".into(),
        VALUE_SIZE_BYTES.to_string(),
        "--seed".into(),
        spec.seed.to_string(),
        "--warmup".into(),
        duration_arg(spec.warmup),
        "--duration".into(),
        duration_arg(spec.duration),
        "--quiet".into(),
        "--output-json".into(),
        json_path.display().to_string(),
    ];
    if let Some(rate) = spec.rate_ops_per_sec {
        args.extend(["--rate".into(), format!("{}", rate.round() as u64)]);
    }
    if !spec.prefill {
        args.push("--no-prefill".into());
    }
    args
}

/// Parses the loadgen's JSON document: the fields used, and the whole document (kept raw).
pub fn parse_report(text: &str) -> Result<(Report, serde_json::Value), String> {
    let raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("loadgen JSON: {e}"))?;
    let report: Report =
        serde_json::from_value(raw.clone()).map_err(|e| format!("loadgen JSON: {e}"))?;
    Ok((report, raw))
}

/// A finished loadgen run.
pub struct Outcome {
    pub report: Report,
    pub raw: serde_json::Value,
    pub finished: Finished,
    /// Server CPU from just before the loadgen started to just after it exited.
    pub cpu: CpuWindow,
}

/// Runs the loadgen pinned to `cpu` against `target`.
pub fn run(
    bin: &Path,
    cpu: usize,
    spec: &Spec,
    target: Target,
    json_path: &Path,
) -> Result<Outcome, String> {
    let _ = std::fs::remove_file(json_path);
    let args = args(spec, target.addr, json_path);
    let timeout = spec.warmup + spec.duration + RUN_TIMEOUT_MARGIN;
    let (cpu_window, finished) = process::run_measured(target.pid, cpu, bin, &args, timeout)?;
    if !finished.status.success() {
        return Err(format!(
            "ringcache-loadgen {} exited with {}\n{}",
            args.join(" "),
            finished.status,
            finished.tail()
        ));
    }
    let text = std::fs::read_to_string(json_path)
        .map_err(|e| format!("read {}: {e}\n{}", json_path.display(), finished.tail()))?;
    let (report, raw) = parse_report(&text)?;
    Ok(Outcome {
        report,
        raw,
        finished,
        cpu: cpu_window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document loadgen/README.md describes, as the loadgen wrote it in a real run.
    const SAMPLE: &str = r#"{"throughput_ops_per_sec":21094.5,"ops":42189,"gets":38000,
        "sets":4189,"hits":38000,"misses":0,"errors":0,"errors_by_kind":{"error_reply":0,
        "wrong_value":0,"protocol":0,"connection":0,"unanswered":0},"schedule_stalls":0,
        "generator_pause_us_max":4842,"latency_us":{"p50":514,"p90":3503,"p99":7779,
        "p999":12231,"p9999":12647,"max":12647},"service_time_us":{"p50":514,"p90":3503,
        "p99":7779,"p999":12231,"p9999":12647,"max":12647},"parameters":{"threads":1}}"#;

    #[test]
    fn the_json_document_parses_and_stays_whole() {
        let (report, raw) = parse_report(SAMPLE).unwrap();
        assert_eq!(report.ops, 42189);
        assert_eq!(report.throughput_ops_per_sec, 21094.5);
        assert_eq!(report.latency_us.p999, 12231);
        assert_eq!(report.generator_pause_us_max, 4842);
        assert_eq!(report.errors_by_kind.get("unanswered"), Some(&0));
        assert_eq!(raw["parameters"]["threads"], 1);
        assert!(parse_report("{}").is_err());
    }

    #[test]
    fn arguments_follow_the_workload() {
        let spec = Spec {
            workload: Workload::Multiget10,
            rate_ops_per_sec: Some(35000.4),
            warmup: Duration::from_millis(1500),
            duration: Duration::from_secs(10),
            prefill: false,
            seed: 3,
            connections_count: 32,
        };
        let server: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let args = args(&spec, server, Path::new("/tmp/x.json")).join(" ");
        for expected in [
            "--server 127.0.0.1:4000",
            "--connections 32",
            "--pipeline 1",
            "--multiget 10",
            "--get-ratio 0.9",
            "--value-size 100",
            "--key-size 32",
            "--warmup 1500ms",
            "--duration 10000ms",
            "--rate 35000",
            "--no-prefill",
            "--output-json /tmp/x.json",
        ] {
            assert!(args.contains(expected), "{expected} missing from {args}");
        }
        let closed = Spec {
            rate_ops_per_sec: None,
            prefill: true,
            workload: Workload::Pipeline16,
            ..spec
        };
        let args = super::args(&closed, server, Path::new("/tmp/x.json")).join(" ");
        assert!(args.contains("--pipeline 16") && !args.contains("--rate"));
        assert!(!args.contains("--no-prefill"));
    }
}
