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
mod remote;
mod report;
mod retrieval;
mod storage;
mod tally;
mod write;

use ringcache_engine::{Clock, Store};

use crate::proto::line::{frame, Frame};
use crate::proto::meta::MetaCommand;
use crate::proto::request::{self, Request};
use crate::route::board::StatsBoard;
use crate::route::{kind, ConnId, Router};
use crate::runtime::channel::MSG_PAYLOAD_MAX_BYTES;
use crate::stats::ShardStats;
use tally::{command_of, Line};

pub use misc::{flush_local, reset as reset_stats};
pub use remote::REMOTE_INFLIGHT_MAX;

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
    /// The way to the other shards.
    pub route: &'a mut Router,
    /// Every shard's published counters (`stats`).
    pub board: &'a StatsBoard,
    /// The connection being served (named in cross-core messages).
    pub conn: ConnId,
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
    /// Waiting for another shard: its channel is full ([`Session::blocked_on`]) or the
    /// connection has [`REMOTE_INFLIGHT_MAX`] requests out. The runtime calls `process` again
    /// when the channel has room or a reply arrives.
    Blocked,
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
    /// Passing a storage command's value block on to the shard that owns its key.
    Forwarding {
        owner: usize,
        remaining_bytes: usize,
    },
}

/// How executing one command line went.
enum Flow {
    /// The line is answered; consume it.
    Next,
    /// Output is full in the middle of a multi-get: keep the line, resume later.
    Yield,
    /// Consume the line and close the connection.
    Close,
    /// The line (and `data_len` bytes after it) belong to shard `owner`: send them there.
    Forward { owner: usize, data_len: usize },
    /// Keep the line: a channel is full or too many requests are out; run it again later.
    Blocked,
}

