//! The origin side of a cross-core request: holes in a connection's output.
//!
//! When a request goes to another shard its reply is not known yet, but the replies to later
//! requests (local ones, or other shards') may be. The connection's output keeps a *hole* where
//! the reply belongs; later replies are appended after it; the runtime sends output only up
//! to the first unfilled hole. Reply bytes from the owner are inserted at their hole, which
//! then moves past them; the owner's `DONE` closes the hole.
//!
//! ```text
//!  out: [ sendable ... | hole(B) | local reply | hole(C) | hole(B) | local reply ... ]
//!                      ^ first unfilled hole: nothing from here on is sent yet
//! ```
//!
//! Holes of one owner fill in the order they were made (its channel is FIFO and it answers a
//! connection's requests in order), so a reply from owner B fills B's oldest unfilled hole.
//! A connection has at most [`REMOTE_INFLIGHT_MAX`] holes; at the limit it stops reading
//! requests until replies arrive. Positions are offsets into the connection's pending
//! output, moved down when the runtime takes sendable bytes off its front.
//!
//! Besides replies, a hole can stand for a *barrier* (a whole-server command waits until every
//! shard has done its part: an empty reply) or for a *local step* that must run only after the
//! holes before it are filled (`stats` renders the counters the other shards published).
//!
//! Service time (see `service_time`): the newest hole of a request that made holes is marked
//! when the request's line is consumed; when that hole leaves the front (every hole before it
//! is filled, its own request's included), the request's reply can be sent and is timed.

use std::time::Instant;

use super::report::{self, Report};
use super::ShardCtx;
use crate::route::SHARD_COUNT_MAX;

/// Most requests one connection may have waiting on other shards (at least one per shard,
/// so that a whole-server command fits).
pub const REMOTE_INFLIGHT_MAX: usize = SHARD_COUNT_MAX;

/// What filling a hole means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HoleKind {
    /// The owner's reply bytes go here.
    Reply,
    /// One key of a multi-get: the owner answers a one-key get whose `END` line is dropped.
    /// `start`: where this hole's bytes begin; `from`: where the multi-get's reply begins
    /// (nothing of it is sent before all of it is here, as memcached sends a multi-get: some
    /// clients expect a short reply in one piece).
    GetKey { start: usize, from: usize },
    /// A local step: render a `stats` report once the shards before it published theirs.
    Stats(Report),
}

#[derive(Clone, Copy, Debug)]
struct Hole {
    /// Where in the pending output the next reply bytes go.
    pos: usize,
    /// The shard that fills it (the local shard for a local step).
    owner: u16,
    kind: HoleKind,
    filled: bool,
    /// The last hole of its request, which is timed from `started` when this hole leaves.
    closes_request: bool,
    started: Option<Instant>,
}

const EMPTY: Hole = Hole {
    pos: 0,
    owner: 0,
    kind: HoleKind::Reply,
    filled: true,
    closes_request: false,
    started: None,
};

/// A connection's unfilled holes, oldest first. Allocated on the connection's first
/// cross-core request (a proxy session on an owner shard never makes holes).
#[derive(Debug)]
pub(super) struct Holes {
    ring: [Hole; REMOTE_INFLIGHT_MAX],
    /// Index of the oldest hole.
    head: usize,
    /// Holes from `head` on, filled ones included until they reach the front.
    len: usize,
    /// Holes ever made (tells whether a request made any).
    made_count: u64,
}

impl Holes {
    pub(super) fn new() -> Holes {
        Holes {
            ring: [EMPTY; REMOTE_INFLIGHT_MAX],
            head: 0,
            len: 0,
            made_count: 0,
        }
    }

    fn at(&self, i: usize) -> &Hole {
        &self.ring[(self.head + i) % REMOTE_INFLIGHT_MAX]
    }

    fn at_mut(&mut self, i: usize) -> &mut Hole {
        &mut self.ring[(self.head + i) % REMOTE_INFLIGHT_MAX]
    }

