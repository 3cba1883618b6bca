//! Server processes: build/locate binaries, start on a free port, stop on drop.

use std::collections::HashSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::conn::Conn;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept its first connection.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How many times a server start is retried on a fresh port when the port was lost to a race.
const SERVER_START_ATTEMPTS_MAX: usize = 5;

/// Which server implementation a [`Server`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ringcache,
    Memcached,
}

/// A server process started by a test. Killed and reaped on drop.
pub struct Server {
    child: Child,
    port: u16,
    kind: Kind,
    program: PathBuf,
    args: Vec<String>,
    output: Arc<Mutex<Vec<u8>>>,
}

/// The workspace root (parent of this crate's manifest directory).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `(target_dir, profile_dir_name)` of the running test binary: `.../target/<profile>/deps/x`.
fn target_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe has a parent").to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    let profile_dir = dir
        .file_name()
        .expect("profile dir")
        .to_string_lossy()
        .into_owned();
    let target = dir.parent().expect("target dir").to_path_buf();
    (target, profile_dir)
}

/// Builds the ringcache binary once per test process and returns its path.
pub fn ringcache_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("RINGCACHE_BIN") {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "RINGCACHE_BIN={} is not a file",
                path.display()
            );
            return path;
        }
        let (target, profile_dir) = target_and_profile();
        let profile = match profile_dir.as_str() {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let started = Instant::now();
        let out = Command::new(&cargo)
            .current_dir(workspace_dir())
            .env("CARGO_TARGET_DIR", &target)
            .args([
                "build",
                "-p",
                "ringcache-net",
                "--bin",
                "ringcache",
                "--profile",
                &profile,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build ringcache: {e}"));
        assert!(
            out.status.success(),
            "`cargo build -p ringcache-net --bin ringcache --profile {profile}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target.join(&profile_dir).join("ringcache");
        assert!(
            bin.is_file(),
            "built ringcache not found at {}",
            bin.display()
        );
        eprintln!(
            "harness: ringcache binary {} (build check {:?})",
            bin.display(),
            started.elapsed()
        );
        bin
    })
    .clone()
}

/// Fails loudly, with the install command, when a tool is missing.
pub fn require_tool(program: &str, install_hint: &str) -> PathBuf {
    if program.contains('/') {
        let path = PathBuf::from(program);
        assert!(
            path.is_file(),
            "{program} is missing; install it with: {install_hint}"
        );
        return path;
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{program}` is missing from PATH; install it with: {install_hint} (or run tests/setup)"
    );
}

/// The memcached binary (Debian's package).
pub fn memcached_bin() -> PathBuf {
    require_tool("memcached", "apt-get install -y memcached")
}

/// Ports handed out by this process, so two tests in one process never race for one port.
fn claimed_ports() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A free TCP port on 127.0.0.1, not handed out before by this process.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        if claimed_ports().lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Shards the servers under test run (`RINGCACHE_TEST_THREADS`, default 1): the suite runs
/// at 1, 2 and 4 so that most keys cross cores.
pub fn test_shard_count() -> u32 {
    match std::env::var("RINGCACHE_TEST_THREADS") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("RINGCACHE_TEST_THREADS={text} is not a number")),
        Err(_) => 1,
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Server {
    /// Starts ringcache with `-p PORT -l 127.0.0.1 -U 0 -t N` and `extra` flags, where N is
    /// [`test_shard_count`] unless `extra` names `-t`.
    pub fn ringcache(extra: &[&str]) -> Server {
        if std::env::var_os("RINGCACHE_TEST_AS_MEMCACHED").is_some_and(|v| v != "0") {
            // Deterministic memcached (see the differential test's REFERENCE_ONLY flags).
            let deterministic = ["-o", "no_lru_maintainer,no_lru_crawler"];
            return Server::memcached(&[extra, &deterministic].concat());
        }
        let bin = ringcache_bin();
        let mut base: Vec<String> = vec!["-U".into(), "0".into()];
        if !extra.contains(&"-t") {
            base.extend(["-t".into(), test_shard_count().to_string()]);
        }
        Server::start(Kind::Ringcache, bin, base, extra)
    }

    /// Starts Debian's memcached with `-U 0 -l 127.0.0.1 -p PORT` and `extra` flags.
    pub fn memcached(extra: &[&str]) -> Server {
        let bin = memcached_bin();
        let mut base: Vec<String> = vec!["-U".into(), "0".into()];
        if running_as_root() {
            // memcached refuses to run as root without -u.
            base.extend(["-u".into(), "root".into()]);
        }
        Server::start(Kind::Memcached, bin, base, extra)
    }

    fn start(kind: Kind, program: PathBuf, base: Vec<String>, extra: &[&str]) -> Server {
        let mut last_error = String::new();
        for _ in 0..SERVER_START_ATTEMPTS_MAX {
            let port = free_port();
            let mut args = base.clone();
            args.extend([
                "-l".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ]);
            args.extend(extra.iter().map(|s| s.to_string()));
            match Server::try_start(kind, &program, args, port) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("{kind:?} did not start after {SERVER_START_ATTEMPTS_MAX} attempts: {last_error}");
    }

    fn try_start(
        kind: Kind,
        program: &Path,
        args: Vec<String>,
        port: u16,
    ) -> Result<Server, String> {
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", program.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&output);
            thread::spawn(move || drain(pipe, sink));
        }
        let mut server = Server {
            child,
            port,
            kind,
            program: program.to_path_buf(),
            args,
            output,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        let mut child_status = None;
        while Instant::now() < deadline {
            // Checked before and after connecting: a server that died (e.g. port taken by
            // another process) must not be mistaken for the one that answers on the port.
            if let Ok(Some(status)) = self.child.try_wait() {
                child_status = Some(status);
                break;
            }
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                thread::sleep(Duration::from_millis(20));
                match self.child.try_wait() {
                    Ok(Some(status)) => {
                        child_status = Some(status);
                        break;
                    }
                    _ => return Ok(()),
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{} {:?} {} (status {child_status:?}); output:\n{}",
            self.program.display(),
            self.args,
            if child_status.is_some() {
                "exited before accepting"
            } else {
                "did not accept within the start timeout"
            },
            self.output_text()
        ))
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Everything the server printed on stdout and stderr so far.
    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// A raw connection with the default reply deadline.
    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr())
    }
}

fn drain(mut pipe: Box<dyn Read + Send>, sink: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf) {
        if n == 0 {
            break;
        }
        sink.lock().unwrap().extend_from_slice(&buf[..n]);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
