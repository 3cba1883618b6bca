//! set add replace append prepend cas, and ms: reserving item memory when the command line
//! arrives, streaming the value bytes into it, checking the trailing `\r\n`, then linking it.
//!
//! memcached 1.6.18 behaviour reproduced here:
//! - the data block is exactly `<bytes> + 2` bytes; if its last two are not `\r\n` the reply is
//!   `CLIENT_ERROR bad data chunk`, nothing is stored, and parsing resumes right after those
//!   `<bytes> + 2` bytes (so the rest of an over-long block is read as commands, usually
//!   answering `ERROR`);
//! - too large / out of memory: the error is sent, the data block is swallowed unseen, and
//!   `set` (any ms) also removes the existing item so that stale data does not survive;
//! - `noreply` suppresses every classic reply including errors; ms `q` suppresses only `HD`.

use ringcache_engine::{DeleteOp, Reservation, ReserveError, StoreMode, StoreOp, StoreOutcome};

use super::write::{meta_key, meta_opaque, meta_u64, put};
use super::{Session, ShardCtx, State};
use crate::proto::meta::{MetaRequest, OPAQUE_LEN_MAX};
use crate::proto::reply::{self, ProtoError};
use crate::proto::request::{StoreCommand, StoreRequest};
use crate::proto::KEY_LEN_MAX;

/// What to answer once a meta set's value is in: the return flags to echo, in order.
#[derive(Debug)]
pub(super) struct MetaEcho {
    /// `O`, `k`, `c` in request order.
    order: [u8; 3],
    order_len: u8,
    opaque: [u8; OPAQUE_LEN_MAX],
    opaque_len: u8,
    key: [u8; KEY_LEN_MAX],
    key_len: u8,
    key_binary: bool,
    quiet: bool,
}

// Inline on purpose: boxing would allocate per storage command.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum ReplyKind {
    Classic { noreply: bool },
    Meta(MetaEcho),
}

/// A storage command whose value is being received.
#[derive(Debug)]
pub(super) struct Pending {
    reservation: Reservation,
    filled_bytes: usize,
    trailer: [u8; 2],
    trailer_len: usize,
    op: StoreOp,
    reply: ReplyKind,
}

impl Pending {
    pub(super) fn into_reservation(self) -> Reservation {
        self.reservation
    }
}

fn store_op(command: StoreCommand, cas: u64) -> StoreOp {
    let mode = match command {
        StoreCommand::Set | StoreCommand::Cas => StoreMode::Set,
        StoreCommand::Add => StoreMode::Add,
        StoreCommand::Replace => StoreMode::Replace,
        StoreCommand::Append => StoreMode::Append,
        StoreCommand::Prepend => StoreMode::Prepend,
    };
    StoreOp {
        compare_cas: (command == StoreCommand::Cas).then_some(cas),
        ..StoreOp::new(mode)
    }
}

/// Records a failed reservation: stats, reply, swallow, and memcached's stale-data removal.
fn reserve_failed(
    session: &mut Session,
    error: ReserveError,
    key: &[u8],
    remove_existing: bool,
    value_len: usize,
    ctx: &mut ShardCtx<'_>,
) -> &'static [u8] {
    let line = match error {
        ReserveError::TooLarge => {
            ctx.stats.store_too_large += 1;
            ProtoError::TooLarge.line()
        }
        ReserveError::OutOfMemory => {
            ctx.stats.store_no_memory += 1;
            ProtoError::OutOfMemoryStoring.line()
        }
    };
    if remove_existing {
        let _ = ctx.store.delete(key, &DeleteOp::default(), ctx.clock);
    }
    session.state = State::Swallowing {
        remaining_bytes: value_len + 2,
    };
    line
}

pub(super) fn begin_classic(
    session: &mut Session,
    req: &StoreRequest<'_>,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) {
    match ctx
        .store
        .reserve(req.key, req.flags, req.exptime, req.value_len, ctx.clock)
    {
        Ok(reservation) => {
            debug_assert_eq!(reservation.value_len(), req.value_len);
            session.state = State::Receiving(Pending {
                reservation,
                filled_bytes: 0,
                trailer: [0; 2],
                trailer_len: 0,
                op: store_op(req.command, req.cas),
                reply: ReplyKind::Classic {
                    noreply: req.noreply,
                },
            });
        }
        Err(error) => {
            let remove = req.command == StoreCommand::Set;
            let line = reserve_failed(session, error, req.key, remove, req.value_len, ctx);
            if !req.noreply {
                put(out, line);
            }
        }
    }
}

