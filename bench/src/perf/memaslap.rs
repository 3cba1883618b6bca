//! libmemcached's `memaslap` (Debian's `memcaslap`, package libmemcached-tools) as an
//! independent closed-loop driver: throughput and server CPU per operation only. Its latency
//! figures are closed-loop service times, not comparable with the loadgen's open loop, so
//! they are not used.
//!
//! Configuration: `-T 1` (one thread, pinned to the driver CPU by taskset), `-c 32`
//! (connections), `-t <secs>s`, `-w 3k` (task window per connection: ~96k objects), `-F` a
//! config file with 32-byte keys, 100-byte values and the workload's set/get proportions
//! (per key: see [`set_proportion`]), `-d 10` for the multi-get workload. memaslap gets only objects it has set (`get_misses` 0),
//! and has no warm-up: the whole run is measured.
//!
//! Operations: memaslap counts every key of a multi-get as an operation (`Ops` = `cmd_get` +
//! `cmd_set`, and `cmd_get` counts keys). The harness counts requests, as the loadgen does:
//! `cmd_get / division + cmd_set`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::cpu::CpuWindow;
use super::process::{self, Finished, Target};
use super::workload::{Workload, KEY_SIZE_BYTES, MEMASLAP_WINDOW, VALUE_SIZE_BYTES};

/// Time a run may take beyond its duration.
const RUN_TIMEOUT_MARGIN: Duration = Duration::from_secs(60);

/// memaslap's set proportion for `workload`. memaslap draws get and set per *key*: with `-d K`
/// it gathers K get keys into one multi-get, so a set proportion `p` gives requests of which
/// `p / (p + (1 - p) / K)` are sets. To keep the loadgen's mix of *requests* (share `s` of
/// sets, the rest K-key gets), the proportion per key is `s / (s + (1 - s) K)`.
pub fn set_proportion(workload: Workload) -> f64 {
    let set_share = 1.0 - workload.get_ratio();
    let keys_per_get = workload.keys_per_get() as f64;
    set_share / (set_share + (1.0 - set_share) * keys_per_get)
}

/// The `-F` configuration file: key and value sizes (`min max proportion`) and the command
/// proportions (`0` set, `1` get).
pub fn config_text(workload: Workload) -> String {
    let set = set_proportion(workload);
    format!(
        "key\n{k} {k} 1\nvalue\n{v} {v} 1\ncmd\n0 {set:.4}\n1 {get:.4}\n",
        k = KEY_SIZE_BYTES,
        v = VALUE_SIZE_BYTES,
        get = 1.0 - set,
    )
}

/// Whole seconds for `-t`: memaslap takes no fractions; at least 1.
pub fn run_secs(duration: Duration) -> u64 {
    duration.as_secs_f64().round().max(1.0) as u64
}

pub fn args(
    workload: Workload,
    server: SocketAddr,
    config_path: &Path,
    connections_count: usize,
    duration: Duration,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-s".into(),
        server.to_string(),
        "-F".into(),
        config_path.display().to_string(),
        "-T".into(),
        "1".into(),
        "-c".into(),
        connections_count.to_string(),
        "-w".into(),
        MEMASLAP_WINDOW.into(),
        "-t".into(),
        format!("{}s", run_secs(duration)),
    ];
    if workload.keys_per_get() > 1 {
        args.extend(["-d".into(), workload.keys_per_get().to_string()]);
    }
    args
}

/// What memaslap printed at the end of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Keys asked for by gets (a multi-get counts each key).
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub get_misses: u64,
    /// memaslap's own `Run time`, `Ops` and `TPS` (keys, not requests, for multi-gets).
    pub run_time_secs: f64,
    pub ops: u64,
    pub tps: u64,
    /// Keys per get (`-d`).
    pub keys_per_get: u64,
}

impl Report {
    /// Requests sent: each multi-get is one.
    pub fn requests(&self) -> u64 {
        self.cmd_get / self.keys_per_get + self.cmd_set
    }

    pub fn throughput_ops_per_sec(&self) -> f64 {
        if self.run_time_secs > 0.0 {
            self.requests() as f64 / self.run_time_secs
        } else {
            0.0
        }
    }
}

fn counter(text: &str, name: &str) -> Result<u64, String> {
    let prefix = format!("{name}: ");
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with(&prefix))
        .ok_or_else(|| format!("memaslap output has no {name:?} line"))?;
    line[prefix.len()..]
        .trim()
        .parse()
        .map_err(|_| format!("memaslap {name:?} line is not a number: {line:?}"))
}

