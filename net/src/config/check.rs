//! Checking layered [`Settings`] into a [`ServerConfig`]: defaults, memcached's limits, the
//! cores this process may use, addresses. Each message names the flag and the TOML key and
//! says what to change.

use std::net::{SocketAddr, ToSocketAddrs};

use super::{ServerConfig, Settings};
use crate::route::SHARD_COUNT_MAX;

/// memcached's default TCP port (`-p`).
pub const PORT_DEFAULT: u16 = 11211;
/// Where ringcache listens by default (`-l`). memcached listens on every interface; ringcache,
/// like Debian's packaged memcached, only on loopback until told otherwise.
pub const LISTEN_DEFAULT: &str = "127.0.0.1";
/// memcached's default item memory (`-m`).
pub const MEMORY_LIMIT_MB_DEFAULT: u64 = 64;
/// memcached's default connection limit (`-c`).
pub const CONN_LIMIT_DEFAULT: u32 = 1024;
/// memcached's default largest item (`-I`).
pub const MAX_ITEM_SIZE_DEFAULT: &str = "1m";
/// memcached's default listen backlog (`-b`).
pub const LISTEN_BACKLOG_DEFAULT: u32 = 1024;
/// Smallest `-I` memcached accepts.
pub const ITEM_SIZE_MAX_LOWER_LIMIT_BYTES: usize = 1024;
/// Largest `-I` memcached accepts.
pub const ITEM_SIZE_MAX_UPPER_LIMIT_BYTES: usize = 1024 * 1024 * 1024;

impl Settings {
    /// Applies the defaults and checks every setting, with an operator-facing message on error.
    pub fn check(&self) -> Result<ServerConfig, String> {
        if self.udp_port.is_some_and(|port| port != 0) {
            return Err("UDP is not supported: run with -U 0 (udp_port = 0, the default)".into());
        }
        let cpus = self.checked_cpus()?;
        let threads = self.threads.unwrap_or(cpus.len() as u32);
        if threads == 0 {
            return Err("-t (threads) must be at least 1".into());
        }
        if threads as usize > SHARD_COUNT_MAX {
            return Err(format!(
                "-t (threads) {threads}: at most {SHARD_COUNT_MAX} shards are supported"
            ));
        }
        let conn_limit = self.conn_limit.unwrap_or(CONN_LIMIT_DEFAULT);
        if conn_limit == 0 {
            return Err("-c (conn_limit) must be at least 1".into());
        }
        let memory_limit_mb = self.memory_limit_mb.unwrap_or(MEMORY_LIMIT_MB_DEFAULT);
        let memory_limit_bytes = usize::try_from(memory_limit_mb)
            .ok()
            .and_then(|mb| mb.checked_mul(1024 * 1024))
            .filter(|&bytes| bytes > 0)
            .ok_or_else(|| {
                format!("-m (memory_limit_mb) {memory_limit_mb} is not a usable memory limit")
            })?;
        let item_size_max_bytes = self.checked_item_size(memory_limit_bytes)?;
        let listen_backlog_count = self.listen_backlog.unwrap_or(LISTEN_BACKLOG_DEFAULT);
        if listen_backlog_count > i32::MAX as u32 {
            return Err(format!(
                "-b (listen_backlog) {listen_backlog_count}: at most {} (the kernel caps it at \
                 net.core.somaxconn anyway)",
                i32::MAX
            ));
        }
        let port = self.port.unwrap_or(PORT_DEFAULT);
        let listen = self.listen.as_deref().unwrap_or(LISTEN_DEFAULT);
        Ok(ServerConfig {
            listen_addrs: resolve_listen(listen, port)?,
            memory_limit_bytes,
            conn_limit,
            shard_count: threads,
            cpus,
            item_size_max_bytes,
            evict_when_full: !self.disable_evictions.unwrap_or(false),
            cas_enabled: !self.disable_cas.unwrap_or(false),
            verbosity: u32::from(self.verbose.unwrap_or(0)),
            metrics_port: self.metrics_port,
            listen_backlog_count,
            coredumps_enabled: self.enable_coredumps.unwrap_or(false),
        })
    }

