//! The built `ringcache` binary as systemd runs it: readiness and watchdog notifications on a
//! test-owned `NOTIFY_SOCKET`, SIGTERM/SIGINT shutdown (replies to what was sent, exit 0
//! within a second), and `systemd-analyze verify` of the shipped unit. Plus the shards'
//! heartbeats on an in-process server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_ringcache");
/// Start-up on a loaded two-core machine can be slow; shutdown has its own, strict bound.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// What the issue promises: exit 0 within a second of SIGTERM or SIGINT.
const EXIT_DEADLINE: Duration = Duration::from_secs(1);

/// The tests that time a shutdown run one at a time, so that they do not take each other's
/// cores (a two-core machine; shards are pinned).
static TIMED: Mutex<()> = Mutex::new(());

fn timed() -> MutexGuard<'static, ()> {
    TIMED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "ringcache-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary running with `NOTIFY_SOCKET` pointing at a socket this test reads, its stderr
/// going to a file; killed on drop if it is still running.
struct Service {
    child: Child,
    notify: UnixDatagram,
    dir: TempDir,
}

impl Service {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Service {
        let dir = TempDir::new("notify");
        let socket_path = dir.0.join("notify.sock");
        let notify = UnixDatagram::bind(&socket_path).unwrap();
        let stderr = std::fs::File::create(dir.0.join("stderr")).unwrap();
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("NOTIFY_SOCKET", &socket_path)
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("ringcache starts");
        Service { child, notify, dir }
    }

    /// What the server wrote to stderr so far (for failure messages).
    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("stderr")).unwrap_or_default()
    }

    /// The next notification datagram, or `None` once `timeout` passes.
    fn next_message(&self, timeout: Duration) -> Option<String> {
        self.notify.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        match self.notify.recv(&mut buf) {
            Ok(len) => Some(String::from_utf8(buf[..len].to_vec()).expect("UTF-8 notification")),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock) => None,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut) => None,
            Err(e) => panic!("reading NOTIFY_SOCKET: {e}"),
        }
    }

    /// Reads notifications until one has the line `line`; returns that message.
    fn wait_for_line(&self, line: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_message(left.max(Duration::from_millis(1))) {
                Some(message) if message.lines().any(|l| l == line) => return message,
                Some(message) => seen.push(message),
                None => break,
            }
        }
        panic!(
            "no {line} within {timeout:?}; got {seen:?}; stderr:\n{}",
            self.stderr()
        );
    }

    /// Waits for `READY=1` and returns the addresses its `STATUS=` line names.
    fn ready(&self) -> Vec<SocketAddr> {
        let message = self.wait_for_line("READY=1", START_TIMEOUT);
        let status = message
            .lines()
            .find_map(|l| l.strip_prefix("STATUS="))
            .unwrap_or_else(|| panic!("READY=1 without STATUS=: {message:?}"));
        let addrs = status
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("STATUS names no addresses: {status:?}"));
        addrs.split(", ").map(|a| a.parse().unwrap()).collect()
    }

    fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
    }

    /// Checks that the process exits with status 0 less than [`EXIT_DEADLINE`] after
    /// `signalled`; returns how long it took.
    fn exits_0_within_a_second(&mut self, signalled: Instant) -> Duration {
        let status = self.exit_within(Duration::from_secs(10));
        let took = signalled.elapsed();
        let stderr = self.stderr();
        assert!(status.success(), "exit status {status}; stderr:\n{stderr}");
        assert!(
            took < EXIT_DEADLINE,
            "exited {took:?} after the signal; stderr:\n{stderr}"
        );
        took
    }

    /// The exit status, or a panic if the process still runs after `timeout`.
    fn exit_within(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {timeout:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    common::connect(addr, IO_TIMEOUT)
}

/// A connection the server has accepted (it answered `version` on it). Connections still in
/// the listen backlog when a drain begins are refused, as by any server that closes its
/// listeners.
fn connect_accepted(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(b"version\r\n").unwrap();
    let expected = format!("VERSION {}\r\n", ringcache_net::VERSION);
    let mut got = vec![0; expected.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected, "from {addr}");
    stream
}

/// Reads everything until the server closes; panics on a reset or a timeout.
fn read_to_close(mut stream: TcpStream) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        stream
            .read_to_end(&mut got)
            .unwrap_or_else(|e| panic!("reading until the close: {e} after {} bytes", got.len()));
        got
    })
}

