//! The `ringcache` binary end to end: exit codes and messages of the command line, the
//! configuration layers and `--print-config`'s round trip, set-up errors provoked for real (a
//! held port, a low RLIMIT_NOFILE, io_uring blocked by seccomp, cores it may not use), and
//! `-b` and `-r` compared with memcached's. Every server listens on 127.0.0.1 on a free port
//! and is killed when its test ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ringcache");
const MEMCACHED: &str = "/usr/bin/memcached";
/// How long a process may take to start or to fail on this busy machine.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary with `args`, without this environment's `RINGCACHE_*` variables.
fn ringcache(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("RINGCACHE_") {
            command.env_remove(name);
        }
    }
    command
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `command` to its end, which must come within [`PROCESS_TIMEOUT`].
fn run(command: &mut Command) -> Outcome {
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

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

/// A server process, killed when dropped.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Starts `command` (which must listen on 127.0.0.1:`port`) and waits until it accepts.
    fn start(command: Command, port: u16) -> Running {
        let shown = format!("{command:?}");
        Running::try_start(command, port).unwrap_or_else(|(code, stderr)| {
            panic!("{shown} exited with {code:?} before listening:\n{stderr}")
        })
    }

    /// Starts `command` and waits until it listens on `port`, or returns its exit code and
    /// stderr if it exits first.
    fn try_start(mut command: Command, port: u16) -> Result<Running, (Option<i32>, String)> {
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
    fn ask(&self, request: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        conn.set_read_timeout(Some(PROCESS_TIMEOUT)).unwrap();
        conn.write_all(request.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(b"END\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(reply).unwrap()
    }

    /// `(soft, hard)` of a limit in /proc/<pid>/limits, e.g. "Max open files".
    fn limit(&self, name: &str) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.child.id())).unwrap();
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
        let mut fields = line[name.len()..].split_whitespace();
        let soft = fields.next().unwrap().to_string();
        (soft, fields.next().unwrap().to_string())
    }
}

