//! Running the `ringcache` binary (and memcached) from the end-to-end tests: a clean
//! environment, exit codes and output, servers on free ports killed when dropped, process
//! limits and a seccomp filter applied between fork and exec.

// Each test file uses a subset of these.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ringcache");
pub const MEMCACHED: &str = "/usr/bin/memcached";
/// How long a process may take to start or to fail on this busy machine.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary with `args`, without this environment's `RINGCACHE_*` variables.
pub fn ringcache(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("RINGCACHE_") {
            command.env_remove(name);
        }
    }
    command
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to its end, which must come within [`PROCESS_TIMEOUT`].
pub fn run(command: &mut Command) -> Outcome {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} still runs after {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Outcome {
        code: status.code(),
        stdout,
        stderr,
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// A server process, killed when dropped.
pub struct Running {
    pub child: Child,
    pub port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `command` (which must listen on 127.0.0.1:`port`) and waits until it accepts.
    pub fn start(command: Command, port: u16) -> Running {
        let shown = format!("{command:?}");
        Running::try_start(command, port).unwrap_or_else(|(code, stderr)| {
            panic!("{shown} exited with {code:?} before listening:\n{stderr}")
        })
    }

    /// Starts `command` and waits until it listens on `port`, or returns its exit code and
    /// stderr if it exits first.
    pub fn try_start(mut command: Command, port: u16) -> Result<Running, (Option<i32>, String)> {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut running = Running { child, port };
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = running.child.try_wait().unwrap() {
                let mut stderr = String::new();
                let _ = running
                    .child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut stderr);
                return Err((status.code(), stderr));
            }
            assert!(Instant::now() < deadline, "{command:?} did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(running)
    }

    /// Sends `request` and reads the reply up to and including `END\r\n`.
    pub fn ask(&self, request: &str) -> String {
        self.ask_until(request, "END\r\n")
    }

    /// Sends `request` and reads the reply until it ends with `last`.
    pub fn ask_until(&self, request: &str, last: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        conn.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
        conn.write_all(request.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(last.as_bytes()) {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(reply).unwrap()
    }

    /// `(soft, hard)` of a limit in /proc/<pid>/limits, e.g. "Max open files".
    pub fn limit(&self, name: &str) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).unwrap();
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
        let mut fields = line[name.len()..].split_whitespace();
        let soft = fields.next().unwrap().to_string();
        (soft, fields.next().unwrap().to_string())
    }
}

/// memcached with `args` on 127.0.0.1:`port` (`-u root` when root, which memcached insists on).
pub fn memcached(port: u16, args: &[&str]) -> Command {
    assert!(
        std::path::Path::new(MEMCACHED).exists(),
        "{MEMCACHED} not found: run tests/setup (apt-get install memcached)"
    );
    let mut command = Command::new(MEMCACHED);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        command.args(["-u", "root"]);
    }
    let port = port.to_string();
    command
        .args(["-U", "0", "-l", "127.0.0.1", "-p", &port])
        .args(args);
    command
}

/// Runs `command` with `resource` limited to (`soft`, `hard`).
pub fn with_limit(
    command: &mut Command,
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: the closure runs between fork and exec and only calls setrlimit, which is
    // async-signal-safe, on a value copied in before the fork; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(resource, &limit) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

const fn bpf(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// Makes `io_uring_setup` fail with `errno` in the child, as a container's seccomp profile does.
pub fn block_io_uring(command: &mut Command, errno: u32) {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let filter = [
        bpf(BPF_LD | BPF_W | BPF_ABS, 4, 0, 0), // seccomp_data.arch
        bpf(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
        bpf(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
        bpf(BPF_LD | BPF_W | BPF_ABS, 0, 0, 0), // seccomp_data.nr
        bpf(
            BPF_JMP | BPF_JEQ | BPF_K,
            libc::SYS_io_uring_setup as u32,
            0,
            1,
        ),
        bpf(BPF_RET | BPF_K, libc::SECCOMP_RET_ERRNO | errno, 0, 0),
        bpf(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    // SAFETY: the closure runs between fork and exec and only makes two prctl calls (raw
    // system calls, async-signal-safe) on the filter moved in before the fork; it allocates
    // nothing. The filter outlives the call that copies it into the kernel.
    unsafe {
        command.pre_exec(move || {
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr().cast_mut(),
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &program as *const libc::sock_fprog,
                ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
