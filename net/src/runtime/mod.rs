//! The io_uring shard runtime: start-up, the per-shard event loop and connection handling.
//!
//! A request's path: the kernel completes a `Recv` into the connection's read buffer → the
//! shard loop hands the buffered bytes to the connection's [`Session`](crate::exec::Session),
//! which parses requests and runs them against the shard's `Store` (values are copied once,
//! from the read buffer into the item's slab chunk) → replies are appended to the
//! connection's pending output → one `Send` per connection per loop turn carries them out.
//!
//! Start-up is the only place with blocking calls (socket set-up, thread spawn, pinning).
//!
//! Shutdown: [`Control::drain`] then [`Control::stop`] (what `ringcache` does on SIGTERM, see
//! `crate::service`), or [`Server::stop`] alone, which closes every connection at once.

pub mod channel;
pub mod conn;
pub mod cpu;
mod group;
pub mod limits;
pub mod listener;
pub mod port_holder;
pub mod recvbuf;
pub mod remote;
pub mod ring_setup;
pub mod shard;
pub(crate) mod sync;
pub mod token;

use std::os::fd::OwnedFd;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc;

// The facade's Arc (std's, or loom's under `--cfg loom`, where this code is compiled but
// never run) because the channels take their parkers in it.
use std::thread::JoinHandle;
use sync::Arc;

use ringcache_engine::{Clock, Config as EngineConfig, Store};

use crate::config::ServerConfig;
use crate::exec::{RuntimeSettings, ServerInfo};
use crate::metrics;
use crate::route::board::StatsBoard;
use crate::route::Router;
use crate::stats::ShardStats;
use channel::{Receiver, Sender};
use remote::Inbound;
use shard::{Core, Shard, Waker};

/// Slots in each cross-core channel for a server of `shard_count` shards: enough for a burst
/// of pipelined requests between two shards, fewer per channel as the number of channels
/// (2·n·(n−1)) grows. Each slot is 4 KiB, allocated at start-up.
pub fn channel_slot_count(shard_count: usize) -> usize {
    (256 / shard_count.max(2).saturating_sub(1))
        .next_power_of_two()
        .clamp(4, 64)
}

/// One shard's ends of the cross-core channels.
struct Ends {
    requests_out: Vec<Option<Sender>>,
    requests_in: Vec<Option<Receiver>>,
    replies_out: Vec<Option<Sender>>,
    replies_in: Vec<Option<Receiver>>,
}

/// Creates, for every ordered pair of shards (a, b), a request channel a→b and a reply
/// channel b→a, and hands each shard its ends.
fn wire(wakers: &[Arc<Waker>]) -> Vec<Ends> {
    let n = wakers.len();
    let none = |n: usize| -> Vec<Option<Sender>> { (0..n).map(|_| None).collect() };
    let none_rx = |n: usize| -> Vec<Option<Receiver>> { (0..n).map(|_| None).collect() };
    let mut ends: Vec<Ends> = (0..n)
        .map(|_| Ends {
            requests_out: none(n),
            requests_in: none_rx(n),
            replies_out: none(n),
            replies_in: none_rx(n),
        })
        .collect();
    let slots = channel_slot_count(n);
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let parker = |i: usize| Arc::clone(&wakers[i].parker);
            let (tx, rx) = channel::channel(slots, parker(b), parker(a));
            ends[a].requests_out[b] = Some(tx);
            ends[b].requests_in[a] = Some(rx);
            let (tx, rx) = channel::channel(slots, parker(a), parker(b));
            ends[b].replies_out[a] = Some(tx);
            ends[a].replies_in[b] = Some(rx);
        }
    }
    ends
}

/// A started server: its shard threads are listening when `start` returns.
pub struct Server {
    threads: Vec<JoinHandle<Result<(), String>>>,
    wakers: Vec<Arc<Waker>>,
    /// The port of each listen address, as bound (useful with `-p 0`).
    pub ports: Vec<u16>,
    /// The metrics endpoint's port as bound, with `--metrics-port` (useful with 0).
    pub metrics_port: Option<u16>,
    metrics: Option<metrics::Endpoint>,
}

