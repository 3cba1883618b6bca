//! `perf-compare`: starts ringcache and memcached with the same flags, pinned to one core,
//! drives each in turn from another core with ringcache-loadgen and memaslap, and writes
//! `perf.md` (ratio tables), `perf.json` (every measurement) and `latency.svg`.
//! See bench/README.md and the `perf` module.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use ringcache_bench::perf::machine::Machine;
use ringcache_bench::perf::record::{Results, Settings};
use ringcache_bench::perf::summary::open_rows;
use ringcache_bench::perf::workload::{self, Workload};
use ringcache_bench::perf::{report, run, svg};

#[derive(Parser, Debug)]
#[command(about = "Side-by-side CPU/op, throughput and latency: ringcache against memcached")]
struct Args {
    /// Tiny durations, one repeat, the 90-10 workload at 1 shard (for tests; figures mean nothing).
    #[arg(long)]
    quick: bool,
    /// Directory for perf.md, perf.json and latency.svg.
    #[arg(long, default_value = "perf-out")]
    out: PathBuf,
    /// CPU the servers are pinned to.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// CPU the drivers are pinned to.
    #[arg(long, default_value_t = 1)]
    driver_cpu: usize,
    /// Repeats of every measurement [default: 3; --quick 1].
    #[arg(long)]
    repeats: Option<usize>,
    /// Measured time of every run (`10s`, `500ms`, `2m`) [default: 10s; --quick 1s].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Warm-up before every measured run [default: 2s; --quick 500ms].
    #[arg(long, value_parser = parse_duration)]
    warmup: Option<Duration>,
    /// Workloads, comma separated: 90-10, 50-50, multiget-10, pipeline-16, or all
    /// [default: all; --quick 90-10].
    #[arg(long)]
    workload: Option<String>,
    /// Shard counts (`-t`), comma separated [default: 1,2; --quick 1].
    #[arg(long)]
    shards: Option<String>,
    /// Open-loop rates in percent of memcached's closed-loop peak.
    #[arg(long, default_value = "50,70,90")]
    rates_percent: String,
    /// `-m` of both servers.
    #[arg(long, default_value_t = 1024)]
    memory_limit_mb: u64,
    /// `-c` of both servers.
    #[arg(long, default_value_t = 1024)]
    conn_limit: usize,
    /// Connections of each driver.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seed of the loadgen (repeat i uses seed + i).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The ringcache binary [default: next to this program].
    #[arg(long)]
    ringcache: Option<PathBuf>,
    /// The ringcache-loadgen binary [default: next to this program].
    #[arg(long)]
    loadgen: Option<PathBuf>,
    /// The memcached binary [default: from PATH].
    #[arg(long)]
    memcached: Option<PathBuf>,
    /// The memaslap binary [default: `memcaslap` (Debian's name) from PATH].
    #[arg(long)]
    memaslap: Option<PathBuf>,
    /// Measure nothing: render perf.md and latency.svg (and perf.json) into --out again from
    /// the perf.json of an earlier run.
    #[arg(long)]
    from_json: Option<PathBuf>,
}

/// `10s`, `500ms`, `2m`, `1.5s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit_secs) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(format!("{text:?}: give a unit (ms, s, m)"));
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_secs_f64(value * unit_secs))
}

fn parse_numbers<T: std::str::FromStr>(what: &str, text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|n| {
            n.trim()
                .parse()
                .map_err(|_| format!("--{what}: {n:?} is not a number"))
        })
        .collect()
}

/// A binary named on the command line, else next to this program.
fn sibling_binary(given: Option<PathBuf>, name: &str, build: &str) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return path.is_file().then_some(path.clone()).ok_or_else(|| {
            format!(
                "--{} {}: no such file",
                name.trim_start_matches("ringcache-"),
                path.display()
            )
        });
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{name} not found in {}: build it with `{build}`, or name it with --{}",
            dir.display(),
            name.trim_start_matches("ringcache-")
        ))
    }
}

/// A binary named on the command line, else `program` from PATH.
fn path_binary(
    given: Option<PathBuf>,
    flag: &str,
    program: &str,
    package: &str,
) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return path
            .is_file()
            .then_some(path.clone())
            .ok_or_else(|| format!("--{flag} {}: no such file", path.display()));
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!("`{program}` is not on PATH: install it with `apt-get install {package}`, or name it with --{flag}")
        })
}

/// CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data for which all-zero bytes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and the size passed is its own; pid 0 is this thread.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(
        rc,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, so CPU_ISSET stays inside `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

fn settings(args: Args) -> Result<Settings, String> {
    let quick = args.quick;
    let workloads = workload::parse_list(args.workload.as_deref().unwrap_or(if quick {
        "90-10"
    } else {
        "all"
    }))?;
    let shards_counts: Vec<usize> = parse_numbers(
        "shards",
        args.shards
            .as_deref()
            .unwrap_or(if quick { "1" } else { "1,2" }),
    )?;
    let rates_percent: Vec<u32> = parse_numbers("rates-percent", &args.rates_percent)?;
    if shards_counts.contains(&0) || rates_percent.contains(&0) {
        return Err("--shards and --rates-percent take positive numbers".into());
    }
    let allowed = allowed_cpus();
    for cpu in [args.server_cpu, args.driver_cpu] {
        if !allowed.contains(&cpu) {
            return Err(format!(
                "CPU {cpu} is not one this process may use ({allowed:?})"
            ));
        }
    }
    if args.server_cpu == args.driver_cpu {
        return Err("--server-cpu and --driver-cpu must differ: the driver must not share the server's core".into());
    }
    let (duration, warmup) = if quick {
        (Duration::from_secs(1), Duration::from_millis(500))
    } else {
        (Duration::from_secs(10), Duration::from_secs(2))
    };
    Ok(Settings {
        ringcache_bin: sibling_binary(
            args.ringcache,
            "ringcache",
            "cargo build --release -p ringcache-net --bin ringcache",
        )?,
        loadgen_bin: sibling_binary(
            args.loadgen,
            "ringcache-loadgen",
            "cargo build --release -p ringcache-loadgen",
        )?,
        memcached_bin: path_binary(args.memcached, "memcached", "memcached", "memcached")?,
        memaslap_bin: path_binary(args.memaslap, "memaslap", "memcaslap", "libmemcached-tools")?,
        out_dir: args.out,
        server_cpu: args.server_cpu,
        driver_cpu: args.driver_cpu,
        repeats_count: args.repeats.unwrap_or(if quick { 1 } else { 3 }).max(1),
        duration_ms: args.duration.unwrap_or(duration).as_millis() as u64,
        warmup_ms: args.warmup.unwrap_or(warmup).as_millis() as u64,
        workloads,
        shards_counts,
        rates_percent,
        memory_limit_mb: args.memory_limit_mb,
        conn_limit: args.conn_limit,
        connections_count: args.connections,
        seed: args.seed,
        quick,
    })
}

fn panels(results: &Results) -> Vec<svg::Panel> {
    let rows = open_rows(results);
    let mut panels = Vec::new();
    for &workload in &results.settings.workloads {
        for &shards_count in &results.settings.shards_counts {
            let mine: Vec<_> = rows
                .iter()
                .filter(|r| r.workload == workload && r.shards_count == shards_count)
                .collect();
            panels.push(svg::Panel {
                title: format!("{}, {shards_count} shard(s)", Workload::label(workload)),
                lines: svg::lines(&mine),
            });
        }
    }
    panels
}

fn write_outputs(results: &Results) -> Result<String, String> {
    let dir = &results.settings.out_dir;
    let md = report::render(results);
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
    };
    write("perf.md", md.as_bytes())?;
    let mut json = serde_json::to_value(results).map_err(|e| format!("perf.json: {e}"))?;
    json["summary"] = serde_json::json!({
        "closed": ringcache_bench::perf::summary::closed_rows(results),
        "open": open_rows(results),
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| format!("perf.json: {e}"))?;
    write("perf.json", text.as_bytes())?;
    svg::write(
        &dir.join("latency.svg"),
        &panels(results),
        results.settings.shards_counts.len(),
    )?;
    Ok(md)
}

fn quoted(arg: String) -> String {
    if arg.contains(|c: char| c.is_whitespace() || c == '\'') {
        format!("'{}'", arg.replace('\'', "'\\''"))
    } else {
        arg
    }
}

/// Reads an earlier run's perf.json, to be written into `out_dir`.
fn results_from_json(path: &Path, out_dir: PathBuf) -> Result<Results, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let mut results: Results =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    results.settings.out_dir = out_dir;
    Ok(results)
}

fn main() -> ExitCode {
    let command: Vec<String> = std::env::args().map(quoted).collect();
    let args = Args::parse();
    if let Some(path) = &args.from_json {
        let written = results_from_json(path, args.out.clone()).and_then(|results| {
            std::fs::create_dir_all(&args.out)
                .map_err(|e| format!("create {}: {e}", args.out.display()))?;
            write_outputs(&results)
        });
        return match written {
            Ok(md) => {
                print!("{md}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("perf-compare: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match settings(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("perf-compare: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&settings.out_dir) {
        eprintln!("perf-compare: create {}: {e}", settings.out_dir.display());
        return ExitCode::FAILURE;
    }
    let mut results = Results {
        command: command.join(" "),
        machine: Machine::at_start(&settings),
        settings,
        closed: Vec::new(),
        open: Vec::new(),
        peaks: Vec::new(),
        open_probes: Vec::new(),
    };
    if let Err(e) = run::run_all(&results.settings.clone(), &mut results) {
        eprintln!("perf-compare: {e}");
        return ExitCode::FAILURE;
    }
    results.machine.finish();
    match write_outputs(&results) {
        Ok(md) => print!("{md}"),
        Err(e) => {
            eprintln!("perf-compare: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "perf-compare: wrote perf.md, perf.json and latency.svg in {}",
        results.settings.out_dir.display()
    );
    if report::any_failure(&results) {
        eprintln!("perf-compare: some runs failed (see Notes in perf.md)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
