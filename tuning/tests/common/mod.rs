//! Fixture trees and scratch trees for the checks, shared by the test files.

#![allow(dead_code)] // Each test file uses its own subset.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ringcache_tune::{cpus, inspect, Finding, Host, Plan, Report};

/// `tests/fixtures/<case>`.
pub fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(case)
}

/// The report for a tree, with the shards on `cpus` (default: the tree's allowed CPUs) and
/// the default `-c`.
pub fn report_for(root: &Path, cpu_list: Option<&str>) -> Report {
    let host = Host::new(root).unwrap();
    let (cpus, from_flag) = match cpu_list {
        Some(list) => (cpus::parse_list(list).unwrap(), true),
        None => (
            host.allowed_cpus().expect("the tree names allowed CPUs"),
            false,
        ),
    };
    let plan = Plan::new(cpus, from_flag, None, 1024).unwrap();
    inspect(&host, &plan)
}

/// The report for `tests/fixtures/<case>`.
pub fn report(case: &str, cpu_list: Option<&str>) -> Report {
    report_for(&fixture(case), cpu_list)
}

/// The one finding of `check`.
pub fn finding<'a>(report: &'a Report, check: &str) -> &'a Finding {
    report
        .finding(check)
        .unwrap_or_else(|| panic!("no finding for {check}"))
}

pub fn fix(finding: &Finding) -> &str {
    finding
        .fix
        .as_deref()
        .unwrap_or_else(|| panic!("{} has no fix: {finding:?}", finding.check))
}

/// A fresh empty directory under the target's temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "tune-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `files` (relative path, text) under `root`.
pub fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (relative, text) in files {
        let path = root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// A scratch tree holding only `files`.
pub fn scratch_tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = scratch_dir(name);
    write_files(&root, files);
    root
}

/// A scratch copy of `tests/fixtures/<case>`.
pub fn copy_of(case: &str) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let root = scratch_dir(case);
    copy(&fixture(case), &root);
    root
}
