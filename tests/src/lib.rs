//! End-to-end test harness for ringcache.
//!
//! Goals:
//! - Start the real `ringcache` binary (built once per test process with the same cargo profile
//!   as the test binary) and Debian's stock `memcached` on free 127.0.0.1 ports, with the same
//!   memcached-style flags, and stop each of them on `Drop` (kill + wait), so no server outlives
//!   the test that started it, even when the test panics.
//! - Give tests a small raw-socket client ([`Conn`]) whose every read has a deadline, and a
//!   reply framer ([`frame_replies`]) that splits a reply stream into whole replies without
//!   knowing which commands produced it (a `VALUE`/`VA` header announces its data block).
//!
//! Non-goals: client-library behaviour (the `client_*` tests use real libraries for that).
//!
//! Invariants:
//! - Servers listen on 127.0.0.1 only, with UDP off (`-U 0`).
//! - A needed tool that is missing fails the test loudly with the install command; nothing is
//!   skipped silently.
//!
//! Knobs (environment):
//! - `RINGCACHE_BIN=/path/to/ringcache`: use that binary instead of building one.
//! - `RINGCACHE_TEST_AS_MEMCACHED=1`: start memcached wherever a test asks for ringcache. This
//!   validates the tests themselves against the reference server.

pub mod conn;
pub mod differ;
pub mod edges;
pub mod gen;
pub mod mask;
pub mod server;
pub mod tool;

pub use conn::{frame_replies, show, Conn, Replies, Unit};
pub use server::{
    free_port, memcached_bin, require_tool, ringcache_bin, workspace_dir, Kind, Server,
};
pub use tool::{run_tool, ToolOutput};
