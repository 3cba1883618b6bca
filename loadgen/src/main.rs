use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use ringcache_loadgen::cli::Args;
use ringcache_loadgen::report::{self, Report};
use ringcache_loadgen::run::{run_phase, Fleet, Phase};
use ringcache_loadgen::svg;
use ringcache_loadgen::sweep::{self, SweepPoint};
use ringcache_loadgen::workload::values::ValuePattern;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ringcache-loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    args.check()?;
    let fleet = Fleet::resolve(args)?;
    let pattern = Arc::new(ValuePattern::new(args.seed, args.value_size.max_bytes));
    if !args.no_prefill {
        let prefill = run_phase(args, &fleet, &pattern, Phase::Prefill, false)?;
        eprintln!(
            "prefill: {} keys set in {:.2}s, errors {}",
            prefill.stats.ops,
            prefill.measured_secs,
            prefill.stats.errors.total()
        );
    }
    let live = !args.quiet;
    let Some(sweep) = args.sweep else {
        let phase = Phase::Measure {
            rate_ops_per_sec: args.rate_ops_per_sec,
        };
        let outcome = run_phase(args, &fleet, &pattern, phase, live)?;
        let report = Report::new(args, &outcome);
        print!("{}", report.table());
        if let Some(path) = &args.output_json {
            report::write_json(path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        if let Some(path) = &args.hdr_log {
            report::write_hdr_log(path, &outcome)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        return Ok(());
    };
    let mut points = Vec::new();
    for rate in sweep.rates() {
        eprintln!("sweep: {rate:.0} ops/s");
        let phase = Phase::Measure {
            rate_ops_per_sec: Some(rate),
        };
        let outcome = run_phase(args, &fleet, &pattern, phase, live)?;
        let report = Report::new(args, &outcome);
        eprint!("{}", report.table());
        points.push(SweepPoint {
            target_ops_per_sec: rate,
            report,
        });
    }
    print!("{}", sweep::table(&points));
    if let Some(path) = &args.sweep_csv {
        std::fs::write(path, sweep::csv(&points))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let title = format!(
        "latency vs throughput: {} (threads {}, connections {}, get ratio {})",
        args.servers.join(", "),
        args.threads,
        args.connections,
        args.get_ratio
    );
    svg::write(&args.sweep_svg, &title, &points)?;
    eprintln!("sweep: plot written to {}", args.sweep_svg.display());
    if let Some(path) = &args.output_json {
        let reports: Vec<&Report> = points.iter().map(|p| &p.report).collect();
        report::write_json(path, &serde_json::json!({ "sweep": reports }))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
