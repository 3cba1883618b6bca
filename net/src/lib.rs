//! ringcache's network layer: the memcached text-protocol codec ([`proto`]), the per-connection
//! command executor ([`exec`]), the io_uring shard runtime ([`runtime`]) and the server
//! configuration ([`config`]). It holds no cache logic of its own: storage is
//! `ringcache_engine`.

pub mod config;
pub mod exec;
pub mod proto;
pub mod runtime;
pub mod stats;

/// The version string ringcache reports (`version`, `stats`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
