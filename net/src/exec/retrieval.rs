//! get gets gat gats (and `bget`): one `VALUE` block per hit, then `END`.
//!
//! memcached 1.6.18 answers a multi-get with a key over [`KEY_LEN_MAX`] bytes with only
//! `CLIENT_ERROR bad command line format` (the hits before it are dropped, their side effects
//! stay). We check key lengths before answering anything, run the keys before the bad one
//! without output, then send the error, which gives the same bytes and effects.
//!
//! A long multi-get stops after the key whose reply crosses [`OUT_HIGH_WATER_BYTES`]; its line
//! stays unconsumed and `Session::get_resume_at` says where to go on.

use ringcache_engine::{numeric, GetOp};

use super::remote::HoleKind;
use super::write::{put, value_block};
use super::{Flow, Session, ShardCtx, OUT_HIGH_WATER_BYTES};
use crate::proto::line::words;
use crate::proto::reply::{self, ProtoError};
use crate::proto::request::{GetKind, GetRequest};
use crate::proto::KEY_LEN_MAX;
use crate::route::kind;
use crate::runtime::channel::MSG_PAYLOAD_MAX_BYTES;

fn lookup(key: &[u8], req: &GetRequest<'_>, out: Option<&mut Vec<u8>>, ctx: &mut ShardCtx<'_>) {
    let touch = req.kind.touches();
    let op = if touch {
        GetOp::touch(req.exptime)
    } else {
        GetOp {
            bump: true,
            ..GetOp::default()
        }
    };
    let hit = ctx.store.get(key, &op, ctx.clock);
    let stats = &mut *ctx.stats;
    match (&hit, touch) {
        (Some(_), true) => {
            stats.cmd_touch += 1;
            stats.touch_hits += 1;
        }
        (None, true) => {
            stats.cmd_touch += 1;
            stats.touch_misses += 1;
        }
        (Some(_), false) => {
            stats.cmd_get += 1;
            stats.get_hits += 1;
        }
        (None, false) => {
            stats.cmd_get += 1;
            stats.get_misses += 1;
        }
    }
    if let (Some(hit), Some(out)) = (hit, out) {
        let item = hit.item;
        let cas = req.kind.returns_cas().then_some(item.cas);
        value_block(out, item.key, item.flags, item.value, cas);
    }
}

pub(super) fn get(
    session: &mut Session,
    req: &GetRequest<'_>,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) -> Flow {
    let resume_at = session.get_resume_at;
    session.get_resume_at = 0;
    if resume_at == 0 {
        let bad = words(req.keys).position(|(_, key)| key.len() > KEY_LEN_MAX);
        if let Some(bad) = bad {
            for (_, key) in words(req.keys).take(bad) {
                lookup(key, req, None, ctx);
            }
            put(out, ProtoError::BadFormat.line());
            return Flow::Next;
        }
    }
    let start = resume_at.saturating_sub(req.keys_offset);
    debug_assert!(start <= req.keys.len());
    let keys = &req.keys[start..];
    // Where this call's part of the multi-get reply begins (see `HoleKind::GetKey`).
    let reply_from = out.len();
    let mut iter = words(keys).peekable();
    while let Some((at, key)) = iter.next() {
        let owner = ctx.route.owner_of(key);
        if owner == ctx.route.local() {
            lookup(key, req, Some(out), ctx);
        } else if !ask_owner(session, owner, key, req, reply_from, out, ctx) {
            // Resume at this key once the channel or the hole limit has room.
            session.get_resume_at = req.keys_offset + start + at;
            debug_assert!(session.get_resume_at > 0);
            return Flow::Blocked;
        }
        if out.len() >= OUT_HIGH_WATER_BYTES {
            if let Some(&(next, _)) = iter.peek() {
                session.get_resume_at = req.keys_offset + start + next;
                debug_assert!(session.get_resume_at > 0);
                return Flow::Yield;
            }
        }
    }
    put(out, reply::END);
    Flow::Next
}

/// The key of a one-key get whose whole line fits in a message (it is forwarded as it is);
/// `None` for a multi-key get or a bad key (answered here).
pub(super) fn single_key<'a>(req: &GetRequest<'a>, line_len: usize) -> Option<&'a [u8]> {
    let mut keys = words(req.keys);
    let (_, key) = keys.next()?;
    let fits = line_len + 2 <= MSG_PAYLOAD_MAX_BYTES;
    (keys.next().is_none() && key.len() <= KEY_LEN_MAX && fits).then_some(key)
}

/// One key of a multi-get that another shard owns: a one-key get goes there and its reply
/// (without `END`) fills a hole here. `false` if there is no room for that now.
fn ask_owner(
    session: &mut Session,
    owner: usize,
    key: &[u8],
    req: &GetRequest<'_>,
    reply_from: usize,
    out: &mut [u8],
    ctx: &mut ShardCtx<'_>,
) -> bool {
    if session.hole_room() == 0 {
        return false;
    }
    let command: &[u8] = match req.kind {
        GetKind::Get => b"get ",
        GetKind::Gets => b"gets ",
        GetKind::Gat => b"gat ",
        GetKind::Gats => b"gats ",
    };
    // gat/gats: "gat <exptime> <key>"; the exptime as parsed, written back in decimal.
    let mut digits = [0u8; numeric::U64_DIGITS_MAX];
    let (sign, digits, space): (&[u8], &[u8], &[u8]) = if req.kind.touches() {
        let len = numeric::write_u64(req.exptime.unsigned_abs(), &mut digits);
        let sign: &[u8] = if req.exptime < 0 { b"-" } else { b"" };
        (sign, &digits[..len], b" ")
    } else {
        (b"", b"", b"")
    };
    let parts: [&[u8]; 6] = [command, sign, digits, space, key, b"\r\n"];
    if !ctx.route.send(owner, kind::REQUEST_BYTES, ctx.conn, &parts) {
        session.blocked_on = Some(owner);
        return false;
    }
    ctx.stats.cross_shard_sent += 1;
    let pos = out.len();
    session.holes_mut().push(
        pos,
        owner,
        HoleKind::GetKey {
            start: pos,
            from: reply_from,
        },
    );
    true
}
