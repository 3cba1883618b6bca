//! stats, flush_all, version, verbosity.
//!
//! `stats` renders memcached 1.6.18's general statistics, in its order, for the fields that
//! apply to ringcache (no libevent, response-object, read-buffer, hash-table, slab-mover, LRU
//! maintainer or logger fields). Sub-commands: `reset`, `detail on|off|dump` (accepted; no
//! per-prefix statistics are kept, so `dump` is empty), `settings` (a subset), `items` and
//! `slabs` (per size class, see `report`), `conns` (empty: connections belong to the runtime),
//! `sizes`, `cachedump` (refused, as by memcached started with `-X`: ringcache never lists
//! keys), and ringcache's own `shards` (one block per shard); anything else is `ERROR`, as
//! memcached.

use super::report::{self, Report};
use super::write::{put, stat_str, stat_u64};
use super::{Flow, Session, ShardCtx};
use crate::proto::line::Tokens;
use crate::proto::reply::{self, ProtoError};
use crate::route::Control;
use crate::stats::ShardStats;

/// memcached `MAX_VERBOSITY_LEVEL`.
pub const VERBOSITY_MAX: u32 = 2;

/// A whole-server command on a server of several shards: every other shard gets `control`
/// and the reply waits (behind one hole per shard) until all of them have done their part.
/// `Flow::Blocked` if there is no room for that yet.
fn everywhere(
    session: &mut Session,
    control: Control,
    out: &mut [u8],
    ctx: &mut ShardCtx<'_>,
) -> Option<Flow> {
    if ctx.route.shard_count() == 1 {
        return None;
    }
    if !session.fan_out(out.len(), ctx) {
        return Some(Flow::Blocked);
    }
    ctx.route.broadcast(control, ctx.conn);
    None
}

pub(super) fn flush_all(
    session: &mut Session,
    exptime: i64,
    noreply: bool,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) -> Flow {
    // memcached treats a delay of 0 or below as "now".
    let exptime = exptime.max(0);
    if let Some(flow) = everywhere(session, Control::Flush { exptime }, out, ctx) {
        return flow;
    }
    ctx.stats.cmd_flush += 1;
    flush_local(exptime, ctx);
    if !noreply {
        put(out, reply::OK);
    }
    Flow::Next
}

/// One shard's part of `flush_all`.
pub fn flush_local(exptime: i64, ctx: &mut ShardCtx<'_>) {
    ctx.store.flush_all(exptime, ctx.clock);
}

pub(super) fn verbosity(
    session: &mut Session,
    level: u32,
    noreply: bool,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) -> Flow {
    let level = level.min(VERBOSITY_MAX);
    if let Some(flow) = everywhere(session, Control::Verbosity { level }, out, ctx) {
        return flow;
    }
    ctx.settings.verbosity = level;
    if !noreply {
        put(out, reply::OK);
    }
    Flow::Next
}

pub(super) fn version(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    put(out, b"VERSION ");
    put(out, ctx.server.version.as_bytes());
    put(out, b"\r\n");
}

pub(super) fn stats(
    session: &mut Session,
    tokens: &Tokens<'_>,
    out: &mut Vec<u8>,
    ctx: &mut ShardCtx<'_>,
) -> Flow {
    let report = match tokens.get(1) {
        _ if tokens.ntokens() == 2 => Some(Report::General),
        b"items" => Some(Report::Items),
        b"slabs" => Some(Report::Slabs),
        b"shards" => Some(Report::Shards),
        _ => None,
    };
    if let Some(report) = report {
        if let Some(flow) = everywhere(session, Control::PublishStats, out, ctx) {
            return flow;
        }
        if ctx.route.shard_count() == 1 {
            report::render(report, out, ctx);
        } else {
            session.defer_stats(report, out, ctx);
        }
        return Flow::Next;
    }
    match tokens.get(1) {
        b"reset" => {
            if let Some(flow) = everywhere(session, Control::ResetStats, out, ctx) {
                return flow;
            }
            reset(ctx.stats);
            put(out, reply::RESET);
        }
        b"detail" => match tokens.get(2) {
            b"on" | b"off" => put(out, reply::OK),
            b"dump" => put(out, reply::END),
            _ => put(out, ProtoError::StatsDetailUsage.line()),
        },
        b"settings" => settings(out, ctx),
        // memcached -X refuses before it looks at the arguments.
        b"cachedump" => put(out, ProtoError::CachedumpNotAllowed.line()),
        b"conns" => put(out, reply::END),
        b"sizes" => {
            stat_str(out, b"sizes_status", b"disabled");
            put(out, reply::END);
        }
        _ => put(out, ProtoError::UnknownCommand.line()),
    }
    Flow::Next
}

/// `stats reset`: zero the command counters (connection counters belong to the runtime and
/// memcached keeps `curr_connections` and `total_connections` too).
pub fn reset(stats: &mut ShardStats) {
    let keep = (stats.curr_connections, stats.total_connections);
    // The service-time clock of the `process` call running this command carries on.
    let mut service = std::mem::take(&mut stats.service);
    service.clear_counts();
    *stats = ShardStats::default();
    (stats.curr_connections, stats.total_connections) = keep;
    stats.service = service;
}

fn settings(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let config = ctx.store.config();
    stat_u64(out, b"maxbytes", ctx.server.memory_limit_bytes as u64);
    stat_u64(out, b"maxconns", u64::from(ctx.server.max_connections));
    stat_u64(out, b"verbosity", u64::from(ctx.settings.verbosity));
    stat_str(
        out,
        b"evictions",
        if config.evict_when_full {
            b"on"
        } else {
            b"off"
        },
    );
    stat_u64(out, b"num_threads", u64::from(ctx.server.threads));
    stat_str(
        out,
        b"cas_enabled",
        if config.cas_enabled { b"yes" } else { b"no" },
    );
    stat_u64(out, b"item_size_max", config.item_size_max_bytes as u64);
    stat_str(out, b"flush_enabled", b"yes");
    stat_str(out, b"dump_enabled", b"no");
    put(out, reply::END);
}
