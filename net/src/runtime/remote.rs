//! The owner side of cross-core requests: proxy sessions and the reply channels.
//!
//! Every (origin shard, origin connection) that sent this shard a request has a *proxy*: an
//! [`exec::Session`](crate::exec::Session) of its own with an output buffer, created on its
//! first message and kept for the slot's next connection. Request bytes run through the proxy
//! exactly as a connection's bytes run through its session, so a forwarded command behaves as
//! if it had arrived here; its reply bytes go back on the reply channel, the last message of
//! each request flagged [`FLAG_DONE`].
//!
//! A message is taken off a request channel only when the reply channel back has room (see
//! `route` for why that rule rules out deadlock). When a reply does not fit, the proxy keeps
//! the rest and that origin's channel is *stalled*: nothing more is taken from it until the
//! rest is out (the origin always drains replies, and `try_send` asked it to wake us).

use super::channel::{MsgHeader, Receiver, Sender, MSG_PAYLOAD_MAX_BYTES};
use super::shard::Core;
use crate::exec::{self, Session};
use crate::proto::peek;
use crate::route::{kind, ConnId, Control, FLAG_DONE};

/// Messages taken from one request channel per loop turn (the rest wait for the next turn,
/// so that one busy peer cannot starve the shard's own connections).
pub const REQUESTS_PER_TURN_MAX: usize = 256;

struct Proxy {
    generation: u32,
    session: Session,
    out: Vec<u8>,
    /// Bytes of `out` already sent back.
    shipped: usize,
    /// The request whose reply is in `out` is complete: the last message carries DONE.
    done_owed: bool,
}

impl Proxy {
    fn new(generation: u32) -> Proxy {
        Proxy {
            generation,
            session: Session::for_proxy(),
            out: Vec::new(),
            shipped: 0,
            done_owed: false,
        }
    }

    /// The origin connection behind this proxy is gone: drop what it left half done.
    fn reset(&mut self, generation: u32, core: &mut Core, conn: ConnId) {
        self.session.on_close(&mut core.ctx(conn));
        self.generation = generation;
        self.out.clear();
        self.shipped = 0;
        self.done_owed = false;
    }

    /// Sends the unsent reply bytes back; `false` if the reply channel filled first.
    fn ship(&mut self, slot: u32, replies: &mut Sender) -> bool {
        while self.shipped < self.out.len() || self.done_owed {
            let end = self.out.len().min(self.shipped + MSG_PAYLOAD_MAX_BYTES);
            let chunk = &self.out[self.shipped..end];
            let last = end == self.out.len();
            let header = MsgHeader {
                kind: kind::REPLY,
                flags: if last && self.done_owed { FLAG_DONE } else { 0 },
                conn_slot: slot,
                conn_generation: self.generation,
                len: chunk.len() as u32,
            };
            let sent = replies.try_send(header, |buf| {
                buf[..chunk.len()].copy_from_slice(chunk);
                chunk.len()
            });
            if !sent {
                return false;
            }
            self.shipped = end;
            if last {
                self.out.clear();
                self.shipped = 0;
                self.done_owed = false;
            }
        }
        true
    }
}

/// What this shard receives from the others.
pub struct Inbound {
    /// `requests[src]`: requests from shard `src` (`None` for this shard).
    requests: Vec<Option<Receiver>>,
    /// `replies_out[src]`: replies to shard `src`'s requests.
    replies_out: Vec<Option<Sender>>,
    /// `replies_in[owner]`: replies to this shard's requests.
    pub replies_in: Vec<Option<Receiver>>,
    conn_limit: usize,
    /// `proxies[src * conn_limit + slot]`.
    proxies: Vec<Option<Box<Proxy>>>,
    /// `stalled[src]`: the proxy slot whose reply did not fit.
    stalled: Vec<Option<u32>>,
}

impl Inbound {
    pub fn new(
        requests: Vec<Option<Receiver>>,
        replies_out: Vec<Option<Sender>>,
        replies_in: Vec<Option<Receiver>>,
        conn_limit: usize,
    ) -> Inbound {
        let shard_count = requests.len();
        assert_eq!(replies_out.len(), shard_count);
        assert_eq!(replies_in.len(), shard_count);
        Inbound {
            requests,
            replies_out,
            replies_in,
            conn_limit,
            proxies: (0..shard_count * conn_limit).map(|_| None).collect(),
            stalled: vec![None; shard_count],
        }
    }

    /// A one-shard server's: nothing comes in.
    pub fn none() -> Inbound {
        Inbound::new(vec![None], vec![None], vec![None], 0)
    }

    pub fn shard_count(&self) -> usize {
        self.requests.len()
    }

