//! The figures of the report: per workload, shard count and driver (closed loop) or rate (open
//! loop), each server's median and range over the repeats, and the median of the per-repeat
//! ratios ringcache / memcached.

use std::collections::BTreeMap;

use serde::Serialize;

use super::pauses;
use super::record::{ClosedFigures, ClosedRun, Driver, OpenFigures, OpenProbe, OpenRun, Results};
use super::stats::{paired_ratios, Summary};
use super::workload::Workload;
use crate::server::Kind;

/// Share of the target rate below which an open-loop run counts as short of it.
pub const SHORT_RATE_FRACTION: f64 = 0.95;

/// One figure for both servers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PerServer {
    pub memcached: Option<Summary>,
    pub ringcache: Option<Summary>,
    /// Median and range of the per-repeat ratios ringcache / memcached.
    pub ratio: Option<Summary>,
}

/// `(repeat, server, value)` for every successful measurement of a figure.
pub fn per_server(samples: &[(usize, Kind, f64)]) -> PerServer {
    let of = |kind: Kind| {
        let values: Vec<f64> = samples
            .iter()
            .filter(|s| s.1 == kind)
            .map(|s| s.2)
            .collect();
        Summary::of(&values)
    };
    let repeats_count = samples.iter().map(|s| s.0 + 1).max().unwrap_or(0);
    let value = |repeat: usize, kind: Kind| {
        samples
            .iter()
            .find(|s| s.0 == repeat && s.1 == kind)
            .map(|s| s.2)
    };
    let pairs: Vec<_> = (0..repeats_count)
        .map(|r| (value(r, Kind::Ringcache), value(r, Kind::Memcached)))
        .collect();
    PerServer {
        memcached: of(Kind::Memcached),
        ringcache: of(Kind::Ringcache),
        ratio: Summary::of(&paired_ratios(&pairs)),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ClosedRow {
    pub workload: Workload,
    pub shards_count: usize,
    pub driver: Driver,
    pub cpu_us_per_op: PerServer,
    pub throughput_ops_per_sec: PerServer,
    /// The server's CPU time per second of measured time: near 1, the server set the pace;
    /// well below, the driver did, and the server also paid for sleeping and waking.
    pub busy_fraction: PerServer,
    /// Runs that produced no figures.
    pub failed_runs_count: usize,
    /// Errors the driver counted over all runs of the row.
    pub driver_errors_count: u64,
}

/// A count for each server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ByServer {
    pub memcached: u64,
    pub ringcache: u64,
}

impl ByServer {
    fn add(&mut self, server: Kind, count: u64) {
        match server {
            Kind::Memcached => self.memcached += count,
            Kind::Ringcache => self.ringcache += count,
        }
    }

    pub fn total(&self) -> u64 {
        self.memcached + self.ringcache
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct OpenRow {
    pub workload: Workload,
    pub shards_count: usize,
    pub rate_percent: u32,
    pub rate_ops_per_sec: f64,
    pub achieved_ops_per_sec: PerServer,
    /// Server CPU per op at this rate (none from reports written before it was measured).
    pub cpu_us_per_op: PerServer,
    pub latency_us_p50: PerServer,
    pub latency_us_p99: PerServer,
    pub latency_us_p999: PerServer,
    /// The p99.9 the machine's stops alone impose ([`pauses::floor_us`]), over the probes
    /// before each server's turn in this block (none from runs made before the probes).
    pub machine_floor_us_p999: Option<Summary>,
    pub runs_count: ByServer,
    pub failed_runs_count: ByServer,
    /// Runs whose achieved rate fell below [`SHORT_RATE_FRACTION`] of the target.
    pub short_runs_count: ByServer,
    pub driver_errors_count: ByServer,
    pub driver_errors_by_kind: BTreeMap<String, u64>,
    pub schedule_stalls_count: u64,
    pub generator_pause_us_max: u64,
}

/// The distinct keys of `items` in first-seen order.
fn distinct<T, K: Copy + PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<K> {
    let mut keys: Vec<K> = Vec::new();
    for item in items {
        let k = key(item);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

fn closed_samples(
    runs: &[&ClosedRun],
    value: impl Fn(&ClosedFigures) -> Option<f64>,
) -> Vec<(usize, Kind, f64)> {
    runs.iter()
        .filter_map(|r| {
            let f = r.result.as_ref().ok()?;
            Some((r.repeat_index, r.server, value(f)?))
        })
        .collect()
}

pub fn closed_rows(results: &Results) -> Vec<ClosedRow> {
    let keys = distinct(&results.closed, |r| (r.shards_count, r.workload, r.driver));
    keys.into_iter()
        .map(|(shards_count, workload, driver)| {
            let runs: Vec<&ClosedRun> = results
                .closed
                .iter()
                .filter(|r| {
                    (r.shards_count, r.workload, r.driver) == (shards_count, workload, driver)
                })
                .collect();
            ClosedRow {
                workload,
                shards_count,
                driver,
                cpu_us_per_op: per_server(&closed_samples(&runs, |f| f.cpu_us_per_op)),
                throughput_ops_per_sec: per_server(&closed_samples(&runs, |f| {
                    Some(f.throughput_ops_per_sec)
                })),
                busy_fraction: per_server(&closed_samples(&runs, ClosedFigures::busy_fraction)),
                failed_runs_count: runs.iter().filter(|r| r.result.is_err()).count(),
                driver_errors_count: runs
                    .iter()
                    .filter_map(|r| r.result.as_ref().ok())
                    .map(|f| f.errors)
                    .sum(),
            }
        })
        .collect()
}

/// `value` of every run that has figures and, in them, the value.
fn open_samples(
    runs: &[&OpenRun],
    value: impl Fn(&OpenFigures) -> Option<f64>,
) -> Vec<(usize, Kind, f64)> {
    runs.iter()
        .filter_map(|r| {
            let f = r.result.as_ref().ok()?;
            Some((r.repeat_index, r.server, value(f)?))
        })
        .collect()
}

fn open_row(
    workload: Workload,
    shards_count: usize,
    rate_percent: u32,
    runs: &[&OpenRun],
    probes: &[&OpenProbe],
) -> OpenRow {
    let figures: Vec<(&OpenRun, &OpenFigures)> = runs
        .iter()
        .filter_map(|r| Some((*r, r.result.as_ref().ok()?)))
        .collect();
    let mut counts = [ByServer::default(); 4];
    let [runs_count, failed_runs_count, short_runs_count, driver_errors_count] = &mut counts;
    let mut driver_errors_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for run in runs {
        runs_count.add(run.server, 1);
        match &run.result {
            Err(_) => failed_runs_count.add(run.server, 1),
            Ok(f) => {
                let short = f.achieved_ops_per_sec < SHORT_RATE_FRACTION * run.rate_ops_per_sec;
                short_runs_count.add(run.server, u64::from(short));
                driver_errors_count.add(run.server, f.errors);
                for (kind, count) in f.errors_by_kind.iter().filter(|e| *e.1 > 0) {
                    *driver_errors_by_kind.entry(kind.clone()).or_default() += count;
                }
            }
        }
    }
    let [runs_count, failed_runs_count, short_runs_count, driver_errors_count] = counts;
    OpenRow {
        workload,
        shards_count,
        rate_percent,
        rate_ops_per_sec: runs.first().map_or(0.0, |r| r.rate_ops_per_sec),
        achieved_ops_per_sec: per_server(&open_samples(runs, |f| Some(f.achieved_ops_per_sec))),
        cpu_us_per_op: per_server(&open_samples(runs, |f| f.cpu_us_per_op)),
        latency_us_p50: per_server(&open_samples(runs, |f| Some(f.latency_us.p50 as f64))),
        latency_us_p99: per_server(&open_samples(runs, |f| Some(f.latency_us.p99 as f64))),
        latency_us_p999: per_server(&open_samples(runs, |f| Some(f.latency_us.p999 as f64))),
        machine_floor_us_p999: Summary::of(
            &probes
                .iter()
                .filter_map(|p| pauses::floor_us(&p.pauses, pauses::P999))
                .map(|us| us as f64)
                .collect::<Vec<f64>>(),
        ),
        runs_count,
        failed_runs_count,
        short_runs_count,
        driver_errors_count,
        driver_errors_by_kind,
        schedule_stalls_count: figures.iter().map(|(_, f)| f.schedule_stalls).sum(),
        generator_pause_us_max: figures
            .iter()
            .map(|(_, f)| f.generator_pause_us_max)
            .max()
            .unwrap_or(0),
    }
}

pub fn open_rows(results: &Results) -> Vec<OpenRow> {
    let keys = distinct(&results.open, |r| {
        (r.shards_count, r.workload, r.rate_percent)
    });
    keys.into_iter()
        .map(|(shards_count, workload, rate_percent)| {
            let runs: Vec<&OpenRun> = results
                .open
                .iter()
                .filter(|r| {
                    (r.shards_count, r.workload, r.rate_percent)
                        == (shards_count, workload, rate_percent)
                })
                .collect();
            let probes: Vec<&OpenProbe> = results
                .open_probes
                .iter()
                .filter(|p| (p.shards_count, p.workload) == (shards_count, workload))
                .collect();
            open_row(workload, shards_count, rate_percent, &runs, &probes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_server_pairs_ratios_by_repeat() {
        let samples = [
            (0, Kind::Memcached, 10.0),
            (0, Kind::Ringcache, 5.0),
            (1, Kind::Ringcache, 9.0),
            (1, Kind::Memcached, 10.0),
            (2, Kind::Memcached, 8.0),
            (2, Kind::Ringcache, 6.0),
            (3, Kind::Memcached, 100.0),
        ];
        let p = per_server(&samples);
        assert_eq!(p.memcached.unwrap().median, 10.0);
        assert_eq!(p.memcached.unwrap().count, 4);
        assert_eq!(p.ringcache.unwrap().median, 6.0);
        let ratio = p.ratio.unwrap();
        assert_eq!(
            (ratio.count, ratio.median, ratio.min, ratio.max),
            (3, 0.75, 0.5, 0.9)
        );
        assert_eq!(per_server(&[]).ratio, None);
    }
}
