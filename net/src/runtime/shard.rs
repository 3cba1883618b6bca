//! One shard: a pinned thread with its own store, io_uring ring, listening sockets and the
//! connections it accepted.
//!
//! The loop: submit everything queued and wait for at least one completion; copy out every
//! completion that is ready; handle each (which queues new submissions); repeat. Submissions
//! are batched into one `io_uring_enter` per turn.
//!
//! Per connection at most one recv and one send are in flight. A connection reads only while
//! its session wants input; when its output passes the high-water mark it stops reading until
//! the output drains (back-pressure reaches the client through TCP).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use ringcache_engine::{Clock, Store};

use super::conn::{Conn, ConnTable, Phase};
use super::token::{Op, Token};
use crate::exec::{RuntimeSettings, ServerInfo, ShardCtx, Step};
use crate::stats::ShardStats;

/// Submission queue entries; more pushes in one turn trigger an early submit.
pub const SQ_ENTRIES_COUNT: u32 = 1024;
/// How often the timer wakes the loop even when idle.
pub const TICK_SECS: u64 = 1;
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
}

impl Core {
    fn ctx(&mut self) -> ShardCtx<'_> {
        ShardCtx {
            store: &mut self.store,
            clock: &self.clock,
            stats: &mut self.stats,
            server: &self.server,
            settings: &mut self.settings,
        }
    }
}

pub struct Shard {
    ring: IoUring,
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
}

/// Wakes a shard from another thread (control path: stop; later, cross-core messages).
pub struct Waker {
    fd: OwnedFd,
    stop: AtomicBool,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: plain eventfd(2); the result is checked before use.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is an eventfd we just created and own exclusively.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        Ok(Waker {
            fd,
            stop: AtomicBool::new(false),
        })
    }

    /// Asks the shard to close its connections and return from `run`.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own; an eventfd write only
        // fails when the counter would overflow, which leaves it readable anyway.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

/// Creates the ring, explaining the usual reasons it cannot be had.
pub fn new_ring(cq_entries_count: u32) -> Result<IoUring, String> {
    let tuned = IoUring::builder()
        .setup_cqsize(cq_entries_count)
        .setup_single_issuer()
        .setup_coop_taskrun()
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
    result.map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => format!(
            "io_uring is not permitted ({e}): set sysctl kernel.io_uring_disabled=0 \
             (or 1 with this user in kernel.io_uring_group) and allow io_uring_setup in any \
             seccomp profile (container runtimes often block it)"
        ),
        Some(libc::ENOSYS) => {
            format!("this kernel has no io_uring ({e}): ringcache needs Linux 6.1 or later")
        }
        Some(libc::ENOMEM) => format!(
            "cannot create the io_uring ring ({e}): raise RLIMIT_MEMLOCK \
             (ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd unit)"
        ),
        _ => format!("cannot create the io_uring ring: {e}"),
    })
}

