//! A worker thread: its connections, one io_uring ring, and the loop that feeds them.
//!
//! One loop turn:
//! 1. take the requests that are due from the [`Source`] and queue each on a connection to
//!    the server that owns its key ([`Router`]: round robin in open loop; in closed loop a
//!    connection with room, so a connection whose reply was just parsed gets the next request
//!    in this turn);
//! 2. on every connection marked since the last turn (a request queued, a Send done, a
//!    reply parsed) that has no Send in flight, encode the queued requests that fit in its
//!    pipeline, stamp their send time, and queue one Send; arm a multishot Recv where none is
//!    armed;
//! 3. submit everything in one `io_uring_enter`, then wait until a completion arrives or the
//!    next intended send time ([`ring::submit_and_wait`]: poll first, so a server that answers
//!    quickly never has to wake this thread, then sleep);
//! 4. reap all completions: parse replies, record latencies, resubmit partial sends
//!    (`complete.rs`).
//!
//! Nothing is allocated per request: queues and buffers are sized in [`Conn::new`] and
//! [`Worker::new`]; once a second the interval statistics are sent to the main thread (one
//! clone a second). A turn costs O(connections touched), not O(connections).

mod complete;

use std::io;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{opcode, types, IoUring};
use rand::rngs::StdRng;
use ringcache_net::runtime::recvbuf::{self, RecvBufs};

use crate::conn::{Conn, Request};
use crate::encode::{encode, KeyOwners};
use crate::ring;
use crate::route::{Route, Router};
use crate::schedule::{Next, Source};
use crate::stats::Stats;
use crate::workload::keys::KeySampler;
use crate::workload::values::ValuePattern;
use crate::workload::{OpKind, OpMix};

/// Longest sleep in the kernel, so the clock is looked at often enough (end, reports).
const WAIT_NS_MAX: u64 = 5_000_000;
/// Provided receive buffers per connection (a multishot Recv takes one per completion; when
/// none is left it ends with ENOBUFS and is armed again next turn).
const RECV_BUFS_PER_CONN: usize = 2;
/// Provided receive buffers per worker at least.
const RECV_BUFS_MIN: usize = 64;
/// Bytes per provided receive buffer: one completion carries at most this much; larger
/// replies span several.
pub const RECV_BUF_BYTES: usize = 8 * 1024;
/// The buffer group the Recvs select from (one ring per worker).
const RECV_BUF_GROUP: u16 = 0;

/// Interval statistics for second `tick` of the run, sent to the main thread.
pub struct Snapshot {
    pub tick: u64,
    pub stats: Stats,
}

pub struct WorkerConfig {
    pub start: Instant,
    pub measure_from_ns: u64,
    pub pipeline_depth: usize,
    pub backlog_max: usize,
    pub key_size_bytes: usize,
    pub validate: bool,
    pub drain_timeout: Duration,
    /// How long to poll for a completion before sleeping (see [`ring::submit_and_wait`]).
    pub poll_ns: u64,
    pub pattern: Arc<ValuePattern>,
    pub owners: KeyOwners,
    pub mix: OpMix,
    pub sampler: KeySampler,
    pub rng: StdRng,
    pub source: Source,
    pub snapshots: Option<SyncSender<Snapshot>>,
}

/// A request the schedule waits behind: open loop, its connection's backlog is full;
/// closed loop, every connection of its server is full (`conn` is `None`: it takes the
/// first that makes room).
struct Held {
    request: Request,
    conn: Option<usize>,
}

/// Connections to look at in the next turn, each listed once.
struct Marks {
    list: Vec<usize>,
    marked: Vec<bool>,
}

impl Marks {
    fn new(conn_count: usize) -> Marks {
        Marks {
            list: Vec::with_capacity(conn_count),
            marked: vec![false; conn_count],
        }
    }

    fn mark(&mut self, index: usize) {
        if !self.marked[index] {
            self.marked[index] = true;
            self.list.push(index);
        }
    }

