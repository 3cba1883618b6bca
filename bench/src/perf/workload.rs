//! The workloads of issue 7: each a variation of one base (90% gets, 10% sets, 100-byte values,
//! 32-byte keys, 32 connections, pipeline depth 1), closed loop for throughput and CPU per
//! operation, open loop for latency.

/// Value bytes of every set.
pub const VALUE_SIZE_BYTES: usize = 100;
/// Key bytes (the loadgen's `k` and a zero-padded number; memaslap's random keys).
pub const KEY_SIZE_BYTES: usize = 32;
/// Distinct keys the loadgen uses (each set once by its prefill).
pub const KEYS_COUNT: u64 = 100_000;
/// memaslap's task window per connection: 32 × 3k ≈ 96k objects, close to `KEYS_COUNT`.
pub const MEMASLAP_WINDOW: &str = "3k";

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Workload {
    /// 90% gets, 10% sets.
    #[serde(rename = "90-10")]
    Get90,
    /// 50% gets, 50% sets.
    #[serde(rename = "50-50")]
    Get50,
    /// 90/10 where every get asks for 10 keys in one `get` line.
    #[serde(rename = "multiget-10")]
    Multiget10,
    /// 90/10 with 16 requests outstanding per connection.
    #[serde(rename = "pipeline-16")]
    Pipeline16,
}

pub const ALL: [Workload; 4] = [
    Workload::Get90,
    Workload::Get50,
    Workload::Multiget10,
    Workload::Pipeline16,
];

impl Workload {
    /// Its name on the command line (`--workload`).
    pub fn id(self) -> &'static str {
        match self {
            Workload::Get90 => "90-10",
            Workload::Get50 => "50-50",
            Workload::Multiget10 => "multiget-10",
            Workload::Pipeline16 => "pipeline-16",
        }
    }

    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Workload::Get90 => "90/10 get/set",
            Workload::Get50 => "50/50 get/set",
            Workload::Multiget10 => "10-key multi-get (90/10)",
            Workload::Pipeline16 => "pipeline 16 (90/10)",
        }
    }

    pub fn from_id(id: &str) -> Option<Workload> {
        ALL.into_iter().find(|w| w.id() == id)
    }

    pub fn get_ratio(self) -> f64 {
        match self {
            Workload::Get50 => 0.5,
            _ => 0.9,
        }
    }

    pub fn keys_per_get(self) -> usize {
        match self {
            Workload::Multiget10 => 10,
            _ => 1,
        }
    }

    pub fn pipeline_depth(self) -> usize {
        match self {
            Workload::Pipeline16 => 16,
            _ => 1,
        }
    }

    /// Whether memaslap can run it: memaslap's ASCII mode keeps one request outstanding per
    /// connection, so it has no pipelined workload.
    pub fn memaslap_can_run(self) -> bool {
        self.pipeline_depth() == 1
    }
}

/// Parses a comma-separated list of workload ids, or `all`.
pub fn parse_list(text: &str) -> Result<Vec<Workload>, String> {
    if text == "all" {
        return Ok(ALL.to_vec());
    }
    text.split(',')
        .map(|id| {
            Workload::from_id(id.trim()).ok_or_else(|| {
                let known: Vec<_> = ALL.iter().map(|w| w.id()).collect();
                format!("unknown workload {id:?} (known: {}, all)", known.join(", "))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_lists_parse() {
        for w in ALL {
            assert_eq!(Workload::from_id(w.id()), Some(w));
        }
        assert_eq!(parse_list("all").unwrap(), ALL.to_vec());
        assert_eq!(
            parse_list("50-50,pipeline-16").unwrap(),
            vec![Workload::Get50, Workload::Pipeline16]
        );
        assert!(parse_list("90-10,nope").unwrap_err().contains("nope"));
    }

    #[test]
    fn only_the_pipelined_workload_lacks_memaslap() {
        let without: Vec<_> = ALL.into_iter().filter(|w| !w.memaslap_can_run()).collect();
        assert_eq!(without, vec![Workload::Pipeline16]);
    }
}
