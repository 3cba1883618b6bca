//! Command execution: turns the bytes of one connection into replies against the shard's
//! store.
//!
//! CONTRACT (owned by the lead; the protocol helper implements it): the runtime owns sockets
//! and buffers and calls [`Session::process`] whenever a connection has unconsumed input or
//! room for more output. A `Session` is the protocol state of one connection; it allocates
//! nothing on the heap.
//!
//! Design: a session is in one of three states.
//!
//! ```text
//!            line parsed: storage command, memory reserved
//!   Idle ─────────────────────────────────────────────────> Receiving { reservation, filled }
//!    ^  │ too large / out of memory / ms error                 │ value bytes copied into the
//!    │  └──────────────────────────> Swallowing { remaining }  │ reservation as they arrive,
//!    │                                   │                     │ then the 2-byte "\r\n" check
//!    └───────────────────────────────────┴─────────────────────┘ commit / abort + reply
//! ```
//!
//! Value bytes never wait in the input buffer: they are consumed as soon as they arrive, so a
//! 1 MiB value needs no more than one receive's worth of input buffer. A multi-get whose
//! replies pass [`OUT_HIGH_WATER_BYTES`] stops after the current key, leaves its line
//! unconsumed and remembers where to resume (`get_resume_at`).
//!
//! Per-command files: `storage` (set add replace append prepend cas and value streaming),
//! `retrieval` (get gets gat gats), `keyed` (delete touch incr decr), `meta` (mg ms md ma me
//! mn), `misc` (stats flush_all version verbosity).

mod keyed;
mod meta;
mod misc;
mod retrieval;
mod storage;
mod write;

use ringcache_engine::{Clock, Store};

use crate::proto::line::{frame, Frame};
use crate::proto::request::{self, Request};
use crate::stats::ShardStats;

/// Stop consuming requests once a connection's pending output reaches this many bytes; the
/// runtime calls `process` again after sending.
pub const OUT_HIGH_WATER_BYTES: usize = 64 * 1024;

/// The session never needs more than this many unconsumed input bytes to make progress:
/// with this many buffered it either consumes some or asks to close. The runtime's read
/// buffer may grow up to this size and no further.
pub const INPUT_PENDING_MAX_BYTES: usize = 64 * 1024;

/// Facts about the server that replies need (`stats`, `version`).
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub pid: u32,
    pub version: &'static str,
    pub max_connections: u32,
    pub threads: u32,
    pub item_size_max_bytes: usize,
    pub memory_limit_bytes: usize,
}

/// Settings that commands may change at run time.
#[derive(Clone, Debug, Default)]
pub struct RuntimeSettings {
    pub verbosity: u32,
}

/// Everything a command may touch on its shard.
pub struct ShardCtx<'a> {
    pub store: &'a mut Store,
    pub clock: &'a Clock,
    pub stats: &'a mut ShardStats,
    pub server: &'a ServerInfo,
    pub settings: &'a mut RuntimeSettings,
}

/// What the connection should do after [`Session::process`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// All complete requests were answered; read more input.
    NeedInput,
    /// Output reached [`OUT_HIGH_WATER_BYTES`]; send it, then call `process` again.
    OutputFull,
    /// Send what is in `out`, then close the connection (quit, line too long, ...).
    Close,
}

// Inline on purpose (a few hundred bytes per connection): boxing the receiving state
// would allocate per storage command.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    /// Streaming a storage command's value into reserved item memory.
    Receiving(storage::Pending),
    /// Discarding a value block memcached would swallow (too large, out of memory, ms error).
    Swallowing { remaining_bytes: usize },
}

/// How executing one command line went.
enum Flow {
    /// The line is answered; consume it.
    Next,
    /// Output is full in the middle of a multi-get: keep the line, resume later.
    Yield,
    /// Consume the line and close the connection.
    Close,
}

