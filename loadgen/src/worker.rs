//! A worker thread: its connections, one io_uring ring, and the loop that feeds them.
//!
//! One loop turn:
//! 1. take the requests that are due from the [`Source`] and queue each on a connection to
//!    the server that owns its key (round robin among those connections);
//! 2. encode, on every connection without a Send in flight, the queued requests that fit in
//!    its pipeline, stamp their send time, and queue one Send; arm a Recv where none is armed;
//! 3. submit everything in one `io_uring_enter`, then wait until a completion arrives or the
//!    next intended send time: polling the ring first (up to [`POLL_NS_MAX`], so a server
//!    that answers quickly never has to wake this thread), then sleeping in `io_uring_enter`
//!    until [`SPIN_NS`] before the intended time, then polling again;
//! 4. reap all completions: parse replies, record latencies, resubmit partial sends.
//!
//! Nothing is allocated per request: queues and buffers are sized in [`Conn::new`], once a
//! second the interval statistics are sent to the main thread (one clone a second).

use std::io;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, types, IoUring};
use rand::rngs::StdRng;

use crate::conn::{Conn, Request, Window};
use crate::encode::{encode, KeyOwners};
use crate::recvbuf::{self, RecvBufs};
use crate::schedule::{Next, Source};
use crate::stats::Stats;
use crate::workload::keys::KeySampler;
use crate::workload::values::ValuePattern;
use crate::workload::{OpKind, OpMix};

/// How long the loop polls for a completion before it sleeps in the kernel. A reply that
/// arrives while the loop sleeps must wake it, and that wake-up (an IPI to this core, a VM
/// exit under a hypervisor) is paid on the core of the server that sent the reply: against a
/// busy server, a sleeping generator makes each op dearer for the server it measures. Polling
/// catches replies that follow each other closely (microseconds apart under load) without
/// sleeping; an idle or stalled server still lets the loop sleep after this long. A wait
/// shorter than this (the next intended send time) is polled through entirely.
const POLL_NS_MAX: u64 = 100_000;
/// A sleep until an intended send time ends this long before it and the rest is polled: the
/// kernel's wake-up is late by a few microseconds.
const SPIN_NS: u64 = 20_000;
/// Longest sleep in the kernel, so the clock is looked at often enough (end, reports).
const WAIT_NS_MAX: u64 = 5_000_000;
/// Provided receive buffers per connection (a multishot Recv takes one per completion; when
/// none is left it ends with ENOBUFS and is armed again next turn).
const RECV_BUFS_PER_CONN: usize = 2;
/// Provided receive buffers per worker at least.
const RECV_BUFS_MIN: usize = 64;
/// Completions reaped per loop turn at most (the ring's CQ holds two per connection).
const COMPLETIONS_PER_TURN_MAX: usize = 4096;

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
    pub pattern: Arc<ValuePattern>,
    pub owners: KeyOwners,
    pub mix: OpMix,
    pub sampler: KeySampler,
    pub rng: StdRng,
    pub source: Source,
    pub snapshots: Option<SyncSender<Snapshot>>,
}

