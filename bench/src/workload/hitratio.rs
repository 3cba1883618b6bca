//! Hit ratio: cache-aside (get; on a miss, set) over Zipf-popular keys, optionally with a
//! scan: a share of requests going to unique keys that are never requested again.
//!
//! The figure is the miss ratio of the Zipf requests during the measured part (after a
//! warm-up). Scan requests always miss (their keys are new), so they are counted apart: the
//! question a scan asks is how much it hurts the popular keys.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::cache_aside::{CacheAside, Tally};
use super::{each_server, io_text, row, Measured, Target};
use crate::client::Client;
use crate::keys::{key, Key, Popularity};
use crate::report::Section;
use crate::server::{Kind, Launch, Server};

const BATCH_COUNT: usize = 100;
/// Tally indexes.
const ZIPF: usize = 0;
const SCAN: usize = 1;

#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub memory_limit_mb: u64,
    pub key_count: u64,
    pub zipf_exponent: f64,
    pub value_len_bytes: usize,
    pub warmup_requests: u64,
    pub measured_requests: u64,
    /// Share of requests going to never-repeated keys.
    pub scan_fraction: f64,
}

impl Params {
    pub fn new(quick: bool, scan_fraction: f64) -> Params {
        Params {
            memory_limit_mb: 16,
            key_count: 1_000_000,
            zipf_exponent: 0.99,
            value_len_bytes: 100,
            warmup_requests: if quick { 20_000 } else { 2_000_000 },
            measured_requests: if quick { 50_000 } else { 5_000_000 },
            scan_fraction,
        }
    }

    fn describe(&self) -> String {
        let scan = if self.scan_fraction > 0.0 {
            format!(
                ", {:.0}% of requests to unique never-repeated keys (get miss, then set)",
                self.scan_fraction * 100.0
            )
        } else {
            String::new()
        };
        format!(
            "`-m {}`; cache-aside (get; on a miss, set a {}-byte value, no TTL) over Zipf({}) \
             popularity of {} keys{scan}; {} warm-up requests, then {} measured; pipelined \
             batches of {BATCH_COUNT} gets, then the sets of their misses; figure = miss \
             ratio of the Zipf requests",
            self.memory_limit_mb,
            self.value_len_bytes,
            self.zipf_exponent,
            self.key_count,
            self.warmup_requests,
            self.measured_requests
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Measurement {
    zipf: Tally,
    scan: Tally,
    evictions: u64,
}

impl Measurement {
    fn zipf_miss_ratio(&self) -> f64 {
        self.zipf.misses() as f64 / self.zipf.gets.max(1) as f64
    }

    fn all_miss_ratio(&self) -> f64 {
        let gets = self.zipf.gets + self.scan.gets;
        (self.zipf.misses() + self.scan.misses()) as f64 / gets.max(1) as f64
    }
}

/// Runs `request_count` cache-aside requests, drawing keys with `rng`.
fn drive(
    client: &mut Client,
    p: &Params,
    rng: &mut StdRng,
    scan_next: &mut u64,
    request_count: u64,
) -> std::io::Result<[Tally; 2]> {
    let popularity = Popularity::new(p.key_count, p.zipf_exponent);
    let mut cache_aside = CacheAside::new(p.value_len_bytes);
    let mut tallies = [Tally::default(); 2];
    let mut batch: Vec<(Key, usize)> = Vec::with_capacity(BATCH_COUNT);
    let mut done = 0;
    while done < request_count {
        batch.clear();
        let count = (request_count - done).min(BATCH_COUNT as u64);
        for _ in 0..count {
            if p.scan_fraction > 0.0 && rng.gen_bool(p.scan_fraction) {
                batch.push((key(b's', *scan_next), SCAN));
                *scan_next += 1;
            } else {
                batch.push((key(b'z', popularity.sample(rng)), ZIPF));
            }
        }
        cache_aside.run_batch(client, &batch, &mut tallies)?;
        done += count;
    }
    Ok(tallies)
}

fn measure(launch: &Launch, kind: Kind, p: &Params, seed: u64) -> std::io::Result<Measurement> {
    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut scan_next = 0;
    drive(&mut client, p, &mut rng, &mut scan_next, p.warmup_requests)?;
    let [zipf, scan] = drive(
        &mut client,
        p,
        &mut rng,
        &mut scan_next,
        p.measured_requests,
    )?;
    let evictions = client.stat_u64("evictions")?;
    Ok(Measurement {
        zipf,
        scan,
        evictions,
    })
}

pub fn run(launch: &Launch, quick: bool, seed: u64, scan_fraction: f64) -> Section {
    let p = Params::new(quick, scan_fraction);
    let workload = if scan_fraction > 0.0 {
        "scan"
    } else {
        "hitratio"
    };
    let (mc, rc): (Measured<Measurement>, _) = each_server(workload, |kind| {
        measure(launch, kind, &p, seed).map_err(io_text)
    });
    let mut rows = vec![row(
        "miss ratio (Zipf requests)",
        &mc,
        &rc,
        4,
        Target::RatioAtMost(0.8),
        Measurement::zipf_miss_ratio,
    )];
    if scan_fraction > 0.0 {
        rows.push(row(
            "miss ratio (all requests, scan included)",
            &mc,
            &rc,
            4,
            Target::None,
            Measurement::all_miss_ratio,
        ));
    }
    rows.push(row("evictions", &mc, &rc, 0, Target::None, |m| {
        m.evictions as f64
    }));
    rows.push(row(
        "wrong values + failed sets",
        &mc,
        &rc,
        0,
        Target::BothZero,
        |m| (m.zipf.wrong_values + m.scan.wrong_values + m.zipf.set_failures) as f64,
    ));
    Section {
        workload,
        params: p.describe(),
        rows,
        details: String::new(),
    }
}
