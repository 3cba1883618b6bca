//! The server's command line: memcached's flags with memcached's meanings and defaults.
//!
//! Flags memcached has and ringcache implements are accepted under the same short and long
//! names. Values are checked here, once, with messages that tell the operator what to change.

use std::net::{SocketAddr, ToSocketAddrs};

use clap::{ArgAction, Parser};

use crate::route::SHARD_COUNT_MAX;

/// Smallest `-I` memcached accepts.
pub const ITEM_SIZE_MAX_LOWER_LIMIT_BYTES: usize = 1024;
/// Largest `-I` memcached accepts.
pub const ITEM_SIZE_MAX_UPPER_LIMIT_BYTES: usize = 1024 * 1024 * 1024;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ringcache",
    version = crate::PACKAGE_VERSION,
    about = "A memcached-compatible cache server: thread-per-core, shared-nothing, io_uring.",
    disable_version_flag = true
)]
pub struct Args {
    /// TCP port to listen on.
    #[arg(short = 'p', long = "port", default_value_t = 11211)]
    pub port: u16,

    /// UDP port: only 0 (off) is supported, as in memcached 1.6's default.
    #[arg(short = 'U', long = "udp-port", default_value_t = 0)]
    pub udp_port: u16,

    /// Interface(s) to listen on, comma separated (default 127.0.0.1).
    #[arg(short = 'l', long = "listen", default_value = "127.0.0.1")]
    pub listen: String,

    /// Item memory in megabytes.
    #[arg(short = 'm', long = "memory-limit", default_value_t = 64)]
    pub memory_limit_mb: u64,

    /// Maximum simultaneous connections.
    #[arg(short = 'c', long = "conn-limit", default_value_t = 1024)]
    pub conn_limit: u32,

    /// Number of shards (threads), each pinned to one core [default: the number of CPUs
    /// this process may run on, or of --cpus].
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,

    /// Cores to pin the shards to, e.g. `2-5,8` (shard i runs on the i-th, wrapping around
    /// when there are more shards than cores) [default: every CPU the process may run on].
    #[arg(long = "cpus", value_name = "LIST")]
    pub cpus: Option<String>,

    /// Largest item, with an optional k or m suffix (memcached -I).
    #[arg(short = 'I', long = "max-item-size", default_value = "1m")]
    pub max_item_size: String,

    /// Return an error when memory is exhausted instead of evicting (memcached -M).
    #[arg(short = 'M', long = "disable-evictions")]
    pub disable_evictions: bool,

    /// Disable CAS: every CAS value is 0 (memcached -C).
    #[arg(short = 'C', long = "disable-cas")]
    pub disable_cas: bool,

    /// Verbose logging to stderr (-v, -vv).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Print the version and exit.
    #[arg(short = 'V', long = "version")]
    pub version: bool,

    /// Serve Prometheus metrics over HTTP (`GET /metrics`) on this port [default: off].
    #[arg(long = "metrics-port", value_name = "PORT")]
    pub metrics_port: Option<u16>,
}

/// The checked configuration the server runs with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen_addrs: Vec<SocketAddr>,
    pub memory_limit_bytes: usize,
    pub conn_limit: u32,
    pub shard_count: u32,
    /// The core of each shard: shard i runs on `cpus[i % cpus.len()]`.
    pub cpus: Vec<usize>,
    pub item_size_max_bytes: usize,
    pub evict_when_full: bool,
    pub cas_enabled: bool,
    pub verbosity: u32,
    /// Where `GET /metrics` is served (the first listen address's IP), if anywhere.
    pub metrics_port: Option<u16>,
}

/// Parses a size such as `1048576`, `512k`, `2m` or `1g` (memcached's `-I` syntax).
pub fn parse_size_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit_bytes) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1024),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1024 * 1024),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    let count: usize = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size: use bytes or a number with k, m or g"))?;
    count
        .checked_mul(unit_bytes)
        .ok_or_else(|| format!("'{text}' is too large"))
}