    /// The marked connections, unmarked; hand the list back with [`Self::restore`].
    fn take(&mut self) -> Vec<usize> {
        let list = std::mem::take(&mut self.list);
        for &index in &list {
            self.marked[index] = false;
        }
        list
    }

    /// Gives back the (emptied) list taken, keeping its allocation; marks made meanwhile
    /// are kept.
    fn restore(&mut self, mut list: Vec<usize>) {
        list.clear();
        list.append(&mut self.list);
        self.list = list;
    }
}

pub struct Worker {
    cfg: WorkerConfig,
    /// Declared before `recv_bufs`: fields drop in order, so the ring (for which the kernel
    /// may still fill buffers) is gone before the buffers are freed.
    ring: IoUring,
    /// Provided buffers for multishot Recvs; `None` on kernels without them (one Recv into
    /// the connection's own buffer per reply instead).
    recv_bufs: Option<RecvBufs>,
    conns: Vec<Conn>,
    router: Router,
    /// Connections that may have requests to send, and without an armed Recv.
    to_send: Marks,
    to_arm: Marks,
    held: Option<Held>,
    total: Stats,
    interval: Stats,
    tick: u64,
    key_buf: Vec<u8>,
}

fn ud(conn: usize, is_send: bool) -> u64 {
    ((conn as u64) << 1) | u64::from(is_send)
}

impl Worker {
    pub fn new(cfg: WorkerConfig, conns: Vec<Conn>, server_count: usize) -> io::Result<Worker> {
        let ring = ring::build((conns.len() * 2 + 8).next_power_of_two() as u32)?;
        let key_buf = vec![0u8; cfg.key_size_bytes * usize::from(cfg.mix.multiget_keys())];
        let entries = (conns.len() * RECV_BUFS_PER_CONN)
            .next_power_of_two()
            .clamp(RECV_BUFS_MIN, recvbuf::ENTRIES_MAX);
        let recv_bufs = RecvBufs::new(entries, RECV_BUF_BYTES);
        // SAFETY: `recv_bufs` is stored in the worker after the ring, so it is dropped after
        // the ring (see the field order), and `finish` waits for every Recv to end.
        let recv_bufs = match unsafe { recv_bufs.register(&ring.submitter(), RECV_BUF_GROUP) } {
            Ok(()) => Some(recv_bufs),
            // Kernels before 5.19 have no buffer rings: Recv into each connection's buffer.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => None,
            Err(e) => return Err(e),
        };
        let router = Router::new(&conns, server_count);
        let mut to_arm = Marks::new(conns.len());
        for index in 0..conns.len() {
            to_arm.mark(index);
        }
        Ok(Worker {
            cfg,
            ring,
            recv_bufs,
            to_send: Marks::new(conns.len()),
            to_arm,
            conns,
            router,
            held: None,
            total: Stats::new(),
            interval: Stats::new(),
            tick: 1,
            key_buf,
        })
    }

    fn now_ns(&self) -> u64 {
        self.cfg.start.elapsed().as_nanos() as u64
    }

    /// Runs until the source is done and every reply is in (or the drain timeout passed).
    pub fn run(mut self) -> io::Result<Stats> {
        let mut drain_deadline_ns = None;
        loop {
            let now_ns = self.now_ns();
            let due_ns = self.generate(now_ns);
            self.fill_sends(now_ns);
            self.arm_recvs();
            self.report(now_ns);
            if due_ns.is_none() {
                if self.held.is_none() && self.conns.iter().all(|c| c.queue.is_empty()) {
                    break;
                }
                let deadline = *drain_deadline_ns
                    .get_or_insert(now_ns + self.cfg.drain_timeout.as_nanos() as u64);
                if now_ns >= deadline {
                    break;
                }
            }
            let wait_ns = match due_ns {
                Some(Some(due)) => due.saturating_sub(now_ns),
                _ => WAIT_NS_MAX,
            };
            let wait_ns = wait_ns.min(WAIT_NS_MAX);
            let before_ns = self.now_ns();
            ring::submit_and_wait(&mut self.ring, wait_ns, self.cfg.poll_ns)?;
            let after_ns = self.now_ns();
            // The generator's own pause: a turn's work, or a wait that overslept its timeout.
            let pause_ns = (before_ns - now_ns).max(after_ns.saturating_sub(before_ns + wait_ns));
            let pause_us = pause_ns / 1000;
            self.total.generator_pause_us_max = self.total.generator_pause_us_max.max(pause_us);
            self.interval.generator_pause_us_max =
                self.interval.generator_pause_us_max.max(pause_us);
            self.reap(after_ns);
        }
        self.finish()?;
        Ok(self.total)
    }

