use crate::*;
use ringcache_engine::{ConfigError, GetOp, ReserveError, StoreMode, StoreOutcome};

/// Stores `count` items of one size class into a store of `pages` pages; returns the keys.
fn fill(
    s: &mut Store,
    clock: &Clock,
    first: usize,
    count: usize,
    value_len: usize,
) -> Vec<Vec<u8>> {
    let value = vec![b'x'; value_len];
    (first..first + count)
        .map(|i| {
            let key = format!("key:{i:06}").into_bytes();
            let outcome = store_with(s, clock, &key, &value, 0, 0, op(StoreMode::Set));
            assert!(
                matches!(outcome, StoreOutcome::Stored { .. }),
                "{i}: {outcome:?}"
            );
            key
        })
        .collect()
}

/// How many items like `key`'s fit in one page of its class.
fn items_per_page(s: &mut Store, clock: &Clock, key: &[u8]) -> usize {
    let class = s
        .get(key, &GetOp::default(), clock)
        .unwrap()
        .item
        .slab_class;
    s.page_size_bytes() / s.slab_chunk_size_bytes(class)
}

#[test]
fn config_errors_tell_the_limit() {
    let too_small = Store::new(config(MIB - 1));
    assert!(matches!(
        too_small,
        Err(ConfigError::MemoryLimitTooSmall {
            minimum_bytes: MIB,
            ..
        })
    ));
    let mut big_items = config(8 * MIB);
    big_items.item_size_max_bytes = 2 << 30;
    assert!(matches!(
        Store::new(big_items),
        Err(ConfigError::ItemSizeMaxOutOfRange { .. })
    ));
    let mut two_mib_items = config(4 * MIB);
    two_mib_items.item_size_max_bytes = 2 * MIB;
    let s = Store::new(two_mib_items).unwrap();
    assert_eq!((s.page_size_bytes(), s.page_count()), (2 * MIB, 2));
}

#[test]
fn an_item_read_since_it_was_stored_outlives_unread_ones() {
    let mut s = Store::new(config(MIB)).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    // ~1000-byte items: one page holds about a thousand of them.
    let mut keys = fill(&mut s, &clock, 0, 10, 1000);
    let per_page = items_per_page(&mut s, &clock, &keys[0]);
    keys.extend(fill(&mut s, &clock, 10, per_page - 10, 1000));
    assert_eq!(s.stats().evictions, 0);
    // Touch key 0 so key 1 becomes the oldest.
    assert!(s.get(&keys[0], &get_op(), &clock).is_some());
    set(&mut s, &clock, b"newcomer", &[b'y'; 1000]);
    assert_eq!(s.stats().evictions, 1);
    assert_eq!(s.stats().evicted_unfetched, 1);
    assert!(value_of(&mut s, &clock, &keys[0]).is_some());
    assert!(
        value_of(&mut s, &clock, &keys[1]).is_none(),
        "S3-FIFO: the oldest unread item of the small queue went first"
    );
    assert!(value_of(&mut s, &clock, &keys[2]).is_some());
    assert!(s.memory_used_bytes() <= MIB);
}

#[test]
fn expired_tail_items_are_reclaimed_before_evicting() {
    let mut s = Store::new(config(MIB)).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    let value = vec![b'x'; 1000];
    store_with(
        &mut s,
        &clock,
        b"short-lived",
        &value,
        0,
        5,
        op(StoreMode::Set),
    );
    let per_page = items_per_page(&mut s, &clock, b"short-lived");
    fill(&mut s, &clock, 0, per_page - 1, 1000);
    clock.advance_secs(5);
    set(&mut s, &clock, b"after", &value);
    let stats = s.stats();
    assert_eq!(
        (stats.evictions, stats.reclaimed, stats.expired_unfetched),
        (0, 1, 1)
    );
    assert_eq!(stats.curr_items as usize, per_page);
}

#[test]
fn no_eviction_mode_reports_out_of_memory() {
    let mut config = config(MIB);
    config.evict_when_full = false;
    let mut s = Store::new(config).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    let value = vec![b'x'; 1000];
    let mut stored = 0;
    loop {
        let key = format!("key:{stored}");
        match s.reserve(key.as_bytes(), 0, 0, value.len(), &clock) {
            Ok(reservation) => {
                s.value_mut(&reservation).copy_from_slice(&value);
                s.commit(reservation, &op(StoreMode::Set), &clock);
                stored += 1;
            }
            Err(error) => {
                assert_eq!(error, ReserveError::OutOfMemory);
                break;
            }
        }
    }
    assert!(stored > 900);
    assert_eq!(s.stats().evictions, 0);
    assert!(value_of(&mut s, &clock, b"key:0").is_some());
    // Other size classes have no page left either.
    assert_eq!(
        s.reserve(b"small", 0, 0, 1, &clock).unwrap_err(),
        ReserveError::OutOfMemory
    );
}

#[test]
fn reservations_are_never_evicted() {
    let mut s = Store::new(config(MIB)).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    let value = vec![b'r'; 1000];
    let reservation = s.reserve(b"pending", 0, 0, value.len(), &clock).unwrap();
    s.value_mut(&reservation).copy_from_slice(&value);
    fill(&mut s, &clock, 0, 3000, 1000);
    assert!(s.stats().evictions > 1000);
    assert_eq!(s.value_mut(&reservation), &value[..]);
    assert!(matches!(
        s.commit(reservation, &op(StoreMode::Set), &clock),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(value_of(&mut s, &clock, b"pending"), Some(value));
}

#[test]
fn append_never_evicts_the_item_it_extends() {
    // Two pages: one for the 1000-byte class, one for the small appended part.
    let mut s = Store::new(config(2 * MIB)).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    set(&mut s, &clock, b"target", &[b'a'; 1000]);
    let per_page = items_per_page(&mut s, &clock, b"target");
    fill(&mut s, &clock, 0, per_page - 1, 1000);
    // "target" is the oldest item of a full class; appending a byte stays in the class.
    let outcome = store_with(&mut s, &clock, b"target", b"b", 0, 0, op(StoreMode::Append));
    assert!(
        matches!(outcome, StoreOutcome::Stored { .. }),
        "{outcome:?}"
    );
    let value = value_of(&mut s, &clock, b"target").unwrap();
    assert_eq!(value.len(), 1001);
    assert_eq!(value[1000], b'b');
}
