//! The io_uring shard runtime: start-up, the per-shard event loop and connection handling.
//!
//! A request's path: the kernel completes a `Recv` into the connection's read buffer → the
//! shard loop hands the buffered bytes to the connection's [`Session`](crate::exec::Session),
//! which parses requests and runs them against the shard's `Store` (values are copied once,
//! from the read buffer into the item's slab chunk) → replies are appended to the
//! connection's pending output → one `Send` per connection per loop turn carries them out.
//!
//! Start-up is the only place with blocking calls (socket set-up, thread spawn, pinning).

pub mod channel;
pub mod conn;
pub mod cpu;
pub mod limits;
pub mod listener;
pub mod shard;
pub(crate) mod sync;
pub mod token;

use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use ringcache_engine::{Clock, Config as EngineConfig, Store};

use crate::config::ServerConfig;
use crate::exec::{RuntimeSettings, ServerInfo};
use crate::stats::ShardStats;
use shard::{Core, Shard, Waker};

/// A started server: its shard threads are listening when `start` returns.
pub struct Server {
    threads: Vec<JoinHandle<Result<(), String>>>,
    wakers: Vec<Arc<Waker>>,
    /// The port of each listen address, as bound (useful with `-p 0`).
    pub ports: Vec<u16>,
}

impl Server {
    /// Starts every shard and returns once all of them listen, or the first set-up error.
    pub fn start(config: &ServerConfig) -> Result<Server, String> {
        limits::ensure_nofile(config.conn_limit, config.shard_count)?;
        let cpus = cpu::allowed_cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
        let shard_count = config.shard_count as usize;
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<u16>, String>>();
        let mut threads = Vec::with_capacity(shard_count);
        let mut wakers = Vec::with_capacity(shard_count);
        for shard_index in 0..shard_count {
            let cpu = cpus[shard_index % cpus.len()];
            let config = config.clone();
            let ready_tx = ready_tx.clone();
            let waker = Arc::new(Waker::new().map_err(|e| format!("eventfd: {e}"))?);
            wakers.push(Arc::clone(&waker));
            let thread = std::thread::Builder::new()
                .name(format!("ringcache-shard-{shard_index}"))
                .spawn(move || run_shard(shard_index, cpu, &config, waker, ready_tx))
                .map_err(|e| format!("cannot start shard thread {shard_index}: {e}"))?;
            threads.push(thread);
        }
        drop(ready_tx);
        let mut server = Server {
            threads,
            wakers,
            ports: Vec::new(),
        };
        for _ in 0..shard_count {
            let outcome = match ready_rx.recv() {
                Ok(outcome) => outcome,
                Err(_) => Err("a shard thread exited during start-up".to_string()),
            };
            match outcome {
                Ok(shard_ports) => server.ports = shard_ports,
                Err(message) => {
                    let _ = server.stop();
                    return Err(message);
                }
            }
        }
        Ok(server)
    }

    /// Waits for the shards to finish (after `stop`, or a shard's fatal error).
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
        outcome
    }

    /// Closes every connection and listener and waits for the shards to return.
    pub fn stop(self) -> Result<(), String> {
        for waker in &self.wakers {
            waker.request_stop();
        }
        self.wait()
    }
}

fn run_shard(
    shard_index: usize,
    cpu: usize,
    config: &ServerConfig,
    waker: Arc<Waker>,
    ready: mpsc::Sender<Result<Vec<u16>, String>>,
) -> Result<(), String> {
    let shard = match set_up_shard(shard_index, cpu, config, waker) {
        Ok(shard) => shard,
        Err(message) => {
            let _ = ready.send(Err(message.clone()));
            return Err(message);
        }
    };
    let (mut shard, ports) = shard;
    let _ = ready.send(Ok(ports));
    shard
        .run()
        .map_err(|e| format!("shard {shard_index}: io_uring loop failed: {e}"))
}

fn set_up_shard(
    shard_index: usize,
    cpu: usize,
    config: &ServerConfig,
    waker: Arc<Waker>,
) -> Result<(Shard, Vec<u16>), String> {
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
    let mut listeners = Vec::with_capacity(config.listen_addrs.len());
    let mut ports = Vec::with_capacity(config.listen_addrs.len());
    for &addr in &config.listen_addrs {
        let fd = listener::listen(addr).map_err(|e| match e.raw_os_error() {
            Some(libc::EADDRINUSE) => format!(
                "cannot listen on {addr}: the port is in use (another memcached or ringcache? \
                 stop it or choose another -p)"
            ),
            Some(libc::EADDRNOTAVAIL) => format!("cannot listen on {addr}: no such local address (check -l)"),
            Some(libc::EACCES) => format!("cannot listen on {addr}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)"),
            _ => format!("cannot listen on {addr}: {e}"),
        })?;
        ports.push(listener::local_port(&fd).map_err(|e| format!("getsockname: {e}"))?);
        listeners.push(fd);
    }
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
    };
    Ok((Shard::new(ring, listeners, conn_limit, core, waker), ports))
}
