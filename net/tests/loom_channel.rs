//! Loom models of the cross-core channel and its wake-up protocol (see the module doc of
//! `ringcache_net::runtime::channel`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p ringcache-net --test loom_channel --release`
//!
//! Each model is bounded: a small channel, a few messages, and a preemption bound, so the whole
//! file explores its interleavings in well under two minutes. A lost wake-up shows up as loom's
//! "deadlock" (every thread blocked in `Parker::wait`); a data race on a slot as a causality
//! violation; a lost or reordered message as an assertion failure.
//!
//! loom 0.7.3 does not enforce RMW atomicity against later plain stores (tokio-rs/loom#254), which
//! made the two-shard model report a lost wake-up that cannot happen; `runtime::sync` works around
//! it for the channel's flags, and `loom_limitation_rmw_atomicity_is_not_enforced_on_later_stores`
//! pins the bug so the workaround is dropped once loom fixes it.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use ringcache_net::runtime::channel::{channel, MsgHeader, Parker, Receiver, Sender};

/// Preemptions loom may insert per execution; 3 finds every bug seen so far in this protocol.
const PREEMPTION_BOUND_COUNT: usize = 3;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    // LOOM_MAX_PREEMPTIONS, when set, overrides the default bound.
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTION_BOUND_COUNT);
    }
    builder.check(f);
}

fn header() -> MsgHeader {
    MsgHeader {
        kind: 1,
        flags: 0,
        conn_slot: 0,
        conn_generation: 0,
        len: 0,
    }
}

fn try_send_u8(tx: &mut Sender, value: u8) -> bool {
    tx.try_send(header(), |buf| {
        buf[0] = value;
        1
    })
}

fn try_recv_u8(rx: &mut Receiver) -> Option<u8> {
    let value = rx.peek().map(|(h, payload)| {
        assert_eq!(h.len, 1);
        assert_eq!(payload.len(), 1);
        payload[0]
    })?;
    rx.pop();
    Some(value)
}

/// Sends `count` messages, parking with the waiting-for-space protocol when the channel is full.
fn produce(mut tx: Sender, parker: Arc<Parker>, count: u8) {
    let mut sent = 0;
    loop {
        while sent < count && try_send_u8(&mut tx, sent) {
            sent += 1;
        }
        tx.notify();
        if sent == count {
            return;
        }
        parker.prepare_park();
        if tx.has_space() {
            parker.unpark_self();
            continue;
        }
        parker.wait();
        parker.unpark_self();
    }
}

/// Receives `count` messages in order, parking when the channel is empty.
fn consume(mut rx: Receiver, parker: Arc<Parker>, count: u8) {
    let mut received = 0;
    loop {
        while let Some(value) = try_recv_u8(&mut rx) {
            assert_eq!(value, received, "message out of order");
            received += 1;
        }
        if received == count {
            return;
        }
        parker.prepare_park();
        if !rx.is_empty() {
            parker.unpark_self();
            continue;
        }
        parker.wait();
        parker.unpark_self();
    }
}

#[test]
fn loom_producer_blocks_on_a_full_channel_and_consumer_sleeps_when_empty() {
    const MESSAGE_COUNT: u8 = 4;
    model(|| {
        let consumer = Arc::new(Parker::new().unwrap());
        let producer = Arc::new(Parker::new().unwrap());
        let (tx, rx) = channel(2, Arc::clone(&consumer), Arc::clone(&producer));
        let sending = thread::spawn(move || produce(tx, producer, MESSAGE_COUNT));
        consume(rx, consumer, MESSAGE_COUNT);
        sending.join().unwrap();
    });
}

