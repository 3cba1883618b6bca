//! Capacity: how many small items fit in `-m`, and at what resident set.
//!
//! Set `key_count` keys (12-byte keys, 64-byte values, no expiry) in order, far more than fit,
//! then get every key and count the hits that return the right value. `curr_items` and the
//! server's VmRSS are read at the end.

use super::cache_aside::{get_all, set_all};
use super::{each_server, io_text, row, Measured, Target};
use crate::client::Client;
use crate::keys::key;
use crate::report::{Row, Section};
use crate::server::{Launch, Server};

const BATCH_COUNT: usize = 100;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub memory_limit_mb: u64,
    pub key_count: u64,
    pub value_len_bytes: usize,
}

impl Params {
    pub fn new(quick: bool) -> Params {
        Params {
            memory_limit_mb: if quick { 8 } else { 64 },
            key_count: if quick { 150_000 } else { 1_500_000 },
            value_len_bytes: 64,
        }
    }

    fn describe(&self) -> String {
        format!(
            "`-m {}`; set {} keys of 12 bytes with {}-byte values (no TTL) in order, pipelined \
             {BATCH_COUNT} at a time; then get every key; items kept = hits with the right value",
            self.memory_limit_mb, self.key_count, self.value_len_bytes
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Measurement {
    hits: u64,
    wrong_values: u64,
    set_failures: u64,
    curr_items: u64,
    evictions: u64,
    rss_bytes: u64,
}

fn measure(launch: &Launch, kind: crate::server::Kind, p: &Params) -> std::io::Result<Measurement> {
    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let keys = || (0..p.key_count).map(|i| key(b'k', i));
    let set_failures = set_all(&mut client, keys(), p.value_len_bytes, 0, BATCH_COUNT)?;
    let tally = get_all(&mut client, keys(), p.value_len_bytes, BATCH_COUNT)?;
    let curr_items = client.stat_u64("curr_items")?;
    let evictions = client.stat_u64("evictions")?;
    Ok(Measurement {
        hits: tally.hits,
        wrong_values: tally.wrong_values,
        set_failures,
        curr_items,
        evictions,
        rss_bytes: server.rss_bytes(),
    })
}

pub fn run(launch: &Launch, quick: bool) -> Section {
    let p = Params::new(quick);
    let (mc, rc): (Measured<Measurement>, _) = each_server("capacity", |kind| {
        measure(launch, kind, &p).map_err(io_text)
    });
    let limit_bytes = p.memory_limit_mb as f64 * MIB;
    let rows: Vec<Row> = vec![
        row("items kept", &mc, &rc, 0, Target::RatioAtLeast(1.4), |m| {
            m.hits as f64
        }),
        row("RSS MiB", &mc, &rc, 1, Target::RatioAtMost(1.0), |m| {
            m.rss_bytes as f64 / MIB
        }),
        row(
            "bytes per item (-m / items)",
            &mc,
            &rc,
            1,
            Target::None,
            |m| limit_bytes / m.hits.max(1) as f64,
        ),
        row("curr_items", &mc, &rc, 0, Target::None, |m| {
            m.curr_items as f64
        }),
        row("evictions", &mc, &rc, 0, Target::None, |m| {
            m.evictions as f64
        }),
        row(
            "wrong values + failed sets",
            &mc,
            &rc,
            0,
            Target::BothZero,
            |m| (m.wrong_values + m.set_failures) as f64,
        ),
    ];
    Section {
        workload: "capacity",
        params: p.describe(),
        rows,
        details: String::new(),
    }
}