pub(super) fn begin_meta(
    session: &mut Session,
    req: &MetaRequest<'_>,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) {
    let f = &req.flags;
    let key = req.key.bytes();
    let exptime = f.ttl_update.map_or(0, i64::from);
    match ctx
        .store
        .reserve(key, f.client_flags, exptime, req.value_len, ctx.clock)
    {
        Ok(reservation) => {
            let mode = match f.mode {
                Some(b'E') => StoreMode::Add,
                Some(b'A') => StoreMode::Append,
                Some(b'P') => StoreMode::Prepend,
                Some(b'R') => StoreMode::Replace,
                _ => StoreMode::Set,
            };
            // memcached: a CAS turns set/replace into a cas (so a miss is `NF`); add ignores it.
            let compare_cas = if mode == StoreMode::Add {
                None
            } else {
                f.compare_cas
            };
            let mode = if mode == StoreMode::Replace && compare_cas.is_some() {
                StoreMode::Set
            } else {
                mode
            };
            let op = StoreOp {
                compare_cas,
                invalidate: f.invalidate && compare_cas.is_some(),
                key_binary: req.key.binary,
                ..StoreOp::new(mode)
            };
            let mut echo = MetaEcho {
                order: [0; 3],
                order_len: 0,
                opaque: [0; OPAQUE_LEN_MAX],
                opaque_len: 0,
                key: [0; KEY_LEN_MAX],
                key_len: key.len() as u8,
                key_binary: req.key.binary,
                quiet: f.quiet,
            };
            echo.key[..key.len()].copy_from_slice(key);
            if let Some(opaque) = f.opaque {
                echo.opaque[..opaque.len()].copy_from_slice(opaque);
                echo.opaque_len = opaque.len() as u8;
            }
            for &flag in f.in_order() {
                if matches!(flag, b'O' | b'k' | b'c') {
                    echo.order[echo.order_len as usize] = flag;
                    echo.order_len += 1;
                }
            }
            session.state = State::Receiving(Pending {
                reservation,
                filled_bytes: 0,
                trailer: [0; 2],
                trailer_len: 0,
                op,
                reply: ReplyKind::Meta(echo),
            });
        }
        Err(error) => {
            // ms errors are always sent, q or not.
            put(
                out,
                reserve_failed(session, error, key, true, req.value_len, ctx),
            );
        }
    }
}

/// Copies value bytes from `input` into the pending reservation; finishes the command when
/// the value and its `\r\n` are complete. Returns the bytes consumed.
pub(super) fn receive(
    session: &mut Session,
    input: &[u8],
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) -> usize {
    let State::Receiving(pending) = &mut session.state else {
        unreachable!("receive called outside a value block");
    };
    let value_len = pending.reservation.value_len();
    let n = (value_len - pending.filled_bytes).min(input.len());
    if n > 0 {
        let value = ctx.store.value_mut(&pending.reservation);
        value[pending.filled_bytes..pending.filled_bytes + n].copy_from_slice(&input[..n]);
        pending.filled_bytes += n;
    }
    let mut used = n;
    while pending.filled_bytes == value_len && pending.trailer_len < 2 && used < input.len() {
        pending.trailer[pending.trailer_len] = input[used];
        pending.trailer_len += 1;
        used += 1;
    }
    if pending.trailer_len == 2 {
        let State::Receiving(pending) = std::mem::take(&mut session.state) else {
            unreachable!();
        };
        finish(pending, out, ctx);
    }
    used
}

fn finish(pending: Pending, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    ctx.stats.cmd_set += 1;
    if &pending.trailer != b"\r\n" {
        ctx.store.abort(pending.reservation);
        let suppressed = matches!(pending.reply, ReplyKind::Classic { noreply: true, .. });
        if !suppressed {
            put(out, ProtoError::BadDataChunk.line());
        }
        return;
    }
    let op = pending.op;
    let outcome = ctx.store.commit(pending.reservation, &op, ctx.clock);
    if op.compare_cas.is_some() && matches!(op.mode, StoreMode::Set | StoreMode::Replace) {
        match outcome {
            StoreOutcome::Stored { .. } => ctx.stats.cas_hits += 1,
            StoreOutcome::Exists => ctx.stats.cas_badval += 1,
            StoreOutcome::NotFound => ctx.stats.cas_misses += 1,
            StoreOutcome::NotStored => {}
        }
    }
    match pending.reply {
        ReplyKind::Classic { noreply, .. } => {
            if !noreply {
                put(out, classic_line(outcome));
            }
        }
        ReplyKind::Meta(echo) => meta_reply(&echo, outcome, out),
    }
}

fn classic_line(outcome: StoreOutcome) -> &'static [u8] {
    match outcome {
        StoreOutcome::Stored { .. } => reply::STORED,
        StoreOutcome::NotStored => reply::NOT_STORED,
        StoreOutcome::Exists => reply::EXISTS,
        StoreOutcome::NotFound => reply::NOT_FOUND,
    }
}

fn meta_reply(echo: &MetaEcho, outcome: StoreOutcome, out: &mut Vec<u8>) {
    let (code, cas): (&[u8], u64) = match outcome {
        StoreOutcome::Stored { cas } => (b"HD", cas),
        StoreOutcome::NotStored => (b"NS", 0),
        StoreOutcome::Exists => (b"EX", 0),
        StoreOutcome::NotFound => (b"NF", 0),
    };
    if echo.quiet && code == b"HD" {
        return;
    }
    put(out, code);
    for &flag in &echo.order[..echo.order_len as usize] {
        match flag {
            b'O' => meta_opaque(out, &echo.opaque[..echo.opaque_len as usize]),
            b'k' => meta_key(out, &echo.key[..echo.key_len as usize], echo.key_binary),
            b'c' => meta_u64(out, b'c', cas),
            _ => unreachable!("only O, k and c are echoed"),
        }
    }
    put(out, b"\r\n");
}
