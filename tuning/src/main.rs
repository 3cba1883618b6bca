//! `ringcache-tune`: prints each finding about this host with its fix.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use ringcache_tune::plan::CONN_LIMIT_DEFAULT;
use ringcache_tune::{cpus, inspect, Host, Plan};

/// Checks this host for what ringcache needs and prints each finding with its fix.
#[derive(Parser, Debug)]
#[command(
    name = "ringcache-tune",
    version,
    after_help = "Exit status: 0 when no check fails (warnings may remain), 1 when a check \
                  fails (ringcache will not start, or not as configured), 2 on a usage error."
)]
struct Args {
    /// The cores ringcache's shards run on, as its --cpus (e.g. 2-5,8) [default: every CPU
    /// this process may use]
    #[arg(long, value_name = "LIST")]
    cpus: Option<String>,
    /// ringcache's -c: simultaneous connections
    #[arg(short = 'c', long, value_name = "N", default_value_t = CONN_LIMIT_DEFAULT)]
    conn_limit: u32,
    /// ringcache's -t: shards [default: one per core in --cpus]
    #[arg(short = 't', long, value_name = "N")]
    threads: Option<u32>,
    /// Print a JSON report instead of a table
    #[arg(long)]
    json: bool,
    /// Read /proc and /sys under DIR (the io_uring probe and getrlimit only run when DIR is /;
    /// otherwise limits come from DIR/proc/self/limits)
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
}

fn usage_error(message: String) -> ! {
    Args::command()
        .error(ErrorKind::ValueValidation, message)
        .exit()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let host = Host::new(&args.root)
        .unwrap_or_else(|e| usage_error(format!("--root {}: {e}", args.root.display())));
    let (cpus, from_flag) = match &args.cpus {
        Some(list) => match cpus::parse_list(list) {
            Ok(cpus) if !cpus.is_empty() => (cpus, true),
            Ok(_) => usage_error(format!("--cpus '{list}' names no CPU")),
            Err(e) => usage_error(format!("--cpus {list}: {e}")),
        },
        None => match host.allowed_cpus().or_else(|| host.online_cpus()) {
            Some(cpus) if !cpus.is_empty() => (cpus, false),
            // A tree without either file: judge for one shard on CPU 0.
            _ => (vec![0], false),
        },
    };
    let plan = Plan::new(cpus, from_flag, args.threads, args.conn_limit)
        .unwrap_or_else(|e| usage_error(e));
    let report = inspect(&host, &plan);
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    ExitCode::from(report.exit_code() as u8)
}
