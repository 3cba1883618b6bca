//! The exposition: every shard's counters as Prometheus metrics, encoded by the
//! `prometheus-client` crate.
//!
//! Names are `ringcache_*`, units last, `_total` on counters; every per-shard series has the
//! label `shard="N"`. The crate writes the OpenMetrics text format (served when the scraper
//! asks for it, as Prometheus does). Other clients (curl, `promtool check metrics`) get the
//! Prometheus text format 0.0.4, rewritten from it line by line: a counter's `# HELP`/`# TYPE`
//! name gains its `_total` suffix, an info metric becomes a gauge named `*_info`, and the
//! `# UNIT` and `# EOF` lines go; the samples are the same.

use std::fmt;
use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::route::board::Counters;
use crate::service_time::{bucket_upper_ns, BUCKET_COUNT};
use crate::stats::Command;

/// The two text formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Everything one scrape shows.
#[derive(Clone, Debug)]
pub struct Scrape {
    /// Each shard's last copy, by shard index.
    pub shards: Vec<Counters>,
    /// When the copies were taken (their ages are measured against it).
    pub taken: Instant,
    pub start_time_unix_secs: f64,
    pub resident_memory_bytes: Option<u64>,
}

/// The scrape in `format`.
pub fn encode(scrape: &Scrape, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Collect(scrape.clone())));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    match format {
        Format::OpenMetrics => text,
        Format::Prometheus => to_prometheus_text(&text),
    }
}

/// OpenMetrics text → Prometheus text 0.0.4 (see the module doc).
pub fn to_prometheus_text(open_metrics: &str) -> String {
    let lines: Vec<&str> = open_metrics.lines().collect();
    let mut text = String::with_capacity(open_metrics.len());
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("# UNIT ") || *line == "# EOF" {
            continue;
        }
        let descriptor = line
            .strip_prefix("# HELP ")
            .map(|rest| ("# HELP ", rest))
            .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("# TYPE ", rest)));
        let Some((tag, rest)) = descriptor else {
            text.push_str(line);
            text.push('\n');
            continue;
        };
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        // The family's type: on this line, or on the TYPE line after its HELP line.
        let type_line = if tag == "# TYPE " {
            Some(*line)
        } else {
            lines.get(index + 1).copied()
        };
        let family_type = type_line
            .and_then(|l| l.strip_prefix("# TYPE "))
            .and_then(|l| l.split_once(' '))
            .filter(|(n, _)| *n == name)
            .map_or("", |(_, t)| t);
        let (suffix, tail) = match (family_type, tag) {
            ("counter", _) => ("_total", tail),
            ("info", "# TYPE ") => ("_info", "gauge"),
            ("info", _) => ("_info", tail),
            _ => ("", tail),
        };
        text.push_str(tag);
        text.push_str(name);
        text.push_str(suffix);
        text.push(' ');
        text.push_str(tail);
        text.push('\n');
    }
    text
}

/// Resident set size of the process, from `/proc/self/statm`.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page_size_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size_bytes).ok()?)
}

#[derive(Clone, Copy)]
enum UnitName {
    None,
    Bytes,
}

impl UnitName {
    fn unit(self) -> Option<Unit> {
        match self {
            UnitName::None => None,
            UnitName::Bytes => Some(Unit::Bytes),
        }
    }
}

/// A per-shard series with only the `shard` label.
struct PerShard {
    /// Without the unit (added from `unit`) and without `_total` (the encoder adds it).
    name: &'static str,
    help: &'static str,
    unit: UnitName,
    value: fn(&Counters) -> u64,
}

