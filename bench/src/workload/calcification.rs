//! Calcification: when the workload moves from small values to large ones, does memory move
//! to the size in use?
//!
//! Per server: a freshly started server runs only phase 2 (1000-byte values) and gives the
//! steady hit ratio (mean of its last windows). Then a second server runs phase 1 (cache-aside
//! with 100-byte values on key space `a`, well past full), then phase 2 (cache-aside with
//! 1000-byte values on the disjoint key space `b`, the same request sequence as the fresh
//! server's) until its windowed hit ratio has been within 10% of the fresh steady value for
//! [`CONVERGED_WINDOWS`] windows in a row, or a time or request limit passes. The figure is
//! the requests and seconds of phase 2 until the first of those windows ends.

use std::fmt::Write;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::cache_aside::{CacheAside, Tally};
use super::{each_server, io_text, Measured};
use crate::client::Client;
use crate::keys::{key, Key, Popularity};
use crate::report::{num, ratio, Row, Section};
use crate::server::{Kind, Launch, Server};

const BATCH_COUNT: usize = 100;
/// Windows in a row within the tolerance that count as recovered.
const CONVERGED_WINDOWS: usize = 3;
/// "Within 10%": a window's hit ratio at least this share of the fresh steady hit ratio.
const WITHIN_SHARE: f64 = 0.9;

#[derive(Clone, Copy, Debug)]
pub struct Params {
    pub memory_limit_mb: u64,
    pub key_count: u64,
    pub zipf_exponent: f64,
    pub small_value_len_bytes: usize,
    pub large_value_len_bytes: usize,
    pub phase1_requests: u64,
    pub window_requests: u64,
    pub fresh_requests: u64,
    /// The fresh steady hit ratio is the mean of this many last windows.
    pub steady_windows: usize,
    pub phase2_secs_max: u64,
    pub phase2_requests_max: u64,
}

impl Params {
    pub fn new(quick: bool) -> Params {
        Params {
            memory_limit_mb: if quick { 8 } else { 64 },
            key_count: 1_000_000,
            zipf_exponent: 0.99,
            small_value_len_bytes: 100,
            large_value_len_bytes: 1000,
            phase1_requests: if quick { 60_000 } else { 4_000_000 },
            window_requests: if quick { 5_000 } else { 100_000 },
            fresh_requests: if quick { 30_000 } else { 3_000_000 },
            steady_windows: if quick { 3 } else { 10 },
            phase2_secs_max: if quick { 5 } else { 150 },
            phase2_requests_max: if quick { 60_000 } else { 30_000_000 },
        }
    }