impl Args {
    /// Checks the flags and resolves addresses, with an operator-facing message on error.
    pub fn to_config(&self) -> Result<ServerConfig, String> {
        if self.udp_port != 0 {
            return Err("UDP is not supported: run with -U 0 (the default)".into());
        }
        let allowed = crate::runtime::cpu::allowed_cpus()
            .map_err(|e| format!("cannot read this process's CPU affinity: {e}"))?;
        let cpus = match &self.cpus {
            None => allowed,
            Some(list) => {
                let cpus = parse_cpu_list(list).map_err(|e| format!("--cpus {list}: {e}"))?;
                if let Some(cpu) = cpus.iter().find(|cpu| !allowed.contains(cpu)) {
                    return Err(format!(
                        "--cpus {list}: this process may not run on CPU {cpu} (allowed: {}); \
                         check taskset/CPUAffinity= or name other cores",
                        format_cpu_list(&allowed)
                    ));
                }
                cpus
            }
        };
        let threads = self.threads.unwrap_or(cpus.len() as u32);
        if threads == 0 {
            return Err("-t must be at least 1".into());
        }
        if threads as usize > SHARD_COUNT_MAX {
            return Err(format!(
                "-t {threads}: at most {SHARD_COUNT_MAX} shards are supported"
            ));
        }
        if self.conn_limit == 0 {
            return Err("-c must be at least 1".into());
        }
        let memory_limit_bytes = usize::try_from(self.memory_limit_mb)
            .ok()
            .and_then(|mb| mb.checked_mul(1024 * 1024))
            .filter(|&bytes| bytes > 0)
            .ok_or_else(|| {
                format!(
                    "-m {} is not a usable memory limit in megabytes",
                    self.memory_limit_mb
                )
            })?;
        let item_size_max_bytes =
            parse_size_bytes(&self.max_item_size).map_err(|e| format!("-I: {e}"))?;
        if item_size_max_bytes < ITEM_SIZE_MAX_LOWER_LIMIT_BYTES {
            return Err("Item max size cannot be less than 1024 bytes.".into());
        }
        if item_size_max_bytes > ITEM_SIZE_MAX_UPPER_LIMIT_BYTES {
            return Err("Cannot set item size limit higher than 1 gigabyte.".into());
        }
        if item_size_max_bytes > memory_limit_bytes / 2 {
            return Err("Cannot set item size limit higher than 1/2 of memory max.".into());
        }
        let listen_addrs = resolve_listen(&self.listen, self.port)?;
        Ok(ServerConfig {
            listen_addrs,
            memory_limit_bytes,
            conn_limit: self.conn_limit,
            shard_count: threads,
            cpus,
            item_size_max_bytes,
            evict_when_full: !self.disable_evictions,
            cas_enabled: !self.disable_cas,
            verbosity: u32::from(self.verbose),
            metrics_port: self.metrics_port,
        })
    }
}

/// Below this many MiB of `-m` per shard, items of many different sizes compete for too few
/// 1 MiB pages (each size class in use needs at least one) and evict each other early.
pub const SHARD_MEMORY_COMFORT_MIB: usize = 64;

impl ServerConfig {
    /// Advice printed at start-up (the settings work, but may not be what the operator wants).
    pub fn warnings(&self) -> Vec<String> {
        let shard_mib = (self.memory_limit_bytes / self.shard_count as usize) >> 20;
        let mut warnings = Vec::new();
        if self.shard_count > 1 && shard_mib < SHARD_MEMORY_COMFORT_MIB {
            warnings.push(format!(
                "-m {} over {} shards leaves {shard_mib} MiB per shard: each size class in use \
                 takes whole 1 MiB pages, so items of many sizes will evict each other early; \
                 give each shard at least {SHARD_MEMORY_COMFORT_MIB} MiB (raise -m or lower -t)",
                self.memory_limit_bytes >> 20,
                self.shard_count
            ));
        }
        warnings
    }
}

