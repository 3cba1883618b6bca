//! Memory efficiency and eviction: capacity, S3-FIFO, proactive expiry, page rebalancing.

use crate::*;
use ringcache_engine::{GetOp, ReserveError, SlabClassStats};

fn key(space: char, i: usize) -> Vec<u8> {
    format!("{space}{i:011}").into_bytes()
}

/// A value that names its key, so a wrong value cannot pass for a right one.
fn value(space: char, i: usize, len: usize) -> Vec<u8> {
    let mut v = vec![b'.'; len];
    let tag = format!("{space}{i}");
    let n = tag.len().min(len);
    v[..n].copy_from_slice(&tag.as_bytes()[..n]);
    v
}

fn put(s: &mut Store, clock: &Clock, space: char, i: usize, len: usize, exptime: i64) {
    let outcome = store_with(
        s,
        clock,
        &key(space, i),
        &value(space, i, len),
        0,
        exptime,
        op(StoreMode::Set),
    );
    assert!(matches!(outcome, StoreOutcome::Stored { .. }));
    assert!(s.memory_used_bytes() <= s.config().memory_limit_bytes);
}

/// `Some(true)`: present and right; `None`: missing. A wrong value panics.
fn check(s: &mut Store, clock: &Clock, space: char, i: usize, len: usize) -> Option<()> {
    let got = s.get(&key(space, i), &get_op(), clock)?;
    assert_eq!(got.item.value, &value(space, i, len)[..], "{space}{i}");
    Some(())
}

/// The class in use whose chunks hold items of `value_len` bytes (with a 12-byte key).
fn class_of(s: &Store, clock: &Clock, value_len: u64) -> SlabClassStats {
    s.slab_class_stats(clock)
        .filter(|c| c.chunk_size >= 26 + 12 + value_len)
        .min_by_key(|c| c.chunk_size)
        .expect("class in use")
}

#[test]
fn twelve_byte_keys_and_64_byte_values_take_104_bytes_each() {
    let mut s = Store::new(config(4 * MIB)).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    let mut i = 0;
    while s.stats().evictions == 0 {
        put(&mut s, &clock, 'k', i, 64, 0);
        i += 1;
    }
    // 26-byte header + 12 + 64 = 102 bytes in a 104-byte chunk; memcached: 152.
    let items = s.stats().curr_items as usize;
    assert_eq!(items, 4 * (MIB / 104));
    let class = class_of(&s, &clock, 64);
    assert_eq!(class.chunk_size, 104);
    assert_eq!(
        (class.total_pages, class.number, class.chunks_per_page),
        (4, items as u64, (MIB / 104) as u64)
    );
    assert!(
        s.overhead_memory_bytes() < 4 * MIB / 16,
        "index + ghost + tables"
    );
}

#[test]
fn a_scan_does_not_flush_the_hot_set() {
    let mut s = Store::new(config(MIB)).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    let hot = 200;
    for round in 0..3 {
        for i in 0..hot {
            if check(&mut s, &clock, 'h', i, 1000).is_none() {
                assert_eq!(round, 0);
                put(&mut s, &clock, 'h', i, 1000, 0);
            }
        }
    }
    clock.advance_secs(1);
    // Five times the cache in keys that are never read again.
    for i in 0..5000 {
        put(&mut s, &clock, 's', i, 1000, 0);
        if i % 50 == 0 {
            for j in 0..hot {
                let _ = check(&mut s, &clock, 'h', j, 1000);
            }
        }
    }
    let kept = (0..hot)
        .filter(|&i| check(&mut s, &clock, 'h', i, 1000).is_some())
        .count();
    assert_eq!(kept, hot, "S3-FIFO keeps the hot set through a scan");
    assert!(s.stats().evictions >= 4000);
}

#[test]
fn one_hit_wonders_leave_through_the_small_queue_and_come_back_to_main() {
    let mut s = Store::new(config(MIB)).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    put(&mut s, &clock, 'o', 0, 1000, 0);
    let per_page = class_of(&s, &clock, 1000).chunks_per_page as usize;
    for i in 1..2 * per_page {
        put(&mut s, &clock, 'o', i, 1000, 0);
    }
    let class = class_of(&s, &clock, 1000);
    assert_eq!(class.number, per_page as u64);
    assert_eq!(class.number_small, per_page as u64, "never read: all in S");
    // o0 was evicted from S and is in the ghost: set again, it goes to M.
    assert!(check(&mut s, &clock, 'o', 0, 1000).is_none());
    put(&mut s, &clock, 'o', 0, 1000, 0);
    let class = class_of(&s, &clock, 1000);
    assert_eq!(class.number_small, per_page as u64 - 1);
    assert!(class.evicted >= per_page as u64 && class.evicted_unfetched == class.evicted);
}

