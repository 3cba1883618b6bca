//! Test helpers: run the built `ringcache-loadgen` and read its JSON, and a tiny
//! memcached-protocol responder whose reply timing and contents each test chooses.

#![allow(dead_code)] // each test binary uses a part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// A unique path in the temp directory.
pub fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "ringcache-loadgen-test-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Longest a test's loadgen run may take before the test kills it and fails.
pub const RUN_TIME_MAX: Duration = Duration::from_secs(600);

/// Runs the loadgen with `args` plus `--quiet --output-json FILE`; returns the JSON.
pub fn run_loadgen(args: &[&str]) -> serde_json::Value {
    run_loadgen_within(args, RUN_TIME_MAX)
}

/// As [`run_loadgen`]; kills the loadgen and fails if it has not ended within `limit`.
pub fn run_loadgen_within(args: &[&str], limit: Duration) -> serde_json::Value {
    let json = temp_path("out.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringcache-loadgen"))
        .args(args)
        .args(["--quiet", "--output-json"])
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ringcache-loadgen");
    let deadline = Instant::now() + limit;
    while child
        .try_wait()
        .expect("wait for ringcache-loadgen")
        .is_none()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ringcache-loadgen {args:?} did not end within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("ringcache-loadgen output");
    assert!(
        out.status.success(),
        "ringcache-loadgen {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("JSON written");
    let _ = std::fs::remove_file(&json);
    serde_json::from_str(&text).expect("valid JSON")
}

pub fn u(json: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = json;
    for p in path {
        v = &v[p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not an integer in {json}"))
}

/// Decides, for a request arriving at `arrival` (since the server started), when its reply
/// goes out and what a get answers.
pub trait Behaviour: Send + Sync + 'static {
    /// Delay of the reply to a request that arrived at `arrival`.
    fn reply_at(&self, arrival: Duration) -> Duration;
    /// The reply to a get of `keys` (default: all misses).
    fn get_reply(&self, _keys: &[&str]) -> Vec<u8> {
        b"END\r\n".to_vec()
    }
}

/// A memcached-protocol responder on 127.0.0.1 (get and set only). Each connection has a
/// reader thread (parses requests, stamps their arrival) and a writer thread (sends each
/// reply at its due time, in order). Threads end when the client disconnects.
pub struct FakeServer {
    pub port: u16,
    /// When the first request arrived.
    pub first_request: Arc<OnceLock<Instant>>,
}

impl FakeServer {
    pub fn start(behaviour: impl Behaviour) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let behaviour = Arc::new(behaviour);
        let first_request = Arc::new(OnceLock::new());
        let first = Arc::clone(&first_request);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let behaviour = Arc::clone(&behaviour);
                let first = Arc::clone(&first);
                thread::spawn(move || serve(stream, behaviour, first));
            }
        });
        FakeServer {
            port,
            first_request,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(stream: TcpStream, behaviour: Arc<dyn Behaviour>, first: Arc<OnceLock<Instant>>) {
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        for (due, reply) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if writer.write_all(&reply).is_err() {
                return;
            }
        }
    });
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let arrival = Instant::now();
        let start = *first.get_or_init(|| arrival);
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.first().copied() {
            Some("get") => behaviour.get_reply(&words[1..]),
            Some("set") => {
                let len: usize = words[4].parse().unwrap();
                let mut data = vec![0u8; len + 2];
                if reader.read_exact(&mut data).is_err() {
                    return;
                }
                b"STORED\r\n".to_vec()
            }
            _ => b"ERROR\r\n".to_vec(),
        };
        let due = start + behaviour.reply_at(arrival - start);
        if tx.send((due.max(arrival), reply)).is_err() {
            return;
        }
    }
}

/// Every reply `delay` after its request arrived.
pub struct Delay(pub Duration);

impl Behaviour for Delay {
    fn reply_at(&self, arrival: Duration) -> Duration {
        arrival + self.0
    }
}

/// Replies at once, except that nothing goes out between `from` and `from + length` after
/// the first request: replies due then leave at the end of the stall.
#[derive(Clone, Copy)]
pub struct Stall {
    pub from: Duration,
    pub length: Duration,
}

impl Behaviour for Stall {
    fn reply_at(&self, arrival: Duration) -> Duration {
        if arrival >= self.from && arrival < self.from + self.length {
            self.from + self.length
        } else {
            arrival
        }
    }
}

/// Answers every get with the same wrong value for the first key.
pub struct WrongValue;

impl Behaviour for WrongValue {
    fn reply_at(&self, arrival: Duration) -> Duration {
        arrival
    }
    fn get_reply(&self, keys: &[&str]) -> Vec<u8> {
        format!("VALUE {} 0 5\r\nWRONG\r\nEND\r\n", keys[0]).into_bytes()
    }
}