    fn describe(&self) -> String {
        format!(
            "`-m {}`; Zipf({}) over {} keys, cache-aside; phase 1: {} requests with {}-byte \
             values (key space a); phase 2: {}-byte values (disjoint key space b), hit ratio per \
             window of {} requests; fresh server: phase 2 only, {} requests, steady = mean of \
             the last {} windows; recovered = {CONVERGED_WINDOWS} windows in a row at >= {:.0}% \
             of the same server's fresh steady hit ratio; phase 2 stops at recovery (once past \
             the fresh run's length), {} s or {} requests",
            self.memory_limit_mb,
            self.zipf_exponent,
            self.key_count,
            self.phase1_requests,
            self.small_value_len_bytes,
            self.large_value_len_bytes,
            self.window_requests,
            self.fresh_requests,
            self.steady_windows,
            WITHIN_SHARE * 100.0,
            self.phase2_secs_max,
            self.phase2_requests_max,
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Window {
    requests_end: u64,
    secs_end: f64,
    hit_ratio: f64,
}

#[derive(Clone, Debug)]
struct Measurement {
    fresh: Vec<Window>,
    fresh_steady: f64,
    phase1_evictions: u64,
    shifted: Vec<Window>,
    /// Index in `shifted` of the first of the recovered windows.
    recovered_at: Option<usize>,
    wrong_values: u64,
}

fn recovered_at(windows: &[Window], steady: f64) -> Option<usize> {
    let bar = steady * WITHIN_SHARE;
    windows
        .windows(CONVERGED_WINDOWS)
        .position(|run| run.iter().all(|w| w.hit_ratio >= bar))
}

/// Runs cache-aside requests with `value_len` values over key space `prefix` in windows,
/// until `stop(windows)` says so; returns the windows and the wrong values seen.
fn windows_until(
    client: &mut Client,
    p: &Params,
    prefix: u8,
    value_len: usize,
    rng: &mut StdRng,
    mut stop: impl FnMut(&[Window]) -> bool,
) -> std::io::Result<(Vec<Window>, u64)> {
    let popularity = Popularity::new(p.key_count, p.zipf_exponent);
    let mut cache_aside = CacheAside::new(value_len);
    let mut batch: Vec<(Key, usize)> = Vec::with_capacity(BATCH_COUNT);
    let mut windows = Vec::new();
    let mut wrong_values = 0;
    let started = Instant::now();
    while !stop(&windows) {
        let mut tally = [Tally::default()];
        let mut done = 0;
        while done < p.window_requests {
            let count = (p.window_requests - done).min(BATCH_COUNT as u64);
            batch.clear();
            batch.extend((0..count).map(|_| (key(prefix, popularity.sample(rng)), 0)));
            cache_aside.run_batch(client, &batch, &mut tally)?;
            done += count;
        }
        wrong_values += tally[0].wrong_values + tally[0].set_failures;
        windows.push(Window {
            requests_end: windows.len() as u64 * p.window_requests + p.window_requests,
            secs_end: started.elapsed().as_secs_f64(),
            hit_ratio: tally[0].hits as f64 / tally[0].gets.max(1) as f64,
        });
    }
    Ok((windows, wrong_values))
}

fn measure(launch: &Launch, kind: Kind, p: &Params, seed: u64) -> std::io::Result<Measurement> {
    let phase2_seed = seed ^ 0x5eed_0002;
    let fresh_windows = (p.fresh_requests / p.window_requests) as usize;
    let (fresh, fresh_wrong) = {
        let server = Server::start(launch, kind, p.memory_limit_mb);
        let mut client = Client::connect(server.addr())?;
        let mut rng = StdRng::seed_from_u64(phase2_seed);
        let large = p.large_value_len_bytes;
        windows_until(&mut client, p, b'b', large, &mut rng, |w| {
            w.len() >= fresh_windows
        })?
    };
    let tail = &fresh[fresh.len().saturating_sub(p.steady_windows)..];
    let fresh_steady = tail.iter().map(|w| w.hit_ratio).sum::<f64>() / tail.len().max(1) as f64;

    let server = Server::start(launch, kind, p.memory_limit_mb);
    let mut client = Client::connect(server.addr())?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0001);
    let phase1_windows = (p.phase1_requests / p.window_requests) as usize;
    let small = p.small_value_len_bytes;
    let (_, phase1_wrong) = windows_until(&mut client, p, b'a', small, &mut rng, |w| {
        w.len() >= phase1_windows
    })?;
    let phase1_evictions = client.stat_u64("evictions")?;
    let mut rng = StdRng::seed_from_u64(phase2_seed);
    let started = Instant::now();
    let (shifted, shifted_wrong) = windows_until(
        &mut client,
        p,
        b'b',
        p.large_value_len_bytes,
        &mut rng,
        |w| {
            let recovered = recovered_at(w, fresh_steady).is_some() && w.len() >= fresh_windows;
            let out_of_time = started.elapsed().as_secs() >= p.phase2_secs_max;
            let out_of_requests = w.len() as u64 * p.window_requests >= p.phase2_requests_max;
            recovered || out_of_time || out_of_requests
        },
    )?;
    Ok(Measurement {
        recovered_at: recovered_at(&shifted, fresh_steady),
        fresh,
        fresh_steady,
        phase1_evictions,
        shifted,
        wrong_values: fresh_wrong + phase1_wrong + shifted_wrong,
    })
}

/// Requests and seconds until recovery, as text and as a number for the ratio.
fn recovery(m: &Measured<Measurement>) -> (String, String, Option<(f64, f64)>) {
    match m {
        Err(e) => (format!("error: {e}"), String::new(), None),
        Ok(m) => match m.recovered_at {
            Some(i) => {
                let w = m.shifted[i];
                (
                    format!("{}", w.requests_end),
                    num(w.secs_end, 1),
                    Some((w.requests_end as f64, w.secs_end)),
                )
            }
            None => {
                let last = m
                    .shifted
                    .last()
                    .map_or((0, 0.0), |w| (w.requests_end, w.secs_end));
                (
                    format!("not within {} requests", last.0),
                    format!("not within {:.1}", last.1),
                    None,
                )
            }
        },
    }
}

fn recovery_rows(mc: &Measured<Measurement>, rc: &Measured<Measurement>) -> Vec<Row> {
    let (mc_requests, mc_secs, mc_value) = recovery(mc);
    let (rc_requests, rc_secs, rc_value) = recovery(rc);
    // ringcache must recover, and before memcached does (or memcached never does).
    let verdict = match (mc_value, rc_value) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(m), Some(r)) => r.0 < m.0 || r.1 < m.1,
    };
    let ratio_of = |pick: fn((f64, f64)) -> f64| match (mc_value, rc_value) {
        (Some(m), Some(r)) => ratio(pick(r), pick(m)),
        _ => None,
    };
    vec![
        Row {
            figure: "phase-2 requests until within 10% of fresh".into(),
            memcached: mc_requests,
            ringcache: rc_requests,
            ratio: ratio_of(|v| v.0),
            target: "ringcache recovers, faster than memcached".into(),
            verdict: Some(verdict),
        },
        Row {
            figure: "phase-2 seconds until within 10% of fresh".into(),
            memcached: mc_secs,
            ringcache: rc_secs,
            ratio: ratio_of(|v| v.1),
            target: String::new(),
            verdict: None,
        },
    ]
}

