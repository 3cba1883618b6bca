//! Draining a shard for a clean shutdown: stop accepting, answer every request already
//! received, then close each connection.
//!
//! Goals: a client whose requests reached the server before the drain began gets every reply
//! and then an orderly close; an idle connection closes at once; requests forwarded to or
//! from other shards are answered too. Non-goals: waiting for requests a client sends after
//! the drain began, or for a client that does not read its replies (the caller stops the
//! shard at its deadline, which closes whatever is left).
//!
//! How, per shard, when the drain is requested:
//! 1. Every listener is shut down (`shutdown(2)`): its accept ends and new connections are
//!    refused. Connections the kernel had already handed over are served like the others.
//! 2. Every open connection's socket is shut down *for reading*. Linux still hands out the
//!    bytes already queued on the socket, then reads return 0: so the recv the connection
//!    has in flight (or its next one) returns what the client sent before the drain, and
//!    then 0 once it is all consumed; an idle connection's recv returns 0 at once.
//! 3. That 0 ends the connection's input (`Shard::input_ended`, as any client's end of
//!    input does): once the session has consumed what was received, the connection is
//!    `Step::Close`, and is closed once its output is sent and every reply it waits for from
//!    another shard has arrived, through the same paths as a `quit` (`on_send`,
//!    `after_reply`).
//! 4. When its last connection is closed the shard says so on its `Waker`. It keeps serving
//!    the requests other shards forward to it until it is told to stop.
//!
//! Invariant: a connection is closed by the drain only when its input has ended and
//! `Conn::output_drained` holds, so no reply to a received request is dropped. A request
//! only partly received when its input ends is not executed (the client sees the close).

use std::os::fd::AsRawFd;

use super::super::conn::{Conn, Phase};
use super::Shard;

impl Shard {
    /// Neither draining nor stopping: listeners stay armed.
    pub(super) fn accepting(&self) -> bool {
        !self.draining && !self.stopping
    }

    /// Steps 1 and 2 above.
    pub(super) fn begin_drain(&mut self) {
        assert!(!self.draining, "drain begun twice");
        self.draining = true;
        for listener in &self.listeners {
            // SAFETY: shutdown(2) on a listening socket this shard owns; it does not block, and
            // the multishot accept armed on it completes with an error (not re-armed).
            unsafe { libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR) };
        }
        for slot in self.conns.live_slots() {
            let generation = self.conns.generation_of(slot);
            let conn = self.conns.get_mut(slot, generation).expect("a live slot");
            if conn.phase == Phase::Open {
                shut_reading(conn);
            }
        }
        self.report_if_drained();
    }

    /// Step 4, checked once per loop turn while draining.
    pub(super) fn report_if_drained(&mut self) {
        if !self.drain_reported && self.conns.live_count() == 0 {
            self.drain_reported = true;
            self.wake.set_drained();
        }
    }
}

/// Shuts `conn`'s socket down for reading: queued bytes can still be read, then reads
/// return 0 (and a recv in flight completes).
pub(super) fn shut_reading(conn: &Conn) {
    // SAFETY: shutdown(2) on a socket this connection owns; it does not block. The recv in
    // flight, if any, completes with the queued bytes or 0; its buffer is untouched here.
    unsafe { libc::shutdown(conn.fd, libc::SHUT_RD) };
}
