//! Cross-core routing: which shard owns a key, and the messages shards exchange.
//!
//! Goals: every key has exactly one owner shard ([`shard_of`]); a request for a key the
//! receiving shard owns runs in place, any other travels to its owner as an explicit message
//! and its reply comes back the same way. Non-goals: moving connections between shards,
//! sharing any mutable state on the data path.
//!
//! ```text
//!   shard A (origin: owns the connection)                 shard B (owner of the key)
//!   ┌──────────────────────────────┐   requests A→B    ┌──────────────────────────────┐
//!   │ Session: line parsed, key's  │ ────────────────> │ Proxy for (A, conn): a       │
//!   │ owner is B → forward bytes,  │   (4 KiB slots)   │ Session of its own that runs │
//!   │ leave a hole in the output   │                   │ the bytes against B's store  │
//!   │                              │ <──────────────── │                              │
//!   │ reply fills the hole; output │   replies B→A     │ reply bytes, DONE at the end │
//!   │ is sent up to the first hole │                   │ of each request              │
//!   └──────────────────────────────┘                   └──────────────────────────────┘
//! ```
//!
//! Channels: for every ordered pair of shards (A, B) one request channel A→B and one reply
//! channel B→A, both bounded single-producer/single-consumer queues ([`channel`]). Requests and
//! replies never share a channel, which is what keeps two shards that flood each other from
//! deadlocking:
//! 1. a shard always drains its reply channels (a reply only fills a hole in a connection's
//!    output, which never waits for anything);
//! 2. a shard takes a request only when the reply channel back has room for its reply, and
//!    otherwise leaves it queued (the request channel fills and the origin's connection stops
//!    reading: back-pressure reaches that client only).
//!
//! So every wait is for a reply channel to drain, and by rule 1 every reply channel drains.
//!
//! Order: replies from one owner come back in the order its requests were sent (one FIFO
//! channel, one proxy session per origin connection); holes are filled in request order per
//! owner, and a connection's output is sent only up to its first unfilled hole.
//!
//! [`channel`]: crate::runtime::channel

pub mod board;

use crate::runtime::channel::{MsgHeader, Sender, MSG_PAYLOAD_MAX_BYTES};

/// Most shards a server runs (`-t`).
pub const SHARD_COUNT_MAX: usize = 128;

/// The shard that owns `key` among `shard_count`. CRC-32 of the key (`crc32fast`, which
/// uses the CPU's carry-less multiply),
/// mapped to a shard by multiply-shift so that every shard count spreads evenly; a different
/// function from the engine's index hash, so a shard's keys still spread over its buckets.
#[inline]
pub fn shard_of(key: &[u8], shard_count: usize) -> usize {
    debug_assert!(shard_count > 0);
    if shard_count == 1 {
        return 0;
    }
    let hash = u64::from(crc32fast::hash(key));
    ((hash * shard_count as u64) >> 32) as usize
}

/// Message kinds ([`MsgHeader::kind`]).
pub mod kind {
    /// Request bytes of one origin connection, for its proxy session on the owner. A message
    /// holds bytes of one request only: its line (and the start of its data block), or more
    /// of its data block.
    pub const REQUEST_BYTES: u8 = 1;
    /// A whole-server command's share of work (payload: [`super::Control`]).
    pub const CONTROL: u8 = 2;
    /// The origin connection closed: its proxy drops any half-received value.
    pub const CLOSED: u8 = 3;
    /// Reply bytes for one origin connection; flag [`super::FLAG_DONE`] ends a request.
    pub const REPLY: u8 = 4;
}

/// [`MsgHeader::flags`] of a reply: this message ends the reply to one request.
pub const FLAG_DONE: u8 = 1;

/// The part of a whole-server command one shard carries out for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// `flush_all [delay]`.
    Flush { exptime: i64 },
    /// `verbosity N`.
    Verbosity { level: u32 },
    /// Publish this shard's counters on the [`board`] (for `stats`).
    PublishStats,
    /// `stats reset`.
    ResetStats,
}

impl Control {
    const ENCODED_LEN_BYTES: usize = 9;

    fn encode(self, buf: &mut [u8]) -> usize {
        let (tag, arg) = match self {
            Control::Flush { exptime } => (1u8, exptime),
            Control::Verbosity { level } => (2, i64::from(level)),
            Control::PublishStats => (3, 0),
            Control::ResetStats => (4, 0),
        };
        buf[0] = tag;
        buf[1..9].copy_from_slice(&arg.to_le_bytes());
        Self::ENCODED_LEN_BYTES
    }

