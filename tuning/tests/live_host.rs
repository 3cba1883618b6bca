//! The checker against the machine the tests run on: whatever it finds, the report is whole.

use std::process::Command;

use ringcache_tune::checks::CHECK_NAMES;

#[test]
fn the_live_host_report_parses_and_names_every_check() {
    let output = Command::new(env!("CARGO_BIN_EXE_ringcache-tune"))
        .arg("--json")
        .output()
        .expect("ringcache-tune runs");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let names: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHECK_NAMES);
    assert_eq!(json["root"], "/");
    let exit_code = json["summary"]["exit_code"].as_i64().unwrap();
    assert_eq!(output.status.code(), Some(exit_code as i32));
    // On the live root the probe runs: it is never the "skipped" note.
    let probe = &json["findings"][CHECK_NAMES
        .iter()
        .position(|&c| c == "io_uring_probe")
        .unwrap()];
    assert_ne!(probe["status"], "info", "{probe}");
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn the_live_host_table_prints_every_check() {
    let output = Command::new(env!("CARGO_BIN_EXE_ringcache-tune"))
        .output()
        .expect("ringcache-tune runs");
    let text = String::from_utf8(output.stdout).unwrap();
    for check in CHECK_NAMES {
        assert!(text.contains(&format!("  {check} ")), "{check}: {text}");
    }
}
