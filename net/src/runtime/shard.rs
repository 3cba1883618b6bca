//! One shard: a pinned thread with its own store, io_uring ring, listening sockets and the
//! connections it accepted.
//!
//! The loop: submit everything queued and wait for at least one completion; copy out every
//! completion that is ready; handle each (which queues new submissions); repeat. Submissions
//! are batched into one `io_uring_enter` per turn.
//!
//! Per connection one multishot recv stays armed and at most one send is in flight (see
//! `recv.rs` for receiving and its back-pressure: a connection whose output passes the
//! high-water mark stops consuming, then stops receiving, until the output drains).
//!
//! Shutting down is either a *drain* (`Waker::request_drain`: stop accepting, answer what was
//! received, then close; see `drain.rs`) or a *stop* (`Waker::request_stop`: close every
//! connection now and return from `run`).

mod drain;
mod recv;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use self::recv::{arm_recv, limit_input};
use super::recvbuf::RecvBufs;
use ringcache_engine::{Clock, Store};

use super::channel::Parker;
use super::conn::{Conn, ConnTable, Phase};
use super::remote::Inbound;
use super::sync::Arc;
use super::token::{Op, Token};
use crate::exec::{RuntimeSettings, ServerInfo, ShardCtx, Step};
use crate::route::board::{Snapshot, StatsBoard};
use crate::route::{kind, ConnId, Router, FLAG_DONE};
use crate::stats::ShardStats;

/// Submission queue entries; more pushes in one turn trigger an early submit.
pub const SQ_ENTRIES_COUNT: u32 = 1024;
/// How often the timer wakes the loop even when idle.
pub const TICK_SECS: u64 = 1;
/// Chunks the expiry crawler visits per tick: at 645k items per 64 MiB shard, a full pass
/// every ~10 s. In one go that is ~2 ms of work (`cargo bench -p ringcache-engine --bench
/// store -- maintain`), a pause every request arriving meanwhile would wait out, so it is done
/// in slices of [`MAINTAIN_ITEMS_PER_TURN`], one per loop turn.
pub const MAINTAIN_ITEMS_PER_TICK: usize = 65_536;
/// Chunks the crawler visits in one loop turn: about 60 µs.
pub const MAINTAIN_ITEMS_PER_TURN: usize = 2_048;
/// The reply memcached sends to a connection over the limit before closing it.
pub const TOO_MANY_CONNECTIONS_REPLY: &[u8] = b"ERROR Too many open connections\r\n";

/// Everything a shard's commands run against; separate from the connection table so both can
/// be borrowed at once.
pub struct Core {
    pub store: Store,
    pub clock: Clock,
    pub stats: ShardStats,
    pub server: ServerInfo,
    pub settings: RuntimeSettings,
    pub route: Router,
    pub board: Arc<StatsBoard>,
}

impl Core {
    pub fn ctx(&mut self, conn: ConnId) -> ShardCtx<'_> {
        ShardCtx {
            store: &mut self.store,
            clock: &self.clock,
            stats: &mut self.stats,
            server: &self.server,
            settings: &mut self.settings,
            route: &mut self.route,
            board: &self.board,
            conn,
        }
    }

    /// Leaves a copy of this shard's counters on the board for another shard's `stats`.
    pub fn publish_stats(&mut self) {
        let snapshot = Snapshot::live(&self.stats, &self.store, &self.clock);
        self.board.publish(self.route.local(), &snapshot);
    }

    /// Leaves a copy of this shard's counters for the metrics endpoint, if it is not reading
    /// the last one right now (then the next turn or tick tries again). Never waits.
    pub fn publish_metrics(&mut self) {
        let local = self.route.local();
        self.board
            .try_publish_metrics(local, &self.stats, &self.store);
    }

    /// The metrics endpoint asked for a copy this shard has not left yet.
    fn metrics_wanted(&self) -> bool {
        self.board.metrics_wanted(self.route.local())
    }
}

