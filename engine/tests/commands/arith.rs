use crate::*;
use ringcache_engine::{ArithOp, ArithOutcome, ExpiryStep, ExpirySteps, GetOp, StoreMode};

fn incr(delta: u64) -> ArithOp {
    ArithOp {
        delta,
        ..ArithOp::default()
    }
}

fn decr(delta: u64) -> ArithOp {
    ArithOp {
        decr: true,
        delta,
        ..ArithOp::default()
    }
}

fn value(outcome: ArithOutcome) -> u64 {
    match outcome {
        ArithOutcome::Done { value, .. } => value,
        other => panic!("{other:?}"),
    }
}

#[test]
fn incr_and_decr_basics() {
    let (mut s, clock) = store();
    assert_eq!(s.arith(b"k", &incr(1), &clock), ArithOutcome::NotFound);
    set(&mut s, &clock, b"k", b"5");
    assert_eq!(value(s.arith(b"k", &incr(3), &clock)), 8);
    assert_eq!(value(s.arith(b"k", &decr(2), &clock)), 6);
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"6".to_vec()));
}

#[test]
fn incr_wraps_at_u64_max() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"18446744073709551615");
    assert_eq!(value(s.arith(b"k", &incr(2), &clock)), 1);
    assert_eq!(
        value_of(&mut s, &clock, b"k"),
        Some(b"1                   ".to_vec())
    );
}

#[test]
fn decr_clamps_at_zero_and_pads_with_spaces() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"10");
    assert_eq!(value(s.arith(b"k", &decr(1), &clock)), 9);
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"9 ".to_vec()));
    assert_eq!(value(s.arith(b"k", &decr(100), &clock)), 0);
    assert_eq!(value_of(&mut s, &clock, b"k"), Some(b"0 ".to_vec()));
    assert_eq!(
        value(s.arith(b"k", &incr(7), &clock)),
        7,
        "a padded value parses"
    );
}

#[test]
fn a_longer_result_makes_a_new_item_with_old_flags_and_ttl() {
    let (mut s, clock) = store();
    let reservation = s.reserve(b"k", 77, 100, 1, &clock).unwrap();
    s.value_mut(&reservation).copy_from_slice(b"9");
    s.commit(reservation, &op(StoreMode::Set), &clock);
    let ArithOutcome::Done {
        value, cas, expiry, ..
    } = s.arith(b"k", &incr(1), &clock)
    else {
        panic!()
    };
    assert_eq!(value, 10);
    let hit = s.get(b"k", &GetOp::default(), &clock).unwrap();
    assert_eq!(
        (hit.item.value, hit.item.flags, hit.item.cas),
        (&b"10"[..], 77, cas)
    );
    assert_eq!(hit.item.expiry, expiry);
    assert_eq!(expiry, clock.now_rel() + 100);
}

#[test]
fn each_update_gets_a_new_cas() {
    let (mut s, clock) = store();
    let first = set(&mut s, &clock, b"k", b"100");
    let ArithOutcome::Done { cas: second, .. } = s.arith(b"k", &decr(1), &clock) else {
        panic!()
    };
    assert!(second > first);
    assert_eq!(
        s.get(b"k", &GetOp::default(), &clock).unwrap().item.cas,
        second
    );
}

#[test]
fn non_numeric_values() {
    let (mut s, clock) = store();
    for bad in [
        &b""[..],
        b"abc",
        b"12abc",
        b"-1",
        b"18446744073709551616",
        b" ",
    ] {
        set(&mut s, &clock, b"k", bad);
        assert_eq!(
            s.arith(b"k", &incr(1), &clock),
            ArithOutcome::NonNumeric,
            "{bad:?}"
        );
    }
    set(&mut s, &clock, b"k", b"  12  ");
    assert_eq!(value(s.arith(b"k", &incr(1), &clock)), 13);
}

#[test]
fn compare_cas_and_vivify_and_touch() {
    let (mut s, clock) = store();
    let cas = set(&mut s, &clock, b"k", b"1");
    let bad = ArithOp {
        compare_cas: Some(cas + 1),
        ..incr(1)
    };
    assert_eq!(s.arith(b"k", &bad, &clock), ArithOutcome::Exists);
    let zero = ArithOp {
        compare_cas: Some(0),
        ..incr(1)
    };
    assert_eq!(value(s.arith(b"k", &zero, &clock)), 2);
    let vivify = ArithOp {
        vivify_initial: Some(40),
        steps: ExpirySteps::one(ExpiryStep::Vivify(60)),
        ..incr(5)
    };
    let ArithOutcome::Done {
        value,
        expiry,
        created,
        ..
    } = s.arith(b"new", &vivify, &clock)
    else {
        panic!()
    };
    assert_eq!((value, expiry, created), (40, clock.now_rel() + 60, true));
    assert_eq!(value_of(&mut s, &clock, b"new"), Some(b"40".to_vec()));
    let touch = ArithOp {
        steps: ExpirySteps::one(ExpiryStep::Touch(5)),
        explicit_cas: Some(999),
        ..vivify
    };
    let now = clock.now_rel();
    assert_eq!(
        s.arith(b"new", &touch, &clock),
        ArithOutcome::Done {
            value: 45,
            cas: 999,
            expiry: now + 5,
            created: false,
            expiry_at_step: [now + 60, now + 5, now + 5, now + 5],
        }
    );
}

#[test]
fn created_item_has_no_expiry_until_its_vivify_step() {
    let (mut s, clock) = store();
    let now = clock.now_rel();
    let mut steps = ExpirySteps::default();
    steps.push(ExpiryStep::Touch(100));
    steps.push(ExpiryStep::Vivify(30));
    let op = ArithOp {
        vivify_initial: Some(0),
        steps,
        ..incr(1)
    };
    let ArithOutcome::Done {
        expiry,
        expiry_at_step,
        created,
        ..
    } = s.arith(b"n", &op, &clock)
    else {
        panic!()
    };
    assert!(created);
    assert_eq!(expiry_at_step[..3], [0, now + 100, now + 30]);
    assert_eq!(expiry, now + 30);
    let ArithOutcome::Done { created, .. } = s.arith(b"n", &op, &clock) else {
        panic!()
    };
    assert!(!created, "the second request increments");
}

#[test]
fn touch_reaches_only_the_reply_when_the_number_outgrows_its_item() {
    // memcached applies ma's T to the old item when the new value needs a new one.
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"9");
    let op = ArithOp {
        steps: ExpirySteps::one(ExpiryStep::Touch(100)),
        ..incr(1)
    };
    let now = clock.now_rel();
    let ArithOutcome::Done {
        value,
        expiry,
        expiry_at_step,
        ..
    } = s.arith(b"k", &op, &clock)
    else {
        panic!()
    };
    assert_eq!((value, expiry, expiry_at_step[1]), (10, 0, now + 100));
    assert_eq!(
        s.get(b"k", &GetOp::default(), &clock).unwrap().item.expiry,
        0
    );
    // In place, the touch sticks.
    let ArithOutcome::Done { expiry, .. } = s.arith(b"k", &op, &clock) else {
        panic!()
    };
    assert_eq!(expiry, now + 100);
    assert_eq!(
        s.get(b"k", &GetOp::default(), &clock).unwrap().item.expiry,
        now + 100
    );
}
