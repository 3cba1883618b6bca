//! Running as a service: readiness and watchdog notifications to the service manager
//! (`sd_notify`), and a clean shutdown on SIGTERM or SIGINT.
//!
//! Goals: systemd (`Type=notify`) learns the server is ready only once every shard listens;
//! the watchdog is fed only while every shard's loop is turning, so a wedged shard gets the
//! service restarted; SIGTERM and SIGINT answer what was received and exit 0 within a second.
//! Non-goals: socket activation, reloading configuration (SIGHUP keeps its default action).
//!
//! ```text
//!  main thread                         signal thread             watchdog thread
//!  Server::start returned (all listen)  Signals::forever ─┐       (only with WATCHDOG_USEC)
//!  READY=1, STATUS=listening ...                          │       every WATCHDOG_USEC/2:
//!  wait for an event <──── Signal(SIGTERM|SIGINT) ────────┘       every shard's heartbeat
//!     │            <──── Exited(result) ── joiner thread:         moved in the last
//!     │                                    Server::wait           max(WATCHDOG_USEC, 3 s)?
//!  STOPPING=1, Control::drain                                     yes: WATCHDOG=1
//!     every shard drained, or DRAIN_DEADLINE_MS passed            no: withhold it (systemd
//!  Control::stop (closes what is left) ── a second signal            restarts the service)
//!     skips straight here
//!  Exited(Ok) → exit 0 (well within a second when the shards get the CPU);
//!  no Exited STOP_WAIT_MAX_MS after Control::stop → a shard is wedged: error, exit 1
//! ```
//!
//! Invariants: shard threads block SIGTERM and SIGINT (`runtime`), so the handler never runs
//! on a shard; `READY=1` is sent after `Server::start` returned, i.e. after every shard's
//! listeners are bound and its loop is about to arm their accepts (connections made in
//! between wait in the listen backlog). Without `NOTIFY_SOCKET` every notification is a
//! no-op, so the same binary runs by hand or under systemd.

use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::ServerConfig;
use crate::runtime::shard::TICK_SECS;
use crate::runtime::{Control, Server};

/// How long a drain may take before the connections left are closed regardless. Closing
/// them takes one loop turn per shard, so the process exits well within a second.
pub const DRAIN_DEADLINE_MS: u64 = 500;
/// After `Control::stop`, shards that have not returned within this are taken as wedged:
/// `run` gives up with an error (the process exits 1) rather than hang until systemd's
/// `TimeoutStopSec=` kills it. Generous on purpose: on an overloaded host a pinned shard
/// thread can wait hundreds of milliseconds for its core, and that is no reason to fail.
pub const STOP_WAIT_MAX_MS: u64 = 3000;
/// How often a drain looks whether every shard is done.
pub const DRAIN_POLL_MS: u64 = 2;
/// A shard's heartbeat advances once per tick: it counts as stuck only if it has not moved
/// for this long (or for the watchdog interval, if longer), so an idle shard's one-second
/// ticks are never mistaken for a stall.
pub const HEARTBEAT_STALE_MIN: Duration = Duration::from_secs(3 * TICK_SECS);

const _: () = assert!(DRAIN_DEADLINE_MS < 1000);

enum Event {
    Signal(i32),
    Exited(Result<(), String>),
}

