//! delete, touch, incr, decr: single-key commands with a one-line reply.

use ringcache_engine::{ArithOp, ArithOutcome, DeleteOp, DeleteOutcome, GetOp};

use super::write::put;
use super::ShardCtx;
use crate::proto::number::write_u64;
use crate::proto::reply::{self, ProtoError};

fn reply_unless(noreply: bool, out: &mut Vec<u8>, line: &[u8]) {
    if !noreply {
        put(out, line);
    }
}

pub(super) fn delete(key: &[u8], noreply: bool, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    match ctx.store.delete(key, &DeleteOp::default(), ctx.clock) {
        DeleteOutcome::Deleted => {
            ctx.stats.delete_hits += 1;
            reply_unless(noreply, out, reply::DELETED);
        }
        DeleteOutcome::NotFound | DeleteOutcome::Exists => {
            ctx.stats.delete_misses += 1;
            reply_unless(noreply, out, reply::NOT_FOUND);
        }
    }
}

pub(super) fn touch(
    key: &[u8],
    exptime: i64,
    noreply: bool,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) {
    let op = GetOp::touch(exptime);
    let hit = ctx.store.get(key, &op, ctx.clock).is_some();
    ctx.stats.cmd_touch += 1;
    if hit {
        ctx.stats.touch_hits += 1;
        reply_unless(noreply, out, reply::TOUCHED);
    } else {
        ctx.stats.touch_misses += 1;
        reply_unless(noreply, out, reply::NOT_FOUND);
    }
}

pub(super) fn arith(
    key: &[u8],
    decr: bool,
    delta: u64,
    noreply: bool,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) {
    let op = ArithOp {
        decr,
        delta,
        ..ArithOp::default()
    };
    match ctx.store.arith(key, &op, ctx.clock) {
        ArithOutcome::Done { value, .. } => {
            if decr {
                ctx.stats.decr_hits += 1;
            } else {
                ctx.stats.incr_hits += 1;
            }
            if !noreply {
                write_u64(out, value);
                put(out, b"\r\n");
            }
        }
        ArithOutcome::NotFound | ArithOutcome::Exists => {
            if decr {
                ctx.stats.decr_misses += 1;
            } else {
                ctx.stats.incr_misses += 1;
            }
            reply_unless(noreply, out, reply::NOT_FOUND);
        }
        ArithOutcome::NonNumeric => reply_unless(noreply, out, ProtoError::NonNumeric.line()),
        ArithOutcome::OutOfMemory => reply_unless(noreply, out, ProtoError::OutOfMemory.line()),
    }
}