pub struct Shard {
    ring: IoUring,
    /// Declared after `ring`: fields drop in order, and the kernel may write into these
    /// buffers for as long as the ring lives.
    recv_bufs: RecvBufs,
    listeners: Vec<OwnedFd>,
    accept_armed: Vec<bool>,
    conns: ConnTable,
    core: Core,
    completions: Vec<(u64, i32, u32)>,
    /// The timer's timespec; boxed so its address stays put while a Timeout is in flight.
    tick: Box<types::Timespec>,
    /// Another thread writes this eventfd to wake the shard; a Read is kept armed on it.
    wake: Arc<Waker>,
    /// Where the armed Read puts the eventfd's counter; boxed for a stable address.
    wake_buf: Box<u64>,
    stopping: bool,
    /// Draining: listeners shut, reading shut down on every connection (see `drain.rs`).
    draining: bool,
    /// Every connection closed while draining, and the `Waker` says so.
    drain_reported: bool,
    /// Requests and replies from the other shards.
    inbound: Inbound,
    /// Connections that got reply bytes this turn (each listed once: `Conn::listed`).
    replied: Vec<(u32, u32)>,
    /// Connections stopped by a full channel to another shard.
    blocked: Vec<(u32, u32)>,
    /// Chunks the expiry crawler still has to visit this tick (see [`MAINTAIN_ITEMS_PER_TURN`]).
    crawl_owed_count: usize,
    /// Open connections on all shards, and their limit (`-c`).
    conn_count: Arc<AtomicUsize>,
    conn_limit: usize,
}

/// Wakes a shard from another thread: for a cross-core message (through its [`Parker`], whose
/// eventfd the shard keeps a Read armed on), to drain or to stop it. Also carries the shard's
/// heartbeat out to the watchdog.
pub struct Waker {
    pub parker: Arc<Parker>,
    stop: AtomicBool,
    drain: AtomicBool,
    /// Set by the shard once draining has closed its last connection.
    drained: AtomicBool,
    /// Timer ticks the shard has handled: advances every [`TICK_SECS`] while its loop turns.
    /// Written only by the shard (one relaxed store per tick), read by the watchdog.
    heartbeat: AtomicU64,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        Ok(Waker::with_parker(Parker::new()?))
    }

    /// A waker whose parker signals `fd`, shared by the shards one thread drives (see
    /// `group`).
    pub fn sharing(fd: std::sync::Arc<OwnedFd>) -> Waker {
        Waker::with_parker(Parker::sharing(fd))
    }

    fn with_parker(parker: Parker) -> Waker {
        Waker {
            parker: Arc::new(parker),
            stop: AtomicBool::new(false),
            drain: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            heartbeat: AtomicU64::new(0),
        }
    }

    /// Asks the shard to close its connections and return from `run`.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.parker.unpark();
    }

    /// Asks the shard to stop accepting, answer the requests it has received and close each
    /// connection once answered; it goes on serving the other shards until `request_stop`.
    pub fn request_drain(&self) {
        self.drain.store(true, Ordering::SeqCst);
        self.parker.unpark();
    }

    /// The shard has drained: no listener, no connection left.
    pub fn is_drained(&self) -> bool {
        self.drained.load(Ordering::SeqCst)
    }

    /// Timer ticks the shard has handled: its heartbeat, for the watchdog.
    pub fn heartbeat(&self) -> u64 {
        self.heartbeat.load(Ordering::Relaxed)
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn set_drained(&self) {
        self.drained.store(true, Ordering::SeqCst);
    }

    fn drain_requested(&self) -> bool {
        self.drain.load(Ordering::SeqCst)
    }

    /// The shard's side of the heartbeat: it is the only writer, so load-then-store is exact.
    fn beat(&self) {
        let beats = self.heartbeat.load(Ordering::Relaxed);
        self.heartbeat
            .store(beats.wrapping_add(1), Ordering::Relaxed);
    }
}

