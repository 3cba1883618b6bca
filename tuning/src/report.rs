//! Findings, their summary, and the two ways to print them: a table for people and `--json`
//! for scripts.
//!
//! `--json` prints one object:
//! `{"root", "plan": {...}, "findings": [{"check", "status", "observed", "fix"}], "summary":
//! {"ok", "info", "warn", "fail", "exit_code"}}`; `fix` is `null` when there is nothing to do.

use serde::Serialize;

use crate::cpus::format_list;
use crate::{Host, Plan};

/// Columns the table wraps at.
pub const TEXT_WIDTH_MAX: usize = 100;

/// Nothing failed (warnings and notes may remain).
pub const EXIT_OK: i32 = 0;
/// At least one check failed: ringcache will not start, or not as configured.
pub const EXIT_FAIL: i32 = 1;
/// The command line was wrong (clap's own code for usage errors).
pub const EXIT_USAGE: i32 = 2;

/// How a check came out, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As ringcache wants it.
    Ok,
    /// Nothing to judge (not present, not readable, not live), or worth knowing.
    Info,
    /// ringcache runs, but slower or less predictably.
    Warn,
    /// ringcache will not start, or not as configured.
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// What one check saw, and what to do about it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub status: Status,
    pub observed: String,
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(check: &'static str, status: Status, observed: impl Into<String>) -> Finding {
        Finding {
            check,
            status,
            observed: observed.into(),
            fix: None,
        }
    }

    pub fn ok(check: &'static str, observed: impl Into<String>) -> Finding {
        Finding::new(check, Status::Ok, observed)
    }

    pub fn info(check: &'static str, observed: impl Into<String>) -> Finding {
        Finding::new(check, Status::Info, observed)
    }

    pub fn warn(
        check: &'static str,
        observed: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding::new(check, Status::Warn, observed).with_fix(fix)
    }

    pub fn fail(
        check: &'static str,
        observed: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding::new(check, Status::Fail, observed).with_fix(fix)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// Counts per status and the exit status they lead to.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub info: usize,
    pub warn: usize,
    pub fail: usize,
    pub exit_code: i32,
}

/// The plan as reported, with what it needs.
#[derive(Clone, Debug, Serialize)]
pub struct PlanReport {
    pub shard_count: u32,
    pub shard_cores: Vec<usize>,
    pub cpus_from_flag: bool,
    pub conn_limit: u32,
    pub nofile_needed_count: u64,
}

/// Every finding for one host and plan.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub root: String,
    pub plan: PlanReport,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Report {
    pub fn new(host: &Host, plan: &Plan, findings: Vec<Finding>) -> Report {
        let count = |status| findings.iter().filter(|f| f.status == status).count();
        let fail = count(Status::Fail);
        let summary = Summary {
            ok: count(Status::Ok),
            info: count(Status::Info),
            warn: count(Status::Warn),
            fail,
            exit_code: if fail > 0 { EXIT_FAIL } else { EXIT_OK },
        };
        assert_eq!(
            summary.ok + summary.info + summary.warn + summary.fail,
            findings.len()
        );
        Report {
            root: host.root().display().to_string(),
            plan: PlanReport {
                shard_count: plan.shard_count,
                shard_cores: plan.shard_cores.clone(),
                cpus_from_flag: plan.cpus_from_flag,
                conn_limit: plan.conn_limit,
                nofile_needed_count: plan.nofile_needed_count(),
            },
            findings,
            summary,
        }
    }

    /// The finding of `check`; every check has exactly one.
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    pub fn exit_code(&self) -> i32 {
        self.summary.exit_code
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// A table: status, check, what was seen, and the fix below it, wrapped at
    /// [`TEXT_WIDTH_MAX`] columns.
    pub fn to_text(&self) -> String {
        const CHECK_WIDTH: usize = 19;
        const FIX_LABEL: &str = "fix: ";
        let indent = " ".repeat(4 + 2 + CHECK_WIDTH + 2);
        let mut text = format!(
            "ringcache-tune: {} shard{} on CPUs {}, -c {} (needs {} open files); host {}\n\n",
            self.plan.shard_count,
            if self.plan.shard_count == 1 { "" } else { "s" },
            format_list(&self.plan.shard_cores),
            self.plan.conn_limit,
            self.plan.nofile_needed_count,
            self.root,
        );
        for finding in &self.findings {
            let observed = wrap(&finding.observed, TEXT_WIDTH_MAX - indent.len());
            for (index, line) in observed.iter().enumerate() {
                if index == 0 {
                    text.push_str(&format!(
                        "{:<4}  {:<CHECK_WIDTH$}  {line}\n",
                        finding.status.as_str(),
                        finding.check,
                    ));
                } else {
                    text.push_str(&format!("{indent}{line}\n"));
                }
            }
            if let Some(fix) = &finding.fix {
                let width = TEXT_WIDTH_MAX - indent.len() - FIX_LABEL.len();
                for (index, line) in wrap(fix, width).iter().enumerate() {
                    let label = if index == 0 { FIX_LABEL } else { "     " };
                    text.push_str(&format!("{indent}{label}{line}\n"));
                }
            }
        }
        let s = &self.summary;
        text.push_str(&format!(
            "\n{} ok, {} info, {} warn, {} fail: exit status {}\n",
            s.ok, s.info, s.warn, s.fail, s.exit_code
        ));
        text
    }
}

/// Splits `text` into lines of at most `width` characters at spaces (a longer word gets a
/// line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    assert!(width > 0);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let text = "a shard core below performance clocks down between bursts and answers slower";
        let lines = wrap(text, 20);
        assert!(lines.iter().all(|line| line.len() <= 20), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(
            wrap("unbreakable-long-word x", 5),
            ["unbreakable-long-word", "x"]
        );
    }

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(Status::Ok < Status::Info && Status::Info < Status::Warn);
        assert!(Status::Warn < Status::Fail);
    }
}
