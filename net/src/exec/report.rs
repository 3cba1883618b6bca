//! The `stats` reports that sum every shard: general, `items` and `slabs`.
//!
//! With several shards the command first makes every other shard publish its counters on the
//! board (`route::board`), behind one hole per shard, and renders once they all have (a local
//! step in the connection's holes, see `remote`).

use super::write::{put, stat_i64, stat_secs_micros, stat_str, stat_u64};
use super::ShardCtx;
use crate::proto::number::write_u64;
use crate::proto::reply;
use crate::route::board::Snapshot;

/// memcached's `ITEM_UPDATE_INTERVAL`: its uptime is the relative clock minus this.
const UPTIME_OFFSET_SECS: u32 = 60;

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Report {
    General,
    Items,
    Slabs,
    /// ringcache's own: one block per shard (balance, cross-core traffic).
    Shards,
}

pub(super) fn render(report: Report, out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    match report {
        Report::General => general(out, ctx),
        Report::Items => items(out, ctx),
        Report::Slabs => slabs(out, ctx),
        Report::Shards => shards(out, ctx),
    }
}

/// `stats shards`: `STAT shard:<i>:<name> <value>` per shard.
fn shards(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    for shard in 0..ctx.board.shard_count() {
        let snapshot = if shard == ctx.route.local() {
            Snapshot::live(ctx.stats, ctx.store, ctx.clock)
        } else {
            ctx.board.read(shard)
        };
        let (s, e) = (&snapshot.shard, &snapshot.engine);
        let fields: [(&[u8], u64); 10] = [
            (b"curr_connections", s.curr_connections),
            (b"cmd_get", s.cmd_get),
            (b"cmd_set", s.cmd_set),
            (b"get_hits", s.get_hits),
            (b"curr_items", e.curr_items),
            (b"bytes", e.bytes),
            (b"evictions", e.evictions),
            (b"limit_maxbytes", e.limit_maxbytes),
            (b"cross_shard_sent", s.cross_shard_sent),
            (b"cross_shard_served", s.cross_shard_served),
        ];
        for (name, value) in fields {
            numbered_stat(out, b"shard:", shard as u64, name, value);
        }
    }
    put(out, reply::END);
}

/// This shard's live counters plus what the others published.
fn gather(ctx: &mut ShardCtx<'_>) -> Snapshot {
    let mut sum = Snapshot::live(ctx.stats, ctx.store, ctx.clock);
    for shard in 0..ctx.board.shard_count() {
        if shard != ctx.route.local() {
            sum.add(&ctx.board.read(shard));
        }
    }
    sum
}

/// `STAT <prefix><number>:<name> <value>`
fn numbered_stat(out: &mut Vec<u8>, prefix: &[u8], number: u64, name: &[u8], value: u64) {
    put(out, b"STAT ");
    put(out, prefix);
    write_u64(out, number);
    out.push(b':');
    put(out, name);
    out.push(b' ');
    write_u64(out, value);
    put(out, b"\r\n");
}

/// memcached's slab id of an engine class: ids start at 1 (tools such as memcached-tool
/// expect that), engine classes at 0.
fn slab_id(class: u8) -> u64 {
    u64::from(class) + 1
}

/// `stats items`: classes holding items, with memcached's names where one fits (the S3-FIFO
/// small queue stands in for its hot LRU, moves to the main queue for moves to warm).
fn items(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    for c in gather(ctx).classes.iter().filter(|c| c.number > 0) {
        let fields: [(&[u8], u64); 11] = [
            (b"number", c.number),
            (b"number_hot", c.number_small),
            (b"age", c.age),
            (b"evicted", c.evicted),
            (b"evicted_time", c.evicted_time),
            (b"outofmemory", c.outofmemory),
            (b"reclaimed", c.reclaimed),
            (b"expired_unfetched", c.expired_unfetched),
            (b"evicted_unfetched", c.evicted_unfetched),
            (b"crawler_reclaimed", c.crawler_reclaimed),
            (b"moves_to_warm", c.moves_to_main),
        ];
        for (name, value) in fields {
            numbered_stat(out, b"items:", slab_id(c.class), name, value);
        }
    }
    put(out, reply::END);
}

/// `stats slabs`: classes holding pages, then `active_slabs` and `total_malloced`.
fn slabs(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let sum = gather(ctx);
    let page_size_bytes = ctx.store.page_size_bytes() as u64;
    let mut active_count = 0;
    let mut malloced_bytes = 0;
    for c in sum.classes.iter().filter(|c| c.total_pages > 0) {
        active_count += 1;
        malloced_bytes += c.total_pages * page_size_bytes;
        let fields: [(&[u8], u64); 7] = [
            (b"chunk_size", c.chunk_size),
            (b"chunks_per_page", c.chunks_per_page),
            (b"total_pages", c.total_pages),
            (b"total_chunks", c.total_chunks),
            (b"used_chunks", c.used_chunks),
            (b"free_chunks", c.free_chunks),
            (b"free_chunks_end", c.free_chunks_end),
        ];
        for (name, value) in fields {
            numbered_stat(out, b"", slab_id(c.class), name, value);
        }
    }
    stat_u64(out, b"active_slabs", active_count);
    stat_u64(out, b"total_malloced", malloced_bytes);
    put(out, reply::END);
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
fn general(out: &mut Vec<u8>, ctx: &mut ShardCtx<'_>) {
    let sum = gather(ctx);
    let s = &sum.shard;
    let engine = &sum.engine;
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
        (b"get_expired", engine.get_expired),
        (b"get_flushed", engine.get_flushed),
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
