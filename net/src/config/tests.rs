//! The whole loader: every flag under both names, refusals, the layers and their precedence,
//! file and environment errors, `--print-config`'s round trip.

use std::ffi::OsString;
use std::path::PathBuf;

use super::*;

fn load_with(argv: &[&str], env: &[(&str, &str)]) -> Result<(Action, Vec<String>), LoadError> {
    let mut full = vec!["ringcache"];
    full.extend_from_slice(argv);
    let env: Vec<(OsString, OsString)> = env.iter().map(|(k, v)| (k.into(), v.into())).collect();
    load(full, env)
}

fn message(error: LoadError) -> String {
    match error {
        LoadError::Usage(e) => e.to_string(),
        LoadError::Invalid(message) => message,
    }
}

fn config_env(argv: &[&str], env: &[(&str, &str)]) -> Result<ServerConfig, String> {
    match load_with(argv, env).map_err(message)? {
        (Action::Serve(config), _) => Ok(config),
        (Action::Print(text), _) => panic!("{argv:?} printed {text:?} instead of serving"),
    }
}

fn config(argv: &[&str]) -> Result<ServerConfig, String> {
    config_env(argv, &[])
}

fn printed(argv: &[&str], env: &[(&str, &str)]) -> String {
    match load_with(argv, env).map_err(message).unwrap() {
        (Action::Print(text), _) => text,
        (Action::Serve(_), _) => panic!("{argv:?} did not print"),
    }
}

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "ringcache-config-test-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defaults_match_memcached() {
    let c = config(&[]).unwrap();
    assert_eq!(c.listen_addrs, vec!["127.0.0.1:11211".parse().unwrap()]);
    assert_eq!(c.memory_limit_bytes, 64 << 20);
    assert_eq!(c.conn_limit, 1024);
    assert_eq!(c.item_size_max_bytes, 1 << 20);
    assert_eq!(c.listen_backlog_count, 1024);
    let allowed = crate::runtime::cpu::allowed_cpus().unwrap();
    assert_eq!(
        c.shard_count as usize,
        allowed.len(),
        "one shard per usable CPU"
    );
    assert_eq!(c.cpus, allowed);
    assert!(c.evict_when_full && c.cas_enabled && !c.coredumps_enabled);
    assert_eq!((c.verbosity, c.metrics_port), (0, None));
}

/// Each flag, under its short name, its long name and `--long=value`, changes exactly the
/// setting it names.
#[test]
fn every_flag_under_both_names() {
    type Change = fn(&mut ServerConfig);
    let cases: &[(&[&str], &[&str], Change)] = &[
        (&["-p", "2000"], &["--port", "2000"], |c| {
            c.listen_addrs = vec!["127.0.0.1:2000".parse().unwrap()]
        }),
        (&["-l", "::1"], &["--listen", "::1"], |c| {
            c.listen_addrs = vec!["[::1]:11211".parse().unwrap()]
        }),
        (&["-m", "128"], &["--memory-limit", "128"], |c| {
            c.memory_limit_bytes = 128 << 20
        }),
        (&["-c", "10"], &["--conn-limit", "10"], |c| {
            c.conn_limit = 10
        }),
        (&["-t", "3"], &["--threads", "3"], |c| c.shard_count = 3),
        (&["-I", "2m"], &["--max-item-size", "2m"], |c| {
            c.item_size_max_bytes = 2 << 20
        }),
        (&["-U", "0"], &["--udp-port", "0"], |_| {}),
        (&["-M"], &["--disable-evictions"], |c| {
            c.evict_when_full = false
        }),
        (&["-C"], &["--disable-cas"], |c| c.cas_enabled = false),
        (&["-v"], &["--verbose"], |c| c.verbosity = 1),
        (&["-vv"], &["--verbose", "--verbose"], |c| c.verbosity = 2),
        (&["-b", "77"], &["--listen-backlog", "77"], |c| {
            c.listen_backlog_count = 77
        }),
        (&["-r"], &["--enable-coredumps"], |c| {
            c.coredumps_enabled = true
        }),
        (&["-B", "ascii"], &["--protocol", "ascii"], |_| {}),
        (&["-X"], &["--disable-dumping"], |_| {}),
        (&["-W"], &["--disable-watch"], |_| {}),
        (&["--cpus", "0"], &["--cpus=0"], |c| {
            (c.cpus, c.shard_count) = (vec![0], 1)
        }),
        (&["--metrics-port", "9150"], &["--metrics-port=9150"], |c| {
            c.metrics_port = Some(9150)
        }),
    ];
    let defaults = config(&[]).unwrap();
    for (short, long, change) in cases {
        let mut expected = defaults.clone();
        change(&mut expected);
        assert_eq!(config(short), Ok(expected.clone()), "{short:?}");
        assert_eq!(config(long), Ok(expected.clone()), "{long:?}");
        if let [name, value] = long {
            if value.starts_with('-') {
                continue;
            }
            let joined = format!("{name}={value}");
            assert_eq!(config(&[&joined]), Ok(expected), "{joined}");
        }
    }
}

