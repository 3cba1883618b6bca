//! `memory-compare`: runs the memory workloads against memcached and ringcache started with
//! the same flags, and prints a markdown table of the figures, ratios and targets.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use ringcache_bench::report::{render, Section};
use ringcache_bench::server::{common_flags, pin_self_to_cpu, Launch};
use ringcache_bench::workload::{calcification, capacity, ceiling, expiry, hitratio};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Capacity,
    Hitratio,
    Scan,
    Calcification,
    Expiry,
    Ceiling,
    All,
}

/// Share of requests going to never-repeated keys in the scan workload.
const SCAN_FRACTION: f64 = 0.2;

#[derive(Parser, Debug)]
#[command(about = "Side-by-side memory benchmark: ringcache against memcached")]
struct Args {
    /// The ringcache binary.
    #[arg(long)]
    ringcache: PathBuf,
    /// The memcached binary.
    #[arg(long, default_value = "/usr/bin/memcached")]
    memcached: PathBuf,
    #[arg(long, value_enum, default_value = "all")]
    workload: Workload,
    /// Small sizes (seconds per workload), for tests; figures are not meaningful.
    #[arg(long)]
    quick: bool,
    /// Also write the markdown report to this file.
    #[arg(long)]
    output_md: Option<PathBuf>,
    /// Seed of every random key sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// CPU the servers are pinned to (taskset -c).
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// CPU this client pins itself to.
    #[arg(long, default_value_t = 1)]
    client_cpu: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    for (what, path) in [
        ("ringcache", &args.ringcache),
        ("memcached", &args.memcached),
    ] {
        if !path.is_file() {
            eprintln!("memory-compare: --{what} {} is not a file", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = pin_self_to_cpu(args.client_cpu) {
        eprintln!(
            "memory-compare: cannot pin the client to CPU {}: {e}",
            args.client_cpu
        );
        return ExitCode::FAILURE;
    }
    let launch = Launch {
        ringcache_bin: args.ringcache.clone(),
        memcached_bin: args.memcached.clone(),
        server_cpu: args.server_cpu,
    };
    let wants = |w: Workload| args.workload == w || args.workload == Workload::All;
    let mut sections: Vec<Section> = Vec::new();
    if wants(Workload::Capacity) {
        sections.push(capacity::run(&launch, args.quick));
    }
    if wants(Workload::Hitratio) {
        sections.push(hitratio::run(&launch, args.quick, args.seed, 0.0));
    }
    if wants(Workload::Scan) {
        sections.push(hitratio::run(&launch, args.quick, args.seed, SCAN_FRACTION));
    }
    if wants(Workload::Calcification) {
        sections.push(calcification::run(&launch, args.quick, args.seed));
    }
    if wants(Workload::Expiry) {
        sections.push(expiry::run(&launch, args.quick));
    }
    if wants(Workload::Ceiling) {
        sections.push(ceiling::run(&launch, args.quick, args.seed));
    }
    let flags = common_flags(0, 0)
        .join(" ")
        .replace("-m 0", "-m M")
        .replace("-p 0", "-p PORT");
    let header = format!(
        "ringcache: `{}`; memcached: `{}` (its defaults otherwise{}); both started with `{flags}`, \
         pinned with `taskset -c {}`, one at a time; client on CPU {}; seed {}{}.",
        args.ringcache.display(),
        args.memcached.display(),
        ", `-u nobody` as root",
        args.server_cpu,
        args.client_cpu,
        args.seed,
        if args.quick { "; --quick sizes (figures not meaningful)" } else { "" },
    );
    let md = render(&header, &sections);
    print!("{md}");
    if let Some(path) = &args.output_md {
        if let Err(e) = std::fs::write(path, &md) {
            eprintln!("memory-compare: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