    /// Queues the due requests. Returns `None` when the source is done, `Some(due)` with the
    /// next intended time when known, `Some(None)` when it is due now or unknown.
    fn generate(&mut self, now_ns: u64) -> Option<Option<u64>> {
        let open = self.cfg.source.is_open();
        let depth = self.cfg.pipeline_depth;
        loop {
            let (request, held_conn, was_held) = match self.held.take() {
                Some(Held { request, conn }) => (request, conn, true),
                None => match self.cfg.source.next(now_ns, &mut self.cfg.rng) {
                    Next::Done => return None,
                    Next::NotYet { due_ns } => return Some(Some(due_ns)),
                    Next::Request { intended_ns } => {
                        let kind = self.cfg.mix.next(&mut self.cfg.rng);
                        let key = self.cfg.sampler.next(&mut self.cfg.rng);
                        (Request::new(intended_ns, kind, key), None, false)
                    }
                    Next::Prefill { key } => {
                        let kind = OpKind::Set {
                            value_len_bytes: self.cfg.mix.value_len(&mut self.cfg.rng),
                        };
                        (Request::new(now_ns, kind, key), None, false)
                    }
                },
            };
            let route = match held_conn {
                Some(conn) => Route::Conn(conn),
                None => {
                    let server = self.cfg.owners.of(request.key);
                    self.router.route(server, open, &self.conns, depth)
                }
            };
            let conn = match route {
                Route::Conn(conn) => conn,
                Route::Full => {
                    self.held = Some(Held {
                        request,
                        conn: None,
                    });
                    return Some(None);
                }
                Route::NoLiveConn => {
                    self.lost(request.intended_ns);
                    // The closed loop's source never runs dry before the end: stop for this
                    // turn, or this loop would count lost requests forever without looking
                    // at the clock again (the open schedule and the prefill move on).
                    if matches!(self.cfg.source, Source::Closed { .. }) {
                        return Some(None);
                    }
                    continue;
                }
            };
            let c = &mut self.conns[conn];
            if !c.alive {
                self.lost(request.intended_ns);
                continue;
            }
            if open && c.queue.len() >= depth + self.cfg.backlog_max {
                // Counted once per request that makes the schedule wait.
                if !was_held {
                    self.total.schedule_stalls += 1;
                    self.interval.schedule_stalls += 1;
                }
                self.held = Some(Held {
                    request,
                    conn: Some(conn),
                });
                return Some(None);
            }
            c.queue.push_back(request);
            self.to_send.mark(conn);
            if !open {
                self.router.queued(conn, &self.conns, depth);
            }
        }
    }

    /// A request whose server has no live connection: an error, never silently dropped.
    fn lost(&mut self, intended_ns: u64) {
        if intended_ns >= self.cfg.measure_from_ns {
            self.total.errors.connection += 1;
        }
        self.interval.errors.connection += 1;
    }

