use crate::*;
use ringcache_engine::{ArithOp, ReserveError, StoreMode, StoreOp, StoreOutcome};

#[test]
fn set_then_get_returns_value_flags_and_cas() {
    let (mut s, clock) = store();
    let outcome = store_with(
        &mut s,
        &clock,
        b"k",
        b"hello",
        u32::MAX,
        0,
        op(StoreMode::Set),
    );
    let StoreOutcome::Stored { cas } = outcome else {
        panic!("{outcome:?}")
    };
    let hit = s.get(b"k", &get_op(), &clock).unwrap();
    assert_eq!(hit.item.value, b"hello");
    assert_eq!(hit.item.flags, u32::MAX);
    assert_eq!(hit.item.cas, cas);
    assert_eq!(hit.item.key, b"k");
    assert_eq!(hit.item.expiry, 0);
    assert!(!hit.win && !hit.vivified);
}

#[test]
fn zero_length_value_and_250_byte_key() {
    let (mut s, clock) = store();
    let key = [b'k'; 250];
    set(&mut s, &clock, &key, b"");
    assert_eq!(value_of(&mut s, &clock, &key), Some(vec![]));
    let hit = s.get(&key, &peek_op(), &clock).unwrap();
    assert_eq!(
        hit.item.total_size_bytes,
        26 + 250,
        "26-byte header without flags"
    );
}

#[test]
fn set_overwrites_and_cas_advances_by_step() {
    let mut config = config(8 * MIB);
    config.cas_first = 3;
    config.cas_step = 4;
    let mut s = Store::new(config).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    assert_eq!(set(&mut s, &clock, b"k", b"1"), 3);
    assert_eq!(set(&mut s, &clock, b"k", b"2"), 7);
    assert_eq!(set(&mut s, &clock, b"j", b"3"), 11);
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"2".to_vec()));
    assert_eq!(s.stats().curr_items, 2);
    assert_eq!(s.stats().total_items, 3);
}

#[test]
fn cas_disabled_gives_zero_and_never_matches() {
    let mut config = config(8 * MIB);
    config.cas_enabled = false;
    let mut s = Store::new(config).unwrap();
    let clock = Clock::new(START_UNIX_SECS);
    assert_eq!(set(&mut s, &clock, b"k", b"1"), 0);
    let cas_op = StoreOp {
        compare_cas: Some(0),
        ..op(StoreMode::Set)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"2", 0, 0, cas_op),
        StoreOutcome::Exists
    );
    let explicit = StoreOp {
        explicit_cas: Some(99),
        ..op(StoreMode::Set)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"2", 0, 0, explicit),
        StoreOutcome::Stored { cas: 0 }
    );
}

#[test]
fn add_only_stores_a_missing_key() {
    let (mut s, mut clock) = store();
    assert!(matches!(
        store_with(&mut s, &clock, b"k", b"a", 0, 0, op(StoreMode::Add)),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, op(StoreMode::Add)),
        StoreOutcome::NotStored
    );
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"a".to_vec()));
    // add on an expired item succeeds
    store_with(&mut s, &clock, b"e", b"old", 0, 10, op(StoreMode::Set));
    clock.advance_secs(10);
    assert!(matches!(
        store_with(&mut s, &clock, b"e", b"new", 0, 0, op(StoreMode::Add)),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(value_of(&mut s, &clock, b"e"), Some(b"new".to_vec()));
}

#[test]
fn add_on_existing_item_bumps_its_access_time() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"k", b"a");
    clock.advance_secs(100);
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, op(StoreMode::Add)),
        StoreOutcome::NotStored
    );
    assert_eq!(
        s.get(b"k", &peek_op(), &clock).unwrap().item.last_access,
        clock.now_rel()
    );
}

#[test]
fn replace_needs_an_existing_key() {
    let (mut s, clock) = store();
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"a", 0, 0, op(StoreMode::Replace)),
        StoreOutcome::NotStored
    );
    assert_eq!(value_of(&mut s, &clock, b"k"), None);
    set(&mut s, &clock, b"k", b"a");
    assert!(matches!(
        store_with(&mut s, &clock, b"k", b"b", 7, 0, op(StoreMode::Replace)),
        StoreOutcome::Stored { .. }
    ));
    let hit = s.get(b"k", &peek_op(), &clock).unwrap();
    assert_eq!((hit.item.value, hit.item.flags), (&b"b"[..], 7));
}