    /// `--cpus`, every one of which this process must be allowed to run on; by default all
    /// those it may run on.
    fn checked_cpus(&self) -> Result<Vec<usize>, String> {
        let allowed = crate::runtime::cpu::allowed_cpus()
            .map_err(|e| format!("cannot read this process's CPU affinity: {e}"))?;
        let Some(list) = &self.cpus else {
            return Ok(allowed);
        };
        let cpus = parse_cpu_list(list).map_err(|e| format!("--cpus {list}: {e}"))?;
        if let Some(cpu) = cpus.iter().find(|cpu| !allowed.contains(cpu)) {
            return Err(format!(
                "--cpus {list}: this process may not run on CPU {cpu} (allowed: {}); check \
                 taskset/CPUAffinity= or name other cores",
                format_cpu_list(&allowed)
            ));
        }
        Ok(cpus)
    }

    /// `-I`, with memcached's limits and messages.
    fn checked_item_size(&self, memory_limit_bytes: usize) -> Result<usize, String> {
        let text = self
            .max_item_size
            .as_deref()
            .unwrap_or(MAX_ITEM_SIZE_DEFAULT);
        let bytes = parse_size_bytes(text).map_err(|e| format!("-I (max_item_size): {e}"))?;
        let limit_error = if bytes < ITEM_SIZE_MAX_LOWER_LIMIT_BYTES {
            "Item max size cannot be less than 1024 bytes."
        } else if bytes > ITEM_SIZE_MAX_UPPER_LIMIT_BYTES {
            "Cannot set item size limit higher than 1 gigabyte."
        } else if bytes > memory_limit_bytes / 2 {
            "Cannot set item size limit higher than 1/2 of memory max."
        } else {
            return Ok(bytes);
        };
        Err(format!("-I (max_item_size) {text}: {limit_error}"))
    }
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

/// A size in the largest unit that divides it exactly (`1m`, `1536k`, `1000`):
/// `parse_size_bytes(&format_size(n)) == Ok(n)`.
pub fn format_size(bytes: usize) -> String {
    const MIB: usize = 1 << 20;
    const KIB: usize = 1 << 10;
    let text = if bytes > 0 && bytes % MIB == 0 {
        format!("{}m", bytes / MIB)
    } else if bytes > 0 && bytes % KIB == 0 {
        format!("{}k", bytes / KIB)
    } else {
        bytes.to_string()
    };
    debug_assert_eq!(parse_size_bytes(&text), Ok(bytes));
    text
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

/// The inverse of [`parse_cpu_list`] for an ascending list: `0-2,5,7-8`.
pub fn format_cpu_list(cpus: &[usize]) -> String {
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
            .map_err(|e| format!("-l (listen) {item}: cannot resolve ({e})"))?;
        let before = addrs.len();
        for addr in resolved {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.len() == before {
            return Err(format!("-l (listen) {item}: resolves to no address"));
        }
    }
    if addrs.is_empty() {
        return Err("-l (listen) names no address".into());
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_size_takes_suffixes() {
        assert_eq!(parse_size_bytes("2m"), Ok(2 << 20));
        assert_eq!(parse_size_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_size_bytes("4096"), Ok(4096));
        assert!(parse_size_bytes("12q").is_err());
    }

    #[test]
    fn sizes_print_in_the_largest_exact_unit() {
        for (bytes, text) in [(1 << 20, "1m"), (1536 << 10, "1536k"), (1000, "1000")] {
            assert_eq!(format_size(bytes), text);
            assert_eq!(parse_size_bytes(text), Ok(bytes));
        }
    }

    #[test]
    fn cpu_lists_parse_like_taskset() {
        assert_eq!(parse_cpu_list("2-5,8").unwrap(), vec![2, 3, 4, 5, 8]);
        assert_eq!(parse_cpu_list("1,0,1").unwrap(), vec![0, 1]);
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert!(parse_cpu_list("3-1").unwrap_err().contains("empty range"));
        assert!(parse_cpu_list("x").unwrap_err().contains("not a CPU"));
    }

    #[test]
    fn listen_items_take_ports_and_ipv6() {
        let addrs = resolve_listen("127.0.0.1,::1,127.0.0.2:3000,[::1]:4000", 2000).unwrap();
        let expected: Vec<SocketAddr> = [
            "127.0.0.1:2000",
            "[::1]:2000",
            "127.0.0.2:3000",
            "[::1]:4000",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        assert_eq!(addrs, expected);
        assert!(resolve_listen(" , ", 1).unwrap_err().contains("no address"));
    }
}
