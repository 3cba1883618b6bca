//! Meta commands: mg, ms (the line; the value goes through `storage`), md, ma, me.
//!
//! Return flags are echoed in request order. `q` hides: mg's `EN`, ms's `HD`, md's `HD`, ma's
//! success by delta (memcached 1.6.18 still sends `NF`/`NS`/`EX`, every error, and ma's reply
//! for an item its `N` created, under `q`).
//!
//! mg and ma walk their flags in order as memcached's do: `T`, `N` and `R` act at their
//! position (the engine replays them as [`ExpirySteps`]) and `t` reports the expiry as it is
//! at its position. Both find a too-long opaque only when the walk reaches it, after the
//! lookup, the vivify and the steps before it have taken effect.
//!
//! Key echo (`k`): mg's hit and me echo the item's key as it was stored (base64 if the
//! storing ms had `b`); misses, md, ma and ms echo the request's key.

use ringcache_engine::{
    ArithOp, ArithOutcome, DeleteOp, DeleteOutcome, ExpiryStep, ExpirySteps, GetOp,
};

use super::storage;
use super::write::{meta_key, meta_opaque, meta_ttl, meta_u64, put};
use super::{Session, ShardCtx};
use crate::proto::base64;
use crate::proto::meta::{opaque_too_long, MetaCommand, MetaFlags, MetaRequest};
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

/// The flags memcached's walk gets through: all of them, or those before a too-long opaque
/// (where the walk stops with `CLIENT_ERROR opaque token too long`).
fn walked<'f>(f: &'f MetaFlags<'_>) -> &'f [u8] {
    let order = f.in_order();
    if !opaque_too_long(f) {
        return order;
    }
    let at = order.iter().position(|&flag| flag == b'O');
    &order[..at.expect("a too-long opaque was given")]
}

/// `T`, `N` and `R` among `flags`, in order.
fn expiry_steps(flags: &[u8], f: &MetaFlags<'_>) -> ExpirySteps {
    let mut steps = ExpirySteps::default();
    for &flag in flags {
        let step = match flag {
            b'T' => f.ttl_update.map(|e| ExpiryStep::Touch(e.into())),
            b'N' => f.vivify_exptime.map(|e| ExpiryStep::Vivify(e.into())),
            b'R' => f.recache_secs.map(|e| ExpiryStep::Recache(e.into())),
            _ => None,
        };
        if let Some(step) = step {
            steps.push(step);
        }
    }
    steps
}

fn get(req: &MetaRequest<'_>, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let f = &req.flags;
    let now = ctx.clock.now_rel();
    let clock = ctx.clock;
    let failing = opaque_too_long(f);
    // memcached 1.6.18 locks the item for these flags and bumps it after the reply is
    // built, which a failing reply skips; without them the lookup itself bumps.
    let locked = f.vivify_exptime.is_some()
        || f.ttl_update.is_some()
        || f.recache_secs.is_some()
        || f.return_last_access
        || f.return_hit;
    let op = GetOp {
        bump: !(f.no_bump || (failing && locked)),
        vivify: f.vivify_exptime.is_some(),
        steps: expiry_steps(walked(f), f),
        meta_win: !failing,
    };
    let Some(hit) = ctx.store.get(req.key.bytes(), &op, clock) else {
        // A miss counts as a get even with `T` (memcached sets its touch flag in the walk).
        ctx.stats.cmd_get += 1;
        ctx.stats.get_misses += 1;
        if failing {
            put(out, ProtoError::OpaqueTooLong.line());
        } else if !f.quiet {
            status_line(b"EN", req, out);
        }
        return;
    };
    if failing {
        put(out, ProtoError::OpaqueTooLong.line());
        return;
    }
    let item = hit.item;
    if f.return_value {
        put(out, b"VA ");
        write_usize(out, item.value.len());
    } else {
        put(out, b"HD");
    }
    let mut step = 0;
    for &flag in f.in_order() {
        match flag {
            b'T' | b'N' | b'R' => step += 1,
            b's' => meta_u64(out, b's', item.value.len() as u64),
            b't' => meta_ttl(out, hit.expiry_at_step[step], now),
            b'c' => meta_u64(out, b'c', item.cas),
            b'f' => meta_u64(out, b'f', u64::from(item.flags)),
            b'l' => meta_u64(out, b'l', u64::from(now.saturating_sub(item.last_access))),
            b'h' => meta_u64(out, b'h', u64::from(item.fetched_before)),
            b'O' => meta_opaque(out, f.opaque.unwrap_or_default()),
            b'k' => meta_key(out, item.key, item.key_binary),
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
    if f.ttl_update.is_some() {
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
        remove_value_only: false,
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
    let failing = opaque_too_long(f);
    let op = ArithOp {
        decr,
        delta: f.delta.unwrap_or(1),
        compare_cas: f.compare_cas,
        vivify_initial: f.vivify_exptime.map(|_| f.initial),
        steps: expiry_steps(walked(f), f),
        explicit_cas: None,
    };
    let status = |code: &[u8], out: &mut Vec<u8>| {
        if failing {
            put(out, ProtoError::OpaqueTooLong.line());
        } else {
            status_line(code, req, out);
        }
    };
    match ctx.store.arith(req.key.bytes(), &op, ctx.clock) {
        ArithOutcome::Done {
            value,
            cas,
            created,
            expiry_at_step,
            ..
        } => {
            // memcached counts a hit for an update by delta, nothing for a created item.
            if !created && decr {
                ctx.stats.decr_hits += 1;
            } else if !created {
                ctx.stats.incr_hits += 1;
            }
            if failing {
                put(out, ProtoError::OpaqueTooLong.line());
                return;
            }
            if f.quiet && !created {
                return;
            }
            if f.return_value {
                put(out, b"VA ");
                write_usize(out, decimal_len(value));
            } else {
                put(out, b"HD");
            }
            let now = ctx.clock.now_rel();
            let mut step = 0;
            for &flag in f.in_order() {
                match flag {
                    b'T' | b'N' | b'R' => step += 1,
                    b'c' => meta_u64(out, b'c', cas),
                    b't' => meta_ttl(out, expiry_at_step[step], now),
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
            status(b"NF", out);
        }
        ArithOutcome::Exists => status(b"EX", out),
        ArithOutcome::NonNumeric => put(out, ProtoError::NonNumeric.line()),
        ArithOutcome::OutOfMemory => {
            let error = if op.vivify_initial.is_some() {
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
    // The key as stored, whatever the request said (memcached: the item's ITEM_KEY_BINARY).
    if item.key_binary {
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