#[test]
fn version_license_and_help_print() {
    for flag in ["-V", "--version"] {
        assert!(printed(&[flag], &[]).starts_with("ringcache "), "{flag}");
    }
    for flag in ["-i", "--license"] {
        assert!(printed(&[flag], &[]).contains("MIT"), "{flag}");
    }
    let Err(LoadError::Usage(help)) = load_with(&["-h"], &[]) else {
        panic!("-h is clap's help");
    };
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = help.to_string();
    for name in [
        "--port",
        "--memory-limit",
        "--print-config",
        "--config",
        "-d -u",
    ] {
        assert!(text.contains(name), "{name} missing from -h:\n{text}");
    }
    assert!(
        !text.contains("--daemon"),
        "refused flags are hidden from the options list"
    );
}

#[test]
fn only_the_text_protocol_is_accepted() {
    for protocol in ["binary", "auto"] {
        let error = config(&["-B", protocol]).unwrap_err();
        assert!(error.contains("use -B ascii"), "{error}");
    }
}

#[test]
fn unknown_and_malformed_flags_are_clap_errors() {
    use clap::error::ErrorKind;
    for (argv, kind) in [
        (&["-T"][..], ErrorKind::UnknownArgument),
        (&["--frobnicate"], ErrorKind::UnknownArgument),
        (&["-p", "x"], ErrorKind::ValueValidation),
        (&["-p", "70000"], ErrorKind::ValueValidation),
        (&["-m"], ErrorKind::InvalidValue),
    ] {
        match load_with(argv, &[]) {
            Err(LoadError::Usage(e)) => assert_eq!(e.kind(), kind, "{argv:?}: {e}"),
            other => panic!("{argv:?}: {other:?}"),
        }
    }
}

#[test]
fn item_size_limits_are_memcacheds() {
    let less = config(&["-I", "1000"]).unwrap_err();
    assert!(less.contains("less than 1024"), "{less}");
    let big = config(&["-I", "2g", "-m", "8192"]).unwrap_err();
    assert!(big.contains("1 gigabyte"), "{big}");
    let half = config(&["-I", "40m", "-m", "64"]).unwrap_err();
    assert!(
        half.contains("1/2 of memory") && half.contains("max_item_size"),
        "{half}"
    );
    assert!(config(&["-I", "12q"]).unwrap_err().contains("not a size"));
}

#[test]
fn udp_must_be_off() {
    assert!(config(&["-U", "11211"]).unwrap_err().contains("-U 0"));
}

#[test]
fn threads_and_cpus() {
    assert_eq!(
        config(&["-t", "4"]).unwrap().shard_count,
        4,
        "more shards than cores"
    );
    assert!(config(&["-t", "0"]).unwrap_err().contains("at least 1"));
    assert!(config(&["-t", "129"]).unwrap_err().contains("at most 128"));
    assert!(config(&["-c", "0"]).unwrap_err().contains("at least 1"));
    assert!(config(&["-m", "0"])
        .unwrap_err()
        .contains("memory_limit_mb"));
    let err = config(&["--cpus", "1000"]).unwrap_err();
    assert!(
        err.contains("may not run on CPU 1000") && err.contains("allowed: "),
        "{err}"
    );
    assert!(config(&["--cpus", "x"]).unwrap_err().contains("not a CPU"));
}

#[test]
fn small_shards_and_long_backlogs_are_warned_about() {
    assert!(config(&["-t", "1", "-m", "64"])
        .unwrap()
        .warnings()
        .is_empty());
    let warnings = config(&["-t", "4", "-m", "64"]).unwrap().warnings();
    assert!(warnings[0].contains("16 MiB per shard"), "{warnings:?}");
    assert_eq!(backlog_warning(1024, Some(4096)), None);
    assert_eq!(backlog_warning(8192, None), None);
    let warning = backlog_warning(8192, Some(4096)).unwrap();
    assert!(
        warning.contains("sysctl -w net.core.somaxconn=8192"),
        "{warning}"
    );
}

#[test]
fn shards_sharing_a_cpu_are_warned_about() {
    let shares = |args: &[&str]| {
        let warnings = config(args).unwrap().warnings();
        warnings.iter().any(|w| w.contains("share a CPU"))
    };
    assert!(!shares(&["-t", "1", "--cpus", "0", "-m", "1024"]));
    assert!(shares(&["-t", "2", "--cpus", "0", "-m", "1024"]));
}