#[test]
fn append_and_prepend_keep_old_flags_and_exptime() {
    let (mut s, clock) = store();
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"x", 0, 0, op(StoreMode::Append)),
        StoreOutcome::NotStored
    );
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"x", 0, 0, op(StoreMode::Prepend)),
        StoreOutcome::NotStored
    );
    store_with(&mut s, &clock, b"k", b"mid", 42, 100, op(StoreMode::Set));
    let expiry = s.get(b"k", &peek_op(), &clock).unwrap().item.expiry;
    store_with(&mut s, &clock, b"k", b"-end", 1, 5, op(StoreMode::Append));
    store_with(
        &mut s,
        &clock,
        b"k",
        b"start-",
        2,
        6,
        op(StoreMode::Prepend),
    );
    let hit = s.get(b"k", &peek_op(), &clock).unwrap();
    assert_eq!(hit.item.value, b"start-mid-end");
    assert_eq!(hit.item.flags, 42);
    assert_eq!(hit.item.expiry, expiry);
    assert_eq!(s.stats().curr_items, 1);
}

#[test]
fn append_with_cas_checks_it() {
    let (mut s, clock) = store();
    let cas = set(&mut s, &clock, b"k", b"a");
    let bad = StoreOp {
        compare_cas: Some(cas + 1),
        ..op(StoreMode::Append)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, bad),
        StoreOutcome::Exists
    );
    let good = StoreOp {
        compare_cas: Some(cas),
        ..op(StoreMode::Append)
    };
    assert!(matches!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, good),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"ab".to_vec()));
}

#[test]
fn cas_semantics() {
    let (mut s, clock) = store();
    let cas_op = |cas| StoreOp {
        compare_cas: Some(cas),
        ..op(StoreMode::Set)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"a", 0, 0, cas_op(1)),
        StoreOutcome::NotFound
    );
    let cas = set(&mut s, &clock, b"k", b"a");
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, cas_op(cas + 1)),
        StoreOutcome::Exists
    );
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"b", 0, 0, cas_op(0)),
        StoreOutcome::Exists
    );
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"a".to_vec()));
    let StoreOutcome::Stored { cas: new_cas } =
        store_with(&mut s, &clock, b"k", b"b", 0, 0, cas_op(cas))
    else {
        panic!()
    };
    assert!(new_cas > cas);
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"b".to_vec()));
    // add and replace ignore compare_cas, as memcached does
    let add = StoreOp {
        compare_cas: Some(12345),
        ..op(StoreMode::Add)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"c", 0, 0, add),
        StoreOutcome::NotStored
    );
    let replace = StoreOp {
        compare_cas: Some(12345),
        ..op(StoreMode::Replace)
    };
    assert!(matches!(
        store_with(&mut s, &clock, b"k", b"c", 0, 0, replace),
        StoreOutcome::Stored { .. }
    ));
}

#[test]
fn invalidating_set_with_older_cas_stores_stale_and_keeps_ttl() {
    let (mut s, clock) = store();
    store_with(&mut s, &clock, b"k", b"a", 0, 100, op(StoreMode::Set));
    let old = set(&mut s, &clock, b"j", b"x"); // an older CAS than k's next one
    let StoreOutcome::Stored { cas } =
        store_with(&mut s, &clock, b"k", b"b", 0, 100, op(StoreMode::Set))
    else {
        panic!()
    };
    assert!(old < cas);
    let expiry = s.get(b"k", &peek_op(), &clock).unwrap().item.expiry;
    let stale = StoreOp {
        compare_cas: Some(old),
        invalidate: true,
        ..op(StoreMode::Set)
    };
    assert!(matches!(
        store_with(&mut s, &clock, b"k", b"c", 0, 5, stale),
        StoreOutcome::Stored { .. }
    ));
    let hit = s.get(b"k", &peek_op(), &clock).unwrap();
    assert_eq!(hit.item.value, b"c");
    assert!(hit.item.stale);
    assert_eq!(hit.item.expiry, expiry, "a stale set keeps the TTL");
    // a newer (larger) CAS is still a mismatch
    let newer = StoreOp {
        compare_cas: Some(u64::MAX),
        invalidate: true,
        ..op(StoreMode::Set)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"d", 0, 0, newer),
        StoreOutcome::Exists
    );
}