/// Queues `entry`, submitting first if the submission queue is full.
fn push(ring: &mut IoUring, entry: &squeue::Entry) {
    loop {
        // SAFETY: every buffer an entry points to stays valid and unmoved until its completion
        // is reaped: read buffers are not reshaped while a recv is in flight and `sending` is
        // not touched while a send is in flight (see conn.rs); the timer's timespec is boxed
        // in the shard, which outlives the ring's use.
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
    ) -> Shard {
        let cq_entries = ring.params().cq_entries() as usize;
        let listener_count = listeners.len();
        Shard {
            ring,
            listeners,
            accept_armed: vec![false; listener_count],
            conns: ConnTable::new(conn_limit),
            core,
            completions: Vec::with_capacity(cq_entries),
            tick: Box::new(types::Timespec::new().sec(TICK_SECS)),
            wake,
            wake_buf: Box::new(0),
            stopping: false,
        }
    }

    /// Serves until a stop is requested, then closes every connection and returns.
    pub fn run(&mut self) -> io::Result<()> {
        for index in 0..self.listeners.len() {
            self.arm_accept(index);
        }
        self.arm_timer();
        self.arm_wake();
        while !(self.stopping && self.conns.live_count() == 0) {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            self.core.clock.set_now_unix(now_unix_secs());
            self.completions.clear();
            self.completions.extend(
                self.ring
                    .completion()
                    .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
            );
            for i in 0..self.completions.len() {
                let (user_data, result, flags) = self.completions[i];
                self.on_completion(Token::decode(user_data), result, flags);
            }
        }
        Ok(())
    }

    fn on_completion(&mut self, token: Token, result: i32, flags: u32) {
        match token.op {
            Op::Accept => self.on_accept(token.index as usize, result, flags),
            Op::Recv => self.on_recv(token, result),
            Op::Send => self.on_send(token, result),
            Op::Timer => self.on_timer(),
            Op::Close => {}
            Op::Wake => self.on_wake(),
        }
    }

    fn arm_wake(&mut self) {
        let entry = opcode::Read::new(
            types::Fd(self.wake.fd.as_raw_fd()),
            (&mut *self.wake_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(Token::new(Op::Wake, 0, 0).encode());
        push(&mut self.ring, &entry);
    }

    fn on_wake(&mut self) {
        if self.wake.stop.load(Ordering::Acquire) {
            self.begin_stop();
        } else {
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

    fn on_timer(&mut self) {
        self.arm_timer();
        // Accepts that stopped on an error (e.g. EMFILE) are retried once per tick, not spun.
        for index in 0..self.listeners.len() {
            if !self.accept_armed[index] {
                self.arm_accept(index);
            }
        }
    }

    fn on_accept(&mut self, index: usize, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        if !more {
            self.accept_armed[index] = false;
            if result >= 0 || result == -libc::EINTR || result == -libc::ECONNABORTED {
                self.arm_accept(index);
            }
        }
        if result < 0 {
            if self.core.settings.verbosity > 0 {
                eprintln!("accept failed: {}", io::Error::from_raw_os_error(-result));
            }
            return;
        }
        let fd = result;
        if self.stopping {
            // SAFETY: `fd` was just accepted and is owned by nobody else.
            unsafe { libc::close(fd) };
            return;
        }
        let Some(slot) = self.conns.open(fd) else {
            reject(fd);
            self.core.stats.rejected_connections += 1;
            return;
        };
        self.core.stats.curr_connections += 1;
        self.core.stats.total_connections += 1;
        let generation = self.conns.generation_of(slot);
        let conn = self.conns.get_mut(slot, generation).expect("just opened");
        arm_recv(&mut self.ring, conn, slot);
    }

    fn on_recv(&mut self, token: Token, result: i32) {
        let Some(conn) = self.conns.get_mut(token.index, token.generation) else {
            panic!("recv completion for a released slot {}", token.index);
        };
        conn.recv_in_flight = false;
        if conn.phase == Phase::Closing {
            self.finish_close_if_idle(token.index, token.generation);
            return;
        }
        if result == -libc::EINTR {
            arm_recv(&mut self.ring, conn, token.index);
            return;
        }
        if result <= 0 {
            self.begin_close(token.index, token.generation);
            return;
        }
        conn.end += result as usize;
        self.core.stats.bytes_read += result as u64;
        self.drive(token.index, token.generation);
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
            Step::OutputFull if !conn.recv_in_flight => self.drive(token.index, token.generation),
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
        assert!(
            !conn.recv_in_flight,
            "session run while a recv is in flight"
        );
        let mut ctx = self.core.ctx();
        let input = &conn.read_buf[conn.start..conn.end];
        let (consumed, step) = conn.session.process(input, &mut conn.pending, &mut ctx);
        conn.consume(consumed);
        conn.last_step = step;
        flush(&mut self.ring, conn, slot);
        match step {
            Step::NeedInput => {
                if !conn.make_room_for_recv() {
                    // The session must consume or close before its input reaches the limit.
                    panic!(
                        "session left {} bytes unconsumed at the input limit",
                        conn.input().len()
                    );
                }
                arm_recv(&mut self.ring, conn, slot);
            }
            Step::OutputFull => {}
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
        conn.session.on_close(&mut self.core.ctx());
        let entry = opcode::Close::new(types::Fd(fd))
            .build()
            .user_data(Token::new(Op::Close, 0, slot).encode());
        push(&mut self.ring, &entry);
        self.conns.release(slot);
        self.core.stats.curr_connections -= 1;
    }
}

fn arm_recv(ring: &mut IoUring, conn: &mut Conn, slot: u32) {
    if conn.recv_in_flight {
        return;
    }
    let spare = &mut conn.read_buf[conn.end..];
    assert!(!spare.is_empty(), "recv armed with a full read buffer");
    let entry = opcode::Recv::new(types::Fd(conn.fd), spare.as_mut_ptr(), spare.len() as u32)
        .build()
        .user_data(Token::new(Op::Recv, conn.generation, slot).encode());
    push(ring, &entry);
    conn.recv_in_flight = true;
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