/// One shard: producer on `tx`, consumer on `rx`; each turn drains inbound, sends what fits,
/// notifies, and parks when it could do nothing.
fn shard(mut tx: Sender, mut rx: Receiver, parker: Arc<Parker>, count: u8) {
    let (mut sent, mut received) = (0, 0);
    while sent < count || received < count {
        let mut progressed = false;
        while let Some(value) = try_recv_u8(&mut rx) {
            assert_eq!(value, received, "message out of order");
            received += 1;
            progressed = true;
        }
        while sent < count && try_send_u8(&mut tx, sent) {
            sent += 1;
            progressed = true;
        }
        tx.notify();
        if progressed {
            continue;
        }
        parker.prepare_park();
        if !rx.is_empty() || (sent < count && tx.has_space()) {
            parker.unpark_self();
            continue;
        }
        parker.wait();
        parker.unpark_self();
    }
}

#[test]
fn loom_two_shards_flood_each_other_both_ways() {
    const MESSAGE_COUNT: u8 = 3;
    model(|| {
        let a = Arc::new(Parker::new().unwrap());
        let b = Arc::new(Parker::new().unwrap());
        let (a_to_b, b_from_a) = channel(2, Arc::clone(&b), Arc::clone(&a));
        let (b_to_a, a_from_b) = channel(2, Arc::clone(&a), Arc::clone(&b));
        let shard_b = thread::spawn(move || shard(b_to_a, b_from_a, b, MESSAGE_COUNT));
        shard(a_to_b, a_from_b, a, MESSAGE_COUNT);
        shard_b.join().unwrap();
    });
}

#[test]
/// Loom itself models the store → SeqCst fence → load pattern the protocol relies on.
fn loom_sanity_dekker() {
    use loom::sync::atomic::{fence, AtomicBool, Ordering::*};
    model(|| {
        let x = Arc::new(AtomicBool::new(false));
        let y = Arc::new(AtomicBool::new(false));
        let (x2, y2) = (x.clone(), y.clone());
        let t = thread::spawn(move || {
            x2.store(true, SeqCst);
            fence(SeqCst);
            y2.load(Relaxed)
        });
        y.store(true, SeqCst);
        fence(SeqCst);
        let a = x.load(Relaxed);
        let b = t.join().unwrap();
        assert!(a || b, "both missed");
    });
}

#[test]
/// The same with a SeqCst swap on one side (as `Parker::unpark` does).
fn loom_sanity_dekker_swap() {
    use loom::sync::atomic::{fence, AtomicBool, Ordering::*};
    model(|| {
        let x = Arc::new(AtomicBool::new(false));
        let y = Arc::new(AtomicBool::new(false));
        let (x2, y2) = (x.clone(), y.clone());
        let t = thread::spawn(move || {
            x2.store(true, SeqCst);
            fence(SeqCst);
            y2.load(Relaxed)
        });
        y.store(true, SeqCst);
        fence(SeqCst);
        let a = x.swap(false, SeqCst);
        let b = t.join().unwrap();
        assert!(a || b, "both missed");
    });
}

#[test]
#[should_panic(expected = "stale value after an RMW")]
/// Pins the loom 0.7.3 bug that `runtime::sync` works around for the channel's flags (its
/// `loom_rmw_atomicity` doc has the details; tokio-rs/loom#254, #389). In C++/Rust this assert
/// cannot fail: if the swap read the initial `false`, it directly follows the initial value in
/// the modification order, so the later `store(true)` follows the swap, and the load after `join`
/// must return `true`. loom lets the load return the swap's `false`. When a loom upgrade makes
/// this test fail ("did not panic"), delete the workaround in `runtime::sync` and this test.
fn loom_limitation_rmw_atomicity_is_not_enforced_on_later_stores() {
    use loom::sync::atomic::{AtomicBool, Ordering::*};
    loom::model(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let flag2 = Arc::clone(&flag);
        let swapper = thread::spawn(move || flag2.swap(false, Relaxed));
        flag.store(true, Relaxed);
        let swap_read = swapper.join().unwrap();
        let last = flag.load(Relaxed);
        assert!(
            swap_read || last,
            "loom returned a stale value after an RMW"
        );
    });
}
