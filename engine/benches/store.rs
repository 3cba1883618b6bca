//! Criterion benches of the store's hot paths, one operation per iteration
//! (`Throughput::Elements(1)`): get hit, get miss, set into free memory, set with eviction;
//! and one maintenance call of the budget the shard's timer gives it (`Elements` = chunks
//! visited), whose length is a pause for every request of that shard.
//!
//! ```sh
//! cargo bench -p ringcache-engine --bench store
//! ```
//!
//! Keys are 12 bytes, values 64 bytes (the capacity workload's items). Numbers only; the
//! side-by-side comparison with memcached is `bench/`'s `memory-compare`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringcache_engine::{Clock, Config, GetOp, Store, StoreMode, StoreOp};

const MIB: usize = 1 << 20;
const VALUE_LEN: usize = 64;

fn store(mib: usize) -> Store {
    Store::new(Config {
        memory_limit_bytes: mib * MIB,
        item_size_max_bytes: MIB,
        evict_when_full: true,
        cas_enabled: true,
        cas_first: 1,
        cas_step: 1,
    })
    .expect("config")
}

fn key(i: u64) -> [u8; 12] {
    let mut k = *b"k00000000000";
    let mut n = i;
    for b in k[1..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

fn set(s: &mut Store, clock: &Clock, i: u64) {
    let r = s.reserve(&key(i), 0, 0, VALUE_LEN, clock).expect("reserve");
    s.value_mut(&r).fill(b'v');
    s.commit(r, &StoreOp::new(StoreMode::Set), clock);
}

fn benches(c: &mut Criterion) {
    let clock = Clock::new(1_700_000_000);
    let get = GetOp {
        bump: true,
        ..GetOp::default()
    };
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));

    let keys: u64 = 100_000;
    let mut s = store(64);
    for i in 0..keys {
        set(&mut s, &clock, i);
    }
    let mut i = 0u64;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 7919) % keys;
            black_box(s.get(&key(i), &get, &clock).is_some())
        })
    });
    group.bench_function("get_miss", |b| {
        b.iter(|| {
            i += 1;
            black_box(s.get(&key(keys + i), &get, &clock).is_none())
        })
    });

    // Sets into a store with room: each iteration is 1000 sets into a fresh store.
    group.throughput(Throughput::Elements(1000));
    group.bench_function("set", |b| {
        b.iter_batched_ref(
            || (store(64), 0u64),
            |(s, n)| {
                for _ in 0..1000 {
                    *n += 1;
                    set(s, &clock, *n);
                }
            },
            BatchSize::PerIteration,
        )
    });

    group.throughput(Throughput::Elements(1));
    // A full store: every set evicts (S3-FIFO: small queue, ghost, main hand).
    let mut full = store(16);
    let mut n = 0u64;
    while full.stats().evictions == 0 {
        n += 1;
        set(&mut full, &clock, n);
    }
    group.bench_function("set_with_eviction", |b| {
        b.iter(|| {
            n += 1;
            set(&mut full, &clock, n);
        })
    });
    group.finish();

    // One timer tick's maintenance over a 1 GiB store holding 100 000 live items (nothing to
    // reclaim: the crawl visits and keeps them).
    let mut group = c.benchmark_group("maintain");
    let mut big = store(1024);
    for i in 0..keys {
        set(&mut big, &clock, i);
    }
    let budget = 65_536;
    group.throughput(Throughput::Elements(budget as u64));
    group.bench_function("crawl_65536_chunks", |b| {
        b.iter(|| black_box(big.maintain(&clock, budget)))
    });
    group.finish();
}

criterion_group!(store_benches, benches);
criterion_main!(store_benches);
