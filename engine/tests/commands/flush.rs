use crate::*;
use ringcache_engine::{Config, StoreMode};

#[test]
fn immediate_flush_hides_items_stored_in_the_same_second() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"old", b"v");
    clock.advance_secs(5);
    set(&mut s, &clock, b"same-second", b"v");
    s.flush_all(0, &clock);
    assert_eq!(value_of(&mut s, &clock, b"old"), None);
    assert_eq!(value_of(&mut s, &clock, b"same-second"), None);
    set(&mut s, &clock, b"after", b"v");
    assert!(
        value_of(&mut s, &clock, b"after").is_some(),
        "stored after the flush in the same second"
    );
    clock.advance_secs(1);
    assert!(value_of(&mut s, &clock, b"after").is_some());
}

#[test]
fn delayed_flush_takes_effect_one_second_before_its_time() {
    // memcached: oldest_live = realtime(exptime) - 1, live once reached, and items stored at
    // or before it are flushed; so "flush_all 10" bites 9 s later, including items stored then.
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"a", b"v");
    s.flush_all(10, &clock);
    clock.advance_secs(5);
    set(&mut s, &clock, b"b", b"v");
    assert!(value_of(&mut s, &clock, b"a").is_some());
    assert!(value_of(&mut s, &clock, b"b").is_some());
    clock.advance_secs(3); // 8 s: not yet
    assert!(value_of(&mut s, &clock, b"a").is_some());
    set(&mut s, &clock, b"c", b"v");
    clock.advance_secs(1); // 9 s: flushed
    assert_eq!(value_of(&mut s, &clock, b"a"), None);
    assert_eq!(value_of(&mut s, &clock, b"b"), None);
    assert_eq!(value_of(&mut s, &clock, b"c"), None);
    set(&mut s, &clock, b"d", b"v");
    assert_eq!(
        value_of(&mut s, &clock, b"d"),
        None,
        "stored in the flush second"
    );
    clock.advance_secs(1);
    set(&mut s, &clock, b"e", b"v");
    assert!(value_of(&mut s, &clock, b"e").is_some());
    clock.advance_secs(100);
    assert!(value_of(&mut s, &clock, b"e").is_some());
}

#[test]
fn flush_of_one_second_acts_now() {
    // realtime(1) - 1 == now, so memcached also takes an oldest_cas: immediate.
    let (mut s, clock) = store();
    set(&mut s, &clock, b"a", b"v");
    s.flush_all(1, &clock);
    assert_eq!(value_of(&mut s, &clock, b"a"), None);
    // ...and, unlike "flush_all 0", also hides items stored later in that second
    // (checked against memcached 1.6).
    set(&mut s, &clock, b"b", b"v");
    assert_eq!(value_of(&mut s, &clock, b"b"), None);
}

#[test]
fn flush_with_absolute_time() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"a", b"v");
    s.flush_all(START_UNIX_SECS + 20, &clock);
    clock.advance_secs(18);
    assert!(value_of(&mut s, &clock, b"a").is_some());
    clock.advance_secs(1);
    assert_eq!(value_of(&mut s, &clock, b"a"), None);
}

#[test]
fn flush_without_cas_also_hides_later_items_of_that_second() {
    let config = Config {
        cas_enabled: false,
        ..config(8 * MIB)
    };
    let mut s = Store::new(config).unwrap();
    let mut clock = Clock::new(START_UNIX_SECS);
    s.flush_all(0, &clock);
    set(&mut s, &clock, b"a", b"v");
    assert_eq!(
        value_of(&mut s, &clock, b"a"),
        None,
        "memcached -C does the same"
    );
    clock.advance_secs(1);
    set(&mut s, &clock, b"a", b"v");
    assert!(value_of(&mut s, &clock, b"a").is_some());
}

#[test]
fn add_after_flush_succeeds() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"a", b"old");
    s.flush_all(0, &clock);
    assert!(matches!(
        store_with(&mut s, &clock, b"a", b"new", 0, 0, op(StoreMode::Add)),
        ringcache_engine::StoreOutcome::Stored { .. }
    ));
    assert_eq!(value_of(&mut s, &clock, b"a"), Some(b"new".to_vec()));
}

/// A later delayed flush must not bring back items an earlier flush hid, even when nothing
/// looked them up in between (memcached 1.6.18 answers NOT_FOUND for them too).
#[test]
fn a_later_delayed_flush_never_revives_flushed_items() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"a", b"v");
    set(&mut s, &clock, b"b", b"v");
    clock.advance_secs(3);
    s.flush_all(0, &clock);
    set(&mut s, &clock, b"after-first", b"v");
    clock.advance_secs(2);
    // Nothing has looked at a or b since the flush: both are still linked.
    s.flush_all(3600, &clock);
    assert_eq!(value_of(&mut s, &clock, b"a"), None);
    assert_eq!(value_of(&mut s, &clock, b"b"), None);
    assert!(value_of(&mut s, &clock, b"after-first").is_some());
    assert_eq!(s.stats().curr_items, 1);
    set(&mut s, &clock, b"c", b"v");
    assert!(value_of(&mut s, &clock, b"c").is_some());
    clock.advance_secs(3600);
    assert_eq!(
        value_of(&mut s, &clock, b"c"),
        None,
        "the delayed flush still bites"
    );
}
