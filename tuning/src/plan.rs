//! The server the checks judge the host for: its shard cores, shard count and connection
//! limit, chosen as `ringcache` chooses them from the same flags, and what those need.

use ringcache_net::route::SHARD_COUNT_MAX;
use ringcache_net::runtime::limits::NOFILE_HEADROOM_COUNT;
use ringcache_net::runtime::shard::SQ_ENTRIES_COUNT;
use serde::Serialize;

/// ringcache's default `-c`.
pub const CONN_LIMIT_DEFAULT: u32 = 1024;

/// Descriptors per shard beyond its connections (its listener, its ring, its eventfd and one
/// spare), as `ensure_nofile` in `net/src/runtime/limits.rs` counts them.
pub const NOFILE_PER_SHARD_COUNT: u64 = 4;

/// What ringcache would run with.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The cores the shards are drawn from (`--cpus`, or every CPU the process may use).
    pub cpus: Vec<usize>,
    /// True when `cpus` came from `--cpus`.
    pub cpus_from_flag: bool,
    /// Shards (`-t`, default one per core in `cpus`).
    pub shard_count: u32,
    /// The distinct cores shards run on, sorted: shard *i* runs on `cpus[i % cpus.len()]`.
    pub shard_cores: Vec<usize>,
    /// `-c`.
    pub conn_limit: u32,
}

impl Plan {
    /// The plan for `cpus` (already resolved), `-t` and `-c`, with the server's own refusals.
    pub fn new(
        cpus: Vec<usize>,
        cpus_from_flag: bool,
        threads: Option<u32>,
        conn_limit: u32,
    ) -> Result<Plan, String> {
        if cpus.is_empty() {
            return Err("no CPU to run shards on".into());
        }
        let shard_count = threads.unwrap_or(cpus.len() as u32);
        if shard_count == 0 {
            return Err("-t must be at least 1".into());
        }
        if shard_count as usize > SHARD_COUNT_MAX {
            return Err(format!(
                "-t {shard_count}: at most {SHARD_COUNT_MAX} shards are supported"
            ));
        }
        if conn_limit == 0 {
            return Err("-c must be at least 1".into());
        }
        let mut shard_cores: Vec<usize> = (0..shard_count as usize)
            .map(|shard_index| cpus[shard_index % cpus.len()])
            .collect();
        shard_cores.sort_unstable();
        shard_cores.dedup();
        assert!(!shard_cores.is_empty() && shard_cores.len() <= shard_count as usize);
        Ok(Plan {
            cpus,
            cpus_from_flag,
            shard_count,
            shard_cores,
            conn_limit,
        })
    }

    /// Open files the server needs: the server's own rule (`ensure_nofile`).
    pub fn nofile_needed_count(&self) -> u64 {
        u64::from(self.conn_limit)
            + NOFILE_HEADROOM_COUNT
            + NOFILE_PER_SHARD_COUNT * u64::from(self.shard_count)
    }

    /// Completion-queue entries of one shard's ring, as the runtime sizes them
    /// (`net/src/runtime/mod.rs`: room for every connection's recv, send and close).
    pub fn cq_entries_count(&self) -> u64 {
        (4 * u64::from(self.conn_limit) + 256)
            .next_power_of_two()
            .clamp(2 * u64::from(SQ_ENTRIES_COUNT), 1 << 16)
    }

    /// Bytes one ring pins on kernels that charge rings to `RLIMIT_MEMLOCK` (before 5.12): the
    /// submission entries (64 bytes each) and the rings (16-byte completions, a 4-byte index per
    /// submission entry, a header), each rounded up to whole pages.
    pub fn ring_locked_bytes(&self) -> u64 {
        const PAGE_BYTES: u64 = 4096;
        const RING_HEADER_BYTES: u64 = 320;
        let sq = u64::from(SQ_ENTRIES_COUNT);
        let sqes = (sq * 64).next_multiple_of(PAGE_BYTES);
        let rings = (RING_HEADER_BYTES + self.cq_entries_count() * 16 + sq * 4)
            .next_multiple_of(PAGE_BYTES);
        sqes + rings
    }

    /// `RLIMIT_MEMLOCK` the server needs on kernels before 5.12: every shard's ring.
    pub fn memlock_needed_bytes(&self) -> u64 {
        u64::from(self.shard_count) * self.ring_locked_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_wrap_around_the_cores_like_the_server() {
        let plan = Plan::new(vec![2, 3, 5], true, Some(5), 1024).unwrap();
        assert_eq!(plan.shard_cores, [2, 3, 5]);
        let plan = Plan::new(vec![2, 3, 5], true, Some(2), 1024).unwrap();
        assert_eq!(plan.shard_cores, [2, 3]);
        let plan = Plan::new(vec![0, 1], false, None, 1024).unwrap();
        assert_eq!(plan.shard_count, 2);
    }

    #[test]
    fn nofile_need_matches_the_server_rule() {
        // ensure_nofile: conn_limit + NOFILE_HEADROOM_COUNT (64) + 4 per shard.
        let plan = Plan::new(vec![0, 1, 2, 3], false, None, 1024).unwrap();
        assert_eq!(plan.nofile_needed_count(), 1024 + 64 + 16);
    }

    #[test]
    fn ring_sizes_follow_the_runtime() {
        let plan = Plan::new(vec![0], false, None, 1024).unwrap();
        assert_eq!(plan.cq_entries_count(), 8192);
        assert_eq!(plan.ring_locked_bytes(), 64 * 1024 + 136 * 1024);
        let small = Plan::new(vec![0], false, None, 10).unwrap();
        assert_eq!(small.cq_entries_count(), 2048);
    }

    #[test]
    fn zero_threads_and_zero_connections_are_refused() {
        assert!(Plan::new(vec![0], false, Some(0), 1024).is_err());
        assert!(Plan::new(vec![0], false, None, 0).is_err());
        assert!(Plan::new(vec![0], false, Some(1000), 1024).is_err());
    }
}
