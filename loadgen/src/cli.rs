//! The command line: every flag, its unit and its default, and the parsers of the small
//! languages some flags take (`64-1024`, `zipf:0.99`, `10000:200000:10000`, `30s`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Largest `--multiget`: keys in one `get` line.
pub const MULTIGET_KEYS_MAX: usize = 100;
/// Largest `--pipeline`: requests outstanding on one connection.
pub const PIPELINE_DEPTH_MAX: usize = 1024;
/// Largest `--value-size`: memcached's default item size limit is 1 MiB, with the item header.
pub const VALUE_SIZE_MAX_BYTES: usize = 1000 * 1000;
/// Most rates in one `--sweep`.
pub const SWEEP_STEPS_MAX: usize = 1000;
/// Longest `--poll-us`: a wait is at most a few milliseconds anyway.
pub const POLL_US_MAX: u64 = 5_000;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ringcache-loadgen",
    version,
    about = "Open-loop memcached load generator on io_uring: tail latency without coordinated omission"
)]
pub struct Args {
    /// A server to load, HOST:PORT; repeat for a fleet (keys spread by libmemcached's weighted
    /// ketama). HOST:PORT:WEIGHT gives a ketama weight (default 1).
    #[arg(long = "server", required = true, value_name = "HOST:PORT")]
    pub servers: Vec<String>,
    /// Worker threads, each pinned to a CPU with its own io_uring ring.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// CPUs to pin the threads to, in order (e.g. `1,3`); default: spread over the CPUs this
    /// process may run on.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub cpus: Vec<usize>,
    /// Connections to each server, in total over all threads.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Requests outstanding per connection at most.
    #[arg(long = "pipeline", default_value_t = 1, value_name = "DEPTH")]
    pub pipeline_depth: usize,
    /// Measured time (after the warmup): `30s`, `500ms`, `2m`.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time before measuring; its samples are discarded.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Seed of every random choice (arrival gaps, keys, operations, value sizes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Open loop: requests scheduled at this total rate (ops/s), latency counted from each
    /// request's intended send time. Without it: closed loop, as fast as possible.
    #[arg(long = "rate", value_name = "OPS_PER_SEC")]
    pub rate_ops_per_sec: Option<f64>,
    /// Gaps between intended send times (open loop).
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// Distinct keys.
    #[arg(long = "keys", default_value_t = 100_000, value_name = "N")]
    pub key_count: u64,
    /// Bytes per key (`k` and the zero-padded key number).
    #[arg(long = "key-size", default_value_t = 16, value_name = "B")]
    pub key_size_bytes: usize,
    /// uniform, zipf:S (e.g. zipf:0.99) or sequential.
    #[arg(long, default_value = "uniform", value_parser = parse_key_distribution)]
    pub key_distribution: KeyDistribution,
    /// Bytes per value, fixed (`100`) or uniform over a range (`64-1024`).
    #[arg(long = "value-size", default_value = "100", value_parser = parse_value_size, value_name = "B|MIN-MAX")]
    pub value_size: ValueSize,
    /// Share of operations that are gets (the rest are sets).
    #[arg(long, default_value_t = 0.9)]
    pub get_ratio: f64,
    /// Keys per get (one `get k1 k2 ...` line).
    #[arg(long = "multiget", default_value_t = 1, value_name = "K")]
    pub multiget_keys: usize,
    /// Check every value read back against what the generator writes for that key; a wrong
    /// value is counted as an error.
    #[arg(long)]
    pub validate: bool,
    /// Skip the prefill (a set of every key before the run).
    #[arg(long)]
    pub no_prefill: bool,
    /// Requests that may wait per connection when it already has `--pipeline` outstanding
    /// (open loop); past it the schedule waits (reported as `schedule_stalls`).
    #[arg(long = "backlog", default_value_t = 16_384, value_name = "REQUESTS")]
    pub backlog_max: usize,
    /// How long each worker polls its ring for a completion before it sleeps in the kernel
    /// (microseconds). Polling keeps a busy local server from paying for waking the
    /// generator; 0 sleeps at once (for a core shared with other work).
    #[arg(long = "poll-us", default_value_t = 100, value_name = "MICROSECONDS",
          value_parser = clap::value_parser!(u64).range(0..=POLL_US_MAX))]
    pub poll_us: u64,
    /// How long to wait for outstanding replies after the run; those still missing are
    /// counted as `unanswered` errors.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Write the results and the run's parameters as JSON.
    #[arg(long, value_name = "FILE")]
    pub output_json: Option<PathBuf>,
    /// Write the latency histograms in HdrHistogram's interval log format (one interval per
    /// second, tagged `latency` and `service`).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Run a series of rates START:END:STEP (ops/s) and write a latency-versus-throughput
    /// table and SVG plot.
    #[arg(long, value_parser = parse_sweep, value_name = "START:END:STEP")]
    pub sweep: Option<Sweep>,
    /// Where `--sweep` writes its SVG plot.
    #[arg(long, default_value = "sweep.svg", value_name = "FILE")]
    pub sweep_svg: PathBuf,
    /// Where `--sweep` writes its table as CSV (the table is also printed).
    #[arg(long, value_name = "FILE")]
    pub sweep_csv: Option<PathBuf>,
    /// No live line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process), as independent clients produce.
    Poisson,
    /// Equal gaps.
    Uniform,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyDistribution {
    Uniform,
    Zipf(f64),
    Sequential,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ValueSize {
    pub min_bytes: usize,
    pub max_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Sweep {
    pub start_ops_per_sec: f64,
    pub end_ops_per_sec: f64,
    pub step_ops_per_sec: f64,
}

impl Sweep {
    /// The rates of the sweep, `start`, `start + step`, ... up to and including `end`.
    pub fn rates(&self) -> Vec<f64> {
        let mut rates = Vec::new();
        let mut index = 0u32;
        loop {
            let rate = self.start_ops_per_sec + f64::from(index) * self.step_ops_per_sec;
            // Tolerate float steps that land a hair past `end`.
            if rate > self.end_ops_per_sec * (1.0 + 1e-9) || rates.len() >= SWEEP_STEPS_MAX {
                return rates;
            }
            rates.push(rate);
            index += 1;
        }
    }
}

/// `30s`, `500ms`, `2m`, `1h`, `1.5s`, `250us`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 500ms or 2m"))?;
    let secs_per_unit = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "unknown duration unit `{unit}` (use us, ms, s, m, h)"
            ))
        }
    };
    Duration::try_from_secs_f64(value * secs_per_unit).map_err(|e| format!("`{text}`: {e}"))
}

