//! Meta commands: mg, ms (the line; the value goes through `storage`), md, ma, me.
//!
//! Return flags are echoed in request order. `q` hides: mg's `EN`, ms's `HD`, md's `HD`, ma's
//! success reply (memcached 1.6.18 still sends `NF`/`NS`/`EX` and every error under `q`).

use ringcache_engine::{ArithOp, ArithOutcome, DeleteOp, DeleteOutcome, GetOp};

use super::storage;
use super::write::{meta_i64, meta_key, meta_opaque, meta_u64, put};
use super::{Session, ShardCtx};
use crate::proto::base64;
use crate::proto::meta::{MetaCommand, MetaFlags, MetaRequest};
use crate::proto::number::{decimal_len, write_i64, write_u32, write_u64, write_usize};
use crate::proto::reply::ProtoError;

pub(super) fn execute(
    session: &mut Session,
    req: &MetaRequest<'_>,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) {
    match req.command {
        MetaCommand::Get => get(req, out, ctx),
        MetaCommand::Set => storage::begin_meta(session, req, out, ctx),
        MetaCommand::Delete => delete(req, out, ctx),
        MetaCommand::Arith => arith(req, out, ctx),
        MetaCommand::Debug => debug(req, out, ctx),
    }
}

/// Echoes `O` and `k` (the only flags a miss or a status-only reply carries).
fn echo_opaque_and_key(req: &MetaRequest<'_>, out: &mut Vec<u8>) {
    for &flag in req.flags.in_order() {
        match flag {
            b'O' => meta_opaque(out, req.flags.opaque.unwrap_or_default()),
            b'k' => meta_key(out, req.key.bytes(), req.key.binary),
            _ => {}
        }
    }
}

fn status_line(code: &[u8], req: &MetaRequest<'_>, out: &mut Vec<u8>) {
    put(out, code);
    echo_opaque_and_key(req, out);
    put(out, b"\r\n");
}

fn get_op(f: &MetaFlags<'_>) -> GetOp {
    GetOp {
        bump: !f.no_bump,
        touch_exptime: f.ttl_update.map(i64::from),
        vivify_exptime: f.vivify_exptime.map(i64::from),
        recache_below_secs: f.recache_secs.map(|secs| secs.max(0) as u32),
    }
}

fn get(req: &MetaRequest<'_>, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let f = &req.flags;
    let now = ctx.clock.now_rel();
    let clock = ctx.clock;
    let touched = f.ttl_update.is_some();
    let Some(hit) = ctx.store.get(req.key.bytes(), &get_op(f), clock) else {
        if touched {
            ctx.stats.cmd_touch += 1;
            ctx.stats.touch_misses += 1;
        } else {
            ctx.stats.cmd_get += 1;
            ctx.stats.get_misses += 1;
        }
        if !f.quiet {
            status_line(b"EN", req, out);
        }
        return;
    };
    let item = hit.item;
    if f.return_value {
        put(out, b"VA ");
        write_usize(out, item.value.len());
    } else {
        put(out, b"HD");
    }
    for &flag in f.in_order() {
        match flag {
            b's' => meta_u64(out, b's', item.value.len() as u64),
            b't' => meta_i64(out, b't', clock.remaining_secs(item.expiry)),
            b'c' => meta_u64(out, b'c', item.cas),
            b'f' => meta_u64(out, b'f', u64::from(item.flags)),
            b'l' => meta_u64(out, b'l', u64::from(now.saturating_sub(item.last_access))),
            b'h' => meta_u64(out, b'h', u64::from(item.fetched_before)),
            b'O' => meta_opaque(out, f.opaque.unwrap_or_default()),
            b'k' => meta_key(out, item.key, req.key.binary),
            _ => {}
        }
    }
    if item.win_token_sent && !hit.win {
        put(out, b" Z");
    }
    if item.stale {
        put(out, b" X");
    }
    if hit.win {
        put(out, b" W");
    }
    put(out, b"\r\n");
    if f.return_value {
        put(out, item.value);
        put(out, b"\r\n");
    }
    if touched {
        ctx.stats.cmd_touch += 1;
        ctx.stats.touch_hits += 1;
    } else {
        ctx.stats.cmd_get += 1;
        ctx.stats.get_hits += 1;
    }
}

