//! Side-by-side benchmarks of ringcache against stock memcached: `memory-compare` (below) and
//! `perf-compare` (CPU per operation, throughput, latency; see [`perf`]).
//!
//! Goals: run the memory workloads of the memory issue (capacity, hit ratio, scan,
//! calcification, expiry) against Debian's `memcached` and `ringcache` started with the same
//! flags in the same run, one after the other, and report each figure for both with their
//! ratio and the issue's target. Tests assert behaviour; these tools report numbers.
//!
//! Non-goals (of `memory-compare`): throughput or latency (`perf-compare` drives the load
//! generator for those); timing-based assertions.
//!
//! Invariants:
//! - Both servers get the same flags (`-m`, `-p` free port, `-l 127.0.0.1`, `-t 1`, `-U 0`;
//!   memcached keeps its defaults otherwise: LRU maintainer, crawler and slab automover on)
//!   and are pinned to the same CPU; the client runs on another one.
//! - Both servers see the same seeded key sequences; every hit's value is checked, and a
//!   wrong value is counted and reported, never ignored.
//! - Only one server runs at a time; every server is killed when its measurement ends.
//!
//! ```text
//!   memory-compare ──> workload::<name>::run ──> each_server(memcached, ringcache)
//!        │                     │ Server::start (taskset -c 0) ── Client (pipelined, cpu 1)
//!        └── report::render <──┘ Section { rows: figure | mc | rc | ratio | target }
//! ```

pub mod client;
pub mod keys;
pub mod perf;
pub mod report;
pub mod server;
pub mod workload;