    pub(super) fn room(&self) -> usize {
        REMOTE_INFLIGHT_MAX - self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn made_count(&self) -> u64 {
        self.made_count
    }

    /// Marks the newest hole as the last of a request complete since `started`.
    pub(super) fn close_request(&mut self, started: Option<Instant>) {
        let newest = self.len.checked_sub(1).expect("a request's hole is here");
        let hole = self.at_mut(newest);
        hole.closes_request = true;
        hole.started = started;
    }

    /// The newest request became complete only now (its value's last bytes were forwarded).
    pub(super) fn restart_newest(&mut self, started: Option<Instant>) {
        if let Some(newest) = self.len.checked_sub(1) {
            let hole = self.at_mut(newest);
            if hole.closes_request {
                hole.started = started;
            }
        }
    }

    /// The position of the newest hole (0 with none).
    pub(super) fn end(&self) -> usize {
        self.len.checked_sub(1).map_or(0, |i| self.at(i).pos)
    }

    pub(super) fn push(&mut self, pos: usize, owner: usize, kind: HoleKind) {
        assert!(
            self.len < REMOTE_INFLIGHT_MAX,
            "hole limit checked by the caller"
        );
        if let Some(last) = self.len.checked_sub(1).map(|i| self.at(i).pos) {
            assert!(last <= pos, "holes are made in output order");
        }
        let len = self.len;
        *self.at_mut(len) = Hole {
            pos,
            owner: owner as u16,
            kind,
            filled: false,
            closes_request: false,
            started: None,
        };
        self.len += 1;
        self.made_count += 1;
    }

    /// Output before the first unfilled hole (or before the start of the multi-get it
    /// belongs to) can be sent.
    pub(super) fn sendable(&self, out_len: usize) -> usize {
        (0..self.len)
            .map(|i| self.at(i))
            .find(|h| !h.filled)
            .map_or(out_len, |h| match h.kind {
                HoleKind::GetKey { from, .. } => from,
                _ => h.pos,
            })
    }

    /// The runtime took `count` bytes off the front of the output.
    pub(super) fn shift_down(&mut self, count: usize) {
        for i in 0..self.len {
            let hole = self.at_mut(i);
            assert!(
                hole.filled || hole.pos >= count,
                "sent past an unfilled hole"
            );
            hole.pos = hole.pos.saturating_sub(count);
            if let HoleKind::GetKey { start, from } = &mut hole.kind {
                *start = start.saturating_sub(count);
                *from = from.saturating_sub(count);
            }
        }
    }

    /// Moves every hole after `index` by `delta` bytes, inserted at or removed up to `at`.
    /// A multi-get's `from` moves only if it lies after `at`: bytes inserted right at its
    /// start may be its own first key's (at worst an earlier reply then waits for the whole
    /// multi-get too, which is never wrong).
    fn shift_after(&mut self, index: usize, delta: isize, at: usize) {
        for i in index + 1..self.len {
            let hole = self.at_mut(i);
            hole.pos = hole.pos.checked_add_signed(delta).expect("hole position");
            if let HoleKind::GetKey { start, from } = &mut hole.kind {
                *start = start.checked_add_signed(delta).expect("hole position");
                let moves = if delta >= 0 { *from > at } else { *from >= at };
                if moves {
                    *from = from.checked_add_signed(delta).expect("hole position");
                }
            }
        }
    }

    /// Drops the filled holes at the front, timing the requests they close.
    fn drop_filled_front(&mut self, ctx: &mut ShardCtx<'_>) {
        let mut now = None;
        while self.len > 0 && self.at(0).filled {
            let hole = self.at(0);
            if let (true, Some(started)) = (hole.closes_request, hole.started) {
                let now = *now.get_or_insert_with(Instant::now);
                ctx.stats.service.record_since(started, now);
            }
            self.head = (self.head + 1) % REMOTE_INFLIGHT_MAX;
            self.len -= 1;
        }
        if self.len == 0 {
            self.head = 0;
        }
    }

    /// Reply bytes from `owner`: inserted at its oldest unfilled hole; `done` closes it.
    /// Returns false if `owner` has no unfilled hole (a reply nobody waits for).
    pub(super) fn fill(
        &mut self,
        owner: usize,
        bytes: &[u8],
        done: bool,
        out: &mut Vec<u8>,
        ctx: &mut ShardCtx<'_>,
    ) -> bool {
        let Some(index) =
            (0..self.len).find(|&i| !self.at(i).filled && self.at(i).owner as usize == owner)
        else {
            return false;
        };
        let pos = self.at(index).pos;
        insert(out, pos, bytes);
        self.at_mut(index).pos += bytes.len();
        self.shift_after(index, bytes.len() as isize, pos);
        if done {
            let hole = *self.at(index);
            if let HoleKind::GetKey { start, .. } = hole.kind {
                // The owner answered a one-key get: keep its VALUE block, drop its END.
                const END: &[u8] = b"END\r\n";
                if out[start..hole.pos].ends_with(END) {
                    out.drain(hole.pos - END.len()..hole.pos);
                    self.at_mut(index).pos -= END.len();
                    self.shift_after(index, -(END.len() as isize), hole.pos);
                }
            }
            self.at_mut(index).filled = true;
        }
        self.run_local_steps(out, ctx);
        self.drop_filled_front(ctx);
        true
    }

    /// Runs local steps whose turn has come (every hole before them is filled).
    pub(super) fn run_local_steps(&mut self, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
        for index in 0..self.len {
            let hole = *self.at(index);
            if hole.filled {
                continue;
            }
            let HoleKind::Stats(report) = hole.kind else {
                return;
            };
            let before = out.len();
            report::render(report, out, ctx);
            let rendered = out.len() - before;
            out[hole.pos..].rotate_right(rendered);
            self.at_mut(index).filled = true;
            self.shift_after(index, rendered as isize, hole.pos);
        }
    }
}

/// Inserts `bytes` at `pos` (appended, then rotated into place: no allocation).
fn insert(out: &mut Vec<u8>, pos: usize, bytes: &[u8]) {
    assert!(pos <= out.len(), "hole beyond the output");
    if pos == out.len() {
        out.extend_from_slice(bytes);
    } else {
        out.extend_from_slice(bytes);
        out[pos..].rotate_right(bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::check::Harness;

    #[test]
    fn replies_fill_holes_in_request_order_per_owner() {
        let mut harness = Harness::new();
        let mut ctx = harness.ctx();
        let mut holes = Holes::new();
        let mut out = Vec::new();
        holes.push(out.len(), 1, HoleKind::Reply);
        out.extend_from_slice(b"L1\r\n");
        holes.push(out.len(), 2, HoleKind::Reply);
        holes.push(out.len(), 1, HoleKind::Reply);
        out.extend_from_slice(b"L2\r\n");
        assert_eq!(holes.sendable(out.len()), 0);
        // Shard 2 answers first; nothing becomes sendable before shard 1's first reply.
        assert!(holes.fill(2, b"B1\r\n", true, &mut out, &mut ctx));
        assert_eq!(holes.sendable(out.len()), 0);
        assert!(holes.fill(1, b"A", false, &mut out, &mut ctx));
        assert!(holes.fill(1, b"1\r\n", true, &mut out, &mut ctx));
        assert_eq!(&out[..holes.sendable(out.len())], b"A1\r\nL1\r\nB1\r\n");
        assert!(holes.fill(1, b"A2\r\n", true, &mut out, &mut ctx));
        assert!(holes.is_empty());
        assert_eq!(out, b"A1\r\nL1\r\nB1\r\nA2\r\nL2\r\n");
        assert!(
            !holes.fill(1, b"x", true, &mut out, &mut ctx),
            "no hole left"
        );
    }

    #[test]
    fn multiget_key_replies_lose_their_end_line() {
        let mut harness = Harness::new();
        let mut ctx = harness.ctx();
        let mut holes = Holes::new();
        let mut out = b"VALUE a 0 1\r\na\r\n".to_vec();
        let get = |start| HoleKind::GetKey { start, from: 0 };
        holes.push(out.len(), 1, get(out.len()));
        holes.push(out.len(), 1, get(out.len()));
        out.extend_from_slice(b"END\r\n");
        assert_eq!(holes.sendable(out.len()), 0, "a multi-get goes out whole");
        assert!(holes.fill(1, b"VALUE b 0 1\r\nb\r\nEND\r\n", true, &mut out, &mut ctx));
        assert!(holes.fill(1, b"END\r\n", true, &mut out, &mut ctx));
        assert_eq!(out, b"VALUE a 0 1\r\na\r\nVALUE b 0 1\r\nb\r\nEND\r\n");
        assert!(holes.is_empty());
    }

    #[test]
    fn sending_moves_holes_down() {
        let mut harness = Harness::new();
        let mut ctx = harness.ctx();
        let mut holes = Holes::new();
        let mut out = b"ready".to_vec();
        holes.push(out.len(), 1, HoleKind::Reply);
        out.extend_from_slice(b"later");
        let sendable = holes.sendable(out.len());
        assert_eq!(sendable, 5);
        out.drain(..sendable);
        holes.shift_down(sendable);
        assert!(holes.fill(1, b"mid", true, &mut out, &mut ctx));
        assert_eq!(out, b"midlater");
    }

    #[test]
    fn the_hole_limit_is_reported() {
        let mut holes = Holes::new();
        for _ in 0..REMOTE_INFLIGHT_MAX {
            holes.push(0, 1, HoleKind::Reply);
        }
        assert_eq!(holes.room(), 0);
    }
}
