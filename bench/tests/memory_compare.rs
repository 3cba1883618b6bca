//! Runs `memory-compare --quick --workload all` against Debian's memcached and the ringcache
//! binary, and checks behaviour only: the report is printed and written, every workload ran on
//! both servers, and neither server returned a wrong value. No figure or ratio is asserted
//! (the quick sizes make them meaningless, and timing-based assertions are not tests).

use std::path::Path;
use std::time::Duration;

use ringcache_tests::{memcached_bin, ringcache_bin, run_tool};

const WORKLOADS: [&str; 6] = [
    "capacity",
    "hitratio",
    "scan",
    "calcification",
    "expiry",
    "ceiling",
];
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The table rows (`| workload | figure | memcached | ringcache | ratio | target | verdict |`).
fn rows(md: &str) -> Vec<Vec<String>> {
    md.lines()
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| workload") && !l.starts_with("| ---"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn quick_run_reports_every_workload_without_wrong_values() {
    let report = std::env::temp_dir().join(format!("memory-compare-{}.md", std::process::id()));
    let ringcache = ringcache_bin();
    let memcached = memcached_bin();
    let args = [
        "--ringcache",
        ringcache.to_str().unwrap(),
        "--memcached",
        memcached.to_str().unwrap(),
        "--workload",
        "all",
        "--quick",
        "--output-md",
        report.to_str().unwrap(),
    ];
    let out = run_tool(
        Path::new(env!("CARGO_BIN_EXE_memory-compare")),
        &args,
        RUN_TIMEOUT,
    );
    let stdout = out.stdout_text();
    assert!(
        out.status.success(),
        "memory-compare failed ({}):\n{stdout}\n{}",
        out.status,
        out.stderr_text()
    );
    let written = std::fs::read_to_string(&report).expect("--output-md file written");
    let _ = std::fs::remove_file(&report);
    assert_eq!(written, stdout, "the file holds the printed report");
    assert!(
        stdout.contains("| workload | figure | memcached | ringcache |"),
        "{stdout}"
    );

    let rows = rows(&stdout);
    for workload in WORKLOADS {
        let mine: Vec<_> = rows.iter().filter(|r| r[0] == workload).collect();
        assert!(!mine.is_empty(), "no row for {workload}:\n{stdout}");
        for row in &mine {
            assert_eq!(row.len(), 7, "malformed row {row:?}");
            for value in &row[2..4] {
                assert!(!value.starts_with("error"), "{workload} failed: {row:?}");
            }
        }
        let errors = mine
            .iter()
            .find(|r| r[1].starts_with("wrong values"))
            .unwrap_or_else(|| panic!("no wrong-values row for {workload}:\n{stdout}"));
        assert_eq!(
            (errors[2].as_str(), errors[3].as_str(), errors[6].as_str()),
            ("0", "0", "PASS"),
            "{workload}: a server returned a wrong value or refused a set: {errors:?}"
        );
        assert!(
            stdout.contains(&format!("- **{workload}**: `-m ")),
            "no parameters for {workload}"
        );
    }
}
