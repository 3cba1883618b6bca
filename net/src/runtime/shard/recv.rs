//! Receiving: each open connection keeps one multishot Recv armed on the shard's provided
//! buffers (`recvbuf`), where a single-shot Recv would arm a poll on the socket again, and
//! try a read that finds nothing, after every request.
//!
//! A completion's bytes are copied into the connection's read buffer at once and the
//! provided buffer is given back; the ring is handed back to the kernel once per loop turn
//! ([`Shard::publish_recv_bufs`]). So the kernel never writes into a read buffer and the
//! session may run whenever a connection's output or another shard's reply lets it.
//!
//! When a receive ends (no MORE flag): at end of input (0) the connection answers what it
//! has received, sends it, and closes ([`Shard::input_ended`]); after ENOBUFS (every
//! provided buffer taken this turn), a cancel, or EINTR it is armed again if the session is
//! waiting for input (otherwise `drive` arms it when the session next asks); any other error
//! closes the connection.
//!
//! Back-pressure: a connection whose session has stopped consuming (output past the
//! high-water mark, a full channel, closing) keeps receiving until
//! `INPUT_PENDING_MAX_BYTES` are buffered, then its receive is cancelled; the client then
//! meets TCP's flow control. The bound this gives is in `conn.rs` (`READ_BUF_MAX_BYTES`).

use io_uring::{cqueue, opcode, types, IoUring};

use super::super::conn::{Conn, Phase, RECV_BUF_BYTES, RECV_BUF_COUNT};
use super::super::recvbuf::RecvBufs;
use super::super::token::{Op, Token};
use super::{push, Shard};
use crate::exec::Step;
use crate::proto::peek;

/// The buffer group every receive of a shard selects from (one ring per shard).
const RECV_BUF_GROUP: u16 = 0;

/// The shard's provided receive buffers, registered with its ring.
///
/// # Safety
///
/// The result must outlive `ring` (or every receive of it): the kernel writes into the
/// buffers until then. The shard declares its buffers after its ring, so they drop after it.
pub(super) unsafe fn register_recv_bufs(ring: &IoUring) -> Result<RecvBufs, String> {
    let bufs = RecvBufs::new(RECV_BUF_COUNT, RECV_BUF_BYTES);
    // SAFETY: the caller keeps `bufs` alive for as long as the ring may use them.
    match unsafe { bufs.register(&ring.submitter(), RECV_BUF_GROUP) } {
        Ok(()) => Ok(bufs),
        Err(e) => Err(format!(
            "cannot register io_uring provided buffers ({e}): ringcache needs Linux 6.0 or \
             later (multishot receive)"
        )),
    }
}

/// Arms a multishot receive on `conn` unless one is armed.
pub(super) fn arm_recv(ring: &mut IoUring, conn: &mut Conn, slot: u32) {
    if conn.recv_in_flight {
        return;
    }
    let entry = opcode::RecvMulti::new(types::Fd(conn.fd), RECV_BUF_GROUP)
        .build()
        .user_data(Token::new(Op::Recv, conn.generation, slot).encode());
    push(ring, &entry);
    conn.recv_in_flight = true;
    conn.recv_cancelled = false;
}

/// Cancels `conn`'s receive once its session has stopped consuming and its input is full.
pub(super) fn limit_input(ring: &mut IoUring, conn: &mut Conn, slot: u32) {
    if !conn.recv_in_flight || conn.recv_cancelled || !conn.input_full() {
        return;
    }
    let recv = Token::new(Op::Recv, conn.generation, slot).encode();
    let entry = opcode::AsyncCancel::new(recv)
        .build()
        .user_data(Token::new(Op::Cancel, conn.generation, slot).encode());
    push(ring, &entry);
    conn.recv_cancelled = true;
}

impl Shard {
    /// Gives the kernel back the provided buffers this turn's completions used.
    pub(super) fn publish_recv_bufs(&self) {
        self.recv_bufs.publish();
    }

    /// Before a turn's completions are handled: for each receive that starts a request, the
    /// index bucket and then the first item of the request's first key are prefetched, so the
    /// memory misses of the turn's lookups overlap instead of following one another (see
    /// `Store::prefetch_keys`). Only keys this shard owns; a hint, so nothing else changes.
    pub(super) fn prefetch_received_keys(&self) {
        if self.completions.len() < 2 {
            return;
        }
        let route = &self.core.route;
        let keys = self
            .completions
            .iter()
            .filter_map(|&(user_data, result, flags)| {
                let token = Token::decode(user_data);
                let (Op::Recv, true, Some(bid)) =
                    (token.op, result > 0, cqueue::buffer_select(flags))
                else {
                    return None;
                };
                // Only a receive that starts a request: otherwise its bytes continue one.
                let conn = self.conns.get(token.index, token.generation)?;
                if !conn.input().is_empty() {
                    return None;
                }
                peek::first_key(self.recv_bufs.filled(bid, result as usize))
            })
            .filter(|key| route.shard_count() == 1 || route.owner_of(key) == route.local());
        self.core.store.prefetch_keys(keys);
    }

    /// The client's input has ended: the connection closes once the session has consumed
    /// what was received and its output is sent (the same paths as a `quit`). A receive that
    /// brought bytes the session has not consumed yet (it stopped on full output or a full
    /// channel) leaves that to `drive`, which calls [`Shard::input_consumed`].
    pub(super) fn input_ended(&mut self, slot: u32, generation: u32) {
        let conn = self
            .conns
            .get_mut(slot, generation)
            .expect("input ended on a live connection");
        assert!(!conn.recv_in_flight, "input ended with a receive armed");
        conn.input_ended = true;
        if conn.last_step == Step::NeedInput {
            self.input_consumed(slot, generation);
        }
    }

    /// The session has consumed all it can of an input that has ended: close once the
    /// output is sent. A value still being passed on to its owner will never be whole, and
    /// its owner answers nothing until it is: close now (the owner drops it on `CLOSED`).
    pub(super) fn input_consumed(&mut self, slot: u32, generation: u32) {
        let conn = self
            .conns
            .get_mut(slot, generation)
            .expect("input consumed on a live connection");
        assert!(conn.input_ended);
        conn.last_step = Step::Close;
        if conn.output_drained() || conn.session.forwarding_to().is_some() {
            self.begin_close(slot, generation);
        }
    }

    pub(super) fn on_recv(&mut self, token: Token, result: i32, flags: u32) {
        let (slot, generation) = (token.index, token.generation);
        let Some(conn) = self.conns.get_mut(slot, generation) else {
            panic!("recv completion for a released slot {slot}");
        };
        if let Some(bid) = cqueue::buffer_select(flags) {
            if result > 0 && conn.phase == Phase::Open {
                conn.append_input(self.recv_bufs.filled(bid, result as usize));
            }
            self.recv_bufs.give_back(bid);
        }
        let ended = !cqueue::more(flags);
        if ended {
            conn.recv_in_flight = false;
            conn.recv_cancelled = false;
        }
        if conn.phase == Phase::Closing {
            self.finish_close_if_idle(slot, generation);
            return;
        }
        if result > 0 {
            self.core.stats.bytes_read += result as u64;
            if conn.last_step == Step::NeedInput {
                self.drive(slot, generation);
            } else {
                limit_input(&mut self.ring, conn, slot);
            }
            return;
        }
        match -result {
            0 => self.input_ended(slot, generation),
            libc::ENOBUFS | libc::ECANCELED | libc::EINTR => {
                if ended && conn.last_step == Step::NeedInput {
                    arm_recv(&mut self.ring, conn, slot);
                }
            }
            _ => self.begin_close(slot, generation),
        }
    }
}
