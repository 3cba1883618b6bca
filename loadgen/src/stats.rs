//! What a worker counts: two latency histograms and the outcome counters.
//!
//! Latency is from the request's intended send time (open loop) to the moment its whole reply
//! was parsed; service time is from the moment the request was handed to the kernel. In a
//! closed loop the two are the same thing. Both are recorded in microseconds.

use hdrhistogram::Histogram;

/// Highest latency a histogram records exactly (an hour); longer ones are clamped to it.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;
/// hdrhistogram precision: three significant digits (0.1% error).
const SIGNIFICANT_DIGITS: u8 = 3;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Errors {
    /// `ERROR`, `CLIENT_ERROR`, `SERVER_ERROR`, or a reply that does not fit the request.
    pub error_reply: u64,
    /// `--validate`: a value that is not what was written for its key.
    pub wrong_value: u64,
    /// The reply stream broke the protocol; the connection is closed.
    pub protocol: u64,
    /// Requests lost with a connection that failed (reset, closed by the server).
    pub connection: u64,
    /// Requests still unanswered when the drain timeout ended the run.
    pub unanswered: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.error_reply + self.wrong_value + self.protocol + self.connection + self.unanswered
    }

    fn add(&mut self, other: &Errors) {
        self.error_reply += other.error_reply;
        self.wrong_value += other.wrong_value;
        self.protocol += other.protocol;
        self.connection += other.connection;
        self.unanswered += other.unanswered;
    }
}

#[derive(Clone, Debug)]
pub struct Stats {
    pub latency_us: Histogram<u64>,
    pub service_us: Histogram<u64>,
    /// Requests answered (a multi-get counts once).
    pub ops: u64,
    pub gets: u64,
    pub sets: u64,
    /// Keys found (a multi-get of K keys adds up to K).
    pub hits: u64,
    pub misses: u64,
    pub errors: Errors,
    /// Times the open-loop schedule waited because a connection's backlog was full.
    pub schedule_stalls: u64,
    /// Longest time the generator itself did not run its loop (a slow turn, or a wait that
    /// overslept, e.g. when its CPU was taken by another process). Latencies include it.
    pub generator_pause_us_max: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, SIGNIFICANT_DIGITS).expect("valid bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            latency_us: histogram(),
            service_us: histogram(),
            ops: 0,
            gets: 0,
            sets: 0,
            hits: 0,
            misses: 0,
            errors: Errors::default(),
            schedule_stalls: 0,
            generator_pause_us_max: 0,
        }
    }

    /// Records one answered request. Durations under a microsecond count as 1 µs (the
    /// histogram's floor).
    pub fn record(&mut self, latency_ns: u64, service_ns: u64) {
        self.ops += 1;
        self.latency_us
            .saturating_record((latency_ns / 1000).clamp(1, LATENCY_MAX_US));
        self.service_us
            .saturating_record((service_ns / 1000).clamp(1, LATENCY_MAX_US));
    }

    pub fn add(&mut self, other: &Stats) {
        self.latency_us
            .add(&other.latency_us)
            .expect("same histogram bounds");
        self.service_us
            .add(&other.service_us)
            .expect("same histogram bounds");
        self.ops += other.ops;
        self.gets += other.gets;
        self.sets += other.sets;
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors.add(&other.errors);
        self.schedule_stalls += other.schedule_stalls;
        self.generator_pause_us_max = self
            .generator_pause_us_max
            .max(other.generator_pause_us_max);
    }

    /// Empties the histograms (keeping their allocation) and zeroes the counters.
    pub fn reset(&mut self) {
        self.latency_us.reset();
        self.service_us.reset();
        self.ops = 0;
        self.gets = 0;
        self.sets = 0;
        self.hits = 0;
        self.misses = 0;
        self.errors = Errors::default();
        self.schedule_stalls = 0;
        self.generator_pause_us_max = 0;
    }
}