/// Parses a CPU list such as `0-3,8,10-11` (as in taskset and /sys): ascending, no repeats.
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |t: &str| {
            t.parse::<usize>()
                .map_err(|_| format!("'{part}' is not a CPU number or range"))
        };
        let (first, last) = (parse(first)?, parse(last)?);
        if first > last {
            return Err(format!("'{part}' is an empty range"));
        }
        if last >= libc::CPU_SETSIZE as usize {
            return Err(format!("CPU {last} is beyond what Linux numbers"));
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn format_cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Resolves memcached's `-l` list (`host`, `host:port`, `[v6]:port`, comma separated).
fn resolve_listen(list: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    let mut addrs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let with_port = if item.parse::<SocketAddr>().is_ok() {
            item.to_string()
        } else if item.contains(':') && !item.starts_with('[') && item.matches(':').count() > 1 {
            format!("[{item}]:{default_port}")
        } else if item
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            && !item.ends_with(']')
        {
            item.to_string()
        } else {
            format!("{item}:{default_port}")
        };
        let resolved = with_port
            .to_socket_addrs()
            .map_err(|e| format!("-l {item}: cannot resolve ({e})"))?;
        let before = addrs.len();
        for addr in resolved {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.len() == before {
            return Err(format!("-l {item}: resolves to no address"));
        }
    }
    if addrs.is_empty() {
        return Err("-l names no address".into());
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(argv: &[&str]) -> Result<ServerConfig, String> {
        let mut full = vec!["ringcache"];
        full.extend_from_slice(argv);
        Args::try_parse_from(full)
            .map_err(|e| e.to_string())?
            .to_config()
    }

    #[test]
    fn defaults_match_memcached() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen_addrs, vec!["127.0.0.1:11211".parse().unwrap()]);
        assert_eq!(c.memory_limit_bytes, 64 << 20);
        assert_eq!(c.conn_limit, 1024);
        assert_eq!(c.item_size_max_bytes, 1 << 20);
        let allowed = crate::runtime::cpu::allowed_cpus().unwrap();
        assert_eq!(
            c.shard_count as usize,
            allowed.len(),
            "one shard per usable CPU"
        );
        assert_eq!(c.cpus, allowed);
        assert!(c.evict_when_full && c.cas_enabled);
    }

    #[test]
    fn item_size_takes_suffixes() {
        assert_eq!(parse_size_bytes("2m"), Ok(2 << 20));
        assert_eq!(parse_size_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_size_bytes("4096"), Ok(4096));
        assert!(parse_size_bytes("12q").is_err());
        assert_eq!(config(&["-I", "2m"]).unwrap().item_size_max_bytes, 2 << 20);
    }

    #[test]
    fn item_size_limits_are_memcacheds() {
        assert!(config(&["-I", "1000"])
            .unwrap_err()
            .contains("less than 1024"));
        assert!(config(&["-I", "2g", "-m", "8192"])
            .unwrap_err()
            .contains("1 gigabyte"));
        assert!(config(&["-I", "40m", "-m", "64"])
            .unwrap_err()
            .contains("1/2 of memory"));
    }

    #[test]
    fn udp_must_be_off() {
        assert!(config(&["-U", "0"]).is_ok());
        assert!(config(&["-U", "11211"]).unwrap_err().contains("-U 0"));
    }

    #[test]
    fn threads_and_cpus() {
        assert_eq!(config(&["-t", "1"]).unwrap().shard_count, 1);
        assert_eq!(
            config(&["-t", "4"]).unwrap().shard_count,
            4,
            "more shards than cores is allowed"
        );
        assert!(config(&["-t", "0"]).unwrap_err().contains("at least 1"));
        assert!(config(&["-t", "129"]).unwrap_err().contains("at most 128"));
        let c = config(&["--cpus", "0"]).unwrap();
        assert_eq!((c.shard_count, c.cpus.clone()), (1, vec![0]));
        let err = config(&["--cpus", "1000"]).unwrap_err();
        assert!(err.contains("may not run on CPU 1000"), "{err}");
        assert!(config(&["--cpus", "3-1"])
            .unwrap_err()
            .contains("empty range"));
        assert!(config(&["--cpus", "x"]).unwrap_err().contains("not a CPU"));
    }

    #[test]
    fn small_shards_are_warned_about() {
        assert!(config(&["-t", "1", "-m", "64"])
            .unwrap()
            .warnings()
            .is_empty());
        assert!(config(&["-t", "2", "-m", "128"])
            .unwrap()
            .warnings()
            .is_empty());
        let warnings = config(&["-t", "4", "-m", "64"]).unwrap().warnings();
        assert!(warnings[0].contains("16 MiB per shard"), "{warnings:?}");
    }

    #[test]
    fn cpu_lists_parse_like_taskset() {
        assert_eq!(parse_cpu_list("2-5,8").unwrap(), vec![2, 3, 4, 5, 8]);
        assert_eq!(parse_cpu_list("1,0,1").unwrap(), vec![0, 1]);
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
    }

    #[test]
    fn listen_list_and_ports() {
        let c = config(&["-l", "127.0.0.1,::1", "-p", "2000"]).unwrap();
        assert_eq!(
            c.listen_addrs,
            vec![
                "127.0.0.1:2000".parse().unwrap(),
                "[::1]:2000".parse().unwrap()
            ]
        );
        let c = config(&["-l", "127.0.0.1:3000"]).unwrap();
        assert_eq!(c.listen_addrs, vec!["127.0.0.1:3000".parse().unwrap()]);
    }

    #[test]
    fn long_names_work() {
        let c = config(&[
            "--port",
            "1234",
            "--memory-limit",
            "128",
            "--conn-limit",
            "10",
        ])
        .unwrap();
        assert_eq!(c.listen_addrs[0].port(), 1234);
        assert_eq!(c.memory_limit_bytes, 128 << 20);
        assert_eq!(c.conn_limit, 10);
    }

    #[test]
    fn verbosity_counts() {
        assert_eq!(config(&["-vv"]).unwrap().verbosity, 2);
    }
}