    /// `true` if a call to [`Inbound::serve`] or draining `replies_in` would do something.
    /// Part of the sleep protocol: for every reply channel this shard waits on (a stalled
    /// proxy, or requests queued behind a full one) it calls `has_space`, which re-arms the
    /// consumer's promise to wake us (see `channel`, step 7).
    pub fn has_work(&self) -> bool {
        let replies = self.replies_in.iter().flatten().any(|rx| !rx.is_empty());
        let requests = (0..self.requests.len()).any(|src| {
            let (Some(rx), Some(tx)) = (&self.requests[src], &self.replies_out[src]) else {
                return false;
            };
            let waiting = self.stalled[src].is_some() || !rx.is_empty();
            waiting && tx.has_space()
        });
        replies || requests
    }

    /// Serves requests from shard `src`: up to [`REQUESTS_PER_TURN_MAX`] messages, while the
    /// reply channel back has room.
    pub fn serve(&mut self, src: usize, core: &mut Core) {
        let (Some(requests), Some(replies)) =
            (self.requests[src].as_mut(), self.replies_out[src].as_mut())
        else {
            return;
        };
        if let Some(slot) = self.stalled[src] {
            let proxy = self.proxies[src * self.conn_limit + slot as usize]
                .as_mut()
                .expect("a stalled proxy exists");
            if !proxy.ship(slot, replies) {
                return;
            }
            self.stalled[src] = None;
        }
        // As for the shard's own receives: hint the memory of a batch's keys first.
        if requests.peek_at(1).is_some() {
            let keys = (0..REQUESTS_PER_TURN_MAX)
                .map_while(|index| requests.peek_at(index))
                .filter(|(header, _)| header.kind == kind::REQUEST_BYTES)
                .filter_map(|(_, payload)| peek::first_key(payload));
            core.store.prefetch_keys(keys);
        }
        for _ in 0..REQUESTS_PER_TURN_MAX {
            let Some((header, payload)) = requests.peek() else {
                return;
            };
            if !replies.has_space() {
                return;
            }
            let conn = ConnId {
                slot: header.conn_slot,
                generation: header.conn_generation,
            };
            assert!(
                (conn.slot as usize) < self.conn_limit,
                "message for slot {} beyond the connection limit",
                conn.slot
            );
            let entry = &mut self.proxies[src * self.conn_limit + conn.slot as usize];
            match header.kind {
                kind::REQUEST_BYTES => {
                    let proxy = entry.get_or_insert_with(|| Box::new(Proxy::new(conn.generation)));
                    if proxy.generation != conn.generation {
                        proxy.reset(conn.generation, core, conn);
                    }
                    assert!(
                        proxy.out.is_empty() && !proxy.done_owed,
                        "proxy output left from an earlier message"
                    );
                    let mut ctx = core.ctx(conn);
                    let (consumed, step) = proxy.session.process(payload, &mut proxy.out, &mut ctx);
                    // The origin sends bytes of one request per message, so the proxy takes
                    // the whole message: a line is always whole, a data block streams.
                    assert_eq!(
                        consumed,
                        payload.len(),
                        "proxy left part of a message ({step:?})"
                    );
                    assert!(step != exec::Step::Blocked, "a proxy never forwards");
                    proxy.done_owed = proxy.session.is_idle();
                    core.stats.cross_shard_served += u64::from(proxy.done_owed);
                    requests.pop();
                    if !proxy.ship(conn.slot, replies) {
                        self.stalled[src] = Some(conn.slot);
                        return;
                    }
                }
                kind::CONTROL => {
                    run_control(Control::decode(payload), core, conn);
                    requests.pop();
                    let done = MsgHeader {
                        kind: kind::REPLY,
                        flags: FLAG_DONE,
                        len: 0,
                        ..header
                    };
                    let sent = replies.try_send(done, |_| 0);
                    assert!(sent, "room for the reply was checked");
                }
                kind::CLOSED => {
                    if let Some(proxy) = entry {
                        if proxy.generation == conn.generation {
                            proxy.reset(conn.generation, core, conn);
                        }
                    }
                    requests.pop();
                }
                other => panic!("unexpected message kind {other} on a request channel"),
            }
        }
    }

    /// Wakes the shards this one sent replies to during the turn, if they sleep.
    pub fn notify(&mut self) {
        for sender in self.replies_out.iter_mut().flatten() {
            sender.notify();
        }
    }
}

fn run_control(control: Control, core: &mut Core, conn: ConnId) {
    let mut ctx = core.ctx(conn);
    match control {
        Control::Flush { exptime } => exec::flush_local(exptime, &mut ctx),
        Control::Verbosity { level } => ctx.settings.verbosity = level,
        Control::PublishStats => core.publish_stats(),
        Control::ResetStats => exec::reset_stats(ctx.stats),
    }
}
