//! Per-shard counters. Plain integers owned by one shard thread; a whole-server view is the
//! sum over shards, taken on demand.
//!
//! CONTRACT: the runtime updates the connection and byte counters; `exec` updates the command
//! counters and renders `stats`. Add fields freely; keep them plain `u64`.
//!
//! Field names are memcached 1.6.18's `stats` names; `exec::misc` prints them in its order.
//! `commands` and `service` are ringcache's own, exported only as metrics (`metrics`).

use crate::service_time::ServiceTimes;

/// A request's command, as counted in [`ShardStats::commands`] (the `command` label of
/// `ringcache_commands_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Get,
    Gets,
    Gat,
    Gats,
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
    Incr,
    Decr,
    Touch,
    Delete,
    FlushAll,
    Verbosity,
    Version,
    Stats,
    Quit,
    MetaGet,
    MetaSet,
    MetaDelete,
    MetaArith,
    MetaDebug,
    MetaNoop,
    /// A line answered with an error (unknown command, bad format, too large, ...).
    Invalid,
}

impl Command {
    pub const COUNT: usize = Command::Invalid as usize + 1;

    /// Every command, in `COUNT` order.
    pub const ALL: [Command; Command::COUNT] = [
        Command::Get,
        Command::Gets,
        Command::Gat,
        Command::Gats,
        Command::Set,
        Command::Add,
        Command::Replace,
        Command::Append,
        Command::Prepend,
        Command::Cas,
        Command::Incr,
        Command::Decr,
        Command::Touch,
        Command::Delete,
        Command::FlushAll,
        Command::Verbosity,
        Command::Version,
        Command::Stats,
        Command::Quit,
        Command::MetaGet,
        Command::MetaSet,
        Command::MetaDelete,
        Command::MetaArith,
        Command::MetaDebug,
        Command::MetaNoop,
        Command::Invalid,
    ];

    /// The command's name on the wire (`invalid` for error lines).
    pub fn label(self) -> &'static str {
        match self {
            Command::Get => "get",
            Command::Gets => "gets",
            Command::Gat => "gat",
            Command::Gats => "gats",
            Command::Set => "set",
            Command::Add => "add",
            Command::Replace => "replace",
            Command::Append => "append",
            Command::Prepend => "prepend",
            Command::Cas => "cas",
            Command::Incr => "incr",
            Command::Decr => "decr",
            Command::Touch => "touch",
            Command::Delete => "delete",
            Command::FlushAll => "flush_all",
            Command::Verbosity => "verbosity",
            Command::Version => "version",
            Command::Stats => "stats",
            Command::Quit => "quit",
            Command::MetaGet => "mg",
            Command::MetaSet => "ms",
            Command::MetaDelete => "md",
            Command::MetaArith => "ma",
            Command::MetaDebug => "me",
            Command::MetaNoop => "mn",
            Command::Invalid => "invalid",
        }
    }
}

const _: () = assert!(Command::ALL[Command::COUNT - 1] as usize == Command::COUNT - 1);

#[derive(Clone, Debug, Default)]
pub struct ShardStats {
    // Connections (runtime).
    pub curr_connections: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Times a connection gave up its turn with input left (memcached `conn_yields`).
    pub conn_yields: u64,
    /// Times accepting was paused at the connection limit (memcached `listen_disabled_num`).
    pub listen_disabled_num: u64,
    // Commands (exec).
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub cmd_meta: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub get_expired: u64,
    pub get_flushed: u64,
    pub delete_misses: u64,
    pub delete_hits: u64,
    pub incr_misses: u64,
    pub incr_hits: u64,
    pub decr_misses: u64,
    pub decr_hits: u64,
    pub cas_misses: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub store_too_large: u64,
    pub store_no_memory: u64,
    /// ringcache has no SASL; kept so `stats` has memcached's field set.
    pub auth_cmds: u64,
    pub auth_errors: u64,
    // Cross-core routing (exec, runtime): requests sent to the shard owning their key, and
    // requests served here for another shard (`stats shards`).
    pub cross_shard_sent: u64,
    pub cross_shard_served: u64,
    /// Requests by command (indexed by [`Command`]), counted once each, as the client sent
    /// them, on the shard whose connection received them: a forwarded request is not counted
    /// again by its owner, and a multi-get is one request (memcached's `cmd_get` above
    /// counts keys, on the shard that owns each).
    pub commands: [u64; Command::COUNT],
    /// Service times of those requests (see `service_time`).
    pub service: ServiceTimes,
}

impl ShardStats {
    /// Adds another shard's counters to these.
    pub fn add(&mut self, other: &ShardStats) {
        self.curr_connections += other.curr_connections;
        self.total_connections += other.total_connections;
        self.rejected_connections += other.rejected_connections;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.conn_yields += other.conn_yields;
        self.listen_disabled_num += other.listen_disabled_num;
        self.cmd_get += other.cmd_get;
        self.cmd_set += other.cmd_set;
        self.cmd_flush += other.cmd_flush;
        self.cmd_touch += other.cmd_touch;
        self.cmd_meta += other.cmd_meta;
        self.get_hits += other.get_hits;
        self.get_misses += other.get_misses;
        self.get_expired += other.get_expired;
        self.get_flushed += other.get_flushed;
        self.delete_misses += other.delete_misses;
        self.delete_hits += other.delete_hits;
        self.incr_misses += other.incr_misses;
        self.incr_hits += other.incr_hits;
        self.decr_misses += other.decr_misses;
        self.decr_hits += other.decr_hits;
        self.cas_misses += other.cas_misses;
        self.cas_hits += other.cas_hits;
        self.cas_badval += other.cas_badval;
        self.touch_hits += other.touch_hits;
        self.touch_misses += other.touch_misses;
        self.store_too_large += other.store_too_large;
        self.store_no_memory += other.store_no_memory;
        self.auth_cmds += other.auth_cmds;
        self.auth_errors += other.auth_errors;
        self.cross_shard_sent += other.cross_shard_sent;
        self.cross_shard_served += other.cross_shard_served;
        for (mine, theirs) in self.commands.iter_mut().zip(&other.commands) {
            *mine += theirs;
        }
        self.service.add(&other.service);
    }
}
