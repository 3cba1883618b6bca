//! get gets gat gats (and `bget`): one `VALUE` block per hit, then `END`.
//!
//! memcached 1.6.18 answers a multi-get with a key over [`KEY_LEN_MAX`] bytes with only
//! `CLIENT_ERROR bad command line format` (the hits before it are dropped, their side effects
//! stay). We check key lengths before answering anything, run the keys before the bad one
//! without output, then send the error, which gives the same bytes and effects.
//!
//! A long multi-get stops after the key whose reply crosses [`OUT_HIGH_WATER_BYTES`]; its line
//! stays unconsumed and `Session::get_resume_at` says where to go on.

use ringcache_engine::GetOp;

use super::write::{put, value_block};
use super::{Flow, Session, ShardCtx, OUT_HIGH_WATER_BYTES};
use crate::proto::line::words;
use crate::proto::reply::{self, ProtoError};
use crate::proto::request::GetRequest;
use crate::proto::KEY_LEN_MAX;

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
    let mut iter = words(keys).peekable();
    while let Some((_, key)) = iter.next() {
        lookup(key, req, Some(out), ctx);
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
