//! ringcache-loadgen: an open-loop memcached load generator on io_uring.
//!
//! Goals: tell the truth about tail latency. In open loop (`--rate`) requests have intended
//! send times from a seeded arrival process, and latency is measured from those times, so a
//! server that stalls shows up in the tail instead of slowing the generator down
//! (no coordinated omission). Drive a server at least as hard as memaslap from one core.
//! Speak to stock memcached and ringcache alike, and to a fleet with libmemcached's ketama.
//!
//! Non-goals: the binary or meta protocol as workload; TLS; commands other than get/set.
//!
//! ```text
//!  main ── cli ── run ──┬─ worker 0 (pinned, own io_uring) ── conn, conn, ...
//!                       ├─ worker 1 ...                          │ shared codec:
//!                       │   schedule (intended times)            │ net::proto::client (encode)
//!                       │   workload (keys, ops, values)         │ net::proto::response (parse)
//!                       │   route (which connection)             │
//!                       │   ring (submit, poll, sleep)         │ net::runtime::recvbuf
//!                       │                                        │   (provided receive buffers)
//!                       └─ live line (1/s) ── report (table, JSON, HDR log) ── sweep, svg
//! ```
//!
//! Invariants: every time is `Instant`-based (CLOCK_MONOTONIC, ns), kept as ns since the run's
//! start; a request is counted once, as answered or as an error, never silently dropped;
//! the hot path allocates nothing.

pub mod cli;
pub mod conn;
pub mod encode;
pub mod ketama;
pub mod live;
pub mod report;
pub mod ring;
pub mod route;
pub mod run;
pub mod schedule;
pub mod stats;
pub mod svg;
pub mod sweep;
pub mod worker;
pub mod workload;