    pub fn decode(payload: &[u8]) -> Control {
        assert_eq!(
            payload.len(),
            Self::ENCODED_LEN_BYTES,
            "control message size"
        );
        let arg = i64::from_le_bytes(payload[1..9].try_into().expect("8 bytes"));
        match payload[0] {
            1 => Control::Flush { exptime: arg },
            2 => Control::Verbosity {
                level: u32::try_from(arg).expect("verbosity level"),
            },
            3 => Control::PublishStats,
            4 => Control::ResetStats,
            tag => panic!("unknown control message {tag}"),
        }
    }
}

/// The connection a message is about: its slot on the origin shard and the slot's generation
/// (a reply for a connection that has since closed is dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnId {
    pub slot: u32,
    pub generation: u32,
}

/// One shard's sending side: its request channel to every other shard.
pub struct Router {
    local: usize,
    shard_count: usize,
    /// `requests[owner]`: the channel to `owner`; `None` for the local shard.
    requests: Vec<Option<Sender>>,
}

impl Router {
    /// A router for a one-shard server: every key is local, nothing is ever forwarded.
    pub fn single() -> Router {
        Router {
            local: 0,
            shard_count: 1,
            requests: vec![None],
        }
    }

    /// `requests[i]` is the channel to shard `i` (`None` at `local`).
    pub fn new(local: usize, requests: Vec<Option<Sender>>) -> Router {
        assert!(local < requests.len() && requests[local].is_none());
        assert!(requests.len() <= SHARD_COUNT_MAX);
        Router {
            local,
            shard_count: requests.len(),
            requests,
        }
    }

    pub fn local(&self) -> usize {
        self.local
    }

    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// The shard that owns `key`.
    #[inline]
    pub fn owner_of(&self, key: &[u8]) -> usize {
        shard_of(key, self.shard_count)
    }

    /// Room for one more message to `owner`.
    pub fn has_space(&self, owner: usize) -> bool {
        self.requests[owner].as_ref().is_some_and(Sender::has_space)
    }

    /// Room for one more message to every other shard.
    pub fn has_space_everywhere(&self) -> bool {
        self.requests.iter().flatten().all(Sender::has_space)
    }

    /// Sends `parts` (concatenated, at most [`MSG_PAYLOAD_MAX_BYTES`]) to `owner` as one
    /// message; `false` if its channel is full.
    pub fn send(&mut self, owner: usize, kind: u8, conn: ConnId, parts: &[&[u8]]) -> bool {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        assert!(len <= MSG_PAYLOAD_MAX_BYTES, "message of {len} bytes");
        let sender = self.requests[owner]
            .as_mut()
            .expect("messages go to other shards only");
        let header = MsgHeader {
            kind,
            flags: 0,
            conn_slot: conn.slot,
            conn_generation: conn.generation,
            len: len as u32,
        };
        sender.try_send(header, |buf| {
            let mut at = 0;
            for part in parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            at
        })
    }

    /// Sends `control` to every other shard. The caller checked
    /// [`Router::has_space_everywhere`].
    pub fn broadcast(&mut self, control: Control, conn: ConnId) {
        let mut buf = [0u8; Control::ENCODED_LEN_BYTES];
        let len = control.encode(&mut buf);
        for owner in 0..self.shard_count {
            if owner != self.local {
                let sent = self.send(owner, kind::CONTROL, conn, &[&buf[..len]]);
                assert!(sent, "broadcast without room");
            }
        }
    }

    /// Wakes every shard this one sent to during the loop turn, if it sleeps.
    pub fn notify(&mut self) {
        for sender in self.requests.iter_mut().flatten() {
            sender.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shard_gets_a_fair_share_of_keys() {
        for shard_count in [2usize, 3, 4, 7, 16] {
            let mut counts = vec![0u32; shard_count];
            let keys = 20_000 * shard_count;
            for i in 0..keys {
                counts[shard_of(format!("key:{i}").as_bytes(), shard_count)] += 1;
            }
            let expected = (keys / shard_count) as f64;
            for (shard, &count) in counts.iter().enumerate() {
                let skew = (f64::from(count) - expected).abs() / expected;
                assert!(
                    skew < 0.05,
                    "{shard_count} shards: shard {shard} has {count}"
                );
            }
        }
    }

    #[test]
    fn one_shard_owns_everything_and_ownership_is_stable() {
        assert_eq!(shard_of(b"anything", 1), 0);
        assert_eq!(shard_of(b"foo", 4), shard_of(b"foo", 4));
        assert!(shard_of(b"foo", 4) < 4);
    }

    #[test]
    fn control_messages_round_trip() {
        for control in [
            Control::Flush { exptime: -5 },
            Control::Flush { exptime: 86_400 },
            Control::Verbosity { level: 2 },
            Control::PublishStats,
            Control::ResetStats,
        ] {
            let mut buf = [0u8; 16];
            let len = control.encode(&mut buf);
            assert_eq!(Control::decode(&buf[..len]), control);
        }
    }
}
