//! One source's settings (the flags, the environment or the TOML file), every one optional so
//! that sources layer: `flags.over(env).over(file)`, then defaults in `check`.
//!
//! Names: the TOML key is the long flag's name with `_` and the unit where the flag has one
//! (`--memory-limit` → `memory_limit_mb`); the environment variable is [`ENV_PREFIX`] and the
//! key in capitals (`RINGCACHE_MEMORY_LIMIT_MB`). An empty environment variable counts as
//! unset, so an environment file may list every variable with blanks.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use super::check::{format_cpu_list, format_size};
use super::ServerConfig;

/// The prefix of every environment variable ringcache reads.
pub const ENV_PREFIX: &str = "RINGCACHE_";
/// The environment variable naming the `--config` file (the flag wins).
pub const ENV_CONFIG: &str = "RINGCACHE_CONFIG";
/// `RINGCACHE_TEST_*` belong to the test suites, not to the server.
const ENV_TEST_PREFIX: &str = "RINGCACHE_TEST_";
/// Extra command-line flags for the systemd unit (`ExecStart=... $RINGCACHE_OPTS`): systemd
/// expands it into arguments, so the server itself does not read it.
const ENV_OPTS: &str = "RINGCACHE_OPTS";

/// Every TOML key, in the order `--print-config` writes them.
pub const KEYS: &[&str] = &[
    "port",
    "listen",
    "memory_limit_mb",
    "conn_limit",
    "threads",
    "cpus",
    "max_item_size",
    "udp_port",
    "disable_evictions",
    "disable_cas",
    "verbose",
    "metrics_port",
    "listen_backlog",
    "enable_coredumps",
];

/// The settings one source gives, by TOML key (see the module docs for the names).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub port: Option<u16>,
    pub listen: Option<String>,
    pub memory_limit_mb: Option<u64>,
    pub conn_limit: Option<u32>,
    pub threads: Option<u32>,
    pub cpus: Option<String>,
    /// Bytes, or a string with a k/m/g suffix (`"1m"`): TOML accepts either.
    #[serde(default, deserialize_with = "size_text")]
    pub max_item_size: Option<String>,
    pub udp_port: Option<u16>,
    pub disable_evictions: Option<bool>,
    pub disable_cas: Option<bool>,
    pub verbose: Option<u8>,
    pub metrics_port: Option<u16>,
    pub listen_backlog: Option<u32>,
    pub enable_coredumps: Option<bool>,
}

impl Settings {
    /// Each setting from `self` where it is set, else from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        // Destructured so that a new field cannot be forgotten here.
        let Settings {
            port,
            listen,
            memory_limit_mb,
            conn_limit,
            threads,
            cpus,
            max_item_size,
            udp_port,
            disable_evictions,
            disable_cas,
            verbose,
            metrics_port,
            listen_backlog,
            enable_coredumps,
        } = self;
        Settings {
            port: port.or(lower.port),
            listen: listen.or(lower.listen),
            memory_limit_mb: memory_limit_mb.or(lower.memory_limit_mb),
            conn_limit: conn_limit.or(lower.conn_limit),
            threads: threads.or(lower.threads),
            cpus: cpus.or(lower.cpus),
            max_item_size: max_item_size.or(lower.max_item_size),
            udp_port: udp_port.or(lower.udp_port),
            disable_evictions: disable_evictions.or(lower.disable_evictions),
            disable_cas: disable_cas.or(lower.disable_cas),
            verbose: verbose.or(lower.verbose),
            metrics_port: metrics_port.or(lower.metrics_port),
            listen_backlog: listen_backlog.or(lower.listen_backlog),
            enable_coredumps: enable_coredumps.or(lower.enable_coredumps),
        }
    }

    /// Parses a TOML document; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e| format!("{origin}: {}", e.to_string().trim_end()))
    }

    /// Reads the configuration file; `source` says who named it in errors (`--config` or
    /// `RINGCACHE_CONFIG=`).
    pub fn from_file(path: &Path, source: &str) -> Result<Settings, String> {
        let origin = format!("{source}{}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| format!("{origin}: {e}"))?;
        Settings::from_toml(&text, &origin)
    }

    /// Sets `key` from an environment variable's text.
    fn set_from_env(&mut self, key: &str, var: &str, text: &str) -> Result<(), String> {
        match key {
            "port" => self.port = Some(number(var, text, "a TCP port (0-65535)")?),
            "listen" => self.listen = Some(text.to_string()),
            "memory_limit_mb" => {
                self.memory_limit_mb = Some(number(var, text, "a number of megabytes")?)
            }
            "conn_limit" => self.conn_limit = Some(number(var, text, "a connection count")?),
            "threads" => self.threads = Some(number(var, text, "a thread count")?),
            "cpus" => self.cpus = Some(text.to_string()),
            "max_item_size" => self.max_item_size = Some(text.to_string()),
            "udp_port" => self.udp_port = Some(number(var, text, "a UDP port (0-65535)")?),
            "disable_evictions" => self.disable_evictions = Some(boolean(var, text)?),
            "disable_cas" => self.disable_cas = Some(boolean(var, text)?),
            "verbose" => self.verbose = Some(number(var, text, "a verbosity level (0-255)")?),
            "metrics_port" => self.metrics_port = Some(number(var, text, "a TCP port (0-65535)")?),
            "listen_backlog" => {
                self.listen_backlog = Some(number(var, text, "a connection count")?)
            }
            "enable_coredumps" => self.enable_coredumps = Some(boolean(var, text)?),
            _ => unreachable!("{key} is in KEYS but has no environment parser"),
        }
        Ok(())
    }

    /// The settings `config` runs with, all of them set, as `--config` would read them.
    pub fn effective(&self, config: &ServerConfig) -> Settings {
        let port = self.port.unwrap_or(super::PORT_DEFAULT);
        let listen: Vec<String> = config
            .listen_addrs
            .iter()
            .map(|addr| match addr {
                std::net::SocketAddr::V6(v6) if v6.scope_id() != 0 => addr.to_string(),
                _ if addr.port() == port => addr.ip().to_string(),
                _ => addr.to_string(),
            })
            .collect();
        Settings {
            port: Some(port),
            listen: Some(listen.join(",")),
            memory_limit_mb: Some((config.memory_limit_bytes >> 20) as u64),
            conn_limit: Some(config.conn_limit),
            // Left out when not given: their defaults follow the host the server starts on
            // (see `print_config`), so a printed file stays right on a host of other cores.
            threads: self.threads.map(|_| config.shard_count),
            cpus: self.cpus.as_ref().map(|_| format_cpu_list(&config.cpus)),
            max_item_size: Some(format_size(config.item_size_max_bytes)),
            udp_port: Some(0),
            disable_evictions: Some(!config.evict_when_full),
            disable_cas: Some(!config.cas_enabled),
            verbose: Some(u8::try_from(config.verbosity).unwrap_or(u8::MAX)),
            metrics_port: config.metrics_port,
            listen_backlog: Some(config.listen_backlog_count),
            enable_coredumps: Some(config.coredumps_enabled),
        }
    }

    /// `--print-config`'s text: the effective settings of `self` (the merged layers, which
    /// check into `config`), with what the host-dependent defaults come to here as comments.
    pub fn print_config(&self, config: &ServerConfig) -> String {
        let mut text = self.effective(config).to_toml();
        if self.threads.is_none() {
            text.push_str(&format!(
                "# threads: {} here (default: one per CPU this process may run on)\n",
                config.shard_count
            ));
        }
        if self.cpus.is_none() {
            text.push_str(&format!(
                "# cpus: \"{}\" here (default: every CPU this process may run on)\n",
                format_cpu_list(&config.cpus)
            ));
        }
        text
    }

    /// The settings as a TOML document; unset ones as comments.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("plain keys and values serialize to TOML");
        let mut text = String::from(
            "# ringcache settings (ringcache --print-config); read back with --config FILE.\n",
        );
        text.push_str(&body);
        if self.metrics_port.is_none() {
            text.push_str("# metrics_port: off (set a port to serve GET /metrics)\n");
        }
        text
    }
}

