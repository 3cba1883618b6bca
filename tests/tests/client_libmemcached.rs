//! End to end with libmemcached's command-line tools (ASCII protocol) against a ringcache
//! started here, and `memccapable -a` compared with Debian's memcached.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use ringcache_tests::{require_tool, run_tool, Server, ToolOutput};

const FLAGS: &[&str] = &["-m", "64", "-I", "1m"];
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);
const INSTALL: &str = "apt-get install -y libmemcached-tools";

fn tool(name: &str, server: &Server, args: &[&str]) -> ToolOutput {
    let program = require_tool(name, INSTALL);
    let servers = format!("--servers=127.0.0.1:{}", server.port());
    let mut all = vec![servers.as_str()];
    all.extend_from_slice(args);
    run_tool(&program, &all, TOOL_TIMEOUT)
}

#[track_caller]
fn assert_exit(out: &ToolOutput, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ringcache-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, contents).expect("write temp file");
        path.to_str().expect("utf-8 path").to_string()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn memccp_memccat_round_trip() {
    let server = Server::ringcache(FLAGS);
    let dir = TempDir::new("memccp");
    let text = dir.file("hello.txt", b"hello world\n");
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let bin = dir.file("blob.bin", &binary);

    assert_exit(&tool("memccp", &server, &[&text]), 0, "memccp hello.txt");
    assert_exit(
        &tool("memccp", &server, &["--flags=77", &bin]),
        0,
        "memccp blob.bin",
    );

    let out = tool("memccat", &server, &["hello.txt"]);
    assert_exit(&out, 0, "memccat hello.txt");
    assert!(
        out.stdout.starts_with(b"hello world\n"),
        "memccat printed {:?}",
        out.stdout_text()
    );
    let copy = dir.path("copy.bin");
    let file_arg = format!("--file={}", copy.display());
    assert_exit(
        &tool("memccat", &server, &[&file_arg, "blob.bin"]),
        0,
        "memccat --file",
    );
    assert!(
        fs::read(&copy).expect("read copy") == binary,
        "binary value changed in transit"
    );
    let out = tool("memccat", &server, &["--flags", "blob.bin"]);
    assert_exit(&out, 0, "memccat --flags");
    assert!(
        out.stdout.starts_with(b"77\n"),
        "flags line: {:?}",
        &out.stdout[..8]
    );

    let out = tool("memccat", &server, &["missing.txt"]);
    assert_exit(&out, 1, "memccat of a missing key");
}

#[test]
fn memccp_add_and_replace_modes() {
    let server = Server::ringcache(FLAGS);
    let dir = TempDir::new("modes");
    let file = dir.file("k.txt", b"v");
    assert_exit(
        &tool("memccp", &server, &["--replace", &file]),
        1,
        "replace of a missing key",
    );
    assert_exit(
        &tool("memccp", &server, &["--add", &file]),
        0,
        "add of a missing key",
    );
    assert_exit(
        &tool("memccp", &server, &["--add", &file]),
        1,
        "add of an existing key",
    );
    assert_exit(
        &tool("memccp", &server, &["--replace", &file]),
        0,
        "replace of an existing key",
    );
    assert_exit(
        &tool("memccp", &server, &["--set", "--expire=1000000000", &file]),
        0,
        "set, past exptime",
    );
    assert_exit(
        &tool("memcexist", &server, &["k.txt"]),
        1,
        "an item set with a past exptime is gone",
    );
}

#[test]
fn memcexist_memctouch_memcrm_memcflush() {
    let server = Server::ringcache(FLAGS);
    let dir = TempDir::new("exist");
    let a = dir.file("a", b"1");
    let b = dir.file("b", b"2");
    assert_exit(&tool("memccp", &server, &[&a, &b]), 0, "memccp a b");
    assert_exit(&tool("memcexist", &server, &["a"]), 0, "memcexist a");
    assert_exit(
        &tool("memcexist", &server, &["zzz"]),
        1,
        "memcexist missing",
    );
    assert_exit(
        &tool("memctouch", &server, &["--expire=1000", "a"]),
        0,
        "memctouch a",
    );
    assert_exit(
        &tool("memctouch", &server, &["--expire=1000", "zzz"]),
        1,
        "memctouch missing",
    );
    assert_exit(&tool("memcrm", &server, &["a"]), 0, "memcrm a");
    assert_exit(&tool("memcrm", &server, &["a"]), 1, "memcrm a again");
    assert_exit(
        &tool("memcexist", &server, &["a"]),
        1,
        "memcexist after memcrm",
    );
    assert_exit(&tool("memcexist", &server, &["b"]), 0, "memcexist b");
    assert_exit(&tool("memcflush", &server, &[]), 0, "memcflush");
    assert_exit(
        &tool("memcexist", &server, &["b"]),
        1,
        "memcexist after memcflush",
    );
    assert_exit(&tool("memcping", &server, &[]), 0, "memcping");
}

#[test]
fn memcstat_prints_server_stats() {
    let server = Server::ringcache(FLAGS);
    let out = tool("memcstat", &server, &[]);
    assert_exit(&out, 0, "memcstat");
    let text = out.stdout_text();
    let header = format!("Server: 127.0.0.1 ({})", server.port());
    assert!(
        text.contains(&header),
        "memcstat output lacks {header:?}:\n{text}"
    );
    for stat in [
        "pid:",
        "uptime:",
        "version:",
        "curr_items:",
        "get_hits:",
        "get_misses:",
    ] {
        assert!(
            text.contains(stat),
            "memcstat output lacks {stat:?}:\n{text}"
        );
    }
}

/// The `[pass]` test names in memccapable's output.
fn capable_passes(server: &Server) -> (BTreeSet<String>, String) {
    let program = require_tool("memccapable", INSTALL);
    let port = server.port().to_string();
    let out = run_tool(
        &program,
        &["-h", "127.0.0.1", "-p", &port, "-a", "-t", "5"],
        Duration::from_secs(120),
    );
    let text = out.stdout_text() + &out.stderr_text();
    let passes = text
        .lines()
        .filter(|l| l.trim_end().ends_with("[pass]"))
        .map(|l| l.trim_end().trim_end_matches("[pass]").trim().to_string())
        .collect();
    (passes, text)
}

#[test]
fn memccapable_ascii_passes_what_memcached_passes() {
    let reference = Server::memcached(FLAGS);
    let (expected, reference_text) = capable_passes(&reference);
    drop(reference);
    assert!(
        expected.len() >= 20,
        "memccapable -a against memcached passed only {expected:?}:\n{reference_text}"
    );
    let server = Server::ringcache(FLAGS);
    let (passed, text) = capable_passes(&server);
    let missing: Vec<&String> = expected.difference(&passed).collect();
    assert!(
        missing.is_empty(),
        "ringcache fails memccapable tests that memcached passes: {missing:?}\n{text}"
    );
}