#[test]
fn explicit_cas_is_used() {
    let (mut s, clock) = store();
    let explicit = StoreOp {
        explicit_cas: Some(777),
        ..op(StoreMode::Set)
    };
    assert_eq!(
        store_with(&mut s, &clock, b"k", b"a", 0, 0, explicit),
        StoreOutcome::Stored { cas: 777 }
    );
    assert_eq!(s.get(b"k", &peek_op(), &clock).unwrap().item.cas, 777);
}

#[test]
fn negative_and_absolute_exptimes() {
    let (mut s, clock) = store();
    store_with(&mut s, &clock, b"neg", b"a", 0, -1, op(StoreMode::Set));
    assert_eq!(value_of(&mut s, &clock, b"neg"), None);
    store_with(
        &mut s,
        &clock,
        b"past",
        b"a",
        0,
        START_UNIX_SECS - 10,
        op(StoreMode::Set),
    );
    assert_eq!(value_of(&mut s, &clock, b"past"), None);
    store_with(
        &mut s,
        &clock,
        b"future",
        b"a",
        0,
        START_UNIX_SECS + 10,
        op(StoreMode::Set),
    );
    let mut later = clock;
    assert!(value_of(&mut s, &later, b"future").is_some());
    later.advance_secs(10);
    assert_eq!(value_of(&mut s, &later, b"future"), None);
}

#[test]
fn too_large_items_are_refused() {
    let (mut s, clock) = store();
    assert_eq!(
        s.reserve(b"k", 0, 0, MIB, &clock).unwrap_err(),
        ReserveError::TooLarge
    );
    let fits = MIB - 40 - 1;
    let reservation = s.reserve(b"k", 0, 0, fits, &clock).unwrap();
    assert_eq!(reservation.value_len(), fits);
    s.abort(reservation);
}

#[test]
fn reservations_survive_other_commands_and_abort_frees() {
    let (mut s, clock) = store();
    let reservation = s.reserve(b"k", 5, 0, 3, &clock).unwrap();
    s.value_mut(&reservation)[..1].copy_from_slice(b"a");
    set(&mut s, &clock, b"k", b"other");
    assert_eq!(
        value_of(&mut s, &clock, b"k"),
        Some(b"other".to_vec()),
        "a reservation is invisible"
    );
    s.value_mut(&reservation)[1..].copy_from_slice(b"bc");
    assert!(matches!(
        s.commit(reservation, &op(StoreMode::Set), &clock),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"abc".to_vec()));
    let aborted = s.reserve(b"x", 0, 0, 3, &clock).unwrap();
    s.abort(aborted);
    assert_eq!(value_of(&mut s, &clock, b"x"), None);
}

#[test]
fn bytes_stat_follows_items() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"12345");
    assert_eq!(s.stats().bytes, 26 + 1 + 5);
    set(&mut s, &clock, b"k", b"1");
    assert_eq!(s.stats().bytes, 26 + 1 + 1);
    delete(&mut s, &clock, b"k");
    assert_eq!(s.stats().bytes, 0);
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(s.stats().limit_maxbytes, 8 * MIB as u64);
}

#[test]
fn key_binary_is_remembered_by_the_stored_item_only() {
    // memcached sets ITEM_KEY_BINARY on the item ms allocates; append/prepend and an incr
    // that outgrows its item make a fresh item without it.
    let (mut s, clock) = store();
    let binary = StoreOp {
        key_binary: true,
        ..op(StoreMode::Set)
    };
    let key_binary = |s: &mut Store| s.get(b"a", &peek_op(), &clock).unwrap().item.key_binary;
    store_with(&mut s, &clock, b"a", b"1", 0, 0, binary);
    assert!(key_binary(&mut s));
    s.arith(
        b"a",
        &ArithOp {
            delta: 1,
            ..Default::default()
        },
        &clock,
    );
    assert!(key_binary(&mut s), "in place");
    store_with(&mut s, &clock, b"a", b"9", 0, 0, binary);
    s.arith(
        b"a",
        &ArithOp {
            delta: 1,
            ..Default::default()
        },
        &clock,
    );
    assert!(!key_binary(&mut s), "outgrown: a new item");
    store_with(&mut s, &clock, b"a", b"1", 0, 0, binary);
    let append = StoreOp {
        key_binary: true,
        ..op(StoreMode::Append)
    };
    store_with(&mut s, &clock, b"a", b"2", 0, 0, append);
    assert!(!key_binary(&mut s), "append makes a new item");
    store_with(&mut s, &clock, b"a", b"1", 0, 0, op(StoreMode::Set));
    assert!(!key_binary(&mut s));
}