/// The protocol state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    state: State,
    /// Offset, within the multi-get line at the front of the input, of the next key to
    /// answer; 0 when no multi-get is in progress.
    get_resume_at: usize,
    /// Replies still expected from other shards; allocated on the first cross-core request.
    holes: Option<Box<remote::Holes>>,
    /// The shard whose full channel stopped the last `process` (see [`Step::Blocked`]).
    blocked_on: Option<usize>,
    /// The command line at the front of the input, from its first `execute` until it is
    /// consumed (it runs again after `Blocked`, and a multi-get resumes after `Yield`).
    line: Option<Line>,
    /// A proxy on an owner shard (see `runtime::remote`): it counts no commands and times
    /// nothing, as the origin shard does both for the requests it forwards.
    proxy: bool,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// The session an owner shard runs another shard's forwarded requests in.
    pub fn for_proxy() -> Session {
        Session {
            proxy: true,
            ..Session::default()
        }
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
        self.blocked_on = None;
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
                    // The value's last bytes came in this call: timed from its start.
                    if !self.proxy {
                        let started = ctx.stats.service.batch_started();
                        ctx.stats.service.completed(started);
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
                &mut State::Forwarding {
                    owner,
                    remaining_bytes,
                } => {
                    let n = remaining_bytes
                        .min(input.len() - pos)
                        .min(MSG_PAYLOAD_MAX_BYTES);
                    if n == 0 {
                        return (pos, Step::NeedInput);
                    }
                    let chunk = &input[pos..pos + n];
                    if !ctx
                        .route
                        .send(owner, kind::REQUEST_BYTES, ctx.conn, &[chunk])
                    {
                        self.blocked_on = Some(owner);
                        return (pos, Step::Blocked);
                    }
                    pos += n;
                    self.state = if n == remaining_bytes {
                        // The request is complete only now: its time starts with this call.
                        if let Some(holes) = &mut self.holes {
                            holes.restart_newest(ctx.stats.service.batch_started());
                        }
                        State::Idle
                    } else {
                        State::Forwarding {
                            owner,
                            remaining_bytes: remaining_bytes - n,
                        }
                    };
                }
                State::Idle => match frame(&input[pos..]) {
                    Frame::Incomplete => return (pos, Step::NeedInput),
                    Frame::TooLong => {
                        // Never below a hole: the replies it waits for are still coming.
                        out.truncate(out_len_at_start.max(self.hole_end()));
                        return (pos, Step::Close);
                    }
                    Frame::Line { text, len } => match self.execute(text, out, ctx) {
                        Flow::Next => {
                            pos += len;
                            self.line_done(ctx);
                        }
                        Flow::Yield => return (pos, Step::OutputFull),
                        Flow::Close => {
                            self.line_done(ctx);
                            return (pos + len, Step::Close);
                        }
                        Flow::Blocked => return (pos, Step::Blocked),
                        Flow::Forward { owner, data_len } => {
                            match self.forward(&input[pos..], len, owner, data_len, out, ctx) {
                                Some(sent) => {
                                    pos += sent;
                                    self.line_done(ctx);
                                }
                                None => return (pos, Step::Blocked),
                            }
                        }
                    },
                },
            }
        }
    }

    /// Sends a request line (`line_len` bytes at the front of `input`) and as much of its
    /// `data_len`-byte data block as is here to `owner`, leaving a hole for the reply. Returns
    /// the bytes sent, or `None` (nothing sent) if the channel or the hole limit is full.
    fn forward(
        &mut self,
        input: &[u8],
        line_len: usize,
        owner: usize,
        data_len: usize,
        out: &mut [u8],
        ctx: &mut ShardCtx<'_>,
    ) -> Option<usize> {
        assert!(
            line_len <= MSG_PAYLOAD_MAX_BYTES,
            "request lines are limited below a message"
        );
        if self.hole_room() == 0 {
            return None;
        }
        let data_here = data_len
            .min(input.len() - line_len)
            .min(MSG_PAYLOAD_MAX_BYTES - line_len);
        let bytes = &input[..line_len + data_here];
        if !ctx
            .route
            .send(owner, kind::REQUEST_BYTES, ctx.conn, &[bytes])
        {
            self.blocked_on = Some(owner);
            return None;
        }
        self.holes_mut()
            .push(out.len(), owner, remote::HoleKind::Reply);
        ctx.stats.cross_shard_sent += 1;
        if data_here < data_len {
            self.state = State::Forwarding {
                owner,
                remaining_bytes: data_len - data_here,
            };
        }
        Some(bytes.len())
    }

    /// Output offset just past the last hole (0 with none).
    fn hole_end(&self) -> usize {
        self.holes.as_ref().map_or(0, |h| h.end())
    }

    fn hole_room(&self) -> usize {
        self.holes
            .as_ref()
            .map_or(REMOTE_INFLIGHT_MAX, |h| h.room())
    }

    fn holes_mut(&mut self) -> &mut remote::Holes {
        self.holes
            .get_or_insert_with(|| Box::new(remote::Holes::new()))
    }

    /// Reply bytes from shard `owner` for this connection (`done`: the end of one request's
    /// reply). Returns false if no request to `owner` was waiting (the caller drops them).
    pub fn deliver(
        &mut self,
        owner: usize,
        bytes: &[u8],
        done: bool,
        out: &mut Vec<u8>,
        ctx: &mut ShardCtx<'_>,
    ) -> bool {
        match &mut self.holes {
            Some(holes) => holes.fill(owner, bytes, done, out, ctx),
            None => false,
        }
    }

    /// How much of `out` (from the front) may be sent: everything before the first reply
    /// still expected from another shard.
    pub fn sendable_len(&self, out_len: usize) -> usize {
        self.holes.as_ref().map_or(out_len, |h| h.sendable(out_len))
    }

    /// The runtime took `count` sendable bytes off the front of the output.
    pub fn output_taken(&mut self, count: usize) {
        if let Some(holes) = &mut self.holes {
            holes.shift_down(count);
        }
    }

    /// `true` while replies from other shards are still expected.
    pub fn awaiting_remote(&self) -> bool {
        self.holes.as_ref().is_some_and(|h| !h.is_empty())
    }

    /// The shard whose full channel stopped the last `process`, if that is why it stopped.
    pub fn blocked_on(&self) -> Option<usize> {
        self.blocked_on
    }

    /// The shard a storage command's value block is being passed on to, if any.
    pub fn forwarding_to(&self) -> Option<usize> {
        match self.state {
            State::Forwarding { owner, .. } => Some(owner),
            _ => None,
        }
    }

    /// `true` between requests (nothing half-received, nothing being forwarded).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Idle) && self.get_resume_at == 0
    }

    /// The connection is gone: give back anything held (a half-received value's reservation).
    pub fn on_close(&mut self, ctx: &mut ShardCtx<'_>) {
        if let State::Receiving(pending) = std::mem::take(&mut self.state) {
            ctx.store.abort(pending.into_reservation());
        }
        self.get_resume_at = 0;
        self.holes = None;
        self.blocked_on = None;
        self.line = None;
    }

    /// `true` while a storage command's value is being received (its memory is reserved).
    #[doc(hidden)]
    pub fn is_receiving_value(&self) -> bool {
        matches!(self.state, State::Receiving(_))
    }

    fn execute(&mut self, line: &[u8], out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) -> Flow {
        let request = request::parse(line);
        self.line_begun(command_of(&request), ctx);
        if let Some(flow) = self.route(&request, line.len(), ctx) {
            return flow;
        }
        match request {
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
            Request::FlushAll { exptime, noreply } => {
                return misc::flush_all(self, exptime, noreply, out, ctx)
            }
            Request::Verbosity { level, noreply } => {
                return misc::verbosity(self, level, noreply, out, ctx)
            }
            Request::Version => misc::version(out, ctx),
            Request::Stats(tokens) => return misc::stats(self, &tokens, out, ctx),
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

    /// `Some(Forward)` if the request's one key belongs to another shard. Multi-key gets
    /// are split key by key in `retrieval`; whole-server commands fan out in `misc`.
    fn route(&self, request: &Request<'_>, line_len: usize, ctx: &ShardCtx<'_>) -> Option<Flow> {
        if ctx.route.shard_count() == 1 {
            return None;
        }
        let (key, data_len) = match request {
            Request::Get(get) => (retrieval::single_key(get, line_len)?, 0),
            Request::Store(store) => (store.key, store.value_len + 2),
            Request::Meta(meta) => {
                let data_len = match meta.command {
                    MetaCommand::Set => meta.value_len + 2,
                    _ => 0,
                };
                (meta.key.bytes(), data_len)
            }
            Request::Delete { key, .. }
            | Request::Touch { key, .. }
            | Request::Arith { key, .. } => (*key, 0),
            _ => return None,
        };
        let owner = ctx.route.owner_of(key);
        (owner != ctx.route.local()).then_some(Flow::Forward { owner, data_len })
    }

    /// Renders a `stats` report once every shard has published its counters (the holes made
    /// by `fan_out` just before).
    fn defer_stats(&mut self, report: report::Report, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
        let local = ctx.route.local();
        let holes = self.holes_mut();
        holes.push(out.len(), local, remote::HoleKind::Stats(report));
        holes.run_local_steps(out, ctx);
    }

    /// Makes one hole per other shard for a whole-server command, after checking there is
    /// room for its messages; `false` (nothing done) if not.
    fn fan_out(&mut self, out_len: usize, ctx: &mut ShardCtx<'_>) -> bool {
        let others = ctx.route.shard_count() - 1;
        if self.hole_room() < others + 1 {
            return false;
        }
        if !ctx.route.has_space_everywhere() {
            self.blocked_on = (0..ctx.route.shard_count())
                .find(|&s| s != ctx.route.local() && !ctx.route.has_space(s));
            return false;
        }
        let local = ctx.route.local();
        for owner in (0..ctx.route.shard_count()).filter(|&s| s != local) {
            self.holes_mut()
                .push(out_len, owner, remote::HoleKind::Reply);
        }
        true
    }
}

#[cfg(test)]
mod tests;
