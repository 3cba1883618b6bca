//! `ringcache-tune`: inspects a Linux host for what ringcache needs and prints each finding
//! with what it saw and the fix.
//!
//! Goals
//! - One finding per check, always, in a fixed order ([`checks::CHECK_NAMES`]), so a script can
//!   rely on every name being present in `--json`.
//! - Judge by the server's own numbers: the listen backlog, the descriptor headroom and the ring
//!   sizes come from `ringcache-net`, and the shard cores are chosen the way the server chooses
//!   them (`--cpus`, `-t`, shard *i* on the *i*-th core, wrapping around).
//! - Every check reads files under a root directory ([`host::Host`]), so tests run the checks
//!   against fixture trees; only the io_uring probe, `getrlimit` and the CPU affinity come from
//!   the live process, and only when the root is `/`.
//!
//! Non-goals
//! - Changing anything. The checker prints commands; the operator runs them.
//! - Judging the process that will run ringcache when it is not this one: under systemd the
//!   unit's `LimitNOFILE=`, `LimitMEMLOCK=` and `CPUAffinity=` apply, not the shell's.
//!
//! Status: `ok` (as ringcache wants it), `info` (nothing to judge, or worth knowing),
//! `warn` (ringcache runs, slower or less predictably), `fail` (ringcache will not start, or
//! cannot run as configured). The exit status is 1 when any check fails ([`report::EXIT_FAIL`]).

pub mod checks;
pub mod cpus;
pub mod host;
pub mod plan;
pub mod report;

pub use host::Host;
pub use plan::Plan;
pub use report::{Finding, Report, Status};

/// Runs every check against `host` for the server `plan` describes.
pub fn inspect(host: &Host, plan: &Plan) -> Report {
    Report::new(host, plan, checks::run_all(host, plan))
}