/// Per-shard counters (monotonic until `stats reset`, which Prometheus reads as a restart).
const COUNTERS: &[PerShard] = &[
    PerShard {
        name: "ringcache_cas_badval",
        help: "cas requests whose CAS value did not match the item's.",
        unit: UnitName::None,
        value: |c| c.shard.cas_badval,
    },
    PerShard {
        name: "ringcache_accepted_connections",
        help: "Client connections accepted.",
        unit: UnitName::None,
        value: |c| c.shard.total_connections,
    },
    PerShard {
        name: "ringcache_rejected_connections",
        help: "Client connections turned away at the connection limit (-c).",
        unit: UnitName::None,
        value: |c| c.shard.rejected_connections,
    },
    PerShard {
        name: "ringcache_read",
        help: "Bytes read from client connections.",
        unit: UnitName::Bytes,
        value: |c| c.shard.bytes_read,
    },
    PerShard {
        name: "ringcache_written",
        help: "Bytes written to client connections.",
        unit: UnitName::Bytes,
        value: |c| c.shard.bytes_written,
    },
    PerShard {
        name: "ringcache_conn_yields",
        help: "Times a connection gave up its turn with input left (memcached conn_yields).",
        unit: UnitName::None,
        value: |c| c.shard.conn_yields,
    },
    PerShard {
        name: "ringcache_cross_shard_sent",
        help: "Requests this shard forwarded to the shard owning their key (cross-core hops).",
        unit: UnitName::None,
        value: |c| c.shard.cross_shard_sent,
    },
    PerShard {
        name: "ringcache_cross_shard_served",
        help: "Requests this shard served for another shard's connections.",
        unit: UnitName::None,
        value: |c| c.shard.cross_shard_served,
    },
    PerShard {
        name: "ringcache_items_stored",
        help: "Items stored (memcached total_items).",
        unit: UnitName::None,
        value: |c| c.engine.total_items,
    },
    PerShard {
        name: "ringcache_evictions",
        help: "Live items evicted to make room.",
        unit: UnitName::None,
        value: |c| c.engine.evictions,
    },
    PerShard {
        name: "ringcache_evicted_unfetched",
        help: "Evicted items that were never fetched.",
        unit: UnitName::None,
        value: |c| c.engine.evicted_unfetched,
    },
    PerShard {
        name: "ringcache_reclaimed",
        help: "Expired or flushed items whose memory was taken back.",
        unit: UnitName::None,
        value: |c| c.engine.reclaimed,
    },
    PerShard {
        name: "ringcache_expired_unfetched",
        help: "Reclaimed items that were never fetched.",
        unit: UnitName::None,
        value: |c| c.engine.expired_unfetched,
    },
    PerShard {
        name: "ringcache_slabs_moved",
        help: "Memory pages moved from one size class to another.",
        unit: UnitName::None,
        value: |c| c.engine.slabs_moved,
    },
];

/// Per-shard gauges.
const GAUGES: &[PerShard] = &[
    PerShard {
        name: "ringcache_open_connections",
        help: "Client connections open now.",
        unit: UnitName::None,
        value: |c| c.shard.curr_connections,
    },
    PerShard {
        name: "ringcache_items",
        help: "Live items.",
        unit: UnitName::None,
        value: |c| c.engine.curr_items,
    },
    PerShard {
        name: "ringcache_item",
        help: "Bytes of live items: header, key and value (memcached bytes).",
        unit: UnitName::Bytes,
        value: |c| c.engine.bytes,
    },
    PerShard {
        name: "ringcache_memory_used",
        help: "Item memory handed to size classes, in whole pages.",
        unit: UnitName::Bytes,
        value: |c| c.memory_used_bytes,
    },
    PerShard {
        name: "ringcache_memory_limit",
        help: "The shard's share of -m.",
        unit: UnitName::Bytes,
        value: |c| c.engine.limit_maxbytes,
    },
];

