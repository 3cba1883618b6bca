//! The stats board: where each shard leaves a copy of its counters when another shard asks
//! (`stats` sums the shards on demand).
//!
//! Off the data path: a shard writes its slot only when it handles a
//! [`Control::PublishStats`](super::Control::PublishStats) message, and the asking shard reads
//! the slots after every shard has answered that message, so the mutexes are uncontended.
//!
//! The metrics endpoint (`metrics`, a thread that is not a shard) has slots of its own, which
//! a shard fills with [`StatsBoard::try_publish_metrics`]: every timer tick, and on the turn
//! after the endpoint asked for a fresh copy ([`StatsBoard::request_metrics`], then a wake-up
//! through the shard's `Waker`). The shard only ever `try_lock`s its slot: if the endpoint is
//! copying it out at that moment, the shard skips and tries again on its next turn, so serving
//! metrics never makes a shard wait.
//!
//! ```text
//!  endpoint:  wanted.fetch_max(seq) ─ unpark ─ wait ≤ FRESH_WAIT_MAX for answered ≥ seq ─ lock, copy
//!  shard:     turn: wanted != answered? ─ try_lock ─ copy in ─ answered = wanted   (or skip)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Instant;

use ringcache_engine::{Clock, EngineStats, SlabClassStats, Store};

use crate::stats::ShardStats;

/// One shard's counters as published.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub shard: ShardStats,
    pub engine: EngineStats,
    /// Per size class (`stats slabs`, `stats items`), indexed by class number; every shard has
    /// the same classes.
    pub classes: Vec<SlabClassStats>,
}

impl Snapshot {
    /// A shard's counters as they are now.
    pub fn live(stats: &ShardStats, store: &Store, clock: &Clock) -> Snapshot {
        Snapshot {
            shard: stats.clone(),
            engine: store.stats(),
            classes: store.slab_class_stats(clock).collect(),
        }
    }

    /// Adds another shard's counters (gauges such as `curr_items` add up too).
    pub fn add(&mut self, other: &Snapshot) {
        self.shard.add(&other.shard);
        let (a, b) = (&mut self.engine, &other.engine);
        a.curr_items += b.curr_items;
        a.total_items += b.total_items;
        a.bytes += b.bytes;
        a.evictions += b.evictions;
        a.reclaimed += b.reclaimed;
        a.expired_unfetched += b.expired_unfetched;
        a.evicted_unfetched += b.evicted_unfetched;
        a.limit_maxbytes += b.limit_maxbytes;
        a.slabs_moved += b.slabs_moved;
        a.slab_reassign_busy_items += b.slab_reassign_busy_items;
        a.slab_rebalance_moves += b.slab_rebalance_moves;
        a.crawler_items_checked += b.crawler_items_checked;
        a.crawler_reclaimed += b.crawler_reclaimed;
        a.get_expired += b.get_expired;
        a.get_flushed += b.get_flushed;
        for other in &other.classes {
            match self.classes.iter_mut().find(|c| c.class == other.class) {
                Some(mine) => add_class(mine, other),
                None => self.classes.push(*other),
            }
        }
        self.classes.sort_by_key(|c| c.class);
    }
}

/// Sums one class's counters; ages are the oldest of the shards'.
fn add_class(a: &mut SlabClassStats, b: &SlabClassStats) {
    a.total_pages += b.total_pages;
    a.total_chunks += b.total_chunks;
    a.used_chunks += b.used_chunks;
    a.free_chunks += b.free_chunks;
    a.free_chunks_end += b.free_chunks_end;
    a.number += b.number;
    a.number_small += b.number_small;
    a.age = a.age.max(b.age);
    a.evicted += b.evicted;
    a.evicted_unfetched += b.evicted_unfetched;
    a.evicted_time = a.evicted_time.max(b.evicted_time);
    a.expired_unfetched += b.expired_unfetched;
    a.reclaimed += b.reclaimed;
    a.crawler_reclaimed += b.crawler_reclaimed;
    a.outofmemory += b.outofmemory;
    a.moves_to_main += b.moves_to_main;
}

/// One shard's counters as left for the metrics endpoint (no per-class detail, so that
/// publishing allocates nothing).
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub shard: ShardStats,
    pub engine: EngineStats,
    /// Arena memory handed to size classes (`Store::memory_used_bytes`).
    pub memory_used_bytes: u64,
    /// When the shard left this copy (`None`: not yet).
    pub published: Option<Instant>,
}

/// A shard's metrics slot, on cache lines of its own (the shard reads `wanted` every turn).
#[repr(align(128))]
#[derive(Default)]
struct MetricsSlot {
    /// The newest request for a fresh copy (a sequence number; written by the endpoint).
    wanted: AtomicU64,
    /// The request the copy answers (written by the shard).
    answered: AtomicU64,
    copy: Mutex<Counters>,
}

