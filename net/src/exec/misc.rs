//! stats, flush_all, version, verbosity.
//!
//! `stats` renders memcached 1.6.18's general statistics, in its order, for the fields that
//! apply to ringcache (no libevent, response-object, read-buffer, hash-table, slab-mover, LRU
//! maintainer or logger fields). Sub-commands: `reset`, `detail on|off|dump` (accepted; no
//! per-prefix statistics are kept, so `dump` is empty), `settings` (a subset), `items`,
//! `slabs` and `conns` (empty listings: the engine keeps no per-class counters and connections
//! belong to the runtime), `sizes`, `cachedump` (empty); anything else is `ERROR`, as memcached.

use super::write::{put, stat_i64, stat_secs_micros, stat_str, stat_u64};
use super::{Flow, Session, ShardCtx};
use crate::proto::line::Tokens;
use crate::proto::number::parse_u32;
use crate::proto::reply::{self, ProtoError};
use crate::route::board::Snapshot;
use crate::route::Control;
use crate::stats::ShardStats;

/// memcached's `ITEM_UPDATE_INTERVAL`: its uptime is the relative clock minus this.
const UPTIME_OFFSET_SECS: u32 = 60;
/// memcached `MAX_VERBOSITY_LEVEL`.
pub const VERBOSITY_MAX: u32 = 2;
/// memcached `MAX_NUMBER_OF_SLAB_CLASSES` (stats cachedump's class bound).
const SLAB_CLASSES_MAX: u32 = 64;

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
    if tokens.ntokens() == 2 {
        if let Some(flow) = everywhere(session, Control::PublishStats, out, ctx) {
            return flow;
        }
        if ctx.route.shard_count() == 1 {
            render_general_stats(out, ctx);
        } else {
            session.defer_general_stats(out, ctx);
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
        b"cachedump" => {
            if tokens.ntokens() < 5 {
                put(out, ProtoError::StatsBadCommandLine.line());
                return Flow::Next;
            }
            match (parse_u32(tokens.get(2)), parse_u32(tokens.get(3))) {
                (Some(id), Some(_)) if id >= SLAB_CLASSES_MAX => {
                    put(out, ProtoError::IllegalSlabId.line())
                }
                (Some(_), Some(_)) => put(out, reply::END),
                _ => put(out, ProtoError::BadFormat.line()),
            }
        }
        b"items" | b"slabs" | b"conns" => put(out, reply::END),
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
    *stats = ShardStats::default();
    (stats.curr_connections, stats.total_connections) = keep;
}

/// (user, system) CPU time of the process, as (seconds, microseconds).
fn rusage() -> ((u64, u32), (u64, u32)) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory of the size getrusage fills in.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return ((0, 0), (0, 0));
    }
    // SAFETY: getrusage returned 0, so it initialized the struct (it was zeroed anyway).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| (t.tv_sec.max(0) as u64, t.tv_usec.clamp(0, 999_999) as u32);
    (tv(usage.ru_utime), tv(usage.ru_stime))
}

/// memcached's general `stats`, summed over every shard: this one's live counters plus what
/// the others published on the board (the caller made them publish first).
pub(super) fn render_general_stats(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let mut sum = Snapshot {
        shard: ctx.stats.clone(),
        engine: ctx.store.stats(),
    };
    for shard in 0..ctx.board.shard_count() {
        if shard != ctx.route.local() {
            sum.add(&ctx.board.read(shard));
        }
    }
    let s = &sum.shard;
    let engine = sum.engine;
    let server = ctx.server;
    let now = ctx.clock.now_rel();
    stat_u64(out, b"pid", u64::from(server.pid));
    stat_u64(
        out,
        b"uptime",
        u64::from(now.saturating_sub(UPTIME_OFFSET_SECS)),
    );
    stat_i64(out, b"time", ctx.clock.now_unix_secs());
    stat_str(out, b"version", server.version.as_bytes());
    stat_u64(out, b"pointer_size", usize::BITS as u64);
    let (user, system) = rusage();
    stat_secs_micros(out, b"rusage_user", user.0, user.1);
    stat_secs_micros(out, b"rusage_system", system.0, system.1);
    stat_u64(out, b"max_connections", u64::from(server.max_connections));
    let counters: [(&[u8], u64); 37] = [
        (b"curr_connections", s.curr_connections),
        (b"total_connections", s.total_connections),
        (b"rejected_connections", s.rejected_connections),
        (b"cmd_get", s.cmd_get),
        (b"cmd_set", s.cmd_set),
        (b"cmd_flush", s.cmd_flush),
        (b"cmd_touch", s.cmd_touch),
        (b"cmd_meta", s.cmd_meta),
        (b"get_hits", s.get_hits),
        (b"get_misses", s.get_misses),
        (b"get_expired", s.get_expired),
        (b"get_flushed", s.get_flushed),
        (b"delete_misses", s.delete_misses),
        (b"delete_hits", s.delete_hits),
        (b"incr_misses", s.incr_misses),
        (b"incr_hits", s.incr_hits),
        (b"decr_misses", s.decr_misses),
        (b"decr_hits", s.decr_hits),
        (b"cas_misses", s.cas_misses),
        (b"cas_hits", s.cas_hits),
        (b"cas_badval", s.cas_badval),
        (b"touch_hits", s.touch_hits),
        (b"touch_misses", s.touch_misses),
        (b"store_too_large", s.store_too_large),
        (b"store_no_memory", s.store_no_memory),
        (b"auth_cmds", s.auth_cmds),
        (b"auth_errors", s.auth_errors),
        (b"bytes_read", s.bytes_read),
        (b"bytes_written", s.bytes_written),
        (b"limit_maxbytes", server.memory_limit_bytes as u64),
        (b"accepting_conns", 1),
        (b"listen_disabled_num", s.listen_disabled_num),
        (b"threads", u64::from(server.threads)),
        (b"conn_yields", s.conn_yields),
        (b"bytes", engine.bytes),
        (b"curr_items", engine.curr_items),
        (b"total_items", engine.total_items),
    ];
    for (name, value) in counters {
        stat_u64(out, name, value);
    }
    stat_u64(out, b"expired_unfetched", engine.expired_unfetched);
    stat_u64(out, b"evicted_unfetched", engine.evicted_unfetched);
    stat_u64(out, b"evictions", engine.evictions);
    stat_u64(out, b"reclaimed", engine.reclaimed);
    put(out, reply::END);
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
    put(out, reply::END);
}