/// `100` or `64-1024`.
pub fn parse_value_size(text: &str) -> Result<ValueSize, String> {
    let parse = |s: &str| -> Result<usize, String> {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{text}` is not a size like 100 or 64-1024"))
    };
    let (min_bytes, max_bytes) = match text.split_once('-') {
        Some((lo, hi)) => (parse(lo)?, parse(hi)?),
        None => (parse(text)?, parse(text)?),
    };
    if min_bytes > max_bytes {
        return Err(format!("value size range `{text}` is empty (MIN > MAX)"));
    }
    if max_bytes > VALUE_SIZE_MAX_BYTES {
        return Err(format!(
            "value size {max_bytes} is over {VALUE_SIZE_MAX_BYTES} bytes"
        ));
    }
    Ok(ValueSize {
        min_bytes,
        max_bytes,
    })
}

/// `uniform`, `sequential` or `zipf:S` with S > 0.
pub fn parse_key_distribution(text: &str) -> Result<KeyDistribution, String> {
    match text {
        "uniform" => Ok(KeyDistribution::Uniform),
        "sequential" => Ok(KeyDistribution::Sequential),
        _ => {
            let exponent = text
                .strip_prefix("zipf:")
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(|| {
                    format!("`{text}` is not uniform, sequential or zipf:S (e.g. zipf:0.99)")
                })?;
            if !(exponent > 0.0 && exponent.is_finite()) {
                return Err(format!("zipf exponent must be > 0, got {exponent}"));
            }
            Ok(KeyDistribution::Zipf(exponent))
        }
    }
}

/// `START:END:STEP`, rates in ops/s, 0 < START <= END, STEP > 0.
pub fn parse_sweep(text: &str) -> Result<Sweep, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = || format!("`{text}` is not START:END:STEP (ops/s), e.g. 10000:200000:10000");
    let [start, end, step] = parts[..] else {
        return Err(bad());
    };
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
    let sweep = Sweep {
        start_ops_per_sec: number(start)?,
        end_ops_per_sec: number(end)?,
        step_ops_per_sec: number(step)?,
    };
    if !(sweep.start_ops_per_sec > 0.0
        && sweep.end_ops_per_sec >= sweep.start_ops_per_sec
        && sweep.step_ops_per_sec > 0.0)
    {
        return Err(format!("{}: need 0 < START <= END and STEP > 0", bad()));
    }
    if sweep.rates().len() >= SWEEP_STEPS_MAX {
        return Err(format!("{text}: more than {SWEEP_STEPS_MAX} steps"));
    }
    Ok(sweep)
}

impl Args {
    /// Checks across flags that clap cannot express; the message tells the fix.
    pub fn check(&self) -> Result<(), String> {
        let digits = self.key_count.saturating_sub(1).to_string().len();
        if self.key_count == 0 {
            return Err("--keys must be at least 1".into());
        }
        if self.key_size_bytes < digits + 1
            || self.key_size_bytes > ringcache_net::proto::KEY_LEN_MAX
        {
            return Err(format!(
                "--key-size must be between {} (`k` and {digits} digits for --keys {}) and {}",
                digits + 1,
                self.key_count,
                ringcache_net::proto::KEY_LEN_MAX
            ));
        }
        if self.threads == 0 || self.connections < self.threads {
            return Err(format!(
                "--connections ({}) must be at least --threads ({}), which must be at least 1",
                self.connections, self.threads
            ));
        }
        if !(1..=PIPELINE_DEPTH_MAX).contains(&self.pipeline_depth) {
            return Err(format!("--pipeline must be 1..={PIPELINE_DEPTH_MAX}"));
        }
        if !(1..=MULTIGET_KEYS_MAX).contains(&self.multiget_keys) {
            return Err(format!("--multiget must be 1..={MULTIGET_KEYS_MAX}"));
        }
        if !(0.0..=1.0).contains(&self.get_ratio) {
            return Err("--get-ratio must be between 0 and 1".into());
        }
        if let Some(rate) = self.rate_ops_per_sec {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err("--rate must be a positive number of ops/s".into());
            }
        }
        if self.sweep.is_some() && self.rate_ops_per_sec.is_some() {
            return Err("--sweep sets the rate of each run: drop --rate".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be more than 0".into());
        }
        if self.backlog_max == 0 {
            return Err("--backlog must be at least 1".into());
        }
        Ok(())
    }
}
