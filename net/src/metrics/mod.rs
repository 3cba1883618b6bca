//! The Prometheus endpoint (`--metrics-port`): `GET /metrics` over HTTP/1.1 from a thread of
//! its own, never a shard.
//!
//! Goals: a scrape shows every shard's counters as of the scrape (each shard is asked for a
//! fresh copy and woken if it sleeps); serving it never makes a shard wait (see
//! `route::board`: shards only `try_lock` their slot). Non-goals: keep-alive, TLS, anything
//! but `/metrics`.
//!
//! ```text
//!  accept thread ──(≤ CONNECTIONS_MAX)──> one thread per connection:
//!    read the request head (≤ REQUEST_HEAD_MAX_BYTES, within IO_TIMEOUT)
//!    board.request_metrics(); unpark every shard; wait ≤ FRESH_WAIT_MAX for their copies
//!    encode (prometheus-client) ─> respond ─> close
//! ```
//!
//! A shard that has not answered within [`FRESH_WAIT_MAX`] (busy with a long batch) is
//! served from its last copy, at most one timer tick old while it runs;
//! `ringcache_counters_age_seconds` shows how old each shard's copy is.
//!
//! Stopping: the accept thread waits in `poll(2)` on its listener and on one end of a socket
//! pair whose other end [`Endpoint::stop`] writes (or drops); connection threads' sockets are
//! shut down, so their blocking reads and writes return at once.

mod exposition;
mod http;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc as StdArc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::route::board::StatsBoard;
use crate::runtime::shard::Waker;
use crate::runtime::sync::Arc;

pub use exposition::{encode, Format, Scrape};

/// Connections served at once; more are answered `503` and closed.
pub const CONNECTIONS_MAX: usize = 4;
/// Longest request head read (request line and headers).
pub const REQUEST_HEAD_MAX_BYTES: usize = 8 * 1024;
/// Time a client has to send its request head, and to take the response.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for the shards' fresh copies before serving what is there.
pub const FRESH_WAIT_MAX: Duration = Duration::from_millis(100);
/// How often the waiting scrape looks at the board.
const FRESH_POLL_INTERVAL: Duration = Duration::from_millis(1);

/// What a scrape reads: the board, and the shards to wake.
pub struct Source {
    pub board: Arc<StatsBoard>,
    pub wakers: Vec<Arc<Waker>>,
    /// Process start, Unix seconds (`ringcache_start_time_seconds`).
    pub start_time_unix_secs: f64,
}

impl Source {
    /// Asks every shard for a fresh copy, waits at most [`FRESH_WAIT_MAX`], and takes what
    /// there is.
    pub fn scrape(&self) -> Scrape {
        let seq = self.board.request_metrics();
        for waker in &self.wakers {
            waker.parker.unpark();
        }
        let deadline = Instant::now() + FRESH_WAIT_MAX;
        while !self.board.metrics_answered(seq) && Instant::now() < deadline {
            std::thread::sleep(FRESH_POLL_INTERVAL);
        }
        Scrape {
            shards: (0..self.board.shard_count())
                .map(|shard| self.board.read_metrics(shard))
                .collect(),
            taken: Instant::now(),
            start_time_unix_secs: self.start_time_unix_secs,
            resident_memory_bytes: exposition::resident_memory_bytes(),
        }
    }
}

/// A running endpoint.
pub struct Endpoint {
    /// The port as bound (useful with `--metrics-port 0`).
    pub port: u16,
    stop: UnixStream,
    thread: JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr`; the caller then [`Endpoint::start`]s it. Errors name the fix.
    pub fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
        TcpListener::bind(addr).map_err(|e| match e.kind() {
            io::ErrorKind::AddrInUse => format!(
                "--metrics-port {}: {addr} is in use by another process: choose another port",
                addr.port()
            ),
            _ => format!(
                "--metrics-port {}: cannot listen on {addr}: {e}",
                addr.port()
            ),
        })
    }

    /// Serves `GET /metrics` on `listener` from a new thread.
    pub fn start(listener: TcpListener, source: Source) -> Result<Endpoint, String> {
        let port = listener
            .local_addr()
            .map_err(|e| format!("metrics listener: {e}"))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("metrics listener: {e}"))?;
        let (stop, stop_rx) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let source = StdArc::new(source);
        let thread = std::thread::Builder::new()
            .name("ringcache-metrics".into())
            .spawn(move || accept_loop(listener, stop_rx, source))
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        Ok(Endpoint { port, stop, thread })
    }

    /// Stops accepting, cuts off connections in progress and waits for the threads.
    pub fn stop(mut self) {
        // A write, or the drop below: either wakes the poll.
        let _ = self.stop.write_all(&[1]);
        drop(self.stop);
        let _ = self.thread.join();
    }
}

/// A connection being served: its thread, and a handle to cut it off.
struct Worker {
    thread: JoinHandle<()>,
    stream: TcpStream,
}

fn accept_loop(listener: TcpListener, stop: UnixStream, source: StdArc<Source>) {
    let mut workers: Vec<Worker> = Vec::with_capacity(CONNECTIONS_MAX);
    while wait_readable(&listener, &stop) {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        workers.retain(|w| !w.thread.is_finished());
        if workers.len() >= CONNECTIONS_MAX {
            http::refuse_busy(stream);
            continue;
        }
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let source = StdArc::clone(&source);
        let spawned = std::thread::Builder::new()
            .name("ringcache-metrics-conn".into())
            .spawn(move || http::serve(stream, &source));
        if let Ok(thread) = spawned {
            workers.push(Worker {
                thread,
                stream: handle,
            });
        }
    }
    for worker in workers {
        let _ = worker.stream.shutdown(std::net::Shutdown::Both);
        let _ = worker.thread.join();
    }
}

/// Waits until `listener` has a connection (`true`) or `stop` is readable or closed (`false`).
fn wait_readable(listener: &TcpListener, stop: &UnixStream) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a live array of two initialised pollfds and its length is passed.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if fds[1].revents != 0 {
            return false;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            return true;
        }
        if fds[0].revents != 0 {
            return false;
        }
    }
}