/// `ringcache_hits_total` / `ringcache_misses_total` by the `command` label.
type HitMiss = (&'static str, fn(&Counters) -> (u64, u64));
const HITS_MISSES: &[HitMiss] = &[
    ("get", |c| (c.shard.get_hits, c.shard.get_misses)),
    ("touch", |c| (c.shard.touch_hits, c.shard.touch_misses)),
    ("delete", |c| (c.shard.delete_hits, c.shard.delete_misses)),
    ("incr", |c| (c.shard.incr_hits, c.shard.incr_misses)),
    ("decr", |c| (c.shard.decr_hits, c.shard.decr_misses)),
    ("cas", |c| (c.shard.cas_hits, c.shard.cas_misses)),
];

#[derive(Debug)]
struct Collect(Scrape);

impl Collector for Collect {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let scrape = &self.0;
        let shards: Vec<String> = (0..scrape.shards.len()).map(|i| i.to_string()).collect();
        let per_shard = || scrape.shards.iter().zip(shards.iter().map(String::as_str));
        encode_commands(&mut encoder, scrape, &shards)?;
        encode_hits_misses(&mut encoder, scrape, &shards)?;
        for (metric, metric_type) in COUNTERS
            .iter()
            .map(|m| (m, MetricType::Counter))
            .chain(GAUGES.iter().map(|m| (m, MetricType::Gauge)))
        {
            let unit = metric.unit.unit();
            let mut family =
                encoder.encode_descriptor(metric.name, metric.help, unit.as_ref(), metric_type)?;
            for (counters, shard) in per_shard() {
                let value = (metric.value)(counters);
                let labels = [("shard", shard)];
                let mut series = family.encode_family(&labels)?;
                match metric_type {
                    MetricType::Counter => {
                        series.encode_counter::<NoLabelSet, _, u64>(&value, None)?
                    }
                    _ => series.encode_gauge(&value)?,
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "ringcache_store_rejected",
            "Storage requests refused: the value was over -I (too_large) or no memory could be \
             freed for it (no_memory).",
            None,
            MetricType::Counter,
        )?;
        for (counters, shard) in per_shard() {
            for (reason, value) in [
                ("too_large", counters.shard.store_too_large),
                ("no_memory", counters.shard.store_no_memory),
            ] {
                family
                    .encode_family(&[("shard", shard), ("reason", reason)])?
                    .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
            }
        }
        encode_service_times(&mut encoder, scrape, &shards)?;
        encode_ages(&mut encoder, scrape, &shards)?;
        encode_process(&mut encoder, scrape)
    }
}

fn encode_commands(e: &mut DescriptorEncoder, scrape: &Scrape, shards: &[String]) -> fmt::Result {
    let mut family = e.encode_descriptor(
        "ringcache_commands",
        "Requests by command, counted once on the shard whose connection received them \
         (a multi-get is one request; invalid: lines answered with an error).",
        None,
        MetricType::Counter,
    )?;
    for (counters, shard) in scrape.shards.iter().zip(shards) {
        for command in Command::ALL {
            let value = counters.shard.commands[command as usize];
            family
                .encode_family(&[("shard", shard.as_str()), ("command", command.label())])?
                .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
        }
    }
    Ok(())
}

fn encode_hits_misses(
    e: &mut DescriptorEncoder,
    scrape: &Scrape,
    shards: &[String],
) -> fmt::Result {
    for (name, help, take_hits) in [
        (
            "ringcache_hits",
            "Keys found, by command, on the shard that owns them (get: every key of \
             get/gets/mg, memcached get_hits; touch: touch and gat).",
            true,
        ),
        (
            "ringcache_misses",
            "Keys not found, by command, on the shard that owns them (memcached *_misses).",
            false,
        ),
    ] {
        let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (counters, shard) in scrape.shards.iter().zip(shards) {
            for (command, value) in HITS_MISSES {
                let (hits, misses) = value(counters);
                let value = if take_hits { hits } else { misses };
                family
                    .encode_family(&[("shard", shard.as_str()), ("command", *command)])?
                    .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
            }
        }
    }
    Ok(())
}

fn encode_service_times(
    e: &mut DescriptorEncoder,
    scrape: &Scrape,
    shards: &[String],
) -> fmt::Result {
    let mut family = e.encode_descriptor(
        "ringcache_service_time",
        "Time from the shard processing a complete request to its reply being ready to send, \
         cross-core hops included; on the shard whose connection received it.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for (counters, shard) in scrape.shards.iter().zip(shards) {
        let times = &counters.shard.service;
        let buckets: Vec<(f64, u64)> = (0..=BUCKET_COUNT)
            .map(|index| {
                let upper_secs = if index < BUCKET_COUNT {
                    bucket_upper_ns(index) as f64 / 1e9
                } else {
                    f64::INFINITY
                };
                (upper_secs, times.counts[index])
            })
            .collect();
        family
            .encode_family(&[("shard", shard.as_str())])?
            .encode_histogram::<NoLabelSet>(
                times.sum_ns as f64 / 1e9,
                times.count(),
                &buckets,
                None,
            )?;
    }
    Ok(())
}

fn encode_ages(e: &mut DescriptorEncoder, scrape: &Scrape, shards: &[String]) -> fmt::Result {
    let mut family = e.encode_descriptor(
        "ringcache_counters_age",
        "Age of the shard's counters in this scrape (high: the shard did not answer in time).",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?;
    for (counters, shard) in scrape.shards.iter().zip(shards) {
        let age_secs = counters.published.map_or(f64::INFINITY, |at| {
            scrape.taken.saturating_duration_since(at).as_secs_f64()
        });
        family
            .encode_family(&[("shard", shard.as_str())])?
            .encode_gauge(&age_secs)?;
    }
    Ok(())
}

fn encode_process(e: &mut DescriptorEncoder, scrape: &Scrape) -> fmt::Result {
    e.encode_descriptor(
        "ringcache_shards",
        "Shards (threads) serving.",
        None,
        MetricType::Gauge,
    )?
    .encode_gauge(&(scrape.shards.len() as u64))?;
    e.encode_descriptor(
        "ringcache_start_time",
        "When the server started, in seconds since the Unix epoch.",
        Some(&Unit::Seconds),
        MetricType::Gauge,
    )?
    .encode_gauge(&scrape.start_time_unix_secs)?;
    if let Some(bytes) = scrape.resident_memory_bytes {
        e.encode_descriptor(
            "ringcache_resident_memory",
            "Resident memory of the process.",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?
        .encode_gauge(&bytes)?;
    }
    e.encode_descriptor(
        "ringcache_build",
        "ringcache's version and the memcached protocol version it implements.",
        None,
        MetricType::Info,
    )?
    .encode_info(&[
        ("version", crate::PACKAGE_VERSION),
        ("memcached_version", "1.6.18"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(shard_count: usize) -> Scrape {
        let mut shards = vec![Counters::default(); shard_count];
        shards[0].shard.commands[Command::Get as usize] = 7;
        shards[0].shard.get_hits = 5;
        shards[0].shard.service.record_ns(700, 2);
        shards[0].published = Some(Instant::now());
        Scrape {
            shards,
            taken: Instant::now(),
            start_time_unix_secs: 1.7e9,
            resident_memory_bytes: Some(4096),
        }
    }

    #[test]
    fn every_series_is_labelled_with_its_shard() {
        let text = encode(&scrape(2), Format::Prometheus);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let process_wide = ["ringcache_shards", "ringcache_start_time_seconds"].contains(&name)
                || name.starts_with("ringcache_resident")
                || name.starts_with("ringcache_build");
            assert!(process_wide || line.contains("shard=\""), "{line}");
        }
        assert!(text.contains("ringcache_commands_total{shard=\"0\",command=\"get\"} 7\n"));
        assert!(text.contains("ringcache_hits_total{shard=\"0\",command=\"get\"} 5\n"));
        assert!(text.contains("ringcache_commands_total{shard=\"1\",command=\"get\"} 0\n"));
    }

    #[test]
    fn the_histogram_is_cumulative_in_seconds() {
        let text = encode(&scrape(1), Format::Prometheus);
        assert!(text.contains("# TYPE ringcache_service_time_seconds histogram\n"));
        assert!(text.contains("ringcache_service_time_seconds_count{shard=\"0\"} 2\n"));
        // The bucket whose upper bound reads as `le` (dtoa decides how it is written).
        let bucket = |le: f64| {
            let prefix = "ringcache_service_time_seconds_bucket{le=\"";
            let line = text
                .lines()
                .filter_map(|l| l.strip_prefix(prefix))
                .find(|rest| {
                    let bound = rest.split('"').next().unwrap();
                    bound.parse::<f64>().ok() == Some(le) || (bound == "+Inf" && le.is_infinite())
                })
                .expect("a bucket");
            assert!(line.contains("shard=\"0\""));
            line.rsplit(' ').next().unwrap().parse::<u64>().unwrap()
        };
        assert_eq!(bucket(5e-7), 0);
        assert_eq!(bucket(1e-6), 2);
        assert_eq!(bucket(f64::INFINITY), 2);
    }

    #[test]
    fn prometheus_text_names_counters_with_their_suffix() {
        let text = encode(&scrape(1), Format::Prometheus);
        assert!(text.contains("# TYPE ringcache_commands_total counter\n"));
        assert!(text.contains("# HELP ringcache_commands_total Requests"));
        assert!(text.contains("# TYPE ringcache_read_bytes_total counter\n"));
        assert!(text.contains("# TYPE ringcache_build_info gauge\n"));
        assert!(!text.contains("# UNIT") && !text.contains("# EOF"));
        let open = encode(&scrape(1), Format::OpenMetrics);
        assert!(open.contains("# TYPE ringcache_commands counter\n"));
        assert!(open.ends_with("# EOF\n"));
    }
}
