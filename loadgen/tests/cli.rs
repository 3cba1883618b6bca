//! Argument parsing: the small languages of the flags, and the checks across flags.

use std::time::Duration;

use clap::Parser;
use ringcache_loadgen::cli::{
    parse_duration, parse_key_distribution, parse_sweep, parse_value_size, Args, KeyDistribution,
    ValueSize,
};

fn args(extra: &[&str]) -> Result<Args, String> {
    let mut argv = vec!["ringcache-loadgen", "--server", "127.0.0.1:11211"];
    argv.extend(extra);
    let args = Args::try_parse_from(argv).map_err(|e| e.to_string())?;
    args.check()?;
    Ok(args)
}

#[test]
fn value_size_is_fixed_or_a_range() {
    assert_eq!(
        parse_value_size("100"),
        Ok(ValueSize {
            min_bytes: 100,
            max_bytes: 100
        })
    );
    assert_eq!(
        parse_value_size("64-1024"),
        Ok(ValueSize {
            min_bytes: 64,
            max_bytes: 1024
        })
    );
    assert!(parse_value_size("1024-64").is_err());
    assert!(parse_value_size("x").is_err());
    assert!(parse_value_size("64-").is_err());
    assert!(parse_value_size("2000000").is_err());
}

#[test]
fn key_distributions() {
    assert_eq!(
        parse_key_distribution("uniform"),
        Ok(KeyDistribution::Uniform)
    );
    assert_eq!(
        parse_key_distribution("sequential"),
        Ok(KeyDistribution::Sequential)
    );
    assert_eq!(
        parse_key_distribution("zipf:0.99"),
        Ok(KeyDistribution::Zipf(0.99))
    );
    assert!(parse_key_distribution("zipf").is_err());
    assert!(parse_key_distribution("zipf:0").is_err());
    assert!(parse_key_distribution("zipf:-1").is_err());
    assert!(parse_key_distribution("pareto").is_err());
}

#[test]
fn sweep_spec_lists_its_rates() {
    let sweep = parse_sweep("10000:50000:10000").unwrap();
    assert_eq!(
        sweep.rates(),
        vec![10000.0, 20000.0, 30000.0, 40000.0, 50000.0]
    );
    assert_eq!(parse_sweep("5:5:1").unwrap().rates(), vec![5.0]);
    assert!(parse_sweep("10:5:1").is_err());
    assert!(parse_sweep("10:20:0").is_err());
    assert!(parse_sweep("10:20").is_err());
    assert!(parse_sweep("0:20:1").is_err());
    assert!(parse_sweep("1:100000:1").is_err(), "too many steps");
}

#[test]
fn durations_take_units() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("s").is_err());
}

#[test]
fn whole_command_lines() {
    let a = args(&[
        "--threads",
        "2",
        "--connections",
        "8",
        "--pipeline",
        "4",
        "--rate",
        "50000",
        "--arrivals",
        "uniform",
        "--value-size",
        "64-1024",
        "--key-distribution",
        "zipf:0.99",
        "--get-ratio",
        "0.8",
        "--multiget",
        "10",
        "--validate",
        "--duration",
        "10s",
        "--warmup",
        "1s",
        "--seed",
        "42",
        "--cpus",
        "0,1",
    ])
    .unwrap();
    assert_eq!((a.threads, a.connections, a.pipeline_depth), (2, 8, 4));
    assert_eq!(a.rate_ops_per_sec, Some(50000.0));
    assert_eq!(
        a.value_size,
        ValueSize {
            min_bytes: 64,
            max_bytes: 1024
        }
    );
    assert_eq!(a.key_distribution, KeyDistribution::Zipf(0.99));
    assert_eq!(a.multiget_keys, 10);
    assert_eq!(a.cpus, vec![0, 1]);
    assert!(a.validate);
    // Defaults.
    let d = args(&[]).unwrap();
    assert_eq!(d.rate_ops_per_sec, None, "closed loop by default");
    assert_eq!(d.duration, Duration::from_secs(30));
    assert_eq!(d.warmup, Duration::from_secs(5));
    assert_eq!(
        d.value_size,
        ValueSize {
            min_bytes: 100,
            max_bytes: 100
        }
    );
    assert_eq!(d.get_ratio, 0.9);
    assert_eq!(d.poll_us, 100);
    assert_eq!(
        args(&["--poll-us", "0"]).unwrap().poll_us,
        0,
        "sleep at once"
    );
}

#[test]
fn inconsistent_command_lines_are_refused_with_the_fix() {
    let err = args(&["--threads", "4", "--connections", "2"]).unwrap_err();
    assert!(err.contains("--connections"), "{err}");
    let err = args(&["--keys", "100000", "--key-size", "4"]).unwrap_err();
    assert!(err.contains("--key-size"), "{err}");
    assert!(args(&["--get-ratio", "1.5"]).is_err());
    assert!(args(&["--multiget", "0"]).is_err());
    assert!(args(&["--pipeline", "0"]).is_err());
    assert!(args(&["--rate", "0"]).is_err());
    assert!(args(&["--sweep", "1:2:1", "--rate", "5"]).is_err());
    assert!(
        args(&["--poll-us", "5001"]).is_err(),
        "longer than any wait"
    );
    assert!(
        Args::try_parse_from(["ringcache-loadgen"]).is_err(),
        "--server is required"
    );
}