/// Serves until SIGTERM or SIGINT (then drains and returns `Ok` once every shard has
/// returned) or until a shard fails (its error). Call it right after `Server::start`.
pub fn run(server: Server, config: &ServerConfig) -> Result<(), String> {
    let control = server.control();
    let status = listening_status(config, &server.ports, server.metrics_port);
    let (events_tx, events) = mpsc::channel();
    let mut signals = Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install the SIGTERM/SIGINT handler: {e}"))?;
    let signals_tx = events_tx.clone();
    spawn("ringcache-signals", move || {
        for signal in signals.forever() {
            if signals_tx.send(Event::Signal(signal)).is_err() {
                return;
            }
        }
    })?;
    spawn("ringcache-wait", move || {
        let _ = events_tx.send(Event::Exited(server.wait()));
    })?;
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
    // systemd never sets WATCHDOG_USEC=0, but a hand-set one must not spin the thread.
    if let Some(interval) = sd_notify::watchdog_enabled().filter(|i| !i.is_zero()) {
        let control = control.clone();
        spawn("ringcache-watchdog", move || watchdog(&control, interval))?;
    }
    let signal = match events.recv() {
        Ok(Event::Signal(signal)) => signal,
        Ok(Event::Exited(result)) => return result,
        Err(_) => return Err("the shard joiner thread vanished".to_string()),
    };
    shut_down(signal, &control, &events, config.verbosity > 0)
}

/// Drains, then stops, as drawn in the module doc.
fn shut_down(
    signal: i32,
    control: &Control,
    events: &mpsc::Receiver<Event>,
    verbose: bool,
) -> Result<(), String> {
    let drain_deadline = Instant::now() + Duration::from_millis(DRAIN_DEADLINE_MS);
    let stop_wait_max = Duration::from_millis(STOP_WAIT_MAX_MS);
    let status = format!("stopping ({}): finishing requests in flight", name(signal));
    notify(&[NotifyState::Stopping, NotifyState::Status(&status)]);
    if verbose {
        eprintln!("ringcache: {status}");
    }
    control.drain();
    // When `Control::stop` went out; `None` while draining.
    let mut stop_sent_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if stop_sent_at.is_none() && (now >= drain_deadline || control.drained()) {
            if verbose && !control.drained() {
                eprintln!("ringcache: drain deadline passed: closing the connections left");
            }
            control.stop();
            stop_sent_at = Some(now);
        }
        let wait = match stop_sent_at {
            Some(at) if now >= at + stop_wait_max => {
                return Err(format!(
                    "shards still running {STOP_WAIT_MAX_MS} ms after being stopped ({}): \
                     exiting",
                    name(signal)
                ));
            }
            Some(at) => at + stop_wait_max - now,
            None => Duration::from_millis(DRAIN_POLL_MS).min(drain_deadline - now),
        };
        match events.recv_timeout(wait) {
            Ok(Event::Exited(result)) => return result,
            Ok(Event::Signal(again)) => {
                if stop_sent_at.is_none() {
                    if verbose {
                        eprintln!("ringcache: {} during the drain: stopping now", name(again));
                    }
                    control.stop();
                    stop_sent_at = Some(Instant::now());
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err("the shard joiner thread vanished".to_string())
            }
        }
    }
}

/// Feeds systemd's watchdog every half `interval` while every shard's heartbeat moves.
fn watchdog(control: &Control, interval: Duration) {
    let mut liveness = Liveness::new(
        &control.heartbeats(),
        interval.max(HEARTBEAT_STALE_MIN),
        Instant::now(),
    );
    let mut withheld = false;
    loop {
        std::thread::sleep(interval / 2);
        match liveness.observe(&control.heartbeats(), Instant::now()) {
            Ok(()) => {
                notify(&[NotifyState::Watchdog]);
                withheld = false;
            }
            Err(stuck) if !withheld => {
                let status = format!("shard(s) {stuck:?} stuck: watchdog pings withheld");
                eprintln!("ringcache: {status}");
                notify(&[NotifyState::Status(&status)]);
                withheld = true;
            }
            Err(_) => {}
        }
    }
}

/// When each shard's heartbeat last moved.
pub struct Liveness {
    beats: Vec<u64>,
    moved_at: Vec<Instant>,
    stale_after: Duration,
}

impl Liveness {
    pub fn new(beats: &[u64], stale_after: Duration, now: Instant) -> Liveness {
        Liveness {
            beats: beats.to_vec(),
            moved_at: vec![now; beats.len()],
            stale_after,
        }
    }