#[test]
fn ready_is_sent_once_every_listen_address_accepts() {
    let service = Service::start(&["-p", "0", "-l", "127.0.0.1,127.0.0.2", "-t", "2"], &[]);
    let addrs = service.ready();
    assert_eq!(
        addrs.len(),
        2,
        "STATUS names both listen addresses: {addrs:?}"
    );
    for addr in addrs {
        assert_ne!(addr.port(), 0, "STATUS names the port bound");
        connect_accepted(addr);
    }
}

#[test]
fn watchdog_is_fed_while_every_shard_beats() {
    let service = Service::start(
        &["-p", "0", "-t", "2"],
        &[("WATCHDOG_USEC", "200000")], // 0.2 s: a ping every 0.1 s
    );
    service.ready();
    let started = Instant::now();
    let mut pings = 0;
    while pings < 5 {
        service.wait_for_line("WATCHDOG=1", Duration::from_secs(5));
        pings += 1;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "5 pings took {:?}",
        started.elapsed()
    );
}

#[test]
fn watchdog_meant_for_another_pid_is_not_fed() {
    let service = Service::start(
        &["-p", "0", "-t", "1"],
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
    );
    service.ready();
    if let Some(message) = service.next_message(Duration::from_millis(600)) {
        panic!("unexpected notification: {message:?}");
    }
}

/// A pipeline of sets and gets over many keys (most of them owned by another shard), one
/// value larger than a connection's read buffer, and a multi-get; and the exact replies.
fn pipeline() -> (Vec<u8>, Vec<u8>) {
    let mut requests = Vec::new();
    let mut replies = Vec::new();
    for i in 0..300 {
        let value = format!("value-{i}");
        write!(requests, "set key:{i} {i} 0 {}\r\n{value}\r\n", value.len()).unwrap();
        replies.extend_from_slice(b"STORED\r\n");
        write!(requests, "get key:{i}\r\n").unwrap();
        write!(
            replies,
            "VALUE key:{i} {i} {}\r\n{value}\r\nEND\r\n",
            value.len()
        )
        .unwrap();
    }
    let big = vec![b'x'; 40_000];
    write!(requests, "set big 0 0 {}\r\n", big.len()).unwrap();
    requests.extend_from_slice(&big);
    requests.extend_from_slice(b"\r\nget key:7 big key:250\r\n");
    replies.extend_from_slice(b"STORED\r\nVALUE key:7 7 7\r\nvalue-7\r\n");
    write!(replies, "VALUE big 0 {}\r\n", big.len()).unwrap();
    replies.extend_from_slice(&big);
    replies.extend_from_slice(b"\r\nVALUE key:250 250 9\r\nvalue-250\r\nEND\r\n");
    (requests, replies)
}

/// Sends a pipeline, then `signal` at once: every request is answered, then both the busy
/// and an idle connection are closed, `STOPPING=1` arrives and the process exits 0 within a
/// second.
fn shutdown_answers_what_was_sent(signal: i32, shard_count: &str) {
    let _timed = timed();
    let mut service = Service::start(&["-p", "0", "-v", "-t", shard_count], &[]);
    let addr = service.ready()[0];
    let idle = connect_accepted(addr);
    let mut busy = connect_accepted(addr);
    let (requests, replies) = pipeline();
    let busy_replies = read_to_close(busy.try_clone().unwrap());
    let idle_replies = read_to_close(idle);
    busy.write_all(&requests).unwrap();
    let signalled = Instant::now();
    service.signal(signal);
    service.exits_0_within_a_second(signalled);
    service.wait_for_line("STOPPING=1", Duration::from_secs(1));
    let got = busy_replies.join().unwrap();
    assert!(
        got == replies,
        "replies differ: got {} bytes, expected {}; first difference at {:?}",
        got.len(),
        replies.len(),
        got.iter().zip(&replies).position(|(a, b)| a != b)
    );
    assert!(idle_replies.join().unwrap().is_empty());
}

#[test]
fn sigterm_answers_pipelined_requests_then_exits_0_within_a_second() {
    shutdown_answers_what_was_sent(libc::SIGTERM, "2");
}