impl Server {
    /// Starts every shard and returns once all of them listen, or the first set-up error.
    pub fn start(config: &ServerConfig) -> Result<Server, String> {
        limits::prepare_process(config)?;
        let cpus = &config.cpus;
        assert!(!cpus.is_empty(), "the configuration names the cores");
        let shard_count = config.shard_count as usize;
        let (listeners, ports) = listener::open_all(
            &config.listen_addrs,
            shard_count,
            config.listen_backlog_count,
        )?;
        // Served on the first listen address's IP (so `-l 0.0.0.0` exposes it too).
        let metrics_listener = config
            .metrics_port
            .map(|port| metrics::Endpoint::bind((config.listen_addrs[0].ip(), port).into()))
            .transpose()?;
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let mut threads = Vec::with_capacity(shard_count);
        let cpu_of = |shard_index: usize| cpus[shard_index % cpus.len()];
        let signals = shared_signals(cpus, shard_count)?;
        let signal_of = |cpu: usize| {
            signals
                .iter()
                .find(|(c, _)| *c == cpu)
                .map(|(_, signal)| std::sync::Arc::clone(signal))
        };
        let wakers = (0..shard_count)
            .map(|i| match signal_of(cpu_of(i)) {
                Some(signal) => Ok(Arc::new(Waker::sharing(signal))),
                None => Waker::new().map(Arc::new),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("eventfd: {e}"))?;
        let board = Arc::new(StatsBoard::new(shard_count));
        let conn_count = Arc::new(AtomicUsize::new(0));
        let shards = wire(&wakers).into_iter().zip(listeners).enumerate();
        let parts = shards.map(|(shard_index, (ends, listeners))| ShardParts {
            index: shard_index,
            cpu: cpu_of(shard_index),
            waker: Arc::clone(&wakers[shard_index]),
            board: Arc::clone(&board),
            ends,
            listeners,
            conn_count: Arc::clone(&conn_count),
        });
        for (cpu, group) in by_cpu(parts) {
            let signal = signal_of(cpu);
            let config = config.clone();
            let ready_tx = ready_tx.clone();
            let name = match group.len() {
                1 => format!("ringcache-shard-{}", group[0].index),
                _ => format!("ringcache-cpu-{cpu}"),
            };
            let thread = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    block_shutdown_signals();
                    run_shards(group, signal, &config, ready_tx)
                })
                .map_err(|e| format!("cannot start a shard thread for CPU {cpu}: {e}"))?;
            threads.push(thread);
        }
        drop(ready_tx);
        let mut server = Server {
            threads,
            wakers,
            ports,
            metrics_port: None,
            metrics: None,
        };
        if let Some(listener) = metrics_listener {
            let source = metrics::Source {
                board,
                wakers: server.wakers.iter().map(Arc::clone).collect(),
                start_time_unix_secs: now_unix_secs_f64(),
            };
            match metrics::Endpoint::start(listener, source) {
                Ok(endpoint) => {
                    server.metrics_port = Some(endpoint.port);
                    server.metrics = Some(endpoint);
                }
                Err(message) => {
                    let _ = server.stop();
                    return Err(message);
                }
            }
        }
        for _ in 0..shard_count {
            let outcome = match ready_rx.recv() {
                Ok(outcome) => outcome,
                Err(_) => Err("a shard thread exited during start-up".to_string()),
            };
            match outcome {
                Ok(()) => {}
                Err(message) => {
                    let _ = server.stop();
                    return Err(message);
                }
            }
        }
        Ok(server)
    }

    /// Waits for the shards to finish (after `stop`, or a shard's fatal error), then stops
    /// the metrics endpoint.
    pub fn wait(self) -> Result<(), String> {
        let mut outcome = Ok(());
        for thread in self.threads {
            let result = thread
                .join()
                .map_err(|_| "a shard thread panicked".to_string())
                .and_then(|r| r);
            if outcome.is_ok() {
                outcome = result;
            }
        }
        if let Some(endpoint) = self.metrics {
            endpoint.stop();
        }
        outcome
    }

    /// Closes every connection and listener and waits for the shards to return.
    pub fn stop(self) -> Result<(), String> {
        self.control().stop();
        self.wait()
    }

    /// A handle to drain or stop the shards from another thread while one waits in `wait`.
    pub fn control(&self) -> Control {
        Control {
            wakers: self.wakers.clone(),
        }
    }
}

/// Asks a running server's shards to drain or stop, and reads their heartbeats. Every call
/// is a few atomic operations per shard; none waits.
#[derive(Clone)]
pub struct Control {
    wakers: Vec<Arc<Waker>>,
}

impl Control {
    /// Every shard stops accepting, answers the requests it has received (also those
    /// forwarded between shards), closes each connection once answered and idle ones at once.
    /// The shards keep running (serving each other) until [`Control::stop`].
    pub fn drain(&self) {
        for waker in &self.wakers {
            waker.request_drain();
        }
    }

    /// `true` once every shard has drained: no listener and no connection left anywhere.
    pub fn drained(&self) -> bool {
        self.wakers.iter().all(|waker| waker.is_drained())
    }

    /// Every shard closes what connections it has left and returns (`Server::wait` returns).
    pub fn stop(&self) {
        for waker in &self.wakers {
            waker.request_stop();
        }
    }

    /// Each shard's heartbeat: a count that advances every `shard::TICK_SECS` while the
    /// shard's loop turns.
    pub fn heartbeats(&self) -> Vec<u64> {
        self.wakers.iter().map(|waker| waker.heartbeat()).collect()
    }
}

/// Shard threads never handle SIGTERM or SIGINT: the process-wide handler runs on another
/// thread (see `crate::service`), and a shard's `io_uring_enter` is not interrupted by them.
fn block_shutdown_signals() {
    // SAFETY: `set` is a local sigset_t, initialised by sigemptyset before use;
    // pthread_sigmask changes only the calling thread's mask (the old mask is not wanted).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        assert_eq!(ret, 0, "pthread_sigmask failed");
    }
}

