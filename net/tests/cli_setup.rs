//! Set-up errors of the `ringcache` binary provoked for real (a held port, a low RLIMIT_NOFILE,
//! io_uring blocked by seccomp), and `-b`, `-r` and the open-files limit compared with
//! memcached's from the same start. Every server listens on 127.0.0.1 on a free port and is
//! killed when its test ends.

mod cli_support;

use std::net::TcpListener;
use std::process::Command;

use cli_support::{block_io_uring, free_port, memcached, ringcache, run, with_limit, Running};

#[test]
fn a_held_port_names_who_holds_it() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let outcome = run(&mut ringcache(&["-p", &port, "-t", "1"]));
    assert_eq!(outcome.code, Some(1), "{}", outcome.stderr);
    let who = "the port is in use by cli_setup-"; // this test binary (comm: 15 bytes)
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
