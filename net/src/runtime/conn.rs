//! Connection slots: one per allowed connection, buffers reused across connections.
//!
//! ```text
//! read_buf:  [ consumed | unconsumed input | free for the next received bytes ]
//!            0          start              end                                len
//! sending:   [ sent     | handed to the kernel by the in-flight send ]
//!            0          sent                                         len
//! pending:   [ replies written by the session, sent after `sending`  ]
//! ```
//! Invariants: the kernel never writes into `read_buf`: received bytes arrive in the shard's
//! provided buffers and are copied in by [`Conn::append_input`], so the read buffer may be
//! compacted or grown at any time. While a send is in flight `sending` is not touched (the
//! kernel reads from it) and the session writes only to `pending`.
//!
//! Bound on the read buffer: the session consumes input whenever it asks for more, and never
//! needs more than [`INPUT_PENDING_MAX_BYTES`] to make progress; a connection that stops
//! consuming (output full, waiting for another shard) has its receive cancelled once that
//! much is buffered. Until the cancel reaches the kernel (the next submit) one turn's
//! completions, and on a ring without DEFER_TASKRUN a second turn's, may still arrive: each
//! takes a provided buffer, given back to the kernel once per turn. Hence
//! [`READ_BUF_MAX_BYTES`].

use std::os::fd::RawFd;

use crate::exec::{Session, Step, INPUT_PENDING_MAX_BYTES};

/// Initial (and usual) size of a connection's read buffer.
pub const READ_BUF_INITIAL_BYTES: usize = 16 * 1024;
/// Output buffers larger than this are shrunk back once drained.
pub const OUT_BUF_KEEP_BYTES: usize = 256 * 1024;
/// Bytes per provided receive buffer: one receive completion carries at most this much.
pub const RECV_BUF_BYTES: usize = 8 * 1024;
/// Provided receive buffers per shard (4 MiB). More connections than this with bytes
/// waiting in one turn end some receives with ENOBUFS; they are armed again the same turn.
pub const RECV_BUF_COUNT: usize = 512;
/// The most a read buffer ever holds (see the module docs).
pub const READ_BUF_MAX_BYTES: usize = INPUT_PENDING_MAX_BYTES + 2 * RECV_BUF_COUNT * RECV_BUF_BYTES;

const _: () = assert!(READ_BUF_INITIAL_BYTES <= INPUT_PENDING_MAX_BYTES);
const _: () = assert!(RECV_BUF_COUNT.is_power_of_two());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Serving requests.
    Open,
    /// Shutdown submitted; waiting for the in-flight recv/send to complete before closing.
    Closing,
}

pub struct Conn {
    pub fd: RawFd,
    pub generation: u32,
    pub phase: Phase,
    pub read_buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    pub sending: Vec<u8>,
    pub sent: usize,
    pub pending: Vec<u8>,
    pub session: Session,
    /// What the session asked for the last time it ran.
    pub last_step: Step,
    /// A multishot receive is armed (until its completion without the MORE flag).
    pub recv_in_flight: bool,
    /// Its cancel has been queued (see [`READ_BUF_MAX_BYTES`]).
    pub recv_cancelled: bool,
    /// The client's input has ended (a receive returned 0): what is buffered is still
    /// answered, then the connection closes.
    pub input_ended: bool,
    pub send_in_flight: bool,
    /// Listed in the shard's `replied` list for this turn.
    pub listed_replied: bool,
    /// Listed in the shard's `blocked` list (waiting for room in a channel).
    pub listed_blocked: bool,
}

impl Conn {
    fn new(fd: RawFd, generation: u32) -> Conn {
        Conn {
            fd,
            generation,
            phase: Phase::Open,
            read_buf: vec![0; READ_BUF_INITIAL_BYTES],
            start: 0,
            end: 0,
            sending: Vec::with_capacity(READ_BUF_INITIAL_BYTES),
            sent: 0,
            pending: Vec::with_capacity(READ_BUF_INITIAL_BYTES),
            session: Session::new(),
            last_step: Step::NeedInput,
            recv_in_flight: false,
            recv_cancelled: false,
            input_ended: false,
            send_in_flight: false,
            listed_replied: false,
            listed_blocked: false,
        }
    }

