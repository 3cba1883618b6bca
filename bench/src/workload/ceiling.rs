//! `-m` is a hard ceiling: under a mix of value sizes that shifts between phases, the resident
//! set stays within `-m` plus a fixed overhead.
//!
//! Cache-aside over uniformly drawn keys (nearly every get misses, so nearly every request
//! writes), in phases whose value sizes are log-uniform over different ranges; each key's
//! length in a phase is a function of the key and the phase. VmRSS is sampled after every
//! batch; the figure is its maximum.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{each_server, io_text, row, Measured, Target};
use crate::client::{Client, Outcome};
use crate::keys::{fill_value, key, Key};
use crate::report::{Row, Section};
use crate::server::{Kind, Launch, Server};

const MIB: u64 = 1024 * 1024;
/// A batch carries at most this many bytes of values (so its length depends on the sizes).
const BATCH_VALUE_BYTES_MAX: usize = 1 << 20;
const BATCH_COUNT_MAX: usize = 100;
/// Allowance over `-m` for ringcache: the hash index (README: 32 KiB per MiB of `-m`) plus a
/// fixed share for the process and its connections. The fixed share is this tool's
/// assumption until the engine documents its figure.
const RINGCACHE_INDEX_SHARE: f64 = 32.0 / 1024.0;
const RINGCACHE_FIXED_OVERHEAD_MIB: u64 = 8;

#[derive(Clone, Debug)]
pub struct Params {
    pub memory_limit_mb: u64,
    pub key_count: u64,
    /// Value size ranges (bytes, inclusive low, exclusive high) of the phases, in order.
    pub phases: Vec<(usize, usize)>,
    /// Each phase writes this many times `-m` in values...
    pub phase_write_share: u64,
    /// ...or stops after this many requests.
    pub phase_requests_max: u64,
}

impl Params {
    pub fn new(quick: bool) -> Params {
        let phases = if quick {
            vec![(16, 256), (4096, 65536), (16, 65536)]
        } else {
            vec![(16, 256), (4096, 262_144), (256, 4096), (16, 262_144)]
        };
        Params {
            memory_limit_mb: if quick { 8 } else { 64 },
            key_count: if quick { 200_000 } else { 2_000_000 },
            phases,
            phase_write_share: if quick { 1 } else { 3 },
            phase_requests_max: if quick { 200_000 } else { 5_000_000 },
        }
    }

    fn describe(&self) -> String {
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(a, b)| format!("{a}..{b}"))
            .collect();
        format!(
            "`-m {}`; cache-aside over {} uniformly drawn keys; phases of log-uniform value \
             sizes {} bytes, each writing {}x `-m` of values (at most {} requests); a hit whose length is not the \
             phase's is written again; VmRSS sampled after every batch; \
             ringcache allowance = `-m` + {:.1}% (index) + {} MiB (assumed fixed overhead)",
            self.memory_limit_mb,
            self.key_count,
            phases.join(", then "),
            self.phase_write_share,
            self.phase_requests_max,
            RINGCACHE_INDEX_SHARE * 100.0,
            RINGCACHE_FIXED_OVERHEAD_MIB,
        )
    }
}