pub struct StatsBoard {
    slots: Vec<Mutex<Snapshot>>,
    metrics: Vec<MetricsSlot>,
    /// The last metrics request's sequence number.
    metrics_requested: AtomicU64,
}

impl StatsBoard {
    pub fn new(shard_count: usize) -> StatsBoard {
        StatsBoard {
            slots: (0..shard_count)
                .map(|_| Mutex::new(Snapshot::default()))
                .collect(),
            metrics: (0..shard_count).map(|_| MetricsSlot::default()).collect(),
            metrics_requested: AtomicU64::new(0),
        }
    }

    /// Shard side, once per turn: the endpoint asked for a copy this shard has not left yet.
    /// Two loads of words only the endpoint's requests and this shard write.
    pub fn metrics_wanted(&self, shard: usize) -> bool {
        let slot = &self.metrics[shard];
        slot.wanted.load(Ordering::Relaxed) != slot.answered.load(Ordering::Relaxed)
    }

    /// Shard side: leaves a copy of the shard's counters unless the endpoint is reading the
    /// slot right now (then `false`: try again later). Never waits; allocates nothing.
    pub fn try_publish_metrics(&self, shard: usize, stats: &ShardStats, store: &Store) -> bool {
        let slot = &self.metrics[shard];
        let wanted = slot.wanted.load(Ordering::Acquire);
        let mut copy = match slot.copy.try_lock() {
            Ok(copy) => copy,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        copy.shard.clone_from(stats);
        copy.engine = store.stats();
        copy.memory_used_bytes = store.memory_used_bytes() as u64;
        copy.published = Some(Instant::now());
        drop(copy);
        slot.answered.store(wanted, Ordering::Release);
        true
    }

    /// Endpoint side: asks every shard for a fresh copy; returns the request's number for
    /// [`StatsBoard::metrics_answered`]. The caller then wakes the shards.
    pub fn request_metrics(&self) -> u64 {
        let seq = self.metrics_requested.fetch_add(1, Ordering::Relaxed) + 1;
        for slot in &self.metrics {
            slot.wanted.fetch_max(seq, Ordering::Release);
        }
        seq
    }

    /// Endpoint side: every shard has answered request `seq` (or a later one).
    pub fn metrics_answered(&self, seq: u64) -> bool {
        self.metrics
            .iter()
            .all(|slot| slot.answered.load(Ordering::Acquire) >= seq)
    }

    /// Endpoint side: the copy shard `shard` left last.
    pub fn read_metrics(&self, shard: usize) -> Counters {
        self.metrics[shard]
            .copy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn shard_count(&self) -> usize {
        self.slots.len()
    }

    pub fn publish(&self, shard: usize, snapshot: &Snapshot) {
        let mut slot = self.slots[shard].lock().unwrap_or_else(|e| e.into_inner());
        slot.clone_from(snapshot);
    }

    pub fn read(&self, shard: usize) -> Snapshot {
        self.slots[shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::check::Harness;

    #[test]
    fn a_shard_skips_publishing_while_the_endpoint_reads_and_never_waits() {
        let harness = Harness::new();
        let board = StatsBoard::new(2);
        assert!(!board.metrics_wanted(1));
        let seq = board.request_metrics();
        assert!(board.metrics_wanted(1));
        assert!(!board.metrics_answered(seq));
        // The endpoint holds shard 1's slot: publishing returns at once, and asks again.
        let reading = board.metrics[1].copy.lock().unwrap();
        assert!(!board.try_publish_metrics(1, &harness.stats, &harness.store));
        assert!(board.metrics_wanted(1));
        drop(reading);
        for shard in 0..2 {
            assert!(board.try_publish_metrics(shard, &harness.stats, &harness.store));
            assert!(!board.metrics_wanted(shard));
        }
        assert!(board.metrics_answered(seq));
        let copy = board.read_metrics(1);
        assert!(copy.published.is_some());
        assert_eq!(
            copy.engine.limit_maxbytes,
            harness.store.stats().limit_maxbytes
        );
    }

    #[test]
    fn a_later_request_is_not_answered_by_an_earlier_copy() {
        let harness = Harness::new();
        let board = StatsBoard::new(1);
        let first = board.request_metrics();
        assert!(board.try_publish_metrics(0, &harness.stats, &harness.store));
        let second = board.request_metrics();
        assert!(board.metrics_answered(first));
        assert!(!board.metrics_answered(second));
        assert!(board.metrics_wanted(0));
    }
}
