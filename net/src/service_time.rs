//! Server-side service time: a per-shard histogram of how long requests take inside the
//! server, kept in fixed log-scale buckets (no allocation) and exported by `metrics` as
//! `ringcache_service_time_seconds`.
//!
//! Definition. A request's *service time* runs from the start of the `Session::process` call
//! in which the request is first complete (its command line, and for a storage command its
//! whole data block, are in the connection's input) to the moment its whole reply is in the
//! connection's output:
//! - served on this shard: the end of that `process` call. The shard queues the connection's
//!   `Send` right after the call, so this is when the reply is handed to the kernel (unless a
//!   reply before it on the same connection still waits for another shard);
//! - needing other shards (a key another shard owns, a multi-get with such keys, a
//!   whole-server command): when the last reply it waits for has been inserted *and* every
//!   reply before it on the connection is complete, i.e. when it becomes sendable. The
//!   cross-core hop both ways, the owner's queue and its work are included.
//!
//! Time spent waiting for the client (a value arriving in several segments) is not service
//! time; time spent after the request is complete (a full channel to the owner, a multi-get
//! resumed after its output drained) is. A request is timed on the shard whose connection
//! received it; the owner of a forwarded request records nothing for it.
//!
//! Cost: two clock reads (`Instant::now`, a vDSO call) per `process` call, however many
//! requests it answers: every request that call completes gets the call's elapsed time, which
//! under the definition above is exact, since their replies leave together. Plus one clock
//! read per delivery of cross-core replies that makes a request sendable.
//! Measured on the 2-core development VM (busy with other builds, so roughly): `Instant::now`
//! takes 55-65 ns, so about 120 ns per call; one get through `Session::process` took 250-450 ns
//! without the clock and 280-680 ns with it; at 16 pipelined gets per call the difference was
//! within the run-to-run noise (±30%). `cargo bench -p ringcache-net --bench service_time`.
//!
//! Buckets: upper bounds 0.5 µs · 2^i for i in 0..[`BUCKET_COUNT`] (0.5 µs to about 1.05 s),
//! then an overflow bucket.

use std::time::{Duration, Instant};

/// Finite buckets; `counts` has one more, for longer times.
pub const BUCKET_COUNT: usize = 22;
/// Upper bound of the first bucket.
pub const BUCKET_FIRST_UPPER_NS: u64 = 500;

/// Upper bound of bucket `index` (`index < BUCKET_COUNT`).
pub const fn bucket_upper_ns(index: usize) -> u64 {
    BUCKET_FIRST_UPPER_NS << index
}

const _: () = assert!(bucket_upper_ns(BUCKET_COUNT - 1) > 1_000_000_000);

/// The bucket a time of `ns` falls in: the first whose upper bound is at least `ns`, or
/// `BUCKET_COUNT` (overflow).
pub fn bucket_index(ns: u64) -> usize {
    if ns <= BUCKET_FIRST_UPPER_NS {
        return 0;
    }
    // ns in (500·2^(i−1), 500·2^i]  ⇔  (ns−1)/500 in [2^(i−1), 2^i − 1]  ⇔  its bit length is i.
    let quotient = (ns - 1) / BUCKET_FIRST_UPPER_NS;
    let index = (u64::BITS - quotient.leading_zeros()) as usize;
    index.min(BUCKET_COUNT)
}

/// One shard's service-time histogram, and the clock of the `process` call in progress.
#[derive(Clone, Debug, Default)]
pub struct ServiceTimes {
    /// Requests per bucket (not cumulative); the last entry counts those over every bound.
    pub counts: [u64; BUCKET_COUNT + 1],
    /// Sum of the recorded times.
    pub sum_ns: u64,
    batch: Batch,
}

/// The `process` call in progress (`started` is `None` outside one).
#[derive(Clone, Copy, Debug, Default)]
struct Batch {
    started: Option<Instant>,
    /// Requests completed in this call that were complete only in it.
    done_count: u64,
    /// A request completed in this call that was already complete in an earlier one (a line
    /// that waited for channel room or output space); at most one line waits like that.
    carried: Option<Instant>,
}