/// memcached with `args` on 127.0.0.1:`port` (`-u root` when root, which memcached insists on).
fn memcached(port: u16, args: &[&str]) -> Command {
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
fn with_limit(command: &mut Command, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) {
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

#[test]
fn help_version_and_license_exit_0_on_stdout() {
    let help = run(&mut ringcache(&["-h"]));
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    for text in [
        "--memory-limit",
        "--conn-limit",
        "--print-config",
        "-d -u -s",
    ] {
        assert!(
            help.stdout.contains(text),
            "{text} missing:\n{}",
            help.stdout
        );
    }
    let version = run(&mut ringcache(&["-V"]));
    assert_eq!(version.code, Some(0));
    assert!(
        version.stdout.starts_with("ringcache 0."),
        "{}",
        version.stdout
    );
    let license = run(&mut ringcache(&["--license"]));
    assert_eq!(license.code, Some(0));
    assert!(
        license.stdout.contains("MIT OR Apache-2.0"),
        "{}",
        license.stdout
    );
}

#[test]
fn refused_and_unknown_flags_exit_2_with_the_reason() {
    for (args, expected) in [
        (&["-d"][..], "ringcache: -d (--daemon): "),
        (&["--daemon"], "tuning/systemd/ringcache.service"),
        (&["-u", "memcache"], "ringcache: -u (--user) memcache: "),
        (&["-S"], "no authentication"),
        (&["-o", "modern"], "extended options"),
        (&["-B", "binary"], "use -B ascii"),
        (&["-T"], "unexpected argument '-T'"),
        (&["-p", "port"], "invalid value 'port'"),
    ] {
        let outcome = run(&mut ringcache(args));
        assert_eq!(outcome.code, Some(2), "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(outcome.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    let outcome = run(ringcache(&["--print-config"]).env("RINGCACHE_PORT", "abc"));
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("RINGCACHE_PORT=abc"),
        "{}",
        outcome.stderr
    );
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-bad.toml", std::process::id()));
    std::fs::write(&file, "threads = 1\nconn_limt = 5\n").unwrap();
    let outcome = run(&mut ringcache(&["--config", file.to_str().unwrap()]));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("unknown field `conn_limt`"),
        "{}",
        outcome.stderr
    );
    let outcome = run(&mut ringcache(&["--cpus", "1000"]));
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("may not run on CPU 1000 (allowed: "),
        "{}",
        outcome.stderr
    );
}

/// `--print-config` writes what `--config` reads back: printing again gives the same text, and
/// the layers show through (flag over environment over file).
#[test]
fn print_config_round_trips_through_the_binary() {
    let printed = run(
        ringcache(&["-m", "256", "-c", "99", "-M", "--print-config"])
            .env("RINGCACHE_MEMORY_LIMIT_MB", "128")
            .env("RINGCACHE_THREADS", "1")
            .env("RINGCACHE_MAX_ITEM_SIZE", "512k"),
    );
    assert_eq!(printed.code, Some(0), "{}", printed.stderr);
    let text = printed.stdout;
    for line in [
        "memory_limit_mb = 256",
        "threads = 1",
        "max_item_size = \"512k\"",
        "disable_evictions = true",
        "conn_limit = 99",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-trip.toml", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let again = run(&mut ringcache(&[
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(again.stdout, text);
}

/// The server runs what the file and the environment say (seen through `stats settings`).
#[test]
fn the_server_runs_the_file_and_the_environment() {
    let port = free_port();
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-run.toml", std::process::id()));
    let toml = format!(
        "port = {port}\nlisten = \"127.0.0.1\"\nthreads = 1\nmemory_limit_mb = 32\n\
         conn_limit = 50\ndisable_cas = true\n"
    );
    std::fs::write(&file, toml).unwrap();
    let mut command = ringcache(&["-B", "ascii", "-X", "-W"]);
    command
        .env("RINGCACHE_CONFIG", &file)
        .env("RINGCACHE_CONN_LIMIT", "60");
    let server = Running::start(command, port);
    std::fs::remove_file(&file).unwrap();
    let settings = server.ask("stats settings\r\n");
    for line in [
        "STAT maxbytes 33554432\r\n",
        "STAT maxconns 60\r\n",
        "STAT cas_enabled no\r\n",
        "STAT num_threads 1\r\n",
    ] {
        assert!(settings.contains(line), "{line:?} missing:\n{settings}");
    }
    // -X: no key is ever listed.
    let dump = server.ask("set secret 0 0 1\r\nx\r\nstats cachedump 1 0\r\n");
    assert_eq!(dump, "STORED\r\nEND\r\n");
}

#[test]
fn a_held_port_names_who_holds_it() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let outcome = run(&mut ringcache(&["-p", &port, "-t", "1"]));
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let who = "the port is in use by cli-"; // this test binary's name
    assert!(outcome.stderr.contains(who), "{}", outcome.stderr);
    let pid = format!("(pid {})", std::process::id());
    assert!(outcome.stderr.contains(&pid), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("another port (-p"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn too_few_open_files_for_c_says_how_to_raise_them() {
    // Above fs.nr_open no process may go, root included, so this fails everywhere.
    let mut command = ringcache(&["-c", "2000000", "-t", "1", "-p", "0"]);
    with_limit(&mut command, libc::RLIMIT_NOFILE, 64, 64);
    let outcome = run(&mut command);
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    for text in [
        "-c 2000000 needs 2000068 open files",
        "LimitNOFILE=2000068",
        "ulimit -n",
    ] {
        assert!(outcome.stderr.contains(text), "{text}: {}", outcome.stderr);
    }
}

/// Under a hard limit too low for `-c`, ringcache starts exactly when memcached does: when the
/// process may raise hard limits (CAP_SYS_RESOURCE).
#[test]
fn too_low_a_hard_open_files_limit_fails_when_memcached_fails() {
    let outcome = |mut command: Command, port: u16| {
        with_limit(&mut command, libc::RLIMIT_NOFILE, 64, 1024);
        Running::try_start(command, port).map(drop)
    };
    let port = free_port();
    let ours = outcome(
        ringcache(&["-c", "5000", "-t", "1", "-p", &port.to_string()]),
        port,
    );
    let port = free_port();
    let theirs = outcome(memcached(port, &["-c", "5000"]), port);
    assert_eq!(ours.is_ok(), theirs.is_ok(), "{ours:?} vs {theirs:?}");
    if let Err((code, stderr)) = ours {
        assert_eq!(code, Some(1));
        assert!(stderr.contains("(hard 1024)"), "{stderr}");
        assert!(stderr.contains("or lower -c to at most 956"), "{stderr}");
    }
}

#[test]
fn a_low_soft_open_files_limit_is_raised() {
    let port = free_port();
    let mut command = ringcache(&["-c", "3000", "-t", "1", "-p", &port.to_string()]);
    with_limit(&mut command, libc::RLIMIT_NOFILE, 64, 8192);
    let server = Running::start(command, port);
    let (soft, _) = server.limit("Max open files");
    assert!(
        soft.parse::<u64>().unwrap() >= 3000 + 64,
        "soft limit {soft}"
    );
}

/// `-r` leaves the core file limit where memcached's `-r` does, from the same start.
#[test]
fn enable_coredumps_raises_the_core_limit_like_memcached() {
    let core_limits = |mut command: Command, port: u16| {
        with_limit(&mut command, libc::RLIMIT_CORE, 0, 1 << 30);
        Running::start(command, port).limit("Max core file size")
    };
    let port = free_port();
    let ours = core_limits(ringcache(&["-r", "-t", "1", "-p", &port.to_string()]), port);
    let port = free_port();
    let theirs = core_limits(memcached(port, &["-r"]), port);
    assert_eq!(ours, theirs);
    assert_ne!(ours.0, "0", "-r raised the soft limit");
    let port = free_port();
    let untouched = core_limits(ringcache(&["-t", "1", "-p", &port.to_string()]), port);
    assert_eq!(untouched.0, "0", "without -r the limit is left alone");
}

/// With a hard core limit of 0, `-r` fails exactly when memcached's does: always, unless the
/// process may raise hard limits (CAP_SYS_RESOURCE).
#[test]
fn enable_coredumps_fails_when_memcached_fails() {
    let outcome = |mut command: Command, port: u16| {
        with_limit(&mut command, libc::RLIMIT_CORE, 0, 0);
        Running::try_start(command, port).map(drop)
    };
    let port = free_port();
    let ours = outcome(ringcache(&["-r", "-t", "1", "-p", &port.to_string()]), port);
    let port = free_port();
    let theirs = outcome(memcached(port, &["-r"]), port);
    assert_eq!(ours.is_ok(), theirs.is_ok(), "{ours:?} vs {theirs:?}");
    if let Err((code, stderr)) = ours {
        assert_eq!(code, Some(1));
        assert!(stderr.contains("LimitCORE=infinity"), "{stderr}");
    }
}

/// The listen backlog (`ss`'s Send-Q of a listening socket) is memcached's for the same `-b`,
/// and by default.
#[test]
fn listen_backlog_matches_memcached() {
    let backlogs = |command: Command, port: u16| -> Vec<String> {
        let _server = Running::start(command, port);
        let filter = format!("sport = :{port}");
        let out = Command::new("ss")
            .args(["-ltnH", &filter])
            .output()
            .expect("ss (Debian iproute2) runs");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| line.split_whitespace().nth(2).unwrap().to_string())
            .collect()
    };
    for extra in [&["-b", "37"][..], &[]] {
        let port = free_port();
        let port_text = port.to_string();
        let args = [&["-t", "2", "-p", &port_text][..], extra].concat();
        let ours = backlogs(ringcache(&args), port);
        let port = free_port();
        let theirs = backlogs(memcached(port, extra), port);
        assert_eq!(ours.len(), 2, "one listening socket per shard: {ours:?}");
        assert!(
            ours.iter().all(|b| theirs == [b.clone()]),
            "{extra:?}: {ours:?} vs {theirs:?}"
        );
    }
}

#[test]
fn io_uring_blocked_by_seccomp_is_explained() {
    for (errno, expected) in [
        (libc::EPERM, "although kernel.io_uring_disabled is 0"),
        (libc::ENOSYS, "io_uring_setup does not exist here"),
    ] {
        if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
            .is_ok_and(|v| v.trim() != "0")
        {
            eprintln!("skipped: io_uring is disabled by sysctl on this host");
            return;
        }
        let mut command = ringcache(&["-t", "1", "-p", "0"]);
        block_io_uring(&mut command, errno as u32);
        let outcome = run(&mut command);
        assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
        for text in [expected, "Seccomp: 2", "allow io_uring_setup"] {
            assert!(outcome.stderr.contains(text), "{text}: {}", outcome.stderr);
        }
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
fn block_io_uring(command: &mut Command, errno: u32) {
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
