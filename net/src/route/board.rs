//! The stats board: where each shard leaves a copy of its counters when another shard asks
//! (`stats` sums the shards on demand).
//!
//! Off the data path: a shard writes its slot only when it handles a
//! [`Control::PublishStats`](super::Control::PublishStats) message, and the asking shard reads
//! the slots after every shard has answered that message, so the mutexes are uncontended.

use std::sync::Mutex;

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

pub struct StatsBoard {
    slots: Vec<Mutex<Snapshot>>,
}

impl StatsBoard {
    pub fn new(shard_count: usize) -> StatsBoard {
        StatsBoard {
            slots: (0..shard_count)
                .map(|_| Mutex::new(Snapshot::default()))
                .collect(),
        }
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
