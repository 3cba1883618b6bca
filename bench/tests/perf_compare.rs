//! Runs `perf-compare --quick` (one workload, one shard count, one repeat, second-long runs)
//! against Debian's memcached and the ringcache binary, with ringcache-loadgen and memaslap,
//! and checks behaviour only: the three files are written, the tables have both servers and
//! both drivers with figures in every cell, and no run failed. No figure is asserted.
//!
//! It needs `memcached`, `memcaslap` (libmemcached-tools) and two CPUs. Without them it is
//! skipped with a message, except when `CI` is set: then it fails, so CI cannot pass without
//! running it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ringcache_tests::{ringcache_bin, run_tool, workspace_dir};

const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn on_path(program: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    for (program, package) in [
        ("memcached", "memcached"),
        ("memcaslap", "libmemcached-tools"),
        ("taskset", "util-linux"),
    ] {
        if on_path(program).is_none() {
            return Some(format!(
                "`{program}` is not on PATH (apt-get install {package})"
            ));
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus < 2).then(|| format!("{cpus} CPU: the servers and the drivers need one each"))
}

/// Builds ringcache-loadgen in this test's target directory and profile (or takes
/// `LOADGEN_BIN`).
fn loadgen_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LOADGEN_BIN") {
        return PathBuf::from(path);
    }
    // .../target/<profile>/deps/perf_compare-xxxx
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let target_dir = profile_dir.parent().expect("target dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile directory in {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_dir())
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "build",
            "-p",
            "ringcache-loadgen",
            "--bin",
            "ringcache-loadgen",
            "--profile",
            profile,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "building ringcache-loadgen failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = profile_dir.join("ringcache-loadgen");
    assert!(bin.is_file(), "no {}", bin.display());
    bin
}

/// The rows of the markdown table under `heading`, split into cells.
fn table(md: &str, heading: &str) -> Vec<Vec<String>> {
    md.lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn quick_run_writes_the_tables_the_json_and_the_plot_for_both_servers() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var_os("CI").is_some() {
            panic!("perf-compare's smoke test cannot run in CI: {why}");
        }
        eprintln!("skipping perf-compare's smoke test: {why}");
        return;
    }
    let out_dir = std::env::temp_dir().join(format!("perf-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let (ringcache, loadgen) = (ringcache_bin(), loadgen_bin());
    let args = [
        "--quick",
        "--out",
        out_dir.to_str().unwrap(),
        "--ringcache",
        ringcache.to_str().unwrap(),
        "--loadgen",
        loadgen.to_str().unwrap(),
    ];
    let out = run_tool(
        Path::new(env!("CARGO_BIN_EXE_perf-compare")),
        &args,
        RUN_TIMEOUT,
    );
    let stdout = out.stdout_text();
    assert!(
        out.status.success(),
        "perf-compare failed ({}):\n{stdout}\n{}",
        out.status,
        out.stderr_text()
    );
    let md = std::fs::read_to_string(out_dir.join("perf.md")).expect("perf.md written");
    assert_eq!(md, stdout, "perf.md holds the printed report");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("perf.json")).expect("perf.json written"),
    )
    .expect("perf.json is JSON");
    let svg = std::fs::read_to_string(out_dir.join("latency.svg")).expect("latency.svg written");
    let _ = std::fs::remove_dir_all(&out_dir);

    let closed = table(&md, "## Closed loop");
    let drivers: Vec<&str> = closed.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(drivers, ["ringcache-loadgen", "memaslap"], "{md}");
    for row in &closed {
        assert_eq!(row.len(), 10, "{row:?}");
        assert_eq!((row[0].as_str(), row[1].as_str()), ("90/10 get/set", "1"));
        for value in &row[3..9] {
            assert!(
                value.parse::<f64>().is_ok() || value.replace(' ', "").parse::<f64>().is_ok(),
                "cell {value:?} in {row:?}"
            );
        }
        // How busy each server kept its core: "97% / 91%".
        let busy: Vec<&str> = row[9].split(" / ").collect();
        assert_eq!(busy.len(), 2, "{row:?}");
        for share in busy {
            let percent = share.strip_suffix('%').map(str::parse::<u32>);
            assert!(matches!(percent, Some(Ok(_))), "busy {share:?} in {row:?}");
        }
    }
    let open = table(&md, "## Open loop");
    assert_eq!(open.len(), 3, "one row per rate:\n{md}");
    for row in &open {
        assert_eq!(row.len(), 13, "{row:?}");
        assert!(
            row[3..].iter().all(|c| c != "-"),
            "a missing figure in {row:?}"
        );
        // The machine's own p99.9 floor, from the probes before each server's turn.
        assert!(
            row[12].split(' ').next().unwrap().parse::<u64>().is_ok(),
            "{row:?}"
        );
    }
    assert!(md.contains("memcached") && md.contains("ringcache"));
    assert!(md.contains("## Machine and settings"));

    assert_eq!(
        json["closed"].as_array().map(Vec::len),
        Some(4),
        "2 servers x 2 drivers"
    );
    assert_eq!(
        json["open"].as_array().map(Vec::len),
        Some(6),
        "2 servers x 3 rates"
    );
    let probes = json["open_probes"].as_array().expect("open_probes");
    assert_eq!(
        probes.len(),
        2,
        "a probe before each server's open-loop turn"
    );
    for probe in probes {
        assert_eq!(
            probe["pauses"].as_array().map(Vec::len),
            Some(2),
            "both CPUs"
        );
    }
    for server in ["memcached", "ringcache"] {
        let ran = json["closed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["server"] == server && r["result"]["Ok"]["ops"].as_u64() > Some(0));
        assert!(ran, "no closed-loop ops for {server}");
    }
    assert!(svg.starts_with("<svg"));
    for label in ["memcached p99.9", "ringcache p99.9"] {
        assert!(svg.contains(label), "{label} missing from latency.svg");
    }
}
