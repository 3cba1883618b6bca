//! The server's configuration: memcached's flags with memcached's meanings, a TOML file and
//! `RINGCACHE_*` environment variables, checked once into a [`ServerConfig`].
//!
//! ```text
//!   command line ─► Args ──► Settings ─┐
//!   RINGCACHE_*  ──────────► Settings ─┼─► layered: flag > environment > file > default
//!   --config FILE (TOML) ──► Settings ─┘        │
//!                                               ▼  check (defaults, limits, CPUs, addresses)
//!                                         ServerConfig ─► Server::start, or --print-config
//! ```
//!
//! Goals: an operator moving from memcached keeps their flags, and every setting has one name
//! in three spellings: the long flag (`--memory-limit`), the TOML key (the long name with `_`
//! and its unit: `memory_limit_mb`) and the environment variable (`RINGCACHE_` + the key in
//! capitals: `RINGCACHE_MEMORY_LIMIT_MB`). `--print-config` writes the effective settings as a
//! file `--config` reads back (threads and CPUs only when given: their defaults follow the
//! host).
//!
//! Invariants: a memcached flag ringcache does not implement is refused with advice, never
//! ignored ([`refused`]); an unknown TOML key or an unparsable environment value is an error
//! naming it; [`ServerConfig`] is the only checked result, and nothing else reads the sources.
//!
//! Exit codes: 2 when the configuration is wrong (a refused, unknown or malformed flag, a bad
//! file or environment value, a value out of range), 0 after `-h`, `-V`, `-i` and
//! `--print-config`; the binary exits 1 when set-up on the host fails (see `runtime`).
//!
//! Non-goals: reloading the configuration while running; memcached's `-o` extended options.

mod args;
mod check;
pub mod refused;
mod settings;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::net::SocketAddr;

use clap::{CommandFactory, FromArgMatches};

pub use args::Args;
pub use check::{
    format_cpu_list, parse_cpu_list, parse_size_bytes, CONN_LIMIT_DEFAULT,
    ITEM_SIZE_MAX_LOWER_LIMIT_BYTES, ITEM_SIZE_MAX_UPPER_LIMIT_BYTES, LISTEN_BACKLOG_DEFAULT,
    LISTEN_DEFAULT, MAX_ITEM_SIZE_DEFAULT, MEMORY_LIMIT_MB_DEFAULT, PORT_DEFAULT,
};
pub use settings::{Settings, ENV_CONFIG, ENV_PREFIX, KEYS};

/// The exit code for a configuration the operator must correct (clap's code for usage errors).
pub const EXIT_CONFIG_ERROR: i32 = 2;

/// The checked configuration the server runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The listen(2) backlog of every listening socket (memcached `-b`).
    pub listen_backlog_count: u32,
    /// Raise the core file size limit at start-up so a crash leaves a core (memcached `-r`).
    pub coredumps_enabled: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Action {
    /// Run the server with this configuration.
    Serve(ServerConfig),
    /// Print this text on stdout and exit 0 (`-V`, `-i`, `--print-config`).
    Print(String),
}

/// Why the configuration cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// clap's own outcome: a malformed or unknown flag, or `-h` (which is not an error).
    Usage(clap::Error),
    /// A refused flag, a bad file or environment value, or a value out of range.
    Invalid(String),
}

impl From<String> for LoadError {
    fn from(message: String) -> LoadError {
        LoadError::Invalid(message)
    }
}

/// Reads the command line, the environment and the `--config` file of this process; prints
/// and exits on `-h`, `-V`, `-i`, `--print-config` and on any error, so the caller only ever
/// gets a configuration to serve.
pub fn load_or_exit() -> ServerConfig {
    match load(std::env::args_os(), std::env::vars_os()) {
        Ok((action, warnings)) => {
            for warning in warnings {
                eprintln!("ringcache: warning: {warning}");
            }
            match action {
                Action::Serve(config) => config,
                Action::Print(text) => {
                    print!("{text}");
                    std::process::exit(0);
                }
            }
        }
        Err(LoadError::Usage(e)) => e.exit(),
        Err(LoadError::Invalid(message)) => {
            eprintln!("ringcache: {message}");
            std::process::exit(EXIT_CONFIG_ERROR);
        }
    }
}

/// The clap command: [`Args`] plus memcached's flags that ringcache refuses.
pub fn command() -> clap::Command {
    refused::add_to(Args::command())
}

/// Parses `argv` (program name first) and layers it over `env` (`RINGCACHE_*`, the others are
/// skipped) and the `--config` file. Returns what to do and warnings for the operator.
pub fn load(
    argv: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<(Action, Vec<String>), LoadError> {
    let matches = command()
        .try_get_matches_from(argv)
        .map_err(LoadError::Usage)?;
    refused::check(&matches)?;
    let args = Args::from_arg_matches(&matches).map_err(LoadError::Usage)?;
    if args.version {
        return Ok((Action::Print(args::version_text()), Vec::new()));
    }
    if args.license {
        return Ok((Action::Print(args::license_text()), Vec::new()));
    }
    let from_flags = args.to_settings()?;
    let env = settings::EnvSettings::read(env)?;
    let from_file = match (&args.config, &env.config_path) {
        (Some(path), _) => Settings::from_file(path, "--config ")?,
        (None, Some(path)) => Settings::from_file(path, "RINGCACHE_CONFIG=")?,
        (None, None) => Settings::default(),
    };
    let merged = from_flags.over(env.settings).over(from_file);
    let config = merged.check()?;
    let action = if args.print_config {
        Action::Print(merged.print_config(&config))
    } else {
        Action::Serve(config)
    };
    Ok((action, env.warnings))
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
        if self.shard_count as usize > self.cpus.len() {
            warnings.push(format!(
                "-t {} puts {} shards on {} CPU(s): shards that share a CPU run in one thread, \
                 taking turns, and hand each other every request whose key the other owns \
                 (with two shards, about half of them), which costs more than serving it in \
                 place; one shard per CPU serves the most per core (-t {}, or name more CPUs \
                 with --cpus)",
                self.shard_count,
                self.shard_count,
                self.cpus.len(),
                self.cpus.len()
            ));
        }
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse().ok());
        warnings.extend(backlog_warning(self.listen_backlog_count, somaxconn));
        warnings
    }
}

/// The kernel silently shortens a listen backlog longer than `net.core.somaxconn`.
fn backlog_warning(backlog_count: u32, somaxconn: Option<u32>) -> Option<String> {
    let somaxconn = somaxconn?;
    (backlog_count > somaxconn).then(|| {
        format!(
            "-b {backlog_count}: the kernel caps the listen backlog at net.core.somaxconn = \
             {somaxconn}; raise it (sysctl -w net.core.somaxconn={backlog_count}, and in \
             /etc/sysctl.d/) or lower -b"
        )
    })
}
