//! `tuning/sysctl/90-ringcache.conf` against ringcache-tune's own rules: every key is a sysctl
//! the checker knows, every value passes its threshold and is the value its fixes recommend,
//! every setting says why, and installing it clears the sysctl findings of the untuned host.

mod common;

use std::path::Path;

use ringcache_tune::checks::sysctl::{rule, SYSCTL_RULES};
use ringcache_tune::Status;

/// The drop-in's settings, each with the comment lines just above it.
fn settings() -> Vec<(String, u64, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sysctl/90-ringcache.conf");
    let text = std::fs::read_to_string(path).unwrap();
    let mut settings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            comments.clear();
        } else if let Some(comment) = line.strip_prefix('#') {
            comments.push(comment.trim().to_string());
        } else {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a sysctl line: {line}"));
            let value = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            settings.push((key.trim().to_string(), value, std::mem::take(&mut comments)));
        }
    }
    settings
}

#[test]
fn every_drop_in_key_is_a_sysctl_ringcache_tune_knows() {
    let settings = settings();
    assert!(!settings.is_empty());
    for (key, _, _) in &settings {
        assert!(rule(key).is_some(), "ringcache-tune does not check {key}");
    }
}

#[test]
fn every_drop_in_value_passes_ringcache_tune_and_is_what_its_fixes_recommend() {
    for (key, value, _) in settings() {
        let rule = rule(&key).unwrap();
        assert_eq!((rule.judge)(value), Status::Ok, "{key} = {value}");
        assert_eq!(
            value, rule.recommended,
            "{key}: the drop-in and the fix disagree"
        );
    }
}

#[test]
fn every_sysctl_ringcache_tune_knows_is_in_the_drop_in() {
    let settings = settings();
    for rule in SYSCTL_RULES {
        assert!(
            settings.iter().any(|(key, _, _)| key == rule.key),
            "{} is missing from the drop-in",
            rule.key
        );
    }
}

#[test]
fn every_setting_in_the_drop_in_says_why() {
    for (key, _, comments) in settings() {
        assert!(
            comments.iter().map(String::len).sum::<usize>() >= 40,
            "{key} needs a comment above it saying why"
        );
    }
}

#[test]
fn installing_the_drop_in_clears_the_untuned_hosts_sysctl_findings() {
    let root = common::copy_of("untuned");
    let files: Vec<(String, String)> = settings()
        .iter()
        .map(|(key, value, _)| (rule(key).unwrap().path(), format!("{value}\n")))
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    common::write_files(&root, &files);
    let report = common::report_for(&root, None);
    for check in ["io_uring_sysctl", "somaxconn", "tcp_max_syn_backlog"] {
        assert_eq!(
            common::finding(&report, check).status,
            Status::Ok,
            "{check}"
        );
    }
    // Swap is still on, now with swappiness 1: a note, not a warning.
    assert_eq!(common::finding(&report, "swap").status, Status::Info);
    // The drops in softnet_stat happened before: still a warning, with a higher value to try.
    let backlog = common::finding(&report, "netdev_max_backlog");
    assert_eq!(backlog.status, Status::Warn);
    assert!(common::fix(backlog).contains("=16384"), "{backlog:?}");
}
