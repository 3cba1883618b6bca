//! Expiry reclaims memory: after a burst of short-TTL items expires, new writes must not
//! evict live items while expired ones still hold memory.
//!
//! Per server: a calibration server is filled with no-TTL items of the workload's size in
//! batches until `evictions` turns non-zero; `curr_items` then is its capacity C. A fresh
//! server then gets: 0.3 C live items (no TTL), all read once; 0.65 C burst items with a 2 s
//! TTL; a sleep until the burst expired plus a settle time for proactive reclamation; 0.5 C
//! new no-TTL items; then every live item is read again. Live items are the oldest in every
//! LRU here, so a server that only reclaims expired items when it happens to touch them
//! evicts live items to make room.

use std::thread;
use std::time::{Duration, Instant};

use super::cache_aside::{get_all, set_all};
use super::{each_server, io_text, row, Measured, Target};
use crate::client::Client;
use crate::keys::key;
use crate::report::Section;
use crate::server::{Kind, Launch, Server};

const BATCH_COUNT: usize = 100;
/// Calibration writes this many items between two looks at `evictions`.
const CALIBRATION_BATCH_COUNT: usize = 1000;
/// Calibration gives up past this many items (a server that never evicts).
const CALIBRATION_ITEMS_MAX: u64 = 50_000_000;

#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub memory_limit_mb: u64,
    pub value_len_bytes: usize,
    pub ttl_secs: u32,
    pub settle_secs: u64,
    pub live_share: f64,
    pub burst_share: f64,
    pub new_share: f64,
}

impl Params {
    pub fn new(quick: bool) -> Params {
        Params {
            memory_limit_mb: if quick { 8 } else { 16 },
            value_len_bytes: 64,
            ttl_secs: 2,
            settle_secs: 2,
            live_share: 0.3,
            burst_share: 0.65,
            new_share: 0.5,
        }
    }

    fn describe(&self) -> String {
        format!(
            "`-m {}`; 12-byte keys, {}-byte values; capacity C calibrated per server (no-TTL \
             fill until the first eviction); {} C live items (no TTL), each read once; {} C \
             burst items with TTL {} s; sleep until expired + {} s; {} C new no-TTL items; read \
             the live items again; figure = live items missing",
            self.memory_limit_mb,
            self.value_len_bytes,
            self.live_share,
            self.burst_share,
            self.ttl_secs,
            self.settle_secs,
            self.new_share
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Measurement {
    capacity_items: u64,
    live_count: u64,
    live_missing_before_burst: u64,
    evictions_after_burst: u64,
    live_lost: u64,
    evictions_after_new: u64,
    curr_items_after_expiry: u64,
    errors: u64,
}

fn calibrate(launch: &Launch, kind: Kind, p: &Params) -> std::io::Result<u64> {
    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let mut written = 0;
    while written < CALIBRATION_ITEMS_MAX {
        let keys = (written..written + CALIBRATION_BATCH_COUNT as u64).map(|i| key(b'c', i));
        set_all(&mut client, keys, p.value_len_bytes, 0, BATCH_COUNT)?;
        written += CALIBRATION_BATCH_COUNT as u64;
        if client.stat_u64("evictions")? > 0 {
            return client.stat_u64("curr_items");
        }
    }
    Err(std::io::Error::other("no eviction during calibration"))
}

fn measure(launch: &Launch, kind: Kind, p: &Params) -> std::io::Result<Measurement> {
    let capacity_items = calibrate(launch, kind, p)?;
    let share = |s: f64| (capacity_items as f64 * s) as u64;
    let (live, burst, new) = (
        share(p.live_share),
        share(p.burst_share),
        share(p.new_share),
    );
    let len = p.value_len_bytes;
    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let mut errors = set_all(
        &mut client,
        (0..live).map(|i| key(b'l', i)),
        len,
        0,
        BATCH_COUNT,
    )?;
    let first_read = get_all(
        &mut client,
        (0..live).map(|i| key(b'l', i)),
        len,
        BATCH_COUNT,
    )?;
    let burst_keys = (0..burst).map(|i| key(b'e', i));
    errors += set_all(&mut client, burst_keys, len, p.ttl_secs, BATCH_COUNT)?;
    let burst_written = Instant::now();
    let evictions_after_burst = client.stat_u64("evictions")?;
    let wait = Duration::from_secs(u64::from(p.ttl_secs) + p.settle_secs);
    thread::sleep(wait.saturating_sub(burst_written.elapsed()));
    let curr_items_after_expiry = client.stat_u64("curr_items")?;
    errors += set_all(
        &mut client,
        (0..new).map(|i| key(b'n', i)),
        len,
        0,
        BATCH_COUNT,
    )?;
    let second_read = get_all(
        &mut client,
        (0..live).map(|i| key(b'l', i)),
        len,
        BATCH_COUNT,
    )?;
    let evictions_after_new = client.stat_u64("evictions")?;
    Ok(Measurement {
        capacity_items,
        live_count: live,
        live_missing_before_burst: first_read.gets - first_read.hits,
        evictions_after_burst,
        live_lost: second_read.gets - second_read.hits,
        evictions_after_new,
        curr_items_after_expiry,
        errors: errors + first_read.wrong_values + second_read.wrong_values,
    })
}

pub fn run(launch: &Launch, quick: bool) -> Section {
    let p = Params::new(quick);
    let (mc, rc): (Measured<Measurement>, _) =
        each_server("expiry", |kind| measure(launch, kind, &p).map_err(io_text));
    let rows = vec![
        row("live items lost", &mc, &rc, 0, Target::RingcacheZero, |m| {
            m.live_lost as f64
        }),
        row("live items written", &mc, &rc, 0, Target::None, |m| {
            m.live_count as f64
        }),
        row("capacity C (items)", &mc, &rc, 0, Target::None, |m| {
            m.capacity_items as f64
        }),
        row(
            "evictions after the burst",
            &mc,
            &rc,
            0,
            Target::None,
            |m| m.evictions_after_burst as f64,
        ),
        row(
            "curr_items after expiry, before new writes",
            &mc,
            &rc,
            0,
            Target::None,
            |m| m.curr_items_after_expiry as f64,
        ),
        row(
            "evictions after the new writes",
            &mc,
            &rc,
            0,
            Target::None,
            |m| m.evictions_after_new as f64,
        ),
        row(
            "wrong values + failed sets + early misses",
            &mc,
            &rc,
            0,
            Target::BothZero,
            |m| (m.errors + m.live_missing_before_burst) as f64,
        ),
    ];
    Section {
        workload: "expiry",
        params: p.describe(),
        rows,
        details: String::new(),
    }
}
