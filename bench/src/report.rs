//! The markdown report: one table of every figure (memcached, ringcache, their ratio, the
//! target and whether it is met), the parameters of each workload, then per-workload details
//! such as the calcification curves.

use std::fmt::Write;

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub figure: String,
    pub memcached: String,
    pub ringcache: String,
    /// ringcache / memcached, where a ratio means something.
    pub ratio: Option<f64>,
    /// The target in words; empty for a figure that is only reported.
    pub target: String,
    /// `Some(true)` PASS, `Some(false)` FAIL, `None` no target.
    pub verdict: Option<bool>,
}

impl Row {
    /// A figure reported without a target.
    pub fn info(figure: &str, memcached: String, ringcache: String) -> Row {
        Row {
            figure: figure.into(),
            memcached,
            ringcache,
            ratio: None,
            target: String::new(),
            verdict: None,
        }
    }
}

/// What one workload contributes to the report.
#[derive(Clone, Debug)]
pub struct Section {
    pub workload: &'static str,
    /// The exact parameters, one line.
    pub params: String,
    pub rows: Vec<Row>,
    /// Extra markdown shown under the table (curves, notes).
    pub details: String,
}

/// Formats a number with up to `decimals` decimals.
pub fn num(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

/// `b / a`, or `None` when `a` is 0.
pub fn ratio(ringcache: f64, memcached: f64) -> Option<f64> {
    (memcached != 0.0).then(|| ringcache / memcached)
}

/// Renders the whole report.
pub fn render(header: &str, sections: &[Section]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# memory-compare\n\n{header}\n");
    md.push_str(
        "| workload | figure | memcached | ringcache | ringcache/memcached | target | verdict |\n",
    );
    md.push_str("| --- | --- | ---: | ---: | ---: | --- | --- |\n");
    for section in sections {
        for row in &section.rows {
            let ratio = row.ratio.map_or("-".to_string(), |r| format!("{r:.3}"));
            let verdict = match row.verdict {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "",
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                section.workload,
                row.figure,
                row.memcached,
                row.ringcache,
                ratio,
                row.target,
                verdict
            );
        }
    }
    md.push_str("\n## Parameters\n\n");
    for section in sections {
        let _ = writeln!(md, "- **{}**: {}", section.workload, section.params);
    }
    for section in sections.iter().filter(|s| !s.details.is_empty()) {
        let _ = write!(md, "\n## {}\n\n{}", section.workload, section.details);
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_one_line_per_row_with_verdicts() {
        let section = Section {
            workload: "capacity",
            params: "`-m 64`".into(),
            rows: vec![
                Row {
                    figure: "items kept".into(),
                    memcached: "100".into(),
                    ringcache: "150".into(),
                    ratio: ratio(150.0, 100.0),
                    target: "ratio >= 1.4".into(),
                    verdict: Some(true),
                },
                Row::info("evictions", "1".into(), "2".into()),
            ],
            details: "curve\n".into(),
        };
        let md = render("header", &[section]);
        assert!(md.contains("| capacity | items kept | 100 | 150 | 1.500 | ratio >= 1.4 | PASS |"));
        assert!(md.contains("| capacity | evictions | 1 | 2 | - |  |  |"));
        assert!(md.contains("- **capacity**: `-m 64`"));
        assert!(md.contains("## capacity\n\ncurve\n"));
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
