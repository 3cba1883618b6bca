//! Command execution: turns the bytes of one connection into replies against the shard's
//! store.
//!
//! CONTRACT (owned by the lead; the protocol helper implements it): the runtime owns sockets
//! and buffers and calls [`Session::process`] whenever a connection has unconsumed input or
//! room for more output. A `Session` is the protocol state of one connection; it allocates
//! nothing on the heap.

use ringcache_engine::{Clock, Store};

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

/// The protocol state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    _private: (),
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// Consumes complete requests from the front of `input`, appending their replies to
    /// `out`, and returns how many input bytes were consumed and what to do next.
    pub fn process(&mut self, input: &[u8], out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) -> (usize, Step) {
        let _ = (input, out, ctx);
        todo!("protocol helper")
    }

    /// The connection is gone: give back anything held (a half-received value's reservation).
    pub fn on_close(&mut self, ctx: &mut ShardCtx<'_>) {
        let _ = ctx;
        todo!("protocol helper")
    }
}
