use crate::*;
use ringcache_engine::{DeleteOp, DeleteOutcome};

#[test]
fn delete_removes_and_then_misses() {
    let (mut s, clock) = store();
    assert_eq!(delete(&mut s, &clock, b"k"), DeleteOutcome::NotFound);
    set(&mut s, &clock, b"k", b"v");
    assert_eq!(delete(&mut s, &clock, b"k"), DeleteOutcome::Deleted);
    assert_eq!(value_of(&mut s, &clock, b"k"), None);
    assert_eq!(delete(&mut s, &clock, b"k"), DeleteOutcome::NotFound);
}

#[test]
fn delete_with_cas_mismatch_is_exists() {
    let (mut s, clock) = store();
    let cas = set(&mut s, &clock, b"k", b"v");
    let bad = DeleteOp {
        compare_cas: Some(cas + 1),
        ..DeleteOp::default()
    };
    assert_eq!(s.delete(b"k", &bad, &clock), DeleteOutcome::Exists);
    let good = DeleteOp {
        compare_cas: Some(cas),
        ..DeleteOp::default()
    };
    assert_eq!(s.delete(b"k", &good, &clock), DeleteOutcome::Deleted);
    assert_eq!(value_of(&mut s, &clock, b"k"), None);
}

#[test]
fn invalidate_keeps_the_item_with_a_new_cas() {
    let (mut s, clock) = store();
    let cas = set(&mut s, &clock, b"k", b"v");
    let invalidate = DeleteOp {
        invalidate: Some(None),
        ..DeleteOp::default()
    };
    assert_eq!(s.delete(b"k", &invalidate, &clock), DeleteOutcome::Deleted);
    let hit = s.get(b"k", &peek_op(), &clock).unwrap();
    assert_eq!(hit.item.value, b"v");
    assert!(hit.item.stale);
    assert!(hit.item.cas > cas);
    assert_eq!(hit.item.expiry, 0);
}

#[test]
fn remove_value_only_empties_value_and_flags() {
    let (mut s, clock) = store();
    let reservation = s.reserve(b"k", 9, 100, 5, &clock).unwrap();
    s.value_mut(&reservation).copy_from_slice(b"hello");
    let ringcache_engine::StoreOutcome::Stored { cas } =
        s.commit(reservation, &op(ringcache_engine::StoreMode::Set), &clock)
    else {
        panic!()
    };
    let x = DeleteOp {
        remove_value_only: true,
        ..DeleteOp::default()
    };
    assert_eq!(s.delete(b"k", &x, &clock), DeleteOutcome::Deleted);
    let hit = s.get(b"k", &peek_op(), &clock).unwrap();
    assert_eq!(
        (hit.item.value, hit.item.flags, hit.item.cas),
        (&b""[..], 0, cas)
    );
    // The item keeps the room of its client flags (30-byte header), now 0.
    assert_eq!(s.stats().bytes, 30 + 1);
}
