//! Driver processes: run a program pinned to one CPU (`taskset -c`), with a deadline, and
//! read a server's CPU time just before it starts and just after it exits.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::cpu::{self, CpuWindow};

/// How often a running driver is polled for its exit: the CPU window closes at most this long
/// after the driver ends (an idle server spends next to nothing in it).
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// The server a driver loads: where it listens, and its process (for its CPU time).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub pid: u32,
}

/// What a finished driver left.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to observed exit.
    pub wall_secs: f64,
}

impl Finished {
    /// The driver's output for an error message: the last lines of stdout and stderr.
    pub fn tail(&self) -> String {
        let last = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        format!(
            "stdout:\n{}\nstderr:\n{}",
            last(&self.stdout),
            last(&self.stderr)
        )
    }
}

/// Runs `program args` under `taskset -c cpu`; kills it past `timeout`.
pub fn run_pinned(
    cpu: usize,
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Finished, String> {
    let describe = || format!("taskset -c {cpu} {} {}", program.display(), args.join(" "));
    let started = Instant::now();
    let mut child = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", describe()))?;
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout piped")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr piped")));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{} ran past {timeout:?}; killed", describe()));
        }
        thread::sleep(EXIT_POLL_INTERVAL);
    };
    let wall_secs = started.elapsed().as_secs_f64();
    Ok(Finished {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        wall_secs,
    })
}

/// Runs a driver (see [`run_pinned`]) and returns the CPU time server `server_pid` used from
/// just before the driver started to just after it exited.
pub fn run_measured(
    server_pid: u32,
    cpu: usize,
    program: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<(CpuWindow, Finished), String> {
    let ticks_per_sec = cpu::clock_ticks_per_sec();
    let before = cpu::read(server_pid)?;
    let finished = run_pinned(cpu, program, args, timeout)?;
    let after = cpu::read(server_pid)
        .map_err(|e| format!("the server exited during the run? {e}\n{}", finished.tail()))?;
    Ok((CpuWindow::between(before, after, ticks_per_sec), finished))
}