/// The value length of `key` in a phase with sizes `range`: log-uniform, fixed per key.
fn value_len(key: &Key, phase: usize, (low, high): (usize, usize)) -> usize {
    let mut hash: u64 = 0x9e37_79b9_7f4a_7c15 ^ phase as u64;
    for &b in key {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
    let len = low as f64 * (high as f64 / low as f64).powf(unit);
    (len as usize).clamp(low, high - 1)
}

#[derive(Clone, Copy, Debug, Default)]
struct Measurement {
    rss_max_bytes: u64,
    rss_end_bytes: u64,
    requests: u64,
    hits: u64,
    evictions: u64,
    errors: u64,
}

fn measure(launch: &Launch, kind: Kind, p: &Params, seed: u64) -> std::io::Result<Measurement> {
    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0003);
    let value_len_max = p.phases.iter().map(|r| r.1).max().unwrap_or(1);
    let mut value = vec![0u8; value_len_max];
    let mut scratch = vec![0u8; value_len_max];
    let mut batch: Vec<Key> = Vec::with_capacity(BATCH_COUNT_MAX);
    let mut missed = vec![false; BATCH_COUNT_MAX];
    let mut m = Measurement::default();
    for (phase, &range) in p.phases.iter().enumerate() {
        let batch_count = (BATCH_VALUE_BYTES_MAX / range.1).clamp(4, BATCH_COUNT_MAX);
        let (mut written_bytes, mut requests) = (0, 0);
        while written_bytes < p.phase_write_share * p.memory_limit_mb * MIB
            && requests < p.phase_requests_max
        {
            batch.clear();
            batch.extend((0..batch_count).map(|_| key(b'm', rng.gen_range(0..p.key_count))));
            for k in &batch {
                client.queue_get(k);
            }
            client.exchange(|i, outcome| {
                let length_now = value_len(&batch[i], phase, range);
                missed[i] = !matches!(outcome, Outcome::Hit(data) if data.len() == length_now);
                if let Outcome::Hit(data) = outcome {
                    m.hits += 1;
                    let was_written =
                        (0..=phase).any(|q| value_len(&batch[i], q, p.phases[q]) == data.len());
                    let right = &mut scratch[..data.len()];
                    fill_value(&batch[i], right);
                    m.errors += u64::from(!was_written || data != &right[..]);
                }
            })?;
            for (k, _) in batch.iter().zip(&missed).filter(|(_, &miss)| miss) {
                let len = value_len(k, phase, range);
                fill_value(k, &mut value[..len]);
                client.queue_set(k, 0, &value[..len]);
                written_bytes += len as u64;
            }
            client.exchange(|_, outcome| m.errors += u64::from(outcome != Outcome::Stored))?;
            requests += batch.len() as u64;
            m.requests += batch.len() as u64;
            m.rss_max_bytes = m.rss_max_bytes.max(server.rss_bytes());
        }
    }
    m.rss_end_bytes = server.rss_bytes();
    m.evictions = client.stat_u64("evictions")?;
    Ok(m)
}

pub fn run(launch: &Launch, quick: bool, seed: u64) -> Section {
    let p = Params::new(quick);
    let (mc, rc): (Measured<Measurement>, _) = each_server("ceiling", |kind| {
        measure(launch, kind, &p, seed).map_err(io_text)
    });
    let limit_mib = p.memory_limit_mb as f64;
    let allowance_mib =
        limit_mib * (1.0 + RINGCACHE_INDEX_SHARE) + RINGCACHE_FIXED_OVERHEAD_MIB as f64;
    let mib = |b: u64| b as f64 / MIB as f64;
    let mut max_rss = row("max RSS MiB", &mc, &rc, 1, Target::None, |m| {
        mib(m.rss_max_bytes)
    });
    max_rss.target = format!("ringcache <= {allowance_mib:.1} MiB");
    max_rss.verdict = Some(
        rc.as_ref()
            .is_ok_and(|m| mib(m.rss_max_bytes) <= allowance_mib),
    );
    let rows: Vec<Row> = vec![
        max_rss,
        row("max RSS - `-m` MiB", &mc, &rc, 1, Target::None, |m| {
            mib(m.rss_max_bytes) - limit_mib
        }),
        row("RSS at the end MiB", &mc, &rc, 1, Target::None, |m| {
            mib(m.rss_end_bytes)
        }),
        row("requests", &mc, &rc, 0, Target::None, |m| m.requests as f64),
        row("hits", &mc, &rc, 0, Target::None, |m| m.hits as f64),
        row("evictions", &mc, &rc, 0, Target::None, |m| {
            m.evictions as f64
        }),
        row(
            "wrong values + failed sets",
            &mc,
            &rc,
            0,
            Target::BothZero,
            |m| m.errors as f64,
        ),
    ];
    Section {
        workload: "ceiling",
        params: p.describe(),
        rows,
        details: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_lengths_stay_in_their_range_and_spread() {
        let (mut small, mut large) = (0, 0);
        for i in 0..10_000 {
            let len = value_len(&key(b'm', i), 1, (16, 262_144));
            assert!((16..262_144).contains(&len));
            small += u32::from(len < 2048);
            large += u32::from(len >= 2048);
        }
        assert!(small > 3000 && large > 3000, "{small} small, {large} large");
    }
}
