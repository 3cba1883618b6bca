//! memcached 1.6.18's flags that ringcache does not implement: each is parsed (so a value it
//! takes is not mistaken for something else) and refused with what to do instead. None is
//! ever silently ignored.
//!
//! The table covers every option `memcached -h` lists, under the same short and long names;
//! the flags ringcache implements are in [`super::Args`].

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// One refused memcached flag.
#[derive(Debug)]
pub struct Refused {
    pub short: char,
    /// memcached's long name, if it has one (`-D` has none).
    pub long: Option<&'static str>,
    /// clap's id for the argument (the long name, or a description).
    pub id: &'static str,
    /// Whether memcached's flag takes a value (which is consumed and shown in the message).
    pub takes_value: bool,
    /// What memcached's flag does, and what to do instead with ringcache.
    pub advice: &'static str,
}

const fn refused(
    short: char,
    long: Option<&'static str>,
    id: &'static str,
    takes_value: bool,
    advice: &'static str,
) -> Refused {
    Refused {
        short,
        long,
        id,
        takes_value,
        advice,
    }
}

/// Shown after `-h`.
pub const HELP_TEXT: &str = "memcached flags that ringcache refuses, each with what to do \
instead: -d -u -s -a -k -P -f -n -L -D -R -S -Y -Z -F -A -e -o -N (see README, Flags).";

const NO_AUTH: &str = "ringcache has no authentication: keep it on a private network (-l) \
behind a firewall";

#[rustfmt::skip]
pub const REFUSED: &[Refused] = &[
    refused('d', Some("daemon"), "daemon", false,
        "ringcache stays in the foreground: run it under systemd \
        (tuning/systemd/ringcache.service) or another supervisor"),
    refused('u', Some("user"), "user", true,
        "ringcache does not switch users: start it as the user it should run as \
        (User= or DynamicUser=yes in the systemd unit)"),
    refused('s', Some("unix-socket"), "unix-socket", true,
        "ringcache listens on TCP only: for local clients use -l 127.0.0.1 -p PORT"),
    refused('a', Some("unix-mask"), "unix-mask", true,
        "ringcache has no unix socket to set a mask on: it listens on TCP only (-l, -p)"),
    refused('k', Some("lock-memory"), "lock-memory", false,
        "ringcache does not lock its memory: to keep the cache out of swap, turn swap off on \
        the host or set MemorySwapMax=0 in the systemd unit"),
    refused('P', Some("pidfile"), "pidfile", true,
        "memcached writes the pid file only with -d, which ringcache does not have: systemd \
        tracks the process itself (systemctl show -p MainPID ringcache)"),
    refused('f', Some("slab-growth-factor"), "slab-growth-factor", true,
        "ringcache's size classes are fixed (fine-grained, with memory moving between them): \
        remove -f"),
    refused('n', Some("slab-min-size"), "slab-min-size", true,
        "ringcache's size classes are fixed (fine-grained, with memory moving between them): \
        remove -n"),
    refused('L', Some("enable-largepages"), "enable-largepages", false,
        "ringcache does not ask for large pages: leave transparent huge pages to the host \
        (see tuning/, ringcache-tune) and remove -L"),
    refused('D', None, "stats-prefix-delimiter", true,
        "ringcache keeps no per-prefix statistics (stats detail): remove -D"),
    refused('R', Some("max-reqs-per-event"), "max-reqs-per-event", true,
        "ringcache bounds the work for one connection per loop turn by its read buffer, not \
        by a request count: remove -R"),
    refused('S', Some("enable-sasl"), "enable-sasl", false,
        NO_AUTH),
    refused('Y', Some("auth-file"), "auth-file", true,
        NO_AUTH),
    refused('Z', Some("enable-ssl"), "enable-ssl", false,
        "ringcache has no TLS: put a TLS proxy (stunnel, HAProxy) in front of it, or keep it \
        on a private network"),
    refused('F', Some("disable-flush-all"), "disable-flush-all", false,
        "ringcache always allows flush_all: keep clients you do not trust away from it with \
        -l and a firewall"),
    refused('A', Some("enable-shutdown"), "enable-shutdown", false,
        "ringcache has no shutdown command: stop it with SIGTERM (systemctl stop ringcache)"),
    refused('e', Some("memory-file"), "memory-file", true,
        "ringcache's cache does not survive a restart: remove -e"),
    refused('o', Some("extended"), "extended", true,
        "ringcache has no extended options; its settings are the flags in ringcache --help"),
    refused('N', Some("napi-ids"), "napi-ids", true,
        "ringcache does not group connections by NAPI id: each shard accepts on its own \
        SO_REUSEPORT socket; remove -N"),
];

/// Adds every refused flag to `command`, hidden from `-h` (which names them after the options).
pub fn add_to(command: Command) -> Command {
    REFUSED.iter().fold(command, |command, flag| {
        let mut arg = Arg::new(flag.id).short(flag.short).hide(true);
        if let Some(long) = flag.long {
            arg = arg.long(long);
        }
        arg = if flag.takes_value {
            // 0..=1 so that a bare `-P` still reaches the refusal rather than clap's
            // "a value is required".
            arg.action(ArgAction::Append)
                .num_args(0..=1)
                .default_missing_value("")
        } else {
            arg.action(ArgAction::Count)
        };
        command.arg(arg)
    })
}

