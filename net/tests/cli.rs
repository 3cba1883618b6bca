//! The `ringcache` binary's command line end to end: exit codes and messages, refusals, the
//! configuration layers and `--print-config`'s round trip. Set-up errors are in `cli_setup.rs`.
//! Every server listens on 127.0.0.1 on a free port and is killed when its test ends.

mod cli_support;

use cli_support::{free_port, ringcache, run, Running};

#[test]
fn help_version_and_license_exit_0_on_stdout() {
    let help = run(&mut ringcache(&["-h"]));
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    for text in [
        "--memory-limit",
        "--conn-limit",
        "--print-config",
        "-d -u -s",
    ] {
        assert!(
            help.stdout.contains(text),
            "{text} missing:\n{}",
            help.stdout
        );
    }
    let version = run(&mut ringcache(&["-V"]));
    assert_eq!(version.code, Some(0));
    assert!(
        version.stdout.starts_with("ringcache 0."),
        "{}",
        version.stdout
    );
    let license = run(&mut ringcache(&["--license"]));
    assert_eq!(license.code, Some(0));
    assert!(
        license.stdout.contains("MIT OR Apache-2.0"),
        "{}",
        license.stdout
    );
}

#[test]
fn refused_and_unknown_flags_exit_2_with_the_reason() {
    for (args, expected) in [
        (&["-d"][..], "ringcache: -d (--daemon): "),
        (&["--daemon"], "tuning/systemd/ringcache.service"),
        (&["-u", "memcache"], "ringcache: -u (--user) memcache: "),
        (&["-S"], "no authentication"),
        (&["-o", "modern"], "extended options"),
        (&["-B", "binary"], "use -B ascii"),
        (&["-T"], "unexpected argument '-T'"),
        (&["-p", "port"], "invalid value 'port'"),
    ] {
        let outcome = run(&mut ringcache(args));
        assert_eq!(outcome.code, Some(2), "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(outcome.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    let outcome = run(ringcache(&["--print-config"]).env("RINGCACHE_PORT", "abc"));
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("RINGCACHE_PORT=abc"),
        "{}",
        outcome.stderr
    );
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-bad.toml", std::process::id()));
    std::fs::write(&file, "threads = 1\nconn_limt = 5\n").unwrap();
    let outcome = run(&mut ringcache(&["--config", file.to_str().unwrap()]));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("unknown field `conn_limt`"),
        "{}",
        outcome.stderr
    );
    let outcome = run(&mut ringcache(&["--cpus", "1000"]));
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("may not run on CPU 1000 (allowed: "),
        "{}",
        outcome.stderr
    );
}

/// `--print-config` writes what `--config` reads back: printing again gives the same text, and
/// the layers show through (flag over environment over file).
#[test]
fn print_config_round_trips_through_the_binary() {
    let printed = run(
        ringcache(&["-m", "256", "-c", "99", "-M", "--print-config"])
            .env("RINGCACHE_MEMORY_LIMIT_MB", "128")
            .env("RINGCACHE_THREADS", "1")
            .env("RINGCACHE_MAX_ITEM_SIZE", "512k"),
    );
    assert_eq!(printed.code, Some(0), "{}", printed.stderr);
    let text = printed.stdout;
    for line in [
        "memory_limit_mb = 256",
        "threads = 1",
        "max_item_size = \"512k\"",
        "disable_evictions = true",
        "conn_limit = 99",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-trip.toml", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let again = run(&mut ringcache(&[
        "--config",
        file.to_str().unwrap(),
        "--print-config",
    ]));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(again.stdout, text);
}

/// The server runs what the file and the environment say (seen through `stats settings`).
#[test]
fn the_server_runs_the_file_and_the_environment() {
    let port = free_port();
    let file = std::env::temp_dir().join(format!("ringcache-cli-{}-run.toml", std::process::id()));
    let toml = format!(
        "port = {port}\nlisten = \"127.0.0.1\"\nthreads = 1\nmemory_limit_mb = 32\n\
         conn_limit = 50\ndisable_cas = true\n"
    );
    std::fs::write(&file, toml).unwrap();
    let mut command = ringcache(&["-B", "ascii", "-X", "-W"]);
    command
        .env("RINGCACHE_CONFIG", &file)
        .env("RINGCACHE_CONN_LIMIT", "60");
    let server = Running::start(command, port);
    std::fs::remove_file(&file).unwrap();
    let settings = server.ask("stats settings\r\n");
    for line in [
        "STAT maxbytes 33554432\r\n",
        "STAT maxconns 60\r\n",
        "STAT cas_enabled no\r\n",
        "STAT num_threads 1\r\n",
    ] {
        assert!(settings.contains(line), "{line:?} missing:\n{settings}");
    }
    // -X: no key is ever listed, and the refusal is memcached -X's.
    let refused = "CLIENT_ERROR stats cachedump not allowed\r\n";
    let dump = server.ask_until("set secret 0 0 1\r\nx\r\nstats cachedump 1 0\r\n", refused);
    assert_eq!(dump, format!("STORED\r\n{refused}"));
    assert!(settings.contains("STAT dump_enabled no\r\n"), "{settings}");
}
