//! The stats board: where each shard leaves a copy of its counters when another shard asks
//! (`stats` sums the shards on demand).
//!
//! Off the data path: a shard writes its slot only when it handles a
//! [`Control::PublishStats`](super::Control::PublishStats) message, and the asking shard reads
//! the slots after every shard has answered that message, so the mutexes are uncontended.

use std::sync::Mutex;

use ringcache_engine::EngineStats;

use crate::stats::ShardStats;

/// One shard's counters as published.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub shard: ShardStats,
    pub engine: EngineStats,
}

impl Snapshot {
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
    }
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