    /// Encodes, on each marked connection without a Send in flight, the queued requests that
    /// fit in its pipeline, and queues one Send.
    fn fill_sends(&mut self, now_ns: u64) {
        let closed = !self.cfg.source.is_open();
        let depth = self.cfg.pipeline_depth;
        let marked = self.to_send.take();
        for &index in &marked {
            let c = &mut self.conns[index];
            if !c.alive || c.send_busy || c.backlog_len() == 0 || c.inflight >= depth {
                continue; // marked again when its Send completes or a reply makes room
            }
            let capacity = c.out.capacity();
            c.out.clear();
            c.out_sent_bytes = 0;
            while c.inflight < depth && c.inflight < c.queue.len() {
                let request = &mut c.queue[c.inflight];
                request.sent_ns = now_ns;
                if closed {
                    request.intended_ns = now_ns;
                }
                let request = *request;
                c.inflight += 1;
                encode(
                    &mut c.out,
                    &request,
                    c.server_index,
                    &mut self.key_buf,
                    &mut self.cfg,
                );
            }
            assert_eq!(
                c.out.capacity(),
                capacity,
                "send buffer grew: sized wrong at start-up"
            );
            c.send_busy = true;
            let entry = opcode::Send::new(types::Fd(c.fd()), c.out.as_ptr(), c.out.len() as u32)
                .build()
                .user_data(ud(index, true));
            // SAFETY: `out` is neither touched nor moved while `send_busy` (see `finish`).
            unsafe { ring::push(&mut self.ring, &entry) };
        }
        self.to_send.restore(marked);
    }

    /// Arms a Recv on each marked live connection without one.
    fn arm_recvs(&mut self) {
        let multishot = self.recv_bufs.is_some();
        let marked = self.to_arm.take();
        for &index in &marked {
            let c = &mut self.conns[index];
            if !c.alive || c.recv_busy {
                continue;
            }
            c.recv_busy = true;
            let fd = types::Fd(c.fd());
            let entry = if multishot {
                // Stays armed, one completion per received chunk, until it ends (no MORE flag).
                opcode::RecvMulti::new(fd, RECV_BUF_GROUP).build()
            } else {
                assert!(c.in_end < c.inbuf.len(), "no room to receive");
                let free = &mut c.inbuf[c.in_end..];
                opcode::Recv::new(fd, free.as_mut_ptr(), free.len() as u32).build()
            };
            // SAFETY: the provided buffers outlive the ring (field order); `inbuf[in_end..]`
            // is neither touched nor moved while `recv_busy` (parse_replies runs only after
            // the completion; see `finish`).
            unsafe { ring::push(&mut self.ring, &entry.user_data(ud(index, false))) };
        }
        self.to_arm.restore(marked);
    }

    /// Sends the interval statistics once per second of the run.
    fn report(&mut self, now_ns: u64) {
        if now_ns < self.tick * 1_000_000_000 {
            return;
        }
        if let Some(sender) = &self.cfg.snapshots {
            // One clone a second; when the main thread lags, keep accumulating instead.
            let snapshot = Snapshot {
                tick: self.tick,
                stats: self.interval.clone(),
            };
            if sender.try_send(snapshot).is_err() {
                return;
            }
        }
        self.interval.reset();
        self.tick += 1;
    }

    /// Counts what is still unanswered and waits until the kernel holds no operation on
    /// this worker's buffers.
    fn finish(&mut self) -> io::Result<()> {
        let measure_from_ns = self.cfg.measure_from_ns;
        for c in &mut self.conns {
            let unanswered = c
                .queue
                .iter()
                .filter(|r| r.intended_ns >= measure_from_ns)
                .count();
            self.total.errors.unanswered += unanswered as u64;
            c.queue.clear();
            c.inflight = 0;
            c.alive = false;
            // SAFETY: shutdown on a descriptor this connection owns has no memory effects.
            unsafe { libc::shutdown(c.fd(), libc::SHUT_RDWR) };
        }
        if let Some(Held { request, .. }) = self.held.take() {
            self.total.errors.unanswered += u64::from(request.intended_ns >= measure_from_ns);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.conns.iter().any(|c| c.recv_busy || c.send_busy) {
            assert!(
                Instant::now() < deadline,
                "operations still in flight after shutdown"
            );
            ring::submit_and_wait(&mut self.ring, WAIT_NS_MAX, self.cfg.poll_ns)?;
            let now_ns = self.now_ns();
            self.reap(now_ns);
        }
        Ok(())
    }
}