/// The protocol state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    state: State,
    /// Offset, within the multi-get line at the front of the input, of the next key to
    /// answer; 0 when no multi-get is in progress.
    get_resume_at: usize,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// Consumes complete requests from the front of `input`, appending their replies to
    /// `out`, and returns how many input bytes were consumed and what to do next.
    pub fn process(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        ctx: &mut ShardCtx<'_>,
    ) -> (usize, Step) {
        let mut pos = 0;
        // memcached sends replies when it runs out of complete requests; a connection it
        // closes for an over-long line drops the replies not sent yet, i.e. those to the
        // requests that arrived together with that line (this call's).
        let out_len_at_start = out.len();
        loop {
            debug_assert!(pos <= input.len());
            if out.len() >= OUT_HIGH_WATER_BYTES {
                return (pos, Step::OutputFull);
            }
            match &mut self.state {
                State::Receiving(_) => {
                    pos += storage::receive(self, &input[pos..], out, ctx);
                    if matches!(self.state, State::Receiving(_)) {
                        debug_assert_eq!(pos, input.len());
                        return (pos, Step::NeedInput);
                    }
                }
                State::Swallowing { remaining_bytes } => {
                    let n = (*remaining_bytes).min(input.len() - pos);
                    *remaining_bytes -= n;
                    pos += n;
                    if *remaining_bytes > 0 {
                        return (pos, Step::NeedInput);
                    }
                    self.state = State::Idle;
                }
                State::Idle => match frame(&input[pos..]) {
                    Frame::Incomplete => return (pos, Step::NeedInput),
                    Frame::TooLong => {
                        out.truncate(out_len_at_start);
                        return (pos, Step::Close);
                    }
                    Frame::Line { text, len } => match self.execute(text, out, ctx) {
                        Flow::Next => pos += len,
                        Flow::Yield => return (pos, Step::OutputFull),
                        Flow::Close => return (pos + len, Step::Close),
                    },
                },
            }
        }
    }

    /// The connection is gone: give back anything held (a half-received value's reservation).
    pub fn on_close(&mut self, ctx: &mut ShardCtx<'_>) {
        if let State::Receiving(pending) = std::mem::take(&mut self.state) {
            ctx.store.abort(pending.into_reservation());
        }
        self.get_resume_at = 0;
    }

    /// `true` while a storage command's value is being received (its memory is reserved).
    #[doc(hidden)]
    pub fn is_receiving_value(&self) -> bool {
        matches!(self.state, State::Receiving(_))
    }

    fn execute(&mut self, line: &[u8], out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) -> Flow {
        match request::parse(line) {
            Request::Get(get) => return retrieval::get(self, &get, out, ctx),
            Request::Store(store) => storage::begin_classic(self, &store, out, ctx),
            Request::Meta(meta) => meta::execute(self, &meta, out, ctx),
            Request::MetaNoop => out.extend_from_slice(b"MN\r\n"),
            Request::Delete { key, noreply } => keyed::delete(key, noreply, out, ctx),
            Request::Touch {
                key,
                exptime,
                noreply,
            } => keyed::touch(key, exptime, noreply, out, ctx),
            Request::Arith {
                key,
                decr,
                delta,
                noreply,
            } => keyed::arith(key, decr, delta, noreply, out, ctx),
            Request::FlushAll { exptime, noreply } => misc::flush_all(exptime, noreply, out, ctx),
            Request::Verbosity { level, noreply } => misc::verbosity(level, noreply, out, ctx),
            Request::Version => misc::version(out, ctx),
            Request::Stats(tokens) => misc::stats(&tokens, out, ctx),
            Request::Quit | Request::Close => return Flow::Close,
            Request::Reject {
                error,
                noreply,
                swallow_bytes,
            } => {
                if !noreply {
                    out.extend_from_slice(error.line());
                }
                if swallow_bytes > 0 {
                    self.state = State::Swallowing {
                        remaining_bytes: swallow_bytes,
                    };
                }
            }
        }
        Flow::Next
    }
}

#[cfg(test)]
mod tests;