    /// Makes a slot used by an earlier connection ready for `fd`, keeping its buffers.
    fn reset(&mut self, fd: RawFd, generation: u32) {
        self.fd = fd;
        self.generation = generation;
        self.phase = Phase::Open;
        if self.read_buf.len() != READ_BUF_INITIAL_BYTES {
            self.read_buf = vec![0; READ_BUF_INITIAL_BYTES];
        }
        self.start = 0;
        self.end = 0;
        self.sending.clear();
        self.sent = 0;
        self.pending.clear();
        self.session = Session::new();
        self.last_step = Step::NeedInput;
        self.recv_in_flight = false;
        self.recv_cancelled = false;
        self.input_ended = false;
        self.send_in_flight = false;
        self.listed_replied = false;
        self.listed_blocked = false;
    }

    pub fn input(&self) -> &[u8] {
        &self.read_buf[self.start..self.end]
    }

    /// Drops `count` consumed bytes from the front of the input; a buffer grown past
    /// [`INPUT_PENDING_MAX_BYTES`] shrinks back once it is empty.
    pub fn consume(&mut self, count: usize) {
        assert!(
            count <= self.end - self.start,
            "consumed {count} of {} bytes",
            self.end - self.start
        );
        self.start += count;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.read_buf.len() > INPUT_PENDING_MAX_BYTES {
                self.read_buf.truncate(READ_BUF_INITIAL_BYTES);
                self.read_buf.shrink_to_fit();
            }
        }
    }

    /// Appends received bytes to the input, compacting and then growing the read buffer.
    pub fn append_input(&mut self, bytes: &[u8]) {
        if self.read_buf.len() - self.end < bytes.len() {
            if self.start > 0 {
                self.read_buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let needed = self.end + bytes.len();
            assert!(
                needed <= READ_BUF_MAX_BYTES,
                "read buffer past its bound: {needed} bytes"
            );
            if needed > self.read_buf.len() {
                let grown = needed.max(2 * self.read_buf.len()).min(READ_BUF_MAX_BYTES);
                self.read_buf.resize(grown, 0);
            }
        }
        self.read_buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// The session has stopped consuming and this much input is buffered: stop receiving.
    pub fn input_full(&self) -> bool {
        self.end - self.start >= INPUT_PENDING_MAX_BYTES
    }

    /// Moves pending replies into the send buffer if nothing is being sent: all of them, or
    /// those before the first reply still expected from another shard. Returns true if there
    /// is something to send.
    pub fn stage_output(&mut self) -> bool {
        if self.send_in_flight {
            return false;
        }
        if self.sent == self.sending.len() {
            self.sending.clear();
            self.sent = 0;
            if self.sending.capacity() > OUT_BUF_KEEP_BYTES {
                self.sending.shrink_to(OUT_BUF_KEEP_BYTES);
            }
            let sendable = self.session.sendable_len(self.pending.len());
            if sendable == self.pending.len() {
                std::mem::swap(&mut self.sending, &mut self.pending);
            } else {
                self.sending.extend_from_slice(&self.pending[..sendable]);
                self.pending.drain(..sendable);
            }
            self.session.output_taken(sendable);
        }
        self.sent < self.sending.len()
    }

    /// Everything answered has been sent, and no reply is expected from another shard.
    pub fn output_drained(&self) -> bool {
        self.sent == self.sending.len()
            && self.pending.is_empty()
            && !self.session.awaiting_remote()
    }
}

/// A fixed number of connection slots (memcached `-c`); buffers are allocated when a slot is
/// first used and kept for the next connection in it.
pub struct ConnTable {
    slots: Vec<Option<Conn>>,
    generations: Vec<u32>,
    free: Vec<u32>,
    live_count: usize,
}

impl ConnTable {
    pub fn new(capacity: usize) -> ConnTable {
        let capacity_u32 = u32::try_from(capacity).expect("connection limit fits in u32");
        ConnTable {
            slots: (0..capacity).map(|_| None).collect(),
            generations: vec![0; capacity],
            free: (0..capacity_u32).rev().collect(),
            live_count: 0,
        }
    }

    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Takes a free slot for `fd`, or `None` if every slot is in use.
    pub fn open(&mut self, fd: RawFd) -> Option<u32> {
        let index = self.free.pop()?;
        let slot = index as usize;
        self.generations[slot] = (self.generations[slot] + 1) & super::token::GENERATION_MASK;
        let generation = self.generations[slot];
        match &mut self.slots[slot] {
            Some(conn) => conn.reset(fd, generation),
            empty => *empty = Some(Conn::new(fd, generation)),
        }
        self.live_count += 1;
        Some(index)
    }

    /// The connection in `index` if it is still the one `generation` names.
    pub fn get(&self, index: u32, generation: u32) -> Option<&Conn> {
        let live = self.generations.get(index as usize).copied() == Some(generation);
        let conn = self.slots.get(index as usize)?.as_ref()?;
        (live && conn.fd >= 0).then_some(conn)
    }

    /// The connection in `index` if it is still the one `generation` names.
    pub fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut Conn> {
        let live = self.generations.get(index as usize).copied() == Some(generation);
        let conn = self.slots.get_mut(index as usize)?.as_mut()?;
        (live && conn.fd >= 0).then_some(conn)
    }

    /// The slots holding a live connection.
    pub fn live_slots(&self) -> Vec<u32> {
        (0..self.slots.len() as u32)
            .filter(|&i| self.slots[i as usize].as_ref().is_some_and(|c| c.fd >= 0))
            .collect()
    }

    /// The generation of the connection now in `index`.
    pub fn generation_of(&self, index: u32) -> u32 {
        self.generations[index as usize]
    }

    /// Frees the slot; its buffers stay for the next connection.
    pub fn release(&mut self, index: u32) {
        let conn = self.slots[index as usize]
            .as_mut()
            .expect("released slot holds a connection");
        assert!(conn.fd >= 0, "slot {index} released twice");
        assert!(
            !conn.recv_in_flight && !conn.send_in_flight,
            "slot {index} released with I/O in flight"
        );
        conn.fd = -1;
        self.generations[index as usize] =
            (self.generations[index as usize] + 1) & super::token::GENERATION_MASK;
        self.free.push(index);
        self.live_count -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_bounded_and_reused() {
        let mut table = ConnTable::new(2);
        let a = table.open(10).unwrap();
        let b = table.open(11).unwrap();
        assert!(table.open(12).is_none());
        let gen_a = table
            .get_mut(a, table.generations[a as usize])
            .unwrap()
            .generation;
        table.release(a);
        assert!(
            table.get_mut(a, gen_a).is_none(),
            "stale generation must not resolve"
        );
        let c = table.open(13).unwrap();
        assert_eq!(c, a);
        assert_eq!(table.live_count(), 2);
        let _ = b;
    }

    #[test]
    fn read_buffer_compacts_grows_and_shrinks_back() {
        let mut table = ConnTable::new(1);
        let i = table.open(3).unwrap();
        let g = table.generations[i as usize];
        let conn = table.get_mut(i, g).unwrap();
        let chunk = vec![7u8; RECV_BUF_BYTES];
        conn.append_input(&chunk);
        conn.append_input(&chunk);
        assert_eq!(
            conn.read_buf.len(),
            READ_BUF_INITIAL_BYTES,
            "two chunks fit"
        );
        conn.consume(10);
        conn.append_input(b"abc");
        assert_eq!(
            (conn.start, conn.end),
            (0, 2 * RECV_BUF_BYTES - 10 + 3),
            "compacted"
        );
        assert_eq!(&conn.input()[conn.input().len() - 3..], b"abc");
        while !conn.input_full() {
            conn.append_input(&chunk);
        }
        assert!(conn.read_buf.len() > INPUT_PENDING_MAX_BYTES);
        let all = conn.input().len();
        conn.consume(all);
        assert_eq!(conn.read_buf.len(), READ_BUF_INITIAL_BYTES, "shrunk back");
    }

    #[test]
    #[should_panic(expected = "read buffer past its bound")]
    fn read_buffer_never_passes_its_bound() {
        let mut table = ConnTable::new(1);
        let i = table.open(3).unwrap();
        let g = table.generations[i as usize];
        let conn = table.get_mut(i, g).unwrap();
        let chunk = vec![0u8; RECV_BUF_BYTES];
        for _ in 0..=READ_BUF_MAX_BYTES / RECV_BUF_BYTES {
            conn.append_input(&chunk);
        }
    }

    #[test]
    fn output_is_double_buffered() {
        let mut table = ConnTable::new(1);
        let i = table.open(3).unwrap();
        let g = table.generations[i as usize];
        let conn = table.get_mut(i, g).unwrap();
        conn.pending.extend_from_slice(b"STORED\r\n");
        assert!(conn.stage_output());
        conn.send_in_flight = true;
        conn.pending.extend_from_slice(b"END\r\n");
        assert!(
            !conn.stage_output(),
            "nothing staged while a send is in flight"
        );
        assert_eq!(conn.sending, b"STORED\r\n");
        conn.send_in_flight = false;
        conn.sent = conn.sending.len();
        assert!(conn.stage_output());
        assert_eq!(conn.sending, b"END\r\n");
        assert!(conn.pending.is_empty());
    }
}