#[test]
fn maintain_reclaims_expired_items_nobody_touches() {
    let (mut s, mut clock) = store();
    for i in 0..1000 {
        put(&mut s, &clock, 't', i, 100, 2);
    }
    for i in 0..10 {
        put(&mut s, &clock, 'l', i, 100, 0);
    }
    clock.advance_secs(3);
    assert_eq!(s.maintain(&clock, 400), 400, "bounded by the budget");
    let mut visited = 400;
    while s.stats().crawler_reclaimed < 1000 {
        visited += s.maintain(&clock, 400);
        assert!(visited < 10 * 1010, "the crawler goes round");
    }
    let stats = s.stats();
    assert_eq!((stats.curr_items, stats.reclaimed), (10, 1000));
    assert_eq!((stats.expired_unfetched, stats.evictions), (1000, 0));
    for i in 0..10 {
        assert!(check(&mut s, &clock, 'l', i, 100).is_some());
    }
}

#[test]
fn expired_memory_is_reused_before_any_live_item_is_evicted() {
    let mut s = Store::new(config(2 * MIB)).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    let capacity = 2 * (MIB / 104);
    let live = capacity * 3 / 10;
    for i in 0..live {
        put(&mut s, &clock, 'l', i, 64, 0);
    }
    for i in 0..live {
        assert!(check(&mut s, &clock, 'l', i, 64).is_some());
    }
    for i in 0..capacity * 65 / 100 {
        put(&mut s, &clock, 'b', i, 64, 2);
    }
    clock.advance_secs(4);
    // No maintain call: the allocation path finds the expired memory itself.
    for i in 0..capacity / 2 {
        put(&mut s, &clock, 'n', i, 64, 0);
    }
    assert_eq!(s.stats().evictions, 0);
    for i in 0..live {
        assert!(
            check(&mut s, &clock, 'l', i, 64).is_some(),
            "live l{i} lost"
        );
    }
}

#[test]
fn memory_follows_the_sizes_in_use() {
    let mut s = Store::new(config(8 * MIB)).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    for i in 0..8 * (MIB / 144) {
        put(&mut s, &clock, 'a', i, 100, 0);
    }
    let small = class_of(&s, &clock, 100);
    assert_eq!(small.chunk_size, 144);
    assert_eq!(small.total_pages, 8);
    clock.advance_secs(10);
    // Only large values from now on: a working set of 5000 keys, about 5 MiB.
    for round in 0..4 {
        for i in 0..5000 {
            if check(&mut s, &clock, 'b', i, 1000).is_none() {
                put(&mut s, &clock, 'b', i, 1000, 0);
            }
        }
        clock.advance_secs(1);
        s.maintain(&clock, 1000);
        assert!(round < 4);
    }
    let large = class_of(&s, &clock, 1000);
    assert!(large.total_pages >= 6, "{large:?}");
    let hits = (0..5000)
        .filter(|&i| check(&mut s, &clock, 'b', i, 1000).is_some())
        .count();
    assert!(hits > 4500, "{hits} of 5000 after the shift");
    assert!(s.stats().slab_rebalance_moves > 0 && s.stats().slabs_moved >= 6);
    assert!(s.memory_used_bytes() <= 8 * MIB);
}

#[test]
fn no_eviction_mode_never_evicts_even_when_maintained() {
    let mut config = config(2 * MIB);
    config.evict_when_full = false;
    let mut s = Store::new(config).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    let mut stored = 0;
    while s
        .reserve(&key('m', stored), 0, 0, 100, &clock)
        .map(|r| {
            s.value_mut(&r).fill(b'm');
            s.commit(r, &op(StoreMode::Set), &clock);
        })
        .is_ok()
    {
        stored += 1;
    }
    clock.advance_secs(100);
    s.maintain(&clock, 1_000_000);
    assert_eq!(
        s.reserve(b"big", 0, 0, 5000, &clock).unwrap_err(),
        ReserveError::OutOfMemory
    );
    let stats = s.stats();
    assert_eq!((stats.evictions, stats.curr_items as usize), (0, stored));
    let outofmemory: u64 = s.slab_class_stats(&clock).map(|c| c.outofmemory).sum();
    assert_eq!(outofmemory, 2);
}

#[test]
fn slab_class_stats_count_chunks_like_memcached() {
    let (mut s, clock) = store();
    for i in 0..10 {
        put(&mut s, &clock, 'c', i, 100, 0);
    }
    assert_eq!(
        delete(&mut s, &clock, &key('c', 3)),
        ringcache_engine::DeleteOutcome::Deleted
    );
    let _ = s.get(&key('c', 0), &GetOp::default(), &clock);
    let class = class_of(&s, &clock, 100);
    assert_eq!(class.chunks_per_page, (MIB / 144) as u64);
    assert_eq!((class.total_pages, class.total_chunks), (1, 10));
    assert_eq!(
        (class.used_chunks, class.free_chunks, class.number),
        (9, 1, 9)
    );
    assert_eq!(class.free_chunks_end, (MIB / 144) as u64 - 10);
    assert_eq!(s.slab_class_stats(&clock).count(), 1, "only classes in use");
}