#[test]
fn sigint_answers_pipelined_requests_then_exits_0_within_a_second() {
    shutdown_answers_what_was_sent(libc::SIGINT, "4");
}

/// A client that never reads its replies: `value_bytes` × `get_count` of output backs up.
fn stalled_client(addr: SocketAddr) -> TcpStream {
    let mut stream = connect_accepted(addr);
    let value_bytes = 256 * 1024;
    write!(stream, "set big 0 0 {value_bytes}\r\n").unwrap();
    stream.write_all(&vec![b'x'; value_bytes]).unwrap();
    stream.write_all(b"\r\n").unwrap();
    let mut stored = [0u8; 8];
    stream.read_exact(&mut stored).unwrap();
    assert_eq!(&stored, b"STORED\r\n");
    stream.write_all(&b"get big\r\n".repeat(200)).unwrap();
    // Let the server fill the socket buffers and stop reading this connection.
    std::thread::sleep(Duration::from_millis(100));
    stream
}

#[test]
fn a_client_that_never_reads_is_closed_at_the_drain_deadline() {
    let _timed = timed();
    let mut service = Service::start(&["-p", "0", "-v", "-t", "2"], &[]);
    let addr = service.ready()[0];
    let _stalled = stalled_client(addr);
    let signalled = Instant::now();
    service.signal(libc::SIGTERM);
    let took = service.exits_0_within_a_second(signalled);
    let drain_deadline = Duration::from_millis(ringcache_net::service::DRAIN_DEADLINE_MS);
    assert!(
        took >= drain_deadline,
        "exited {took:?}: before the drain deadline?"
    );
}

#[test]
fn a_second_signal_during_the_drain_stops_at_once() {
    let _timed = timed();
    let mut service = Service::start(&["-p", "0", "-v", "-t", "2"], &[]);
    let addr = service.ready()[0];
    let _stalled = stalled_client(addr);
    let signalled = Instant::now();
    service.signal(libc::SIGTERM);
    service.wait_for_line("STOPPING=1", Duration::from_secs(1));
    service.signal(libc::SIGINT);
    let took = service.exits_0_within_a_second(signalled);
    let drain_deadline = Duration::from_millis(ringcache_net::service::DRAIN_DEADLINE_MS);
    assert!(
        took < drain_deadline,
        "exited {took:?} after the first signal: the second did not cut the drain short"
    );
}

#[test]
fn every_shard_heartbeat_advances() {
    let (server, _addr) = common::start(2, 16, 16);
    let control = server.control();
    let before = control.heartbeats();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = control.heartbeats();
        if now
            .iter()
            .zip(&before)
            .all(|(after, before)| after > before)
        {
            break;
        }
        assert!(Instant::now() < deadline, "heartbeats {before:?} → {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop().unwrap();
}

/// The shipped unit, with only the binary `ExecStart` runs replaced by the one cargo built
/// (`systemd-analyze verify` checks that it exists), must verify without a warning.
#[test]
fn systemd_analyze_verifies_the_shipped_unit() {
    let Some(analyze) = find_in_path("systemd-analyze") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is missing in CI: tests/setup installs Debian's systemd"
        );
        eprintln!(
            "\n!!! SKIPPED: systemd-analyze not found; `apt-get install systemd` to run it !!!\n"
        );
        return;
    };
    let shipped_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuning/systemd/ringcache.service");
    let shipped = std::fs::read_to_string(&shipped_path).unwrap();
    let installed_bin = "ExecStart=/usr/bin/ringcache ";
    assert_eq!(
        shipped
            .lines()
            .filter(|l| l.starts_with("ExecStart="))
            .count(),
        1
    );
    assert_eq!(
        shipped.matches(installed_bin).count(),
        1,
        "ExecStart runs /usr/bin/ringcache"
    );
    let unit = shipped.replace(installed_bin, &format!("ExecStart={BIN} "));
    let dir = TempDir::new("unit");
    let unit_path = dir.0.join("ringcache.service");
    std::fs::write(&unit_path, unit).unwrap();
    let output = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&unit_path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    let about_ours: Vec<&str> = text.lines().filter(|l| l.contains("ringcache")).collect();
    assert!(about_ours.is_empty(), "systemd-analyze warns:\n{text}");
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