    /// Records `beats` seen at `now`; `Err` lists the shards whose heartbeat has not moved
    /// for longer than `stale_after`.
    pub fn observe(&mut self, beats: &[u64], now: Instant) -> Result<(), Vec<usize>> {
        assert_eq!(beats.len(), self.beats.len(), "the shard count is fixed");
        let mut stuck = Vec::new();
        for (index, &beat) in beats.iter().enumerate() {
            if beat != self.beats[index] {
                self.beats[index] = beat;
                self.moved_at[index] = now;
            } else if now.duration_since(self.moved_at[index]) > self.stale_after {
                stuck.push(index);
            }
        }
        if stuck.is_empty() {
            Ok(())
        } else {
            Err(stuck)
        }
    }
}

/// `STATUS=` once ready, and the `-v` start-up line: the addresses as bound, shards, memory,
/// connections, and where metrics are served.
pub fn listening_status(config: &ServerConfig, ports: &[u16], metrics_port: Option<u16>) -> String {
    let addrs: Vec<String> = bound_addrs(&config.listen_addrs, ports)
        .iter()
        .map(ToString::to_string)
        .collect();
    let metrics = match metrics_port {
        Some(port) => format!("; metrics on port {port}"),
        None => String::new(),
    };
    format!(
        "listening on {}; {} shard(s), {} MB, up to {} connections{metrics}",
        addrs.join(", "),
        config.shard_count,
        config.memory_limit_bytes >> 20,
        config.conn_limit
    )
}

/// The listen addresses with the ports bound (a `-p 0` resolved).
pub fn bound_addrs(listen_addrs: &[SocketAddr], ports: &[u16]) -> Vec<SocketAddr> {
    assert_eq!(listen_addrs.len(), ports.len(), "one port per address");
    listen_addrs
        .iter()
        .zip(ports)
        .map(|(addr, &port)| SocketAddr::new(addr.ip(), port))
        .collect()
}

/// Sends `states` to the service manager if there is one. A failure is reported, not fatal:
/// the cache serves either way (systemd then times the start out or the watchdog fires).
fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        eprintln!("ringcache: sd_notify to $NOTIFY_SOCKET failed: {e}");
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)
        .map(drop)
        .map_err(|e| format!("cannot start thread {name}: {e}"))
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: Duration = Duration::from_secs(3);

    #[test]
    fn shards_that_beat_are_alive() {
        let t0 = Instant::now();
        let mut liveness = Liveness::new(&[0, 0], STALE, t0);
        assert_eq!(
            liveness.observe(&[0, 0], t0 + Duration::from_secs(2)),
            Ok(())
        );
        assert_eq!(
            liveness.observe(&[2, 3], t0 + Duration::from_secs(4)),
            Ok(())
        );
        assert_eq!(
            liveness.observe(&[5, 6], t0 + Duration::from_secs(7)),
            Ok(())
        );
    }

    #[test]
    fn a_shard_whose_heartbeat_stops_is_named_until_it_moves_again() {
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let mut liveness = Liveness::new(&[0, 0, 0], STALE, t0);
        assert_eq!(liveness.observe(&[1, 1, 1], at(1)), Ok(()));
        assert_eq!(liveness.observe(&[3, 1, 3], at(3)), Ok(()), "not stale yet");
        assert_eq!(liveness.observe(&[5, 1, 5], at(5)), Err(vec![1]));
        assert_eq!(liveness.observe(&[6, 1, 5], at(9)), Err(vec![1, 2]));
        assert_eq!(liveness.observe(&[7, 2, 6], at(10)), Ok(()), "moving again");
    }

    #[test]
    fn status_names_the_bound_ports() {
        let listen: Vec<SocketAddr> = vec![
            "127.0.0.1:0".parse().unwrap(),
            "[::1]:11211".parse().unwrap(),
        ];
        let bound: Vec<String> = bound_addrs(&listen, &[40000, 11211])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(bound, ["127.0.0.1:40000", "[::1]:11211"]);
    }
}