fn curve_rows(length: usize) -> Vec<usize> {
    (0..length)
        .filter(|&i| i < 10 || (i < 50 && i % 5 == 4) || i % 20 == 19 || i + 1 == length)
        .collect()
}

fn curves(p: &Params, mc: &Measured<Measurement>, rc: &Measured<Measurement>) -> String {
    let mut md = format!(
        "Phase-2 hit ratio per window of {} requests: after phase 1 (shifted) and on a fresh \
         server; seconds since phase 2 started.\n\n\
         | window | requests | memcached shifted | s | memcached fresh | ringcache shifted | s \
         | ringcache fresh |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        p.window_requests
    );
    let length =
        |m: &Measured<Measurement>| m.as_ref().map_or(0, |m| m.shifted.len().max(m.fresh.len()));
    let cell = |m: &Measured<Measurement>, i: usize| -> [String; 3] {
        let Ok(m) = m else { return Default::default() };
        let shifted = m.shifted.get(i);
        [
            shifted.map_or("-".into(), |w| num(w.hit_ratio, 3)),
            shifted.map_or("-".into(), |w| num(w.secs_end, 1)),
            m.fresh.get(i).map_or("-".into(), |w| num(w.hit_ratio, 3)),
        ]
    };
    for i in curve_rows(length(mc).max(length(rc))) {
        let [a, b, c] = cell(mc, i);
        let [d, e, f] = cell(rc, i);
        let requests = (i as u64 + 1) * p.window_requests;
        let _ = writeln!(
            md,
            "| {} | {requests} | {a} | {b} | {c} | {d} | {e} | {f} |",
            i + 1
        );
    }
    md
}

pub fn run(launch: &Launch, quick: bool, seed: u64) -> Section {
    let p = Params::new(quick);
    let (mc, rc) = each_server("calcification", |kind| {
        measure(launch, kind, &p, seed).map_err(io_text)
    });
    let mut rows = vec![super::row(
        "fresh steady hit ratio (1000-byte values)",
        &mc,
        &rc,
        4,
        super::Target::None,
        |m| m.fresh_steady,
    )];
    rows.push(super::row(
        "phase-2 first-window hit ratio after phase 1",
        &mc,
        &rc,
        4,
        super::Target::None,
        |m| m.shifted.first().map_or(0.0, |w| w.hit_ratio),
    ));
    rows.extend(recovery_rows(&mc, &rc));
    rows.push(super::row(
        "evictions by the end of phase 1",
        &mc,
        &rc,
        0,
        super::Target::None,
        |m| m.phase1_evictions as f64,
    ));
    rows.push(super::row(
        "wrong values + failed sets",
        &mc,
        &rc,
        0,
        super::Target::BothZero,
        |m| m.wrong_values as f64,
    ));
    Section {
        workload: "calcification",
        params: p.describe(),
        rows,
        details: curves(&p, &mc, &rc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(hit_ratios: &[f64]) -> Vec<Window> {
        hit_ratios
            .iter()
            .enumerate()
            .map(|(i, &hit_ratio)| Window {
                requests_end: (i as u64 + 1) * 10,
                secs_end: i as f64,
                hit_ratio,
            })
            .collect()
    }

    #[test]
    fn recovery_needs_consecutive_windows_within_ten_percent() {
        let steady = 0.8;
        // The bar is 90% of 0.8 = 0.72; a dip restarts the run.
        let w = windows(&[0.3, 0.75, 0.76, 0.5, 0.73, 0.721, 0.8, 0.8]);
        assert_eq!(recovered_at(&w, steady), Some(4));
        assert_eq!(recovered_at(&w[..6], steady), None);
        assert_eq!(recovered_at(&windows(&[0.71; 10]), steady), None);
    }

    #[test]
    fn curve_rows_are_compact_and_keep_the_last_window() {
        let rows = curve_rows(200);
        assert_eq!(&rows[..10], &(0..10).collect::<Vec<_>>()[..]);
        assert!(rows.len() < 30, "{rows:?}");
        assert_eq!(rows.last(), Some(&199));
        assert_eq!(curve_rows(3), vec![0, 1, 2]);
    }
}
