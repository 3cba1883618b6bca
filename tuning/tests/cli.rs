//! The built binary: exit statuses, the table and `--json`.

mod common;

use std::process::{Command, Output};

use common::fixture;
use ringcache_tune::checks::CHECK_NAMES;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringcache-tune"))
        .args(args)
        .output()
        .expect("ringcache-tune runs")
}

fn root_of(case: &str) -> String {
    fixture(case).display().to_string()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn a_tuned_host_exits_0() {
    let output = run(&["--root", &root_of("tuned"), "--cpus", "2-7"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("ok    nic_irq_affinity"), "{text}");
    assert!(text.contains("0 warn, 0 fail: exit status 0"), "{text}");
}

#[test]
fn warnings_alone_exit_0() {
    let output = run(&["--root", &root_of("tuned")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("warn  nic_irq_affinity"));
}

#[test]
fn a_failing_check_exits_1() {
    let output = run(&["--root", &root_of("untuned")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("fail  io_uring_sysctl"), "{text}");
    assert!(
        text.contains("fix: sysctl -w kernel.io_uring_disabled=0"),
        "{text}"
    );
}

#[test]
fn json_parses_names_every_check_and_matches_the_exit_status() {
    let output = run(&[
        "--root",
        &root_of("untuned"),
        "--json",
        "-c",
        "2000",
        "-t",
        "4",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    let names: Vec<&str> = findings
        .iter()
        .map(|f| f["check"].as_str().unwrap())
        .collect();
    assert_eq!(names, CHECK_NAMES);
    for finding in findings {
        let status = finding["status"].as_str().unwrap();
        assert!(
            ["ok", "info", "warn", "fail"].contains(&status),
            "{finding}"
        );
        assert!(finding["observed"].is_string(), "{finding}");
        assert!(
            finding["fix"].is_string() == matches!(status, "warn" | "fail") || status == "info",
            "a warning or failure has a fix, an ok has none: {finding}"
        );
    }
    assert_eq!(json["summary"]["fail"], 2);
    assert_eq!(json["summary"]["exit_code"], 1);
    assert_eq!(json["plan"]["conn_limit"], 2000);
    assert_eq!(json["plan"]["shard_count"], 4);
    // -c 2000 + 64 + 4 per shard x 4.
    assert_eq!(json["plan"]["nofile_needed_count"], 2080);
}

#[test]
fn threads_and_cpus_place_the_shards_like_the_server() {
    let output = run(&[
        "--root",
        &root_of("tuned"),
        "--cpus",
        "2,5",
        "-t",
        "3",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["plan"]["shard_cores"], serde_json::json!([2, 5]));
    let cpus = &json["findings"][0];
    assert_eq!(cpus["check"], "cpus");
    assert_eq!(
        cpus["status"], "info",
        "three shards share two cores: {cpus}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let tuned = root_of("tuned");
    for args in [
        vec!["--bogus"],
        vec!["--root", &tuned, "--threads", "0"],
        vec!["--root", &tuned, "--threads", "many"],
        vec!["--root", &tuned, "--cpus", "x"],
        vec!["--root", &tuned, "--cpus", "3-1"],
        vec!["--root", &tuned, "--cpus", ""],
        vec!["--root", &tuned, "--conn-limit", "0"],
        vec!["--root", "/no/such/directory"],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn help_exits_0_and_documents_the_exit_status() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for flag in ["--cpus", "--conn-limit", "--threads", "--json", "--root"] {
        assert!(text.contains(flag), "{flag}: {text}");
    }
    assert!(text.contains("Exit status: 0"), "{text}");
}