/// Each layer beats the ones below it, setting by setting: flag > environment > file > default.
#[test]
fn precedence_is_flag_then_environment_then_file_then_default() {
    let file = TempFile::new(
        "precedence",
        "port = 1001\nmemory_limit_mb = 101\nconn_limit = 11\ndisable_cas = true\n",
    );
    let env = [
        ("RINGCACHE_CONFIG", file.path()),
        ("RINGCACHE_PORT", "2002"),
        ("RINGCACHE_MEMORY_LIMIT_MB", "202"),
    ];
    let c = config_env(&["-p", "3003"], &env).unwrap();
    assert_eq!(c.listen_addrs[0].port(), 3003, "flag over environment");
    assert_eq!(c.memory_limit_bytes, 202 << 20, "environment over file");
    assert_eq!(c.conn_limit, 11, "file over default");
    assert!(!c.cas_enabled, "file over default");
    assert_eq!(c.item_size_max_bytes, 1 << 20, "default");
    let c = config_env(
        &["--config", file.path()],
        &[("RINGCACHE_DISABLE_CAS", "false")],
    );
    assert!(
        c.unwrap().cas_enabled,
        "an environment false beats a file true"
    );
    let c = config_env(&["-C"], &[("RINGCACHE_DISABLE_CAS", "false")]).unwrap();
    assert!(!c.cas_enabled, "a flag beats the environment");
}

#[test]
fn every_key_reads_from_the_environment() {
    let env = [
        ("RINGCACHE_PORT", "2000"),
        ("RINGCACHE_LISTEN", "::1"),
        ("RINGCACHE_MEMORY_LIMIT_MB", "512"),
        ("RINGCACHE_CONN_LIMIT", "99"),
        ("RINGCACHE_THREADS", "3"),
        ("RINGCACHE_CPUS", "0"),
        ("RINGCACHE_MAX_ITEM_SIZE", "2m"),
        ("RINGCACHE_UDP_PORT", "0"),
        ("RINGCACHE_DISABLE_EVICTIONS", "yes"),
        ("RINGCACHE_DISABLE_CAS", "1"),
        ("RINGCACHE_VERBOSE", "2"),
        ("RINGCACHE_METRICS_PORT", "9150"),
        ("RINGCACHE_LISTEN_BACKLOG", "77"),
        ("RINGCACHE_ENABLE_COREDUMPS", "on"),
    ];
    assert_eq!(env.len(), KEYS.len(), "one variable per key");
    let from_env = config_env(&[], &env).unwrap();
    let from_flags = config(&[
        "-p",
        "2000",
        "-l",
        "::1",
        "-m",
        "512",
        "-c",
        "99",
        "-t",
        "3",
        "--cpus",
        "0",
        "-I",
        "2m",
        "-U",
        "0",
        "-M",
        "-C",
        "-vv",
        "--metrics-port",
        "9150",
        "-b",
        "77",
        "-r",
    ]);
    assert_eq!(Ok(from_env), from_flags);
}

#[test]
fn environment_errors_name_the_variable() {
    for (var, value) in [
        ("RINGCACHE_PORT", "abc"),
        ("RINGCACHE_THREADS", "-1"),
        ("RINGCACHE_DISABLE_CAS", "maybe"),
        ("RINGCACHE_METRICS_PORT", "99999"),
    ] {
        let error = message(load_with(&[], &[(var, value)]).unwrap_err());
        assert!(
            error.starts_with(&format!("{var}={value}: expected")),
            "{error}"
        );
    }
}

#[test]
fn environment_blanks_other_programs_and_typos() {
    let env = [
        ("RINGCACHE_PORT", ""),
        ("RINGCACHE_TEST_THREADS", "4"),
        ("RINGCACHE_OPTS", "--disable-cas"),
        ("RINGCACHE_MEMORY_LIMIT", "512"),
        ("PORT", "1"),
    ];
    let (action, warnings) = load_with(&[], &env).unwrap();
    let Action::Serve(c) = action else { panic!() };
    assert_eq!(
        c,
        config(&[]).unwrap(),
        "blank, test-only, the unit's RINGCACHE_OPTS and foreign variables change nothing"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("did you mean RINGCACHE_MEMORY_LIMIT_MB?"),
        "{warnings:?}"
    );
}