/// The first refused flag on the command line, as the message the operator sees.
pub fn check(matches: &ArgMatches) -> Result<(), String> {
    let first = REFUSED
        .iter()
        // Count flags have a default (0): only what the command line gave counts.
        .filter(|flag| matches.value_source(flag.id) == Some(ValueSource::CommandLine))
        .filter_map(|flag| Some((matches.index_of(flag.id)?, flag)))
        .min_by_key(|&(index, _)| index);
    let Some((_, flag)) = first else {
        return Ok(());
    };
    let value = if flag.takes_value {
        matches
            .get_many::<String>(flag.id)
            .and_then(|mut values| values.next().cloned())
            .filter(|value| !value.is_empty())
    } else {
        None
    };
    Err(flag.message(value.as_deref()))
}

impl Refused {
    /// `-d (--daemon)`, or `-D` for a flag without a long name.
    pub fn name(&self) -> String {
        match self.long {
            Some(long) => format!("-{} (--{long})", self.short),
            None => format!("-{}", self.short),
        }
    }

    /// The refusal: which flag, that ringcache does not support it, and what to do instead.
    pub fn message(&self, value: Option<&str>) -> String {
        let shown = match value {
            Some(value) => format!("{} {value}", self.name()),
            None => self.name(),
        };
        let mut message = format!(
            "{shown}: memcached's flag is not supported by ringcache: {}",
            self.advice
        );
        if self.short == 'o' {
            if let Some(hints) = value.map(extended_hints).filter(|h| !h.is_empty()) {
                message.push_str(" (");
                message.push_str(&hints.join("; "));
                message.push(')');
            }
        }
        message
    }
}

/// What ringcache does instead of each memcached `-o` option in `list`, where it has an answer.
fn extended_hints(list: &str) -> Vec<String> {
    list.split(',')
        .map(|option| option.split('=').next().unwrap_or("").trim())
        .filter(|name| !name.is_empty())
        .filter_map(|name| {
            let hint = match name.trim_start_matches("no_") {
                "maxconns_fast" => {
                    "ringcache always answers a connection over -c with an \
                                    error and closes it"
                }
                "modern" => "1.6's defaults are ringcache's",
                "hashpower" | "no_hashexpand" => "the index is sized from -m at start-up",
                "idle_timeout" => "idle connections are not closed",
                n if n.starts_with("ext_") => "there is no external storage (extstore)",
                n if n.starts_with("ssl_") => "there is no TLS",
                n if n.starts_with("lru_")
                    || n.starts_with("slab_")
                    || n.ends_with("_lru_pct")
                    || n.ends_with("_max_factor") =>
                {
                    "eviction is S3-FIFO per size class with no tuning knobs"
                }
                _ => return None,
            };
            Some(format!("{name}: {hint}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal `argv` (after the program name) gets.
    fn refusal(argv: &[&str]) -> String {
        let argv = std::iter::once("ringcache").chain(argv.iter().copied());
        let matches = super::super::command()
            .try_get_matches_from(argv)
            .expect("clap parses it");
        check(&matches).expect_err("refused")
    }

    #[test]
    fn every_refused_flag_is_refused_under_both_names_with_advice() {
        for flag in REFUSED {
            let short = format!("-{}", flag.short);
            let mut spellings = vec![vec![short.clone()]];
            if let Some(long) = flag.long {
                spellings.push(vec![format!("--{long}")]);
            }
            if flag.takes_value {
                spellings = spellings
                    .into_iter()
                    .map(|mut argv| {
                        argv.push("x".into());
                        argv
                    })
                    .collect();
                // A bare flag still reaches the refusal.
                spellings.push(vec![short.clone()]);
            }
            for argv in spellings {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let error = refusal(&argv);
                assert!(
                    error.starts_with(&short) && error.contains("not supported"),
                    "{argv:?}: {error}"
                );
                assert!(error.contains(flag.advice), "{argv:?}: {error}");
            }
        }
    }

    #[test]
    fn refusals_name_the_first_refused_flag_with_its_value() {
        let error = refusal(&["-p", "1", "-u", "memcache", "-d"]);
        assert!(error.starts_with("-u (--user) memcache: "), "{error}");
        let error = refusal(&["-vd"]);
        assert!(error.starts_with("-d (--daemon): "), "{error}");
        assert!(
            error.contains("tuning/systemd/ringcache.service"),
            "{error}"
        );
        let error = refusal(&["-o", "modern,hashpower=20"]);
        assert!(
            error.contains("modern: ") && error.contains("hashpower: "),
            "{error}"
        );
    }

    #[test]
    fn every_refused_flag_is_named_in_help() {
        for flag in REFUSED {
            assert!(
                HELP_TEXT.contains(&format!("-{} ", flag.short)),
                "-{} missing from HELP_TEXT",
                flag.short
            );
        }
        assert_eq!(HELP_TEXT.matches(" -").count(), REFUSED.len());
    }

    #[test]
    fn extended_options_get_hints() {
        let hints = extended_hints("modern,ext_path=/x:1G,no_lru_crawler,unheard_of");
        assert_eq!(hints.len(), 3, "{hints:?}");
        assert!(hints[0].starts_with("modern: "));
        assert!(hints[1].contains("extstore"));
        assert!(hints[2].contains("S3-FIFO"));
    }
}