impl ServiceTimes {
    /// Requests recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `count` requests that took `ns` each.
    pub fn record_ns(&mut self, ns: u64, count: u64) {
        self.counts[bucket_index(ns)] += count;
        self.sum_ns = self.sum_ns.wrapping_add(ns.wrapping_mul(count));
    }

    fn record(&mut self, elapsed: Duration, count: u64) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.record_ns(ns, count);
    }

    /// A request that became sendable now, having been complete since `started`.
    pub fn record_since(&mut self, started: Instant, now: Instant) {
        self.record(now.saturating_duration_since(started), 1);
    }

    /// The runtime is about to run a connection's session over its input.
    pub fn begin_batch(&mut self) {
        self.batch = Batch {
            started: Some(Instant::now()),
            done_count: 0,
            carried: None,
        };
    }

    /// When the `process` call in progress began (`None` outside one: a proxy session, a test).
    pub fn batch_started(&self) -> Option<Instant> {
        self.batch.started
    }

    /// A request's reply is complete in the output, the request having been complete since
    /// `started` (the start of this call or of an earlier one). Timed at [`end_batch`].
    ///
    /// [`end_batch`]: ServiceTimes::end_batch
    pub fn completed(&mut self, started: Option<Instant>) {
        let Some(batch_started) = self.batch.started else {
            return;
        };
        match started {
            Some(started) if started != batch_started => {
                if self.batch.carried.is_none() {
                    self.batch.carried = Some(started);
                } else {
                    // Not expected (only the line at the front of the input can wait), but
                    // exact all the same, for one more clock read.
                    self.record_since(started, Instant::now());
                }
            }
            _ => self.batch.done_count += 1,
        }
    }

    /// The `process` call is over: its completed requests are recorded.
    pub fn end_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let Some(started) = batch.started else {
            return;
        };
        if batch.done_count == 0 && batch.carried.is_none() {
            return;
        }
        let now = Instant::now();
        if batch.done_count > 0 {
            self.record(now.saturating_duration_since(started), batch.done_count);
        }
        if let Some(carried) = batch.carried {
            self.record_since(carried, now);
        }
    }

    /// Zeroes the histogram (`stats reset`), keeping the call in progress.
    pub fn clear_counts(&mut self) {
        self.counts = [0; BUCKET_COUNT + 1];
        self.sum_ns = 0;
    }

    /// Adds another shard's histogram to this one.
    pub fn add(&mut self, other: &ServiceTimes) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.sum_ns = self.sum_ns.wrapping_add(other.sum_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_time_falls_in_the_first_bucket_that_holds_it() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(500), 0);
        assert_eq!(bucket_index(501), 1);
        assert_eq!(bucket_index(1000), 1);
        assert_eq!(bucket_index(1001), 2);
        for index in 0..BUCKET_COUNT {
            let upper = bucket_upper_ns(index);
            assert_eq!(bucket_index(upper), index, "upper bound of {index}");
            assert_eq!(bucket_index(upper + 1), index + 1, "just above {index}");
        }
        assert_eq!(bucket_index(u64::MAX), BUCKET_COUNT);
    }

    #[test]
    fn a_call_records_each_request_it_completed_once() {
        let mut times = ServiceTimes::default();
        times.completed(None);
        times.end_batch();
        assert_eq!(times.count(), 0, "nothing is timed outside a call");
        times.begin_batch();
        let started = times.batch_started();
        times.completed(started);
        times.completed(started);
        times.end_batch();
        assert_eq!(times.count(), 2);
        times.begin_batch();
        times.end_batch();
        assert_eq!(
            times.count(),
            2,
            "a call that completes nothing records nothing"
        );
    }

    #[test]
    fn a_request_carried_over_from_an_earlier_call_is_timed_from_then() {
        let mut times = ServiceTimes::default();
        let earlier = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        times.begin_batch();
        times.completed(Some(earlier));
        times.end_batch();
        assert_eq!(times.count(), 1);
        assert!(times.sum_ns >= 2_000_000, "timed from its first call");
    }

    #[test]
    fn clearing_keeps_the_call_in_progress() {
        let mut times = ServiceTimes::default();
        times.record_ns(700, 3);
        times.begin_batch();
        times.clear_counts();
        times.completed(times.batch_started());
        times.end_batch();
        assert_eq!(times.count(), 1);
    }
}