/// Parses memaslap's final summary: the counters and the last
/// `Run time: 3.0s Ops: 228449 TPS: 76143 Net_rate: 13.6M/s` line.
pub fn parse_output(text: &str, keys_per_get: u64) -> Result<Report, String> {
    assert!(keys_per_get >= 1);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("Run time:"))
        .ok_or_else(|| format!("no `Run time:` line in memaslap output:\n{text}"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |label: &str| -> Result<&str, String> {
        let index = words
            .iter()
            .position(|w| *w == label)
            .ok_or_else(|| format!("no {label:?} in {line:?}"))?;
        words
            .get(index + 1)
            .copied()
            .ok_or_else(|| format!("nothing after {label:?} in {line:?}"))
    };
    let bad = |what: &str| format!("bad {what} in memaslap line {line:?}");
    let run_time_secs: f64 = after("time:")?
        .trim_end_matches('s')
        .parse()
        .map_err(|_| bad("run time"))?;
    Ok(Report {
        cmd_get: counter(text, "cmd_get")?,
        cmd_set: counter(text, "cmd_set")?,
        get_misses: counter(text, "get_misses")?,
        run_time_secs,
        ops: after("Ops:")?.parse().map_err(|_| bad("Ops"))?,
        tps: after("TPS:")?.parse().map_err(|_| bad("TPS"))?,
        keys_per_get,
    })
}

/// A finished memaslap run.
pub struct Outcome {
    pub report: Report,
    pub finished: Finished,
    pub cpu: CpuWindow,
}

/// Runs memaslap pinned to `cpu` against `target`; `config_path` is where the `-F` file is
/// written.
pub fn run(
    bin: &Path,
    cpu: usize,
    workload: Workload,
    target: Target,
    config_path: &Path,
    connections_count: usize,
    duration: Duration,
) -> Result<Outcome, String> {
    std::fs::write(config_path, config_text(workload))
        .map_err(|e| format!("write {}: {e}", config_path.display()))?;
    let args = args(
        workload,
        target.addr,
        config_path,
        connections_count,
        duration,
    );
    let timeout = Duration::from_secs(run_secs(duration)) + RUN_TIMEOUT_MARGIN;
    let (cpu_window, finished) = process::run_measured(target.pid, cpu, bin, &args, timeout)?;
    let text = format!("{}\n{}", finished.stdout, finished.stderr);
    if !finished.status.success() {
        return Err(format!(
            "memaslap {} exited with {}\n{}",
            args.join(" "),
            finished.status,
            finished.tail()
        ));
    }
    let report = parse_output(&text, workload.keys_per_get() as u64)?;
    Ok(Outcome {
        report,
        finished,
        cpu: cpu_window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `memcaslap -s 127.0.0.1:PORT -F cfg -c 32 -T 1 -t 3s` (libmemcached-tools 1.1.4,
    /// Debian 12) against memcached 1.6.18, cfg `cmd 0 0.1 / 1 0.9`; the `-d 10 -w 3k` one is
    /// a multi-get with that same per-key mix.
    const SAMPLE: &str = include_str!("../../tests/fixtures/memaslap-90-10.txt");
    const SAMPLE_MULTIGET: &str = include_str!("../../tests/fixtures/memaslap-multiget-10.txt");

    #[test]
    fn the_final_summary_parses() {
        let r = parse_output(SAMPLE, 1).unwrap();
        assert_eq!(
            r,
            Report {
                cmd_get: 205592,
                cmd_set: 22857,
                get_misses: 0,
                run_time_secs: 3.0,
                ops: 228449,
                tps: 76143,
                keys_per_get: 1,
            }
        );
        assert_eq!(r.requests(), r.ops);
        assert!((r.throughput_ops_per_sec() - 228449.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn a_multi_get_is_one_request_though_memaslap_counts_its_keys() {
        let r = parse_output(SAMPLE_MULTIGET, 10).unwrap();
        assert_eq!(r.ops, r.cmd_get + r.cmd_set, "memaslap's Ops counts keys");
        assert_eq!(r.requests(), 368400 / 10 + 40968);
        assert_eq!(r.tps, 136419);
    }

    #[test]
    fn output_without_a_summary_is_an_error() {
        let cut: String = SAMPLE.lines().take(8).collect::<Vec<_>>().join("\n");
        assert!(parse_output(&cut, 1).unwrap_err().contains("Run time"));
        let garbled = SAMPLE.replace("TPS: 76143", "TPS: lots");
        assert!(parse_output(&garbled, 1).unwrap_err().contains("TPS"));
        let no_counter = SAMPLE.replace("cmd_set: 22857\n", "");
        assert!(parse_output(&no_counter, 1)
            .unwrap_err()
            .contains("cmd_set"));
    }

    #[test]
    fn a_multi_get_workload_keeps_one_set_in_ten_requests() {
        // 0.1 / (0.1 + 0.9 * 10): memaslap then sends 10-key gets and sets 9:1.
        let p = set_proportion(Workload::Multiget10);
        assert!((p - 0.1 / 9.1).abs() < 1e-12);
        let keys_per_set = (1.0 - p) / p;
        assert!(
            (keys_per_set / 10.0 - 9.0).abs() < 1e-9,
            "9 gets of 10 keys per set"
        );
        assert!(config_text(Workload::Multiget10).ends_with("cmd\n0 0.0110\n1 0.9890\n"));
        // The captured sample ran the per-key 90/10 mix: 53% of its requests were sets.
        let r = parse_output(SAMPLE_MULTIGET, 10).unwrap();
        assert!(r.cmd_set as f64 / r.requests() as f64 > 0.5);
    }

    #[test]
    fn config_and_arguments_follow_the_workload() {
        assert_eq!(
            config_text(Workload::Get50),
            "key\n32 32 1\nvalue\n100 100 1\ncmd\n0 0.5000\n1 0.5000\n"
        );
        assert!(config_text(Workload::Get90).ends_with("cmd\n0 0.1000\n1 0.9000\n"));
        let server: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let multi = args(
            Workload::Multiget10,
            server,
            Path::new("/tmp/c"),
            32,
            Duration::from_millis(400),
        )
        .join(" ");
        assert_eq!(
            multi,
            "-s 127.0.0.1:5000 -F /tmp/c -T 1 -c 32 -w 3k -t 1s -d 10"
        );
        assert_eq!(run_secs(Duration::from_secs(10)), 10);
    }
}
