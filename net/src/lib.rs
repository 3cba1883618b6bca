//! ringcache's network layer: the memcached text-protocol codec ([`proto`]), the per-connection
//! command executor ([`exec`]), the io_uring shard runtime ([`runtime`]), the server
//! configuration ([`config`]) and running under systemd ([`service`]). It holds no cache logic
//! of its own: storage is `ringcache_engine`.

pub mod config;
pub mod exec;
pub mod metrics;
pub mod proto;
pub mod route;
pub mod runtime;
pub mod service;
pub mod service_time;
pub mod stats;

/// The version ringcache reports to clients (`version`, `stats`): the memcached release whose
/// protocol it implements, then its own, because some clients gate features on the memcached
/// version they parse from the front of this string.
pub const VERSION: &str = concat!("1.6.18-ringcache-", env!("CARGO_PKG_VERSION"));

/// ringcache's own version.
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");
