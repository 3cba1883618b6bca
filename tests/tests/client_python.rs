//! Runs tests/python (pytest + pymemcache) against a ringcache started here. Fails, never
//! skips, when python3, pytest or pymemcache is missing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringcache_tests::{require_tool, workspace_dir, Server};

/// pytest runs a few dozen small tests; anything slower is a hang.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn pymemcache_suite_passes() {
    let python = require_tool("python3", "apt-get install -y python3 python3-pip");
    let probe = Command::new(&python)
        .args(["-c", "import pytest, pymemcache"])
        .output()
        .expect("run python3");
    assert!(
        probe.status.success(),
        "pytest or pymemcache is missing: pip install pymemcache pytest (or run tests/setup)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let server = Server::ringcache(&["-m", "64", "-I", "1m", "-c", "1024"]);
    let mut child = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "tests/python",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(workspace_dir())
        .env("RINGCACHE_ADDR", format!("127.0.0.1:{}", server.port()))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn pytest");
    let deadline = Instant::now() + PYTEST_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait pytest") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pytest did not finish within {PYTEST_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "pytest failed ({status}); server output:\n{}",
        server.output_text()
    );
}
