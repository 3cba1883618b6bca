//! Engine-level simulations of the memory workloads, on `Store` directly (no network):
//!
//! ```sh
//! cargo run --release -p ringcache-engine --example replay -- capacity [MiB]
//! cargo run --release -p ringcache-engine --example replay -- hitratio [MiB] [scan_percent]
//! cargo run --release -p ringcache-engine --example replay -- calcification [MiB]
//! ```
//!
//! - capacity: 12-byte keys, 64-byte values, written until the first eviction; prints the
//!   items kept and the bytes per item (arena + index + ghost per item).
//! - hitratio: cache-aside (get; on a miss, set a 100-byte value) over Zipf(0.99) of 1M
//!   keys, 2M warm-up requests, 5M measured; `scan_percent` of the requests go to keys never
//!   requested again. The clock advances one second per 100k requests.
//! - calcification: 100-byte values, then only 1000-byte values; prints the hit ratio per
//!   window of 100k requests after the shift, and the fresh store's steady hit ratio.
//!
//! memcached's figures for the same workloads come from the side-by-side tool in `bench/`.

use ringcache_engine::{Clock, Config, GetOp, Store, StoreMode, StoreOp};

const MIB: usize = 1 << 20;
const KEY_COUNT: u64 = 1_000_000;

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

fn key(space: u8, i: u64) -> [u8; 12] {
    let mut k = [b'0'; 12];
    k[0] = space;
    let digits = format!("{i:011}");
    k[1..].copy_from_slice(digits.as_bytes());
    k
}

fn set(s: &mut Store, clock: &Clock, key: &[u8], value_len: usize) {
    let r = s.reserve(key, 0, 0, value_len, clock).expect("reserve");
    s.value_mut(&r).fill(b'v');
    s.commit(r, &StoreOp::new(StoreMode::Set), clock);
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf(n, s) by inverting the cumulative distribution (a table of n floats).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut sum = 0.0;
        for rank in 1..=n {
            sum += 1.0 / (rank as f64).powf(s);
            cdf.push(sum);
        }
        for p in &mut cdf {
            *p /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        self.cdf.partition_point(|&p| p < u) as u64
    }
}

fn capacity(mib: usize) {
    let mut s = store(mib);
    let clock = Clock::new(1_700_000_000);
    let mut i = 0;
    while s.stats().evictions == 0 {
        set(&mut s, &clock, &key(b'k', i), 64);
        i += 1;
    }
    let items = s.stats().curr_items;
    let outside = s.overhead_memory_bytes();
    println!(
        "capacity -m {mib}: {items} items; arena {:.1} bytes/item, with index+ghost+tables {:.1} bytes/item (outside the arena: {} KiB)",
        (mib * MIB) as f64 / items as f64,
        (mib * MIB + outside) as f64 / items as f64,
        outside / 1024
    );
}

/// Runs `count` cache-aside requests; returns (misses of Zipf requests, Zipf requests).
#[allow(clippy::too_many_arguments)]
fn cache_aside(
    s: &mut Store,
    clock: &mut Clock,
    zipf: &Zipf,
    rng: &mut Rng,
    count: u64,
    scan_percent: u64,
    space: u8,
    value_len: usize,
    scan_next: &mut u64,
    tick: &mut u64,
) -> (u64, u64) {
    let get = GetOp {
        bump: true,
        ..GetOp::default()
    };
    let (mut misses, mut requests) = (0, 0);
    for _ in 0..count {
        *tick += 1;
        if *tick % 100_000 == 0 {
            clock.advance_secs(1);
            s.maintain(clock, 10_000);
        }
        let scan = scan_percent > 0 && rng.next_f64() * 100.0 < scan_percent as f64;
        let k = if scan {
            *scan_next += 1;
            key(b's', *scan_next)
        } else {
            key(space, zipf.sample(rng))
        };
        if s.get(&k, &get, clock).is_none() {
            set(s, clock, &k, value_len);
            if !scan {
                misses += 1;
            }
        }
        if !scan {
            requests += 1;
        }
    }
    (misses, requests)
}

fn hitratio(mib: usize, scan_percent: u64) {
    let mut s = store(mib);
    let mut clock = Clock::new(1_700_000_000);
    let zipf = Zipf::new(KEY_COUNT, 0.99);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut scan_next, mut tick) = (0, 0);
    let mut run = |count, s: &mut Store| {
        cache_aside(
            s,
            &mut clock,
            &zipf,
            &mut rng,
            count,
            scan_percent,
            b'k',
            100,
            &mut scan_next,
            &mut tick,
        )
    };
    run(2_000_000, &mut s);
    let (misses, requests) = run(5_000_000, &mut s);
    println!(
        "hitratio -m {mib} scan {scan_percent}%: miss ratio {:.4} ({misses} / {requests}), {} items, {} evictions",
        misses as f64 / requests as f64,
        s.stats().curr_items,
        s.stats().evictions
    );
}

fn calcification(mib: usize) {
    let zipf = Zipf::new(KEY_COUNT, 0.99);
    let window = 100_000;
    let (mut scan_next, mut tick) = (0, 0);
    let mut fresh = store(mib);
    let mut clock = Clock::new(1_700_000_000);
    let mut rng = Rng(7);
    let mut fresh_ratios = Vec::new();
    for _ in 0..30 {
        let (m, r) = cache_aside(
            &mut fresh,
            &mut clock,
            &zipf,
            &mut rng,
            window,
            0,
            b'b',
            1000,
            &mut scan_next,
            &mut tick,
        );
        fresh_ratios.push(1.0 - m as f64 / r as f64);
    }
    let steady = fresh_ratios[20..].iter().sum::<f64>() / 10.0;
    let mut s = store(mib);
    let mut clock = Clock::new(1_700_000_000);
    let mut rng = Rng(11);
    cache_aside(
        &mut s,
        &mut clock,
        &zipf,
        &mut rng,
        4_000_000,
        0,
        b'a',
        100,
        &mut scan_next,
        &mut tick,
    );
    let moved_before = s.stats().slabs_moved;
    let mut rng = Rng(7);
    let mut line = String::new();
    let mut recovered_at = None;
    for w in 0..30 {
        let (m, r) = cache_aside(
            &mut s,
            &mut clock,
            &zipf,
            &mut rng,
            window,
            0,
            b'b',
            1000,
            &mut scan_next,
            &mut tick,
        );
        let ratio = 1.0 - m as f64 / r as f64;
        line.push_str(&format!(" {ratio:.3}"));
        if recovered_at.is_none() && ratio >= 0.9 * steady {
            recovered_at = Some(w + 1);
        }
    }
    println!(
        "calcification -m {mib}: fresh steady hit ratio {steady:.3}; after the shift, per {window} requests:{line}"
    );
    println!(
        "  within 90% of fresh after {recovered_at:?} windows; pages moved {}",
        s.stats().slabs_moved - moved_before
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| {
        args.get(i)
            .map(|a| a.parse().expect("a number"))
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("capacity") => capacity(arg(1, 64) as usize),
        Some("hitratio") => hitratio(arg(1, 16) as usize, arg(2, 0)),
        Some("calcification") => calcification(arg(1, 64) as usize),
        _ => eprintln!("usage: replay capacity|hitratio|calcification [MiB] [scan_percent]"),
    }
}