/// Creates the ring, explaining the usual reasons it cannot be had.
pub fn new_ring(cq_entries_count: u32) -> Result<IoUring, String> {
    let tuned = IoUring::builder()
        .setup_cqsize(cq_entries_count)
        .setup_single_issuer()
        .setup_coop_taskrun()
        // Lets a turn that does not wait still reap deferred completions: the kernel flags
        // pending task work and the submit then enters with GETEVENTS.
        .setup_taskrun_flag()
        .setup_defer_taskrun()
        .build(SQ_ENTRIES_COUNT);
    let result = match tuned {
        Ok(ring) => Ok(ring),
        // Kernels before 6.1 lack DEFER_TASKRUN/SINGLE_ISSUER: fall back to a plain ring.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::builder()
            .setup_cqsize(cq_entries_count)
            .build(SQ_ENTRIES_COUNT),
        Err(e) => Err(e),
    };
    result.map_err(|e| super::ring_setup::explain(&e, cq_entries_count))
}

/// Queues `entry`, submitting first if the submission queue is full.
fn push(ring: &mut IoUring, entry: &squeue::Entry) {
    loop {
        // SAFETY: every buffer an entry points to stays valid and unmoved until its completion
        // is reaped: receives write only into the provided buffers, which the shard drops
        // after its ring; `sending` is not touched while a send is in flight (see conn.rs);
        // the timer's timespec and the wake counter are boxed in the shard, which outlives
        // the ring's use.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return;
        }
        match ring.submit() {
            Ok(_) => {}
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    || e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => panic!("io_uring submit failed: {e}"),
        }
    }
}

impl Shard {
    pub fn new(
        ring: IoUring,
        listeners: Vec<OwnedFd>,
        conn_limit: usize,
        core: Core,
        wake: Arc<Waker>,
        inbound: Inbound,
        conn_count: Arc<AtomicUsize>,
    ) -> Result<Shard, String> {
        let cq_entries = ring.params().cq_entries() as usize;
        let listener_count = listeners.len();
        // SAFETY: the buffers are stored in the shard after the ring, so they outlive it.
        let recv_bufs = unsafe { recv::register_recv_bufs(&ring) }?;
        Ok(Shard {
            ring,
            recv_bufs,
            listeners,
            accept_armed: vec![false; listener_count],
            conns: ConnTable::new(conn_limit),
            core,
            completions: Vec::with_capacity(cq_entries),
            tick: Box::new(types::Timespec::new().sec(TICK_SECS)),
            wake,
            wake_buf: Box::new(0),
            stopping: false,
            draining: false,
            drain_reported: false,
            inbound,
            replied: Vec::with_capacity(conn_limit),
            blocked: Vec::with_capacity(conn_limit),
            crawl_owed_count: 0,
            conn_count,
            conn_limit,
        })
    }

    /// Serves until a stop is requested, then closes every connection and returns.
    pub fn run(&mut self) -> io::Result<()> {
        self.start();
        while !self.finished() {
            let wait_count = if self.may_sleep() { 1 } else { 0 };
            self.turn(wait_count)?;
        }
        Ok(())
    }

    /// Arms what the shard always has in flight: its accepts, its timer, its wake-up Read.
    pub fn start(&mut self) {
        self.start_in_group();
        self.arm_wake();
    }

    /// [`Shard::start`] without the wake-up Read: a shard driven with others by one thread
    /// shares that thread's eventfd, which the thread waits on itself (see `group`), and
    /// looks for stop and drain requests at every turn.
    pub fn start_in_group(&mut self) {
        for index in 0..self.listeners.len() {
            self.arm_accept(index);
        }
        self.arm_timer();
    }

    /// Has the ring signal `fd` (an eventfd) whenever a completion becomes ready, also one
    /// deferred to the next `io_uring_enter`: how one thread waits on several shards' rings.
    pub fn signal_completions_to(&self, fd: RawFd) -> io::Result<()> {
        self.ring.submitter().register_eventfd(fd)
    }

