//! The command line: memcached's flags under memcached's short and long names, and
//! ringcache's own (`--cpus`, `--metrics-port`, `--config`, `--print-config`).
//!
//! Every setting is optional here (no clap defaults) so that a flag that was not given lets
//! the environment or the file speak; defaults are applied once, in `check`.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

use super::refused;
use super::{ServerConfig, Settings};

#[derive(Parser, Debug, Clone, Default)]
#[command(
    name = "ringcache",
    version = crate::PACKAGE_VERSION,
    about = "A memcached-compatible cache server: thread-per-core, shared-nothing, io_uring.",
    long_about = None,
    disable_version_flag = true,
    after_help = refused::HELP_TEXT,
)]
pub struct Args {
    /// TCP port to listen on [default: 11211]
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,

    /// UDP port: only 0 (off, memcached's default) is supported
    #[arg(short = 'U', long = "udp-port", value_name = "PORT")]
    pub udp_port: Option<u16>,

    /// Interface(s) to listen on, comma separated: host, host:port, IPv6 [default: 127.0.0.1]
    #[arg(short = 'l', long = "listen", value_name = "ADDRS")]
    pub listen: Option<String>,

    /// Item memory in megabytes [default: 64]
    #[arg(short = 'm', long = "memory-limit", value_name = "MB")]
    pub memory_limit_mb: Option<u64>,

    /// Maximum simultaneous connections [default: 1024]
    #[arg(short = 'c', long = "conn-limit", value_name = "COUNT")]
    pub conn_limit: Option<u32>,

    /// Shards (threads), each pinned to one core [default: the CPUs this process may run on,
    /// or those of --cpus]
    #[arg(short = 't', long = "threads", value_name = "COUNT")]
    pub threads: Option<u32>,

    /// Cores to pin the shards to, e.g. 2-5,8 (shard i runs on the i-th, wrapping around)
    /// [default: every CPU the process may run on]
    #[arg(long = "cpus", value_name = "LIST")]
    pub cpus: Option<String>,

    /// Largest item, in bytes or with a k or m suffix (1k to 1024m, at most half of -m)
    /// [default: 1m]
    #[arg(short = 'I', long = "max-item-size", value_name = "SIZE")]
    pub max_item_size: Option<String>,

    /// Answer SERVER_ERROR when memory is full instead of evicting
    #[arg(short = 'M', long = "disable-evictions")]
    pub disable_evictions: bool,

    /// Disable CAS: every CAS value is 0
    #[arg(short = 'C', long = "disable-cas")]
    pub disable_cas: bool,

    /// Verbose: log start-up and errors to stderr (-v, -vv)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Listen backlog: connections the kernel queues before they are accepted [default: 1024]
    #[arg(short = 'b', long = "listen-backlog", value_name = "COUNT")]
    pub listen_backlog: Option<u32>,

    /// Raise the core file size limit so that a crash leaves a core file
    #[arg(short = 'r', long = "enable-coredumps")]
    pub enable_coredumps: bool,

    /// Protocol: only ascii (memcached's text protocol; no binary protocol)
    #[arg(short = 'B', long = "protocol", value_name = "NAME")]
    pub protocol: Option<String>,

    /// Accepted for memcached compatibility: ringcache never lists keys (stats cachedump
    /// is refused as by memcached -X), so dumping is always off
    #[arg(short = 'X', long = "disable-dumping")]
    pub disable_dumping: bool,

    /// Accepted for memcached compatibility: ringcache has no watch command
    #[arg(short = 'W', long = "disable-watch")]
    pub disable_watch: bool,

    /// Serve Prometheus metrics over HTTP (GET /metrics) on this port [default: off]
    #[arg(long = "metrics-port", value_name = "PORT")]
    pub metrics_port: Option<u16>,

    /// Read settings from this TOML file (flags and RINGCACHE_* variables override it)
    /// [env: RINGCACHE_CONFIG]
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective settings as TOML (for --config) and exit
    #[arg(long = "print-config")]
    pub print_config: bool,

    /// Print the version and exit
    #[arg(short = 'V', long = "version")]
    pub version: bool,

    /// Print the license and exit
    #[arg(short = 'i', long = "license")]
    pub license: bool,
}

impl Args {
    /// The settings the flags give; a flag that was not given leaves its setting unset.
    pub fn to_settings(&self) -> Result<Settings, String> {
        match self.protocol.as_deref() {
            None | Some("ascii") => {}
            Some(other) => {
                return Err(format!(
                    "-B {other}: ringcache speaks only memcached's text protocol: use -B ascii \
                     (or leave -B out); binary-protocol clients must switch to the text protocol"
                ))
            }
        }
        let set = |given: bool| given.then_some(true);
        Ok(Settings {
            port: self.port,
            listen: self.listen.clone(),
            memory_limit_mb: self.memory_limit_mb,
            conn_limit: self.conn_limit,
            threads: self.threads,
            cpus: self.cpus.clone(),
            max_item_size: self.max_item_size.clone(),
            udp_port: self.udp_port,
            disable_evictions: set(self.disable_evictions),
            disable_cas: set(self.disable_cas),
            verbose: (self.verbose > 0).then_some(self.verbose),
            metrics_port: self.metrics_port,
            listen_backlog: self.listen_backlog,
            enable_coredumps: set(self.enable_coredumps),
        })
    }

    /// The flags alone, over the defaults (no environment, no file).
    pub fn to_config(&self) -> Result<ServerConfig, String> {
        self.to_settings()?.check()
    }
}

/// `-V`: ringcache's version and the memcached protocol it speaks.
pub fn version_text() -> String {
    format!(
        "ringcache {} (memcached 1.6.18 text protocol)\n",
        crate::PACKAGE_VERSION
    )
}

/// `-i`: the license (memcached prints its own and libevent's).
pub fn license_text() -> String {
    format!(
        "ringcache {} is licensed under {} (at your option): the MIT license or the Apache \
         License, Version 2.0.\n",
        crate::PACKAGE_VERSION,
        env!("CARGO_PKG_LICENSE")
    )
}