fn now_unix_secs_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One eventfd for each CPU that has more than one shard: the shards of such a CPU share
/// its thread, and it sleeps on that eventfd (see `group`).
fn shared_signals(
    cpus: &[usize],
    shard_count: usize,
) -> Result<Vec<(usize, std::sync::Arc<OwnedFd>)>, String> {
    let mut signals: Vec<(usize, std::sync::Arc<OwnedFd>)> = Vec::new();
    for cpu in (0..shard_count).map(|i| cpus[i % cpus.len()]) {
        let shares = (0..shard_count)
            .filter(|&i| cpus[i % cpus.len()] == cpu)
            .count()
            > 1;
        if shares && !signals.iter().any(|(c, _)| *c == cpu) {
            let signal = group::new_signal().map_err(|e| format!("eventfd: {e}"))?;
            signals.push((cpu, std::sync::Arc::new(signal)));
        }
    }
    Ok(signals)
}

/// The shards of each CPU, in shard order: one thread per CPU serves them.
fn by_cpu(parts: impl Iterator<Item = ShardParts>) -> Vec<(usize, Vec<ShardParts>)> {
    let mut groups: Vec<(usize, Vec<ShardParts>)> = Vec::new();
    for part in parts {
        match groups.iter_mut().find(|(cpu, _)| *cpu == part.cpu) {
            Some((_, group)) => group.push(part),
            None => groups.push((part.cpu, vec![part])),
        }
    }
    groups
}

/// What one shard starts from.
struct ShardParts {
    index: usize,
    cpu: usize,
    waker: Arc<Waker>,
    board: Arc<StatsBoard>,
    ends: Ends,
    listeners: Vec<OwnedFd>,
    conn_count: Arc<AtomicUsize>,
}

/// Sets up the shards of one CPU in this thread (each reports ready, or the first error),
/// then serves them: a lone shard in its own loop, several in turn (see `group`).
fn run_shards(
    group: Vec<ShardParts>,
    signal: Option<std::sync::Arc<OwnedFd>>,
    config: &ServerConfig,
    ready: mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let indexes: Vec<String> = group.iter().map(|parts| parts.index.to_string()).collect();
    let which = match indexes.len() {
        1 => format!("shard {}", indexes[0]),
        _ => format!("shards {}", indexes.join(", ")),
    };
    let mut shards = Vec::with_capacity(group.len());
    for parts in group {
        match set_up_shard(parts, config) {
            Ok(shard) => {
                shards.push(shard);
                let _ = ready.send(Ok(()));
            }
            Err(message) => {
                let _ = ready.send(Err(message.clone()));
                return Err(message);
            }
        }
    }
    let served = match (shards.as_mut_slice(), signal) {
        ([shard], None) => shard.run(),
        (shards, Some(signal)) => group::run(shards, &signal),
        (shards, None) => unreachable!("{} shards on one CPU without a signal", shards.len()),
    };
    served.map_err(|e| format!("{which}: io_uring loop failed: {e}"))
}

fn set_up_shard(parts: ShardParts, config: &ServerConfig) -> Result<Shard, String> {
    let ShardParts {
        index: shard_index,
        cpu,
        waker,
        board,
        ends,
        listeners,
        conn_count,
    } = parts;
    cpu::pin_current_thread(cpu)
        .map_err(|e| format!("cannot pin shard {shard_index} to CPU {cpu}: {e}"))?;
    let shard_count = config.shard_count as usize;
    let engine_config = EngineConfig {
        memory_limit_bytes: config.memory_limit_bytes / shard_count,
        item_size_max_bytes: config.item_size_max_bytes,
        evict_when_full: config.evict_when_full,
        cas_enabled: config.cas_enabled,
        cas_first: shard_index as u64 + 1,
        cas_step: shard_count as u64,
    };
    let store = Store::new(engine_config).map_err(|e| format!("shard {shard_index}: {e:?}"))?;
    let conn_limit = config.conn_limit as usize;
    // Room for every connection's recv, send and close plus accepts, so the completion queue
    // never overflows; the kernel wants it at least as large as the submission queue.
    let cq_entries = (4 * conn_limit + 256)
        .next_power_of_two()
        .clamp(2 * shard::SQ_ENTRIES_COUNT as usize, 1 << 16) as u32;
    let ring = shard::new_ring(cq_entries)?;
    let core = Core {
        store,
        clock: Clock::new(shard::now_unix_secs()),
        stats: ShardStats::default(),
        server: ServerInfo {
            pid: std::process::id(),
            version: crate::VERSION,
            max_connections: config.conn_limit,
            threads: config.shard_count,
            item_size_max_bytes: config.item_size_max_bytes,
            memory_limit_bytes: config.memory_limit_bytes,
        },
        settings: RuntimeSettings {
            verbosity: config.verbosity,
        },
        route: Router::new(shard_index, ends.requests_out),
        board,
    };
    let inbound = Inbound::new(
        ends.requests_in,
        ends.replies_out,
        ends.replies_in,
        conn_limit,
    );
    Shard::new(
        ring, listeners, conn_limit, core, waker, inbound, conn_count,
    )
}
