use crate::*;
use ringcache_engine::{DeleteOp, ExpiryStep, ExpirySteps, GetOp, StoreMode};

#[test]
fn miss_on_absent_key() {
    let (mut s, clock) = store();
    assert!(s.get(b"nope", &get_op(), &clock).is_none());
}

#[test]
fn expired_item_is_a_miss_and_is_reclaimed() {
    let (mut s, mut clock) = store();
    store_with(&mut s, &clock, b"k", b"v", 0, 5, op(StoreMode::Set));
    clock.advance_secs(4);
    assert!(s.get(b"k", &peek_op(), &clock).is_some());
    clock.advance_secs(1);
    assert!(s.get(b"k", &get_op(), &clock).is_none());
    let stats = s.stats();
    assert_eq!(
        (stats.curr_items, stats.reclaimed, stats.expired_unfetched),
        (0, 1, 1)
    );
}

#[test]
fn fetched_before_reports_the_previous_state() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"v");
    assert!(!s.get(b"k", &peek_op(), &clock).unwrap().item.fetched_before);
    assert!(
        !s.get(b"k", &peek_op(), &clock).unwrap().item.fetched_before,
        "a peek sets nothing"
    );
    assert!(!s.get(b"k", &get_op(), &clock).unwrap().item.fetched_before);
    assert!(s.get(b"k", &get_op(), &clock).unwrap().item.fetched_before);
}

#[test]
fn bump_updates_last_access_and_peek_does_not() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"k", b"v");
    let stored_at = clock.now_rel();
    clock.advance_secs(7);
    assert_eq!(
        s.get(b"k", &peek_op(), &clock).unwrap().item.last_access,
        stored_at
    );
    s.get(b"k", &get_op(), &clock).unwrap();
    assert_eq!(
        s.get(b"k", &peek_op(), &clock).unwrap().item.last_access,
        stored_at + 7
    );
}

#[test]
fn touch_sets_a_new_expiry() {
    let (mut s, mut clock) = store();
    set(&mut s, &clock, b"k", b"v");
    let touch = GetOp::touch(10);
    let hit = s.get(b"k", &touch, &clock).unwrap();
    assert_eq!(hit.item.expiry, clock.now_rel() + 10);
    clock.advance_secs(10);
    assert!(s.get(b"k", &peek_op(), &clock).is_none());
}

#[test]
fn vivify_on_miss_creates_an_empty_item_and_wins_once() {
    let (mut s, clock) = store();
    let vivify = GetOp {
        bump: true,
        vivify: true,
        steps: ExpirySteps::one(ExpiryStep::Vivify(30)),
        meta_win: true,
    };
    let first = s.get(b"k", &vivify, &clock).unwrap();
    assert!(first.win && first.vivified);
    assert!(!first.item.win_token_sent);
    assert_eq!((first.item.value, first.item.flags), (&b""[..], 0));
    assert_eq!(first.item.expiry, clock.now_rel() + 30);
    let second = s.get(b"k", &vivify, &clock).unwrap();
    assert!(!second.win && !second.vivified);
    assert!(second.item.win_token_sent);
}

#[test]
fn vivified_item_has_no_expiry_before_its_vivify_step() {
    // memcached: `mg x1 N30 t T100` -> `HD t30 W`, `mg b t N100000` -> `HD t-1 W`.
    let (mut s, clock) = store();
    let now = clock.now_rel();
    let mut steps = ExpirySteps::default();
    steps.push(ExpiryStep::Vivify(30));
    steps.push(ExpiryStep::Touch(100));
    let op = GetOp {
        bump: true,
        vivify: true,
        steps,
        meta_win: true,
    };
    let hit = s.get(b"x1", &op, &clock).unwrap();
    assert!(hit.win && hit.vivified);
    assert_eq!(hit.expiry_at_step, [0, now + 30, now + 100, now + 100]);
    assert_eq!(hit.item.expiry, now + 100);
    // Without a Vivify step the created item never expires, and still wins.
    let bare = GetOp {
        vivify: true,
        meta_win: true,
        ..GetOp::default()
    };
    let hit = s.get(b"b", &bare, &clock).unwrap();
    assert!(hit.vivified && !hit.win, "the win comes with the N step");
    assert_eq!(hit.item.expiry, 0);
}

