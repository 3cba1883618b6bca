//! Server processes for the side-by-side runs: ringcache or memcached started with the same
//! flags on a free 127.0.0.1 port, pinned to one CPU with `taskset`, and killed on drop.
//!
//! This mirrors `tests/src/server.rs` (spawn, poll until the port accepts, kill and reap on
//! drop), adding the CPU pinning and the resident-set reading the benchmarks need.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept its first connection.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Memcached,
    Ringcache,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Memcached => "memcached",
            Kind::Ringcache => "ringcache",
        }
    }
}

/// How to start the servers of one run.
#[derive(Clone, Debug)]
pub struct Launch {
    pub ringcache_bin: PathBuf,
    pub memcached_bin: PathBuf,
    /// CPU the servers are pinned to.
    pub server_cpu: usize,
}

/// A running server; killed and reaped on drop.
pub struct Server {
    child: Child,
    kind: Kind,
    port: u16,
    output: Arc<Mutex<Vec<u8>>>,
}

pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// The flags both servers get: the same for each, memcached's defaults otherwise.
pub fn common_flags(memory_limit_mb: u64, port: u16) -> Vec<String> {
    let port = port.to_string();
    let memory = memory_limit_mb.to_string();
    [
        "-m",
        &memory,
        "-p",
        &port,
        "-l",
        "127.0.0.1",
        "-t",
        "1",
        "-U",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Server {
    /// Starts `kind` with `-m memory_limit_mb` (see [`common_flags`]).
    pub fn start(launch: &Launch, kind: Kind, memory_limit_mb: u64) -> Server {
        Server::start_with(launch, kind, |port| common_flags(memory_limit_mb, port))
    }

    /// Starts `kind` with the flags `flags(port)` gives for a free port (and, for memcached
    /// run as root, `-u nobody` before them).
    pub fn start_with(
        launch: &Launch,
        kind: Kind,
        flags: impl FnOnce(u16) -> Vec<String>,
    ) -> Server {
        let port = free_port();
        let (bin, mut args) = match kind {
            Kind::Ringcache => (&launch.ringcache_bin, Vec::new()),
            Kind::Memcached if running_as_root() => {
                // memcached refuses to run as root without -u.
                (
                    &launch.memcached_bin,
                    vec!["-u".to_string(), "nobody".into()],
                )
            }
            Kind::Memcached => (&launch.memcached_bin, Vec::new()),
        };
        args.extend(flags(port));
        let child = Command::new("taskset")
            .arg("-c")
            .arg(launch.server_cpu.to_string())
            .arg(bin)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run taskset {}: {e}", bin.display()));
        let mut server = Server {
            child,
            kind,
            port,
            output: Arc::new(Mutex::new(Vec::new())),
        };
        server.drain_output();
        server.wait_ready(bin, &args);
        server
    }

    fn drain_output(&mut self) {
        let stdout = self
            .child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>);
        let stderr = self
            .child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>);
        for mut pipe in [stdout, stderr].into_iter().flatten() {
            let sink = Arc::clone(&self.output);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    }

    fn wait_ready(&mut self, bin: &Path, args: &[String]) {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} {args:?} exited ({status}) before accepting; output:\n{}",
                    bin.display(),
                    self.output_text()
                );
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} {args:?} did not accept within {SERVER_START_TIMEOUT:?}; output:\n{}",
            bin.display(),
            self.output_text()
        );
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The server's process id (`taskset` execs the server, so it is the child's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The server's resident set (`VmRSS`), in bytes. `taskset` execs the server, so the
    /// child's pid is the server's.
    pub fn rss_bytes(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or_else(|| panic!("no VmRSS in {path}"));
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad VmRSS line {line:?}"));
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pins the calling process (the benchmark client) to `cpu`.
pub fn pin_self_to_cpu(cpu: usize) -> std::io::Result<()> {
    assert!(cpu < libc::CPU_SETSIZE as usize, "cpu {cpu} out of range");
    // SAFETY: cpu_set_t is plain data for which all-zero bytes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (asserted above), so CPU_SET stays inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid, initialised cpu_set_t and the size passed is its own size;
    // pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
