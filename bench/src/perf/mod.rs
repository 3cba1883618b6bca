//! `perf-compare`: server CPU time per operation, throughput at saturation and open-loop tail
//! latency of ringcache against Debian's memcached, started with the same flags, measured in
//! the same run, reported as ratios (issue 7, the harness).
//!
//! Goals: one command; honest figures (CPU from /proc, latency from intended send times, the
//! spread over repeats shown); two independent drivers (ringcache-loadgen and memaslap) for
//! the closed loop; the raw measurements kept (`perf.json`).
//!
//! Non-goals: building anything (the binaries are found or named); speed assertions (the
//! tests check behaviour only); the loadgen's library (it is driven through its CLI and JSON
//! only, so its internals can change freely).
//!
//! Invariants:
//! - Both servers get the same `-m -c -t -p -l -U` flags, are pinned to the server CPU and run
//!   one at a time; every driver is pinned to the driver CPU with `taskset`.
//! - memcached and ringcache are measured back to back with the same driver arguments and
//!   seed; the order alternates between repeats; a ratio is the median of per-repeat ratios.
//! - A CPU window holds the measured driver process only: no prefill, no warm-up.
//! - A failed run or a driver error is recorded and shown in the report, never dropped.
//!
//! ```text
//!  perf-compare ── run::run_all ─┬─ per shards × workload:
//!                                │    closed: repeat × [mc, rc]: Server::start_with (taskset -c S)
//!                                │        loadgen prefill+warm ─ loadgen measured ─ memaslap measured
//!                                │        (cpu::read before / after each measured driver, taskset -c D)
//!                                │    peak = median(mc loadgen ops/s)
//!                                │    open:   repeat × [mc, rc]: loadgen --rate {50,70,90}% of peak
//!                                └─ Results ── summary (medians, paired ratios)
//!                                                ├─ report::render ─> perf.md
//!                                                ├─ svg::write ─────> latency.svg
//!                                                └─ serde ──────────> perf.json
//! ```

pub mod cpu;
pub mod loadgen;
pub mod machine;
pub mod memaslap;
pub mod pauses;
pub mod process;
pub mod record;
pub mod report;
pub mod run;
pub mod stats;
pub mod summary;
pub mod svg;
pub mod workload;
