//! What timing requests costs: one `Session::process` call over a batch of pipelined gets
//! (hits, 64-byte values), with and without the service-time clock the runtime wraps around
//! every call (`ServiceTimes::begin_batch`/`end_batch`: two clock reads and one histogram
//! update per call, whatever the batch size), and the clock pair alone.
//!
//! Run: `cargo bench -p ringcache-net --bench service_time` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringcache_net::exec::Session;
use ringcache_net::proto::check::Harness;
use ringcache_net::service_time::ServiceTimes;

const VALUE: &[u8] = &[b'v'; 64];

fn loaded_harness() -> Harness {
    let mut harness = Harness::new();
    let mut session = Session::new();
    let mut out = Vec::new();
    let mut input = Vec::new();
    for i in 0..16 {
        input.extend_from_slice(format!("set key:{i} 0 0 {}\r\n", VALUE.len()).as_bytes());
        input.extend_from_slice(VALUE);
        input.extend_from_slice(b"\r\n");
    }
    let mut ctx = harness.ctx();
    let (consumed, _) = session.process(&input, &mut out, &mut ctx);
    assert_eq!(consumed, input.len());
    harness
}

fn gets(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| format!("get key:{}\r\n", i % 16).into_bytes())
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("service_time");
    for batch in [1usize, 16] {
        let input = gets(batch);
        group.throughput(Throughput::Elements(batch as u64));
        for timed in [false, true] {
            let mut harness = loaded_harness();
            let mut session = Session::new();
            let mut out = Vec::with_capacity(64 * 1024);
            let name = if timed { "timed" } else { "untimed" };
            group.bench_with_input(BenchmarkId::new(name, batch), &input, |b, input| {
                b.iter(|| {
                    out.clear();
                    let mut ctx = harness.ctx();
                    if timed {
                        ctx.stats.service.begin_batch();
                    }
                    let done = session.process(black_box(input), &mut out, &mut ctx);
                    if timed {
                        ctx.stats.service.end_batch();
                    }
                    black_box(done)
                })
            });
        }
    }
    group.throughput(Throughput::Elements(1));
    let mut times = ServiceTimes::default();
    group.bench_function("clock_pair_alone", |b| {
        b.iter(|| {
            times.begin_batch();
            times.completed(times.batch_started());
            times.end_batch();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
