//! One cross-core round trip over the shard channel: thread A sends a 64-byte message to thread B
//! over one channel, B answers with the same bytes over another, A measures until the answer is
//! read. The two threads are pinned to different cores when the process may use two.
//!
//! Variants:
//! - `busy_poll`: both sides spin on `peek` (the floor: cache-line transfers only);
//! - `parked`: both sides sleep in `Parker::wait` when they have nothing to do, so each round
//!   trip pays two real eventfd wake-ups (the cost of waking a sleeping shard).
//!
//! Run: `cargo bench -p ringcache-net --bench cross_core` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcache_net::runtime::channel::{channel, MsgHeader, Parker, Receiver, Sender};
use ringcache_net::runtime::cpu;

/// Payload bytes of the request and of the answer.
const MSG_SIZE_BYTES: usize = 64;
/// Slots per direction; one is ever in use, as A waits for each answer.
const CHANNEL_SLOT_COUNT: usize = 4;
const KIND_PING: u8 = 1;
const KIND_STOP: u8 = 2;

#[derive(Clone, Copy, PartialEq)]
enum Wait {
    BusyPoll,
    Park,
}

fn header(kind: u8) -> MsgHeader {
    MsgHeader {
        kind,
        flags: 0,
        conn_slot: 0,
        conn_generation: 0,
        len: 0,
    }
}

/// Waits until `rx` holds a message, spinning or with the park protocol.
fn wait_for_message(rx: &Receiver, parker: &Parker, wait: Wait) {
    while rx.is_empty() {
        match wait {
            Wait::BusyPoll => std::hint::spin_loop(),
            Wait::Park => {
                parker.prepare_park();
                if rx.is_empty() {
                    parker.wait();
                }
                parker.unpark_self();
            }
        }
    }
}

fn send(tx: &mut Sender, kind: u8, payload: &[u8; MSG_SIZE_BYTES]) {
    let sent = tx.try_send(header(kind), |buf| {
        buf[..MSG_SIZE_BYTES].copy_from_slice(payload);
        MSG_SIZE_BYTES
    });
    assert!(sent, "a channel with one message in flight is never full");
    tx.notify();
}

/// B: answers every ping with its payload until told to stop.
fn echo(mut tx: Sender, mut rx: Receiver, parker: Arc<Parker>, wait: Wait, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        cpu::pin_current_thread(cpu).expect("pin echo thread");
    }
    let mut payload = [0u8; MSG_SIZE_BYTES];
    loop {
        wait_for_message(&rx, &parker, wait);
        let (h, bytes) = rx.peek().expect("a message is waiting");
        if h.kind == KIND_STOP {
            return;
        }
        payload.copy_from_slice(bytes);
        rx.pop();
        send(&mut tx, KIND_PING, &payload);
    }
}

struct Pair {
    tx: Sender,
    rx: Receiver,
    parker: Arc<Parker>,
    echo: Option<JoinHandle<()>>,
}

impl Pair {
    fn start(wait: Wait) -> Pair {
        let cpus = cpu::allowed_cpus().expect("sched_getaffinity");
        let (cpu_a, cpu_b) = if cpus.len() >= 2 {
            (Some(cpus[0]), Some(cpus[1]))
        } else {
            (None, None)
        };
        if let Some(cpu) = cpu_a {
            cpu::pin_current_thread(cpu).expect("pin bench thread");
        }
        let a = Arc::new(Parker::new().expect("eventfd"));
        let b = Arc::new(Parker::new().expect("eventfd"));
        let (a_to_b, b_from_a) = channel(CHANNEL_SLOT_COUNT, Arc::clone(&b), Arc::clone(&a));
        let (b_to_a, a_from_b) = channel(CHANNEL_SLOT_COUNT, Arc::clone(&a), Arc::clone(&b));
        let echo = thread::spawn(move || echo(b_to_a, b_from_a, b, wait, cpu_b));
        Pair {
            tx: a_to_b,
            rx: a_from_b,
            parker: a,
            echo: Some(echo),
        }
    }

    fn round_trips(&mut self, count: u64, wait: Wait) -> Duration {
        let request = [0x5a_u8; MSG_SIZE_BYTES];
        let started = Instant::now();
        for _ in 0..count {
            send(&mut self.tx, KIND_PING, &request);
            wait_for_message(&self.rx, &self.parker, wait);
            let (_, answer) = self.rx.peek().expect("an answer is waiting");
            black_box(answer);
            self.rx.pop();
        }
        started.elapsed()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        send(&mut self.tx, KIND_STOP, &[0; MSG_SIZE_BYTES]);
        if let Some(echo) = self.echo.take() {
            echo.join().expect("echo thread panicked");
        }
    }
}

fn cross_core_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_core_round_trip_64B");
    group.throughput(Throughput::Elements(1));
    for (name, wait) in [("busy_poll", Wait::BusyPoll), ("parked", Wait::Park)] {
        let mut pair = Pair::start(wait);
        group.bench_function(name, |bencher| {
            bencher.iter_custom(|count| pair.round_trips(count, wait))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = cross_core_round_trip
}
criterion_main!(benches);