pub struct Worker {
    cfg: WorkerConfig,
    /// Declared before `recv_bufs`: fields drop in order, so the ring (which the kernel may
    /// still read buffers for) is gone before the buffers are freed.
    ring: IoUring,
    /// Provided buffers for multishot Recvs; `None` on kernels without them (one Recv into
    /// the connection's own buffer per reply instead).
    recv_bufs: Option<RecvBufs>,
    conns: Vec<Conn>,
    /// Indexes into `conns` per server, and the next one to use.
    conns_of_server: Vec<Vec<usize>>,
    round_robin: Vec<usize>,
    /// A request waiting for room on its connection (the schedule waits behind it).
    held: Option<(Request, usize)>,
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
        let entries = (conns.len() * 2 + 8).next_power_of_two() as u32;
        // One thread submits and reaps: completions' task work runs only when the loop asks
        // for events (DEFER_TASKRUN), and TASKRUN_FLAG tells the loop when there is some.
        // Older kernels refuse the flags with EINVAL: fall back to a plain ring.
        let ring = match IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .build(entries)
        {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries),
            other => other,
        }
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring_setup failed ({e}): is io_uring disabled? sysctl kernel.io_uring_disabled=0"),
            )
        })?;
        let mut conns_of_server = vec![Vec::new(); server_count];
        for (index, conn) in conns.iter().enumerate() {
            conns_of_server[conn.server_index].push(index);
        }
        let key_buf = vec![0u8; cfg.key_size_bytes * usize::from(cfg.mix.multiget_keys())];
        let entries = (conns.len() * RECV_BUFS_PER_CONN)
            .next_power_of_two()
            .clamp(RECV_BUFS_MIN, recvbuf::ENTRIES_MAX);
        let recv_bufs = RecvBufs::new(entries);
        // SAFETY: `recv_bufs` is stored in the worker next to the ring, after it, so it is
        // dropped after the ring (see the field order), and `finish` waits for every Recv.
        let recv_bufs = match unsafe { recv_bufs.register(&ring.submitter()) } {
            Ok(()) => Some(recv_bufs),
            // Kernels before 5.19 have no buffer rings: Recv into each connection's buffer.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => None,
            Err(e) => return Err(e),
        };
        Ok(Worker {
            cfg,
            ring,
            recv_bufs,
            conns,
            conns_of_server,
            round_robin: vec![0; server_count],
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
            let idle = self.conns.iter().all(|c| c.queue.is_empty()) && self.held.is_none();
            if due_ns.is_none() {
                if idle {
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
            self.submit(wait_ns)?;
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
        loop {
            let was_held = self.held.is_some();
            let (request, conn) = match self.held.take() {
                Some(held) => held,
                None => match self.cfg.source.next(now_ns, &mut self.cfg.rng) {
                    Next::Done => return None,
                    Next::NotYet { due_ns } => return Some(Some(due_ns)),
                    Next::Request { intended_ns } => {
                        let kind = self.cfg.mix.next(&mut self.cfg.rng);
                        let key = self.cfg.sampler.next(&mut self.cfg.rng);
                        match self.pick_conn(key) {
                            Some(conn) => (
                                Request {
                                    intended_ns,
                                    sent_ns: 0,
                                    kind,
                                    key,
                                },
                                conn,
                            ),
                            None => {
                                self.lost(intended_ns);
                                continue;
                            }
                        }
                    }
                    Next::Prefill { key } => {
                        let kind = OpKind::Set {
                            value_len_bytes: self.cfg.mix.value_len(&mut self.cfg.rng),
                        };
                        match self.pick_conn(key) {
                            Some(conn) => (
                                Request {
                                    intended_ns: now_ns,
                                    sent_ns: 0,
                                    kind,
                                    key,
                                },
                                conn,
                            ),
                            None => {
                                self.lost(now_ns);
                                continue;
                            }
                        }
                    }
                },
            };
            let c = &mut self.conns[conn];
            if !c.alive {
                self.lost(request.intended_ns);
                continue;
            }
            let limit = if self.cfg.source.is_open() {
                self.cfg.pipeline_depth + self.cfg.backlog_max
            } else {
                self.cfg.pipeline_depth
            };
            if c.queue.len() >= limit {
                // Counted once per request that makes the schedule wait.
                if self.cfg.source.is_open() && !was_held {
                    self.total.schedule_stalls += 1;
                    self.interval.schedule_stalls += 1;
                }
                self.held = Some((request, conn));
                return Some(None);
            }
            c.queue.push_back(request);
        }
    }

    /// A request whose server has no live connection: an error, never silently dropped.
    fn lost(&mut self, intended_ns: u64) {
        if intended_ns >= self.cfg.measure_from_ns {
            self.total.errors.connection += 1;
        }
        self.interval.errors.connection += 1;
    }

    /// A live connection to the server owning `key`, round robin. In a closed loop (and the
    /// prefill) one with room in its pipeline is preferred, so a connection waiting for a
    /// slow reply does not hold up the others.
    fn pick_conn(&mut self, key: u64) -> Option<usize> {
        let server = self.cfg.owners.of(key);
        let candidates = &self.conns_of_server[server];
        let open = self.cfg.source.is_open();
        let mut fallback = None;
        for _ in 0..candidates.len() {
            let rr = &mut self.round_robin[server];
            let index = candidates[*rr % candidates.len()];
            *rr = rr.wrapping_add(1);
            let conn = &self.conns[index];
            if !conn.alive {
                continue;
            }
            if open || conn.queue.len() < self.cfg.pipeline_depth {
                return Some(index);
            }
            fallback.get_or_insert(index);
        }
        fallback
    }

    /// Encodes the queued requests that fit in each idle connection's pipeline.
    fn fill_sends(&mut self, now_ns: u64) {
        let closed = !self.cfg.source.is_open();
        for index in 0..self.conns.len() {
            let c = &mut self.conns[index];
            if !c.alive
                || c.send_busy
                || c.backlog_len() == 0
                || c.inflight >= self.cfg.pipeline_depth
            {
                continue;
            }
            let capacity = c.out.capacity();
            c.out.clear();
            c.out_sent_bytes = 0;
            while c.inflight < self.cfg.pipeline_depth && c.inflight < c.queue.len() {
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
            push(&mut self.ring, &entry);
        }
    }

    fn arm_recvs(&mut self) {
        let multishot = self.recv_bufs.is_some();
        for index in 0..self.conns.len() {
            let c = &mut self.conns[index];
            if !c.alive || c.recv_busy {
                continue;
            }
            c.recv_busy = true;
            let fd = types::Fd(c.fd());
            let entry = if multishot {
                // Stays armed, one completion per received chunk, until it ends (no MORE flag).
                opcode::RecvMulti::new(fd, recvbuf::BUF_GROUP).build()
            } else {
                assert!(c.in_end < c.inbuf.len(), "no room to receive");
                // SAFETY-relevant invariant (see `push`): inbuf[in_end..] is not touched until
                // this Recv completes (parse_replies runs only after its completion).
                let free = &mut c.inbuf[c.in_end..];
                opcode::Recv::new(fd, free.as_mut_ptr(), free.len() as u32).build()
            };
            push(&mut self.ring, &entry.user_data(ud(index, false)));
        }
    }

    /// Submits what is queued, then waits up to `wait_ns` for a completion: polling first
    /// (up to [`POLL_NS_MAX`]), then sleeping in `io_uring_enter` for the rest.
    fn submit(&mut self, wait_ns: u64) -> io::Result<()> {
        // Submits, and runs the deferred task work of completions if the kernel flagged some.
        enter_result(self.ring.submit())?;
        if !self.ring.completion().is_empty() {
            return Ok(());
        }
        let poll_ns = wait_ns.min(POLL_NS_MAX);
        let start_ns = self.now_ns();
        let mut polled_ns = 0;
        while polled_ns < poll_ns {
            // With DEFER_TASKRUN, a completion's task work waits until this thread asks for
            // events; the kernel sets the TASKRUN flag when there is some.
            if self.ring.submission().taskrun() {
                enter_result(self.ring.submit())?;
            }
            if !self.ring.completion().is_empty() {
                return Ok(());
            }
            std::hint::spin_loop();
            polled_ns = self.now_ns().saturating_sub(start_ns);
        }
        let sleep_ns = wait_ns.saturating_sub(polled_ns).saturating_sub(SPIN_NS);
        if sleep_ns == 0 {
            return Ok(()); // the next turn polls the rest of the wait
        }
        let ts = types::Timespec::new().nsec(sleep_ns as u32);
        let args = types::SubmitArgs::new().timespec(&ts);
        enter_result(self.ring.submitter().submit_with_args(1, &args))
    }

    fn reap(&mut self, now_ns: u64) {
        let mut reaped = 0;
        while reaped < COMPLETIONS_PER_TURN_MAX {
            let Some(cqe) = self.ring.completion().next() else {
                break;
            };
            reaped += 1;
            let index = (cqe.user_data() >> 1) as usize;
            let is_send = cqe.user_data() & 1 == 1;
            let result = cqe.result();
            if is_send {
                self.on_send(index, result);
            } else {
                self.on_recv(index, result, cqe.flags(), now_ns);
            }
        }
        if let Some(recv_bufs) = &self.recv_bufs {
            recv_bufs.publish();
        }
    }

    fn on_send(&mut self, index: usize, result: i32) {
        let c = &mut self.conns[index];
        c.send_busy = false;
        if !c.alive {
            return;
        }
        if result == -libc::EAGAIN || result == -libc::EINTR {
            // Send again from where it stopped.
        } else if result <= 0 {
            self.fail(index);
            return;
        } else {
            c.out_sent_bytes += result as usize;
        }
        if c.out_sent_bytes < c.out.len() {
            c.send_busy = true;
            let rest = &c.out[c.out_sent_bytes..];
            let entry = opcode::Send::new(types::Fd(c.fd()), rest.as_ptr(), rest.len() as u32)
                .build()
                .user_data(ud(index, true));
            push(&mut self.ring, &entry);
        }
    }

    fn on_recv(&mut self, index: usize, result: i32, flags: u32, now_ns: u64) {
        let c = &mut self.conns[index];
        // A multishot Recv stays armed while its completions carry MORE.
        if !(self.recv_bufs.is_some() && cqueue::more(flags)) {
            c.recv_busy = false;
        }
        // A provided buffer: copy its bytes after the unparsed ones and give it back at once.
        let mut overflow = false;
        if let (Some(recv_bufs), Some(bid)) = (&mut self.recv_bufs, cqueue::buffer_select(flags)) {
            let len = usize::try_from(result).expect("a completion with a buffer has a length");
            if c.alive {
                let end = c.in_end + len;
                // The buffer holds the largest reply plus one provided buffer (see run.rs),
                // so only a reply longer than any we asked for can overflow it.
                if end <= c.inbuf.len() {
                    c.inbuf[c.in_end..end].copy_from_slice(recv_bufs.filled(bid, len));
                } else {
                    overflow = true;
                }
            }
            recv_bufs.give_back(bid);
        } else if result > 0 && c.alive {
            assert!(
                self.recv_bufs.is_none(),
                "multishot Recv data without a buffer"
            );
        }
        if !c.alive {
            return;
        }
        if result == -libc::EAGAIN || result == -libc::EINTR || result == -libc::ENOBUFS {
            return; // re-armed next turn
        }
        if result <= 0 || overflow {
            if overflow {
                self.total.errors.protocol += 1;
                self.interval.errors.protocol += 1;
            }
            self.fail(index);
            return;
        }
        c.in_end += result as usize;
        let window = Window {
            measure_from_ns: self.cfg.measure_from_ns,
            validate: self.cfg.validate,
            pattern: &self.cfg.pattern,
        };
        if c.parse_replies(now_ns, &window, &mut self.total, &mut self.interval)
            .is_err()
        {
            self.total.errors.protocol += 1;
            self.interval.errors.protocol += 1;
            self.fail(index);
        }
    }

    fn fail(&mut self, index: usize) {
        let lost = self.conns[index].fail(self.cfg.measure_from_ns);
        self.total.errors.connection += lost;
        self.interval.errors.connection += lost;
        // SAFETY of the buffers: a failed connection is never reused, so its buffers are not
        // touched again while an operation may still be in flight; shutting the socket down
        // makes such an operation complete.
        // SAFETY: shutdown on a descriptor this connection owns has no memory effects.
        unsafe { libc::shutdown(self.conns[index].fd(), libc::SHUT_RDWR) };
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
        if let Some((request, _)) = self.held.take() {
            self.total.errors.unanswered += u64::from(request.intended_ns >= measure_from_ns);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.conns.iter().any(|c| c.recv_busy || c.send_busy) {
            assert!(
                Instant::now() < deadline,
                "operations still in flight after shutdown"
            );
            self.submit(WAIT_NS_MAX)?;
            let now_ns = self.now_ns();
            self.reap(now_ns);
        }
        Ok(())
    }
}

/// `io_uring_enter`'s result: a timeout, an interrupted wait or a full completion queue
/// (`EBUSY`, drained by the next reap) are not errors.
fn enter_result(result: io::Result<usize>) -> io::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Queues one submission, submitting first if the queue is full.
fn push(ring: &mut IoUring, entry: &io_uring::squeue::Entry) {
    loop {
        // SAFETY: every entry points into a buffer owned by a `Conn` of this worker (an
        // `out` Vec or an `inbuf` box) that is neither moved, resized nor freed until the
        // operation completes: `send_busy`/`recv_busy` keep the loop off those buffers, and
        // `finish` waits for every completion before the worker (and its connections) drop.
        let pushed = unsafe { ring.submission().push(entry) };
        if pushed.is_ok() {
            return;
        }
        ring.submit()
            .expect("io_uring_enter failed while the submission queue was full");
    }
}