#[test]
fn recache_sees_a_touch_before_it_but_not_after_it() {
    // memcached: `mg num R5000 T1000` -> `HD`; `mg num T1000 R5000` -> `HD W`.
    let (mut s, clock) = store();
    set(&mut s, &clock, b"num", b"1");
    let mut after = ExpirySteps::default();
    after.push(ExpiryStep::Recache(5000));
    after.push(ExpiryStep::Touch(1000));
    let op = |steps| GetOp {
        bump: true,
        steps,
        meta_win: true,
        ..GetOp::default()
    };
    assert!(!s.get(b"num", &op(after), &clock).unwrap().win);
    let mut before = ExpirySteps::default();
    before.push(ExpiryStep::Touch(1000));
    before.push(ExpiryStep::Recache(5000));
    assert!(s.get(b"num", &op(before), &clock).unwrap().win);
}

#[test]
fn no_win_applies_the_steps_but_hands_out_no_token() {
    let (mut s, clock) = store();
    let op = GetOp {
        vivify: true,
        steps: ExpirySteps::one(ExpiryStep::Vivify(30)),
        meta_win: false,
        ..GetOp::default()
    };
    let hit = s.get(b"k", &op, &clock).unwrap();
    assert!(hit.vivified && !hit.win);
    assert_eq!(hit.item.expiry, clock.now_rel() + 30);
    let hit = s.get(b"k", &GetOp::default(), &clock).unwrap();
    assert!(!hit.item.win_token_sent);
}

#[test]
fn recache_below_hands_out_one_win() {
    let (mut s, mut clock) = store();
    store_with(&mut s, &clock, b"k", b"v", 0, 100, op(StoreMode::Set));
    let recache = GetOp {
        bump: true,
        steps: ExpirySteps::one(ExpiryStep::Recache(30)),
        meta_win: true,
        ..GetOp::default()
    };
    assert!(
        !s.get(b"k", &recache, &clock).unwrap().win,
        "100 s left is not below 30"
    );
    clock.advance_secs(71);
    let hit = s.get(b"k", &recache, &clock).unwrap();
    assert!(hit.win && !hit.item.win_token_sent);
    let hit = s.get(b"k", &recache, &clock).unwrap();
    assert!(!hit.win && hit.item.win_token_sent);
    // no TTL: never below
    set(&mut s, &clock, b"j", b"v");
    assert!(!s.get(b"j", &recache, &clock).unwrap().win);
}

#[test]
fn stale_item_wins_once_after_invalidation() {
    let (mut s, clock) = store();
    let mg = GetOp {
        bump: true,
        meta_win: true,
        ..GetOp::default()
    };
    set(&mut s, &clock, b"k", b"v");
    let invalidate = DeleteOp {
        invalidate: Some(Some(30)),
        ..DeleteOp::default()
    };
    s.delete(b"k", &invalidate, &clock);
    let hit = s.get(b"k", &mg, &clock).unwrap();
    assert!(hit.item.stale && hit.win && !hit.item.win_token_sent);
    assert_eq!(hit.item.expiry, clock.now_rel() + 30);
    let hit = s.get(b"k", &mg, &clock).unwrap();
    assert!(hit.item.stale && !hit.win && hit.item.win_token_sent);
    // a second invalidation clears the token so a new client can win
    s.delete(
        b"k",
        &DeleteOp {
            invalidate: Some(None),
            ..DeleteOp::default()
        },
        &clock,
    );
    assert!(s.get(b"k", &mg, &clock).unwrap().win);
}

/// Only mg hands out recache tokens: a classic get, gat or peek of a stale item leaves the
/// token for the next mg (memcached 1.6.18: `md k I`, `get k`, `mg k` answers `W`).
#[test]
fn classic_gets_of_a_stale_item_hand_out_no_token() {
    let (mut s, clock) = store();
    set(&mut s, &clock, b"k", b"v");
    let invalidate = DeleteOp {
        invalidate: Some(None),
        ..DeleteOp::default()
    };
    s.delete(b"k", &invalidate, &clock);
    for op in [get_op(), GetOp::touch(100), peek_op()] {
        let hit = s.get(b"k", &op, &clock).unwrap();
        assert!(hit.item.stale && !hit.win && !hit.item.win_token_sent);
    }
    let mg = GetOp {
        bump: true,
        meta_win: true,
        ..GetOp::default()
    };
    assert!(s.get(b"k", &mg, &clock).unwrap().win);
}