/// The `RINGCACHE_*` environment variables, read once.
#[derive(Debug, Default)]
pub struct EnvSettings {
    pub settings: Settings,
    /// `RINGCACHE_CONFIG`.
    pub config_path: Option<std::path::PathBuf>,
    /// Unknown `RINGCACHE_*` variables (probably misspelt): told, not fatal, because other
    /// tools may share the prefix.
    pub warnings: Vec<String>,
}

impl EnvSettings {
    pub fn read(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Self, String> {
        let mut env = EnvSettings::default();
        let mut vars: Vec<(OsString, OsString)> = vars.into_iter().collect();
        vars.sort();
        for (name, value) in vars {
            let Some(var) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
                continue;
            };
            if var.starts_with(ENV_TEST_PREFIX) || var == ENV_OPTS {
                continue;
            }
            let text = value
                .to_str()
                .ok_or_else(|| format!("{var} is not valid UTF-8"))?
                .trim();
            if text.is_empty() {
                continue;
            }
            if var == ENV_CONFIG {
                env.config_path = Some(text.into());
                continue;
            }
            let key = var[ENV_PREFIX.len()..].to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) {
                env.settings.set_from_env(&key, var, text)?;
            } else {
                env.warnings.push(unknown_var_warning(var, &key));
            }
        }
        Ok(env)
    }
}

fn unknown_var_warning(var: &str, key: &str) -> String {
    let near = KEYS
        .iter()
        .find(|known| known.starts_with(key) || key.starts_with(*known));
    let hint = match near {
        Some(known) => format!(" (did you mean {ENV_PREFIX}{}?)", known.to_uppercase()),
        None => String::new(),
    };
    format!("{var} is not a ringcache setting and is ignored{hint}")
}

fn number<T: FromStr>(var: &str, text: &str, what: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{var}={text}: expected {what}"))
}

fn boolean(var: &str, text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "{var}={text}: expected true or false (or 1/0, yes/no, on/off)"
        )),
    }
}

/// `max_item_size` in TOML: a byte count (`1048576`) or a size string (`"1m"`).
fn size_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct SizeVisitor;
    impl Visitor<'_> for SizeVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size in bytes, or a string such as \"1m\" or \"512k\"")
        }
        fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<Self::Value, E> {
            Ok(Some(bytes.to_string()))
        }
        fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<Self::Value, E> {
            u64::try_from(bytes)
                .map(|b| Some(b.to_string()))
                .map_err(|_| E::custom(format!("{bytes} is not a size")))
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(text.to_string()))
        }
    }
    deserializer.deserialize_any(SizeVisitor)
}