fn delete(req: &MetaRequest<'_>, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let f = &req.flags;
    let op = DeleteOp {
        compare_cas: f.compare_cas,
        invalidate: f.invalidate.then(|| f.ttl_update.map(i64::from)),
        remove_value_only: f.remove_value,
    };
    match ctx.store.delete(req.key.bytes(), &op, ctx.clock) {
        DeleteOutcome::Deleted => {
            if !f.invalidate {
                ctx.stats.delete_hits += 1;
            }
            if !f.quiet {
                status_line(b"HD", req, out);
            }
        }
        DeleteOutcome::NotFound => {
            ctx.stats.delete_misses += 1;
            status_line(b"NF", req, out);
        }
        DeleteOutcome::Exists => {
            ctx.stats.delete_misses += 1;
            status_line(b"EX", req, out);
        }
    }
}

fn arith(req: &MetaRequest<'_>, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let f = &req.flags;
    let decr = matches!(f.mode, Some(b'D' | b'-'));
    let op = ArithOp {
        decr,
        delta: f.delta.unwrap_or(1),
        compare_cas: f.compare_cas,
        vivify: f
            .vivify_exptime
            .map(|exptime| (f.initial, i64::from(exptime))),
        touch_exptime: f.ttl_update.map(i64::from),
        explicit_cas: f.explicit_cas,
    };
    match ctx.store.arith(req.key.bytes(), &op, ctx.clock) {
        ArithOutcome::Done { value, cas, expiry } => {
            if decr {
                ctx.stats.decr_hits += 1;
            } else {
                ctx.stats.incr_hits += 1;
            }
            if f.quiet {
                return;
            }
            if f.return_value {
                put(out, b"VA ");
                write_usize(out, decimal_len(value));
            } else {
                put(out, b"HD");
            }
            for &flag in f.in_order() {
                match flag {
                    b'c' => meta_u64(out, b'c', cas),
                    b't' => meta_i64(out, b't', ctx.clock.remaining_secs(expiry)),
                    b'O' => meta_opaque(out, f.opaque.unwrap_or_default()),
                    b'k' => meta_key(out, req.key.bytes(), req.key.binary),
                    _ => {}
                }
            }
            put(out, b"\r\n");
            if f.return_value {
                write_u64(out, value);
                put(out, b"\r\n");
            }
        }
        ArithOutcome::NotFound => {
            if decr {
                ctx.stats.decr_misses += 1;
            } else {
                ctx.stats.incr_misses += 1;
            }
            status_line(b"NF", req, out);
        }
        ArithOutcome::Exists => status_line(b"EX", req, out),
        ArithOutcome::NonNumeric => put(out, ProtoError::NonNumeric.line()),
        ArithOutcome::OutOfMemory => {
            let error = if op.vivify.is_some() {
                ProtoError::OutOfMemoryVivify
            } else {
                ProtoError::OutOfMemory
            };
            put(out, error.line());
        }
    }
}

/// `me <key> [b]`: `ME <key> exp=.. la=.. cas=.. fetch=yes|no cls=.. size=..`, or `EN`.
fn debug(req: &MetaRequest<'_>, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    ctx.stats.cmd_meta += 1;
    let now = ctx.clock.now_rel();
    let op = GetOp {
        bump: false,
        ..GetOp::default()
    };
    let Some(hit) = ctx.store.get(req.key.bytes(), &op, ctx.clock) else {
        put(out, b"EN\r\n");
        return;
    };
    let item = hit.item;
    put(out, b"ME ");
    if req.key.binary {
        base64::encode(item.key, out);
    } else {
        put(out, item.key);
    }
    // memcached prints `current_time - exptime` (negative for a live item), -1 for never.
    put(out, b" exp=");
    if item.expiry == 0 {
        put(out, b"-1");
    } else {
        write_i64(out, i64::from(now) - i64::from(item.expiry));
    }
    put(out, b" la=");
    write_u32(out, now.saturating_sub(item.last_access));
    put(out, b" cas=");
    write_u64(out, item.cas);
    put(
        out,
        if item.fetched_before {
            b" fetch=yes"
        } else {
            b" fetch=no"
        },
    );
    put(out, b" cls=");
    write_u32(out, u32::from(item.slab_class));
    put(out, b" size=");
    write_usize(out, item.total_size_bytes);
    put(out, b"\r\n");
}