    /// Submits what is queued without waiting (running deferred completions on the way), and
    /// says whether any completion is now ready to be handled.
    pub fn submit_pending(&mut self) -> io::Result<bool> {
        match self.ring.submit() {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        Ok(!self.ring.completion().is_empty())
    }

    /// Takes back an announced sleep ([`Shard::may_sleep`]) without a turn.
    pub fn awake(&self) {
        self.wake.parker.unpark_self();
    }

    /// Stopped, and every connection closed: the loop is over.
    pub fn finished(&self) -> bool {
        self.stopping && self.conns.live_count() == 0
    }

    /// One loop turn: submit what the last turn queued, wait for `wait_count` completions
    /// (0 or 1; 1 only after [`Shard::may_sleep`] said yes), then handle everything ready.
    pub fn turn(&mut self, wait_count: usize) -> io::Result<()> {
        let submitted = self.ring.submit_and_wait(wait_count);
        self.wake.parker.unpark_self();
        match submitted {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => {}
            Err(e) => return Err(e),
        }
        if self.wake.stop_requested() {
            self.begin_stop();
        } else if !self.draining && self.wake.drain_requested() {
            self.begin_drain();
        }
        self.core.clock.set_now_unix(now_unix_secs());
        // Messages first: what another shard sent before this turn (a flush_all, say)
        // was sent before the socket data now waiting, so it takes effect first.
        self.serve_other_shards();
        self.completions.clear();
        self.completions.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        self.prefetch_received_keys();
        for i in 0..self.completions.len() {
            let (user_data, result, flags) = self.completions[i];
            self.on_completion(Token::decode(user_data), result, flags);
        }
        self.serve_other_shards();
        self.publish_recv_bufs();
        self.crawl_a_slice();
        if self.core.metrics_wanted() {
            self.core.publish_metrics();
        }
        if self.draining {
            self.report_if_drained();
        }
        Ok(())
    }

    /// The sleep half of the wake-up protocol (see `channel`): announce the sleep, then look
    /// once more for work another shard may have handed over meanwhile. The next
    /// [`Shard::turn`] takes the announcement back.
    pub fn may_sleep(&mut self) -> bool {
        if self.has_cross_core_work() || self.crawl_owed_count > 0 {
            return false;
        }
        self.wake.parker.prepare_park();
        // The metrics endpoint, like a stop or drain request, sets its flag, then unparks:
        // one of the two sees the other.
        let asked = (self.wake.stop_requested() && !self.stopping)
            || (self.wake.drain_requested() && !self.draining)
            || self.core.metrics_wanted();
        if self.has_cross_core_work() || asked {
            self.wake.parker.unpark_self();
            return false;
        }
        true
    }

    fn has_cross_core_work(&self) -> bool {
        if self.inbound.shard_count() == 1 {
            return false;
        }
        self.inbound.has_work()
            || self
                .blocked
                .iter()
                .any(|&(slot, generation)| self.unblocked(slot, generation))
    }

    /// A connection stopped by a full channel whose channel now has room (or which is gone).
    fn unblocked(&self, slot: u32, generation: u32) -> bool {
        match self.conns.get(slot, generation) {
            Some(conn) => conn
                .session
                .blocked_on()
                .is_none_or(|owner| self.core.route.has_space(owner)),
            None => true,
        }
    }

    /// Replies from the other shards, their requests, then the connections that can go on.
    fn serve_other_shards(&mut self) {
        if self.inbound.shard_count() == 1 {
            return;
        }
        for src in 0..self.inbound.shard_count() {
            self.take_replies(src);
            self.inbound.serve(src, &mut self.core);
        }
        for i in 0..self.replied.len() {
            let (slot, generation) = self.replied[i];
            self.after_reply(slot, generation);
        }
        self.replied.clear();
        let mut i = 0;
        while i < self.blocked.len() {
            let (slot, generation) = self.blocked[i];
            if self.unblocked(slot, generation) {
                self.blocked.swap_remove(i);
                if let Some(conn) = self.conns.get_mut(slot, generation) {
                    conn.listed_blocked = false;
                    if conn.last_step == Step::Blocked && conn.phase == Phase::Open {
                        self.drive(slot, generation);
                    }
                }
            } else {
                i += 1;
            }
        }
        self.core.route.notify();
        self.inbound.notify();
    }

    /// Every reply waiting from shard `owner` goes into its connection's output.
    fn take_replies(&mut self, owner: usize) {
        let Some(replies) = self.inbound.replies_in[owner].as_mut() else {
            return;
        };
        while let Some((header, payload)) = replies.peek() {
            assert_eq!(header.kind, kind::REPLY, "request on a reply channel");
            let done = header.flags & FLAG_DONE != 0;
            let conn_id = ConnId {
                slot: header.conn_slot,
                generation: header.conn_generation,
            };
            // A reply for a connection that has closed since is dropped.
            if let Some(conn) = self.conns.get_mut(conn_id.slot, conn_id.generation) {
                let mut ctx = self.core.ctx(conn_id);
                let expected =
                    conn.session
                        .deliver(owner, payload, done, &mut conn.pending, &mut ctx);
                assert!(
                    expected,
                    "reply from shard {owner} that no request waits for"
                );
                if !conn.listed_replied {
                    conn.listed_replied = true;
                    self.replied.push((conn_id.slot, conn_id.generation));
                }
            }
            replies.pop();
        }
    }

    /// A connection got replies: send what became sendable, and go on where it stopped.
    fn after_reply(&mut self, slot: u32, generation: u32) {
        let Some(conn) = self.conns.get_mut(slot, generation) else {
            return;
        };
        conn.listed_replied = false;
        if conn.phase == Phase::Closing {
            return;
        }
        flush(&mut self.ring, conn, slot);
        match conn.last_step {
            Step::Blocked if !conn.listed_blocked => self.drive(slot, generation),
            Step::Close if conn.output_drained() => self.begin_close(slot, generation),
            _ => {}
        }
    }

    fn on_completion(&mut self, token: Token, result: i32, flags: u32) {
        match token.op {
            Op::Accept => self.on_accept(token.index as usize, result, flags),
            Op::Recv => self.on_recv(token, result, flags),
            Op::Send => self.on_send(token, result),
            Op::Timer => self.on_timer(),
            Op::Close | Op::Cancel => {}
            Op::Wake => self.on_wake(),
        }
    }

    fn arm_wake(&mut self) {
        let entry = opcode::Read::new(
            types::Fd(self.wake.parker.fd()),
            (&mut *self.wake_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(Token::new(Op::Wake, 0, 0).encode());
        push(&mut self.ring, &entry);
    }

    fn on_wake(&mut self) {
        if self.wake.stop_requested() {
            self.begin_stop();
        } else {
            if !self.draining && self.wake.drain_requested() {
                self.begin_drain();
            }
            // Still needed while draining: the other shards' messages, and the final stop.
            self.arm_wake();
        }
    }

    /// Stops accepting and closes every connection; `run` returns once all are closed.
    fn begin_stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        for slot in self.conns.live_slots() {
            let generation = self.conns.generation_of(slot);
            self.begin_close(slot, generation);
        }
    }

    fn arm_accept(&mut self, index: usize) {
        let fd = types::Fd(self.listeners[index].as_raw_fd());
        let entry = opcode::AcceptMulti::new(fd)
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(Token::new(Op::Accept, 0, index as u32).encode());
        push(&mut self.ring, &entry);
        self.accept_armed[index] = true;
    }

    fn arm_timer(&mut self) {
        let entry = opcode::Timeout::new(&*self.tick as *const types::Timespec)
            .build()
            .user_data(Token::new(Op::Timer, 0, 0).encode());
        push(&mut self.ring, &entry);
    }

    /// One turn's share of the tick's expiry crawl; the crawl ends early once it has gone
    /// round every page.
    fn crawl_a_slice(&mut self) {
        if self.crawl_owed_count == 0 {
            return;
        }
        let slice = self.crawl_owed_count.min(MAINTAIN_ITEMS_PER_TURN);
        let visited = self.core.store.crawl_expired(&self.core.clock, slice);
        self.crawl_owed_count = if visited < slice {
            0
        } else {
            self.crawl_owed_count - slice
        };
    }

    fn on_timer(&mut self) {
        self.arm_timer();
        self.wake.beat();
        self.core.store.rebalance(&self.core.clock);
        self.crawl_owed_count = MAINTAIN_ITEMS_PER_TICK;
        self.core.publish_metrics();
        // Accepts that stopped on an error (e.g. EMFILE) are retried once per tick, not spun.
        for index in 0..self.listeners.len() {
            if !self.accept_armed[index] && self.accepting() {
                self.arm_accept(index);
            }
        }
    }

    fn on_accept(&mut self, index: usize, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        if !more {
            self.accept_armed[index] = false;
            let retry = result >= 0 || result == -libc::EINTR || result == -libc::ECONNABORTED;
            if retry && self.accepting() {
                self.arm_accept(index);
            }
        }
        if result < 0 {
            // A drain shuts the listeners down, which ends their accepts with an error.
            if self.core.settings.verbosity > 0 && self.accepting() {
                eprintln!("accept failed: {}", io::Error::from_raw_os_error(-result));
            }
            return;
        }
        let fd = result;
        if self.stopping || self.drain_reported {
            // SAFETY: `fd` was just accepted and is owned by nobody else.
            unsafe { libc::close(fd) };
            return;
        }
        // `-c` limits the whole server, as memcached's: one counter shared by the shards,
        // touched only when a connection opens or closes (never per request).
        let over_limit = self.conn_count.fetch_add(1, Ordering::Relaxed) >= self.conn_limit;
        let opened = if over_limit {
            None
        } else {
            self.conns.open(fd)
        };
        let Some(slot) = opened else {
            self.conn_count.fetch_sub(1, Ordering::Relaxed);
            reject(fd);
            self.core.stats.rejected_connections += 1;
            return;
        };
        self.core.stats.curr_connections += 1;
        self.core.stats.total_connections += 1;
        let generation = self.conns.generation_of(slot);
        let conn = self.conns.get_mut(slot, generation).expect("just opened");
        if self.draining {
            // Accepted before the listener was shut: served like the others (see `drain.rs`).
            drain::shut_reading(conn);
        }
        arm_recv(&mut self.ring, conn, slot);
    }

    fn on_send(&mut self, token: Token, result: i32) {
        let Some(conn) = self.conns.get_mut(token.index, token.generation) else {
            panic!("send completion for a released slot {}", token.index);
        };
        conn.send_in_flight = false;
        if conn.phase == Phase::Closing {
            self.finish_close_if_idle(token.index, token.generation);
            return;
        }
        if result < 0 && result != -libc::EINTR {
            self.begin_close(token.index, token.generation);
            return;
        }
        let sent = result.max(0) as usize;
        conn.sent += sent;
        self.core.stats.bytes_written += sent as u64;
        match conn.last_step {
            Step::OutputFull => self.drive(token.index, token.generation),
            _ => {
                flush(&mut self.ring, conn, token.index);
                if conn.last_step == Step::Close && conn.output_drained() {
                    self.begin_close(token.index, token.generation);
                }
            }
        }
    }

    /// Runs the session over the buffered input, then sends and/or reads as it asks.
    fn drive(&mut self, slot: u32, generation: u32) {
        let conn = self
            .conns
            .get_mut(slot, generation)
            .expect("driving a live connection");
        let mut ctx = self.core.ctx(ConnId { slot, generation });
        let input = &conn.read_buf[conn.start..conn.end];
        ctx.stats.service.begin_batch();
        let (consumed, step) = conn.session.process(input, &mut conn.pending, &mut ctx);
        ctx.stats.service.end_batch();
        conn.consume(consumed);
        conn.last_step = step;
        flush(&mut self.ring, conn, slot);
        if step != Step::NeedInput {
            // The session has stopped consuming: stop receiving once its input is full.
            limit_input(&mut self.ring, conn, slot);
        }
        match step {
            Step::NeedInput => {
                // The session consumes or closes before its input reaches the limit.
                assert!(
                    !conn.input_full(),
                    "session left {} bytes unconsumed at the input limit",
                    conn.input().len()
                );
                if conn.input_ended {
                    self.input_consumed(slot, generation);
                } else {
                    arm_recv(&mut self.ring, conn, slot);
                }
            }
            Step::OutputFull => {}
            Step::Blocked => {
                // Full channel: re-run once it has room. Too many requests out: re-run when
                // a reply arrives (`after_reply`).
                if conn.session.blocked_on().is_some() && !conn.listed_blocked {
                    conn.listed_blocked = true;
                    self.blocked.push((slot, generation));
                }
            }
            Step::Close => {
                if conn.output_drained() {
                    self.begin_close(slot, generation);
                }
            }
        }
    }

    /// Starts closing: shuts the socket down so in-flight operations complete, then closes once
    /// none is left.
    fn begin_close(&mut self, slot: u32, generation: u32) {
        let conn = self
            .conns
            .get_mut(slot, generation)
            .expect("closing a live connection");
        if conn.phase == Phase::Closing {
            return;
        }
        conn.phase = Phase::Closing;
        if conn.recv_in_flight || conn.send_in_flight {
            // SAFETY: plain shutdown(2) on a socket this connection owns; it does not block and
            // makes the in-flight recv/send complete.
            unsafe { libc::shutdown(conn.fd, libc::SHUT_RDWR) };
        }
        self.finish_close_if_idle(slot, generation);
    }

    fn finish_close_if_idle(&mut self, slot: u32, generation: u32) {
        let conn = self
            .conns
            .get_mut(slot, generation)
            .expect("closing a live connection");
        if conn.recv_in_flight || conn.send_in_flight {
            return;
        }
        let fd = conn.fd;
        let conn_id = ConnId { slot, generation };
        if let Some(owner) = conn.session.forwarding_to() {
            // Best effort: if the channel is full, the owner's proxy lets go of the value
            // when the slot's next connection sends it something.
            let _ = self.core.route.send(owner, kind::CLOSED, conn_id, &[]);
        }
        conn.session.on_close(&mut self.core.ctx(conn_id));
        let entry = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(Token::new(Op::Close, 0, slot).encode());
        push(&mut self.ring, &entry);
        self.conns.release(slot);
        self.conn_count.fetch_sub(1, Ordering::Relaxed);
        self.core.stats.curr_connections -= 1;
    }
}

/// Sends whatever output is ready if no send is in flight.
fn flush(ring: &mut IoUring, conn: &mut Conn, slot: u32) {
    if !conn.stage_output() {
        return;
    }
    let unsent = &conn.sending[conn.sent..];
    let len = unsent.len().min(u32::MAX as usize) as u32;
    let entry = opcode::Send::new(types::Fd(conn.fd), unsent.as_ptr(), len)
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(Token::new(Op::Send, conn.generation, slot).encode());
    push(ring, &entry);
    conn.send_in_flight = true;
}

/// Turns away a connection over the limit the way memcached does.
fn reject(fd: i32) {
    // SAFETY: `fd` is a socket we just accepted and own; the reply is a static buffer. A short
    // or failed send is fine: the client is being turned away either way.
    unsafe {
        libc::send(
            fd,
            TOO_MANY_CONNECTIONS_REPLY.as_ptr().cast(),
            TOO_MANY_CONNECTIONS_REPLY.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        );
        libc::close(fd);
    }
}

pub fn now_unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