#[test]
fn config_file_errors_name_the_file_and_key() {
    let cases = [
        (
            "unknown",
            "memory_limit = 512\n",
            "unknown field `memory_limit`",
        ),
        ("type", "port = \"eleven\"\n", "port = \"eleven\""),
        ("range", "port = 70000\n", "port = 70000"),
        ("syntax", "port = \n", "port = "),
        ("size", "max_item_size = -5\n", "-5 is not a size"),
        ("section", "[server]\nport = 1\n", "unknown field `server`"),
    ];
    for (name, text, expected) in cases {
        let file = TempFile::new(name, text);
        let error = config(&["--config", file.path()]).unwrap_err();
        assert!(
            error.starts_with(&format!("--config {}: ", file.path())),
            "{error}"
        );
        assert!(error.contains(expected), "{name}: {error}");
    }
    let error = config(&["--config", "/nonexistent/ringcache.toml"]).unwrap_err();
    assert!(
        error.starts_with("--config /nonexistent/ringcache.toml: No such file"),
        "{error}"
    );
    let env = [("RINGCACHE_CONFIG", "/nonexistent/ringcache.toml")];
    let error = config_env(&[], &env).unwrap_err();
    assert!(
        error.starts_with("RINGCACHE_CONFIG=/nonexistent/ringcache.toml: "),
        "{error}"
    );
}

#[test]
fn config_file_sizes_are_bytes_or_text() {
    let file = TempFile::new("sizes", "max_item_size = 4096\n");
    assert_eq!(
        config(&["--config", file.path()])
            .unwrap()
            .item_size_max_bytes,
        4096
    );
    let file = TempFile::new("sizes-text", "max_item_size = \"512k\"\n");
    assert_eq!(
        config(&["--config", file.path()])
            .unwrap()
            .item_size_max_bytes,
        512 << 10
    );
}

#[test]
fn the_flag_names_the_file_over_the_environment() {
    let flag_file = TempFile::new("flag", "conn_limit = 7\n");
    let env_file = TempFile::new("env", "conn_limit = 8\n");
    let env = [("RINGCACHE_CONFIG", env_file.path())];
    assert_eq!(config_env(&[], &env).unwrap().conn_limit, 8);
    let c = config_env(&["--config", flag_file.path()], &env).unwrap();
    assert_eq!(c.conn_limit, 7);
}

/// What `--print-config` prints, `--config` reads back into the same configuration, and
/// printing that again gives the same text.
#[test]
fn print_config_round_trips() {
    let argvs: [&[&str]; 3] = [
        &[],
        &[
            "-p",
            "2000",
            "-l",
            "127.0.0.1,::1,127.0.0.2:3000",
            "-m",
            "128",
            "-c",
            "99",
            "-t",
            "2",
            "-I",
            "1536k",
            "-M",
            "-C",
            "-vv",
            "-b",
            "77",
            "-r",
            "--metrics-port",
            "9150",
        ],
        &["-I", "1500", "--cpus", "0"],
    ];
    for argv in argvs {
        let text = printed(&[argv, &["--print-config"]].concat(), &[]);
        let file = TempFile::new("round-trip", &text);
        assert_eq!(
            config(&["--config", file.path()]),
            config(argv),
            "{argv:?} printed:\n{text}"
        );
        assert_eq!(
            printed(&["--config", file.path(), "--print-config"], &[]),
            text
        );
    }
    let full = printed(
        &[
            "--metrics-port",
            "1",
            "-t",
            "2",
            "--cpus",
            "0",
            "--print-config",
        ],
        &[],
    );
    for key in KEYS {
        assert!(
            full.contains(&format!("\n{key} = ")),
            "{key} missing:\n{full}"
        );
    }
    assert!(printed(&["--print-config"], &[]).contains("# metrics_port: off"));
}

/// Threads and CPUs not given are left to the host the file is used on: `--print-config`
/// names what they come to here only in comments.
#[test]
fn print_config_leaves_host_defaults_to_the_host() {
    let here = config(&[]).expect("the defaults check");
    let text = printed(&["--print-config"], &[]);
    for key in ["threads", "cpus"] {
        assert!(!text.contains(&format!("\n{key} = ")), "{key} set:\n{text}");
    }
    for comment in [
        format!("# threads: {} here (default: one per CPU", here.shard_count),
        format!(
            "# cpus: \"{}\" here (default: every CPU",
            format_cpu_list(&here.cpus)
        ),
    ] {
        assert!(text.contains(&comment), "{comment} missing:\n{text}");
    }
    // Given, they are printed as given, and the comments go.
    let text = printed(&["-t", "3", "--print-config"], &[]);
    assert!(
        text.contains("\nthreads = 3\n") && !text.contains("# threads:"),
        "{text}"
    );
    assert!(text.contains("# cpus: "), "{text}");
}

#[test]
fn args_alone_still_check_into_a_config() {
    use clap::Parser;
    let args = Args::try_parse_from(["ringcache", "-m", "128"]).unwrap();
    assert_eq!(args.to_config().unwrap().memory_limit_bytes, 128 << 20);
}
