//! Protocol rules checked against a real [`Session`] over a real `Store`: shared by the
//! cargo-fuzz target (`net/fuzz`), the proptest and the executor tests. Not a public API.
//!
//! Rules, for any input bytes and any way of splitting them into receives:
//! 1. the output is a sequence of well-formed replies (the client parser reads all of it,
//!    leaving nothing over);
//! 2. the output does not depend on how the input was split;
//! 3. `process` never reports more bytes consumed than it was given, and the runtime's
//!    pending input never has to exceed `INPUT_PENDING_MAX_BYTES`;
//! 4. the output for a prefix of the input is a prefix of the output for the whole input
//!    (nothing is answered before its request is complete, e.g. no `STORED` for an
//!    unfinished data block);
//! 5. a value block left unfinished when the connection closes stores nothing.

use ringcache_engine::{Clock, Config, Store};

use super::response::parse_response;
use crate::exec::{RuntimeSettings, ServerInfo, Session, ShardCtx, Step, INPUT_PENDING_MAX_BYTES};
use crate::route::board::StatsBoard;
use crate::route::{ConnId, Router};
use crate::stats::ShardStats;

/// Unix time the harness clock starts at (fixed: output must be reproducible).
pub const HARNESS_START_UNIX_SECS: i64 = 1_700_000_000;
pub const HARNESS_MEMORY_LIMIT_BYTES: usize = 16 << 20;
pub const HARNESS_ITEM_SIZE_MAX_BYTES: usize = 1 << 20;

/// One shard's worth of state, as the runtime would hold it.
pub struct Harness {
    pub store: Store,
    pub clock: Clock,
    pub stats: ShardStats,
    pub server: ServerInfo,
    pub settings: RuntimeSettings,
    pub route: Router,
    pub board: StatsBoard,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_memory(HARNESS_MEMORY_LIMIT_BYTES, HARNESS_ITEM_SIZE_MAX_BYTES)
    }

    pub fn with_memory(memory_limit_bytes: usize, item_size_max_bytes: usize) -> Harness {
        let config = Config {
            memory_limit_bytes,
            item_size_max_bytes,
            evict_when_full: true,
            cas_enabled: true,
            cas_first: 1,
            cas_step: 1,
        };
        Harness {
            store: Store::new(config).expect("harness store config"),
            clock: Clock::new(HARNESS_START_UNIX_SECS),
            stats: ShardStats::default(),
            server: ServerInfo {
                pid: 4242,
                version: "1.6.18",
                max_connections: 1024,
                threads: 1,
                item_size_max_bytes,
                memory_limit_bytes,
            },
            settings: RuntimeSettings::default(),
            route: Router::single(),
            board: StatsBoard::new(1),
        }
    }

    pub fn ctx(&mut self) -> ShardCtx<'_> {
        ShardCtx {
            store: &mut self.store,
            clock: &self.clock,
            stats: &mut self.stats,
            server: &self.server,
            settings: &mut self.settings,
            route: &mut self.route,
            board: &self.board,
            conn: ConnId::default(),
        }
    }
}

impl Default for Harness {
    fn default() -> Harness {
        Harness::new()
    }
}

/// What a run of a byte stream through a session produced.
#[derive(Debug, Default)]
pub struct Run {
    pub output: Vec<u8>,
    pub closed: bool,
    /// Most unconsumed input the runtime had to keep at once.
    pub pending_max_bytes: usize,
    /// A value block was still being received when the input ran out.
    pub receiving_at_end: bool,
    /// Number of `process` calls that returned `OutputFull`.
    pub output_full_count: usize,
}

/// Feeds `input` to `session` the way the runtime does, cut at `cuts` (sorted offsets), and
/// "sends" the output whenever `process` asks. Panics if `process` breaks rule 3.
pub fn run_cuts(harness: &mut Harness, session: &mut Session, input: &[u8], cuts: &[usize]) -> Run {
    let mut run = Run::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .chain([input.len()]);
    'chunks: for end in ends {
        if end < start {
            continue;
        }
        pending.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            let (consumed, step) = session.process(&pending, &mut out, &mut harness.ctx());
            assert!(
                consumed <= pending.len(),
                "consumed {consumed} of {}",
                pending.len()
            );
            pending.drain(..consumed);
            match step {
                Step::NeedInput => {
                    assert!(
                        pending.len() < INPUT_PENDING_MAX_BYTES,
                        "NeedInput with {} bytes pending",
                        pending.len()
                    );
                    run.pending_max_bytes = run.pending_max_bytes.max(pending.len());
                    break;
                }
                Step::OutputFull => {
                    run.output_full_count += 1;
                    run.output.append(&mut out);
                }
                Step::Close => {
                    run.closed = true;
                    break 'chunks;
                }
                Step::Blocked => panic!("a one-shard session never waits for another shard"),
            }
        }
    }
    run.output.append(&mut out);
    run.receiving_at_end = session.is_receiving_value();
    run
}

/// Runs `input` in chunks of `chunk_len` bytes on a fresh harness and session.
pub fn run_chunked(input: &[u8], chunk_len: usize) -> Run {
    let cuts: Vec<usize> = (1..)
        .map(|i| i * chunk_len.max(1))
        .take_while(|&c| c < input.len())
        .collect();
    let mut harness = Harness::new();
    let mut session = Session::new();
    run_cuts(&mut harness, &mut session, input, &cuts)
}

/// Rule 1: `output` parses completely as replies.
pub fn check_well_formed(output: &[u8]) -> Result<(), String> {
    let mut pos = 0;
    while pos < output.len() {
        match parse_response(&output[pos..]) {
            Ok(Some((_, len))) => pos += len,
            Ok(None) => return Err(format!("truncated reply at byte {pos}")),
            Err(e) => {
                let end = (pos + 80).min(output.len());
                return Err(format!(
                    "{e:?} at byte {pos}: {:?}",
                    String::from_utf8_lossy(&output[pos..end])
                ));
            }
        }
    }
    Ok(())
}

/// Lines whose content legitimately differs between runs (CPU time).
fn normalize(output: &[u8]) -> Vec<u8> {
    let mut normalized = Vec::with_capacity(output.len());
    for line in output.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"STAT rusage_") {
            normalized.extend_from_slice(b"STAT rusage_ <cpu time>\r\n");
        } else {
            normalized.extend_from_slice(line);
        }
    }
    normalized
}

/// Checks rules 1 to 5 for `input`, split at `cuts`; panics with a description on a breach.
pub fn check_session(input: &[u8], cuts: &[usize]) {
    let whole = {
        let mut harness = Harness::new();
        let mut session = Session::new();
        run_cuts(&mut harness, &mut session, input, &[])
    };
    if let Err(e) = check_well_formed(&whole.output) {
        panic!("rule 1 (well-formed output): {e}");
    }
    let mut sorted: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    sorted.sort_unstable();
    let mut harness = Harness::new();
    let mut session = Session::new();
    let split = run_cuts(&mut harness, &mut session, input, &sorted);
    assert_eq!(
        normalize(&split.output),
        normalize(&whole.output),
        "rule 2 (split-independent output), cuts {sorted:?}"
    );
    assert_eq!(
        split.closed, whole.closed,
        "rule 2 (split-independent close)"
    );

    // Rule 4: a prefix's output is a prefix of the whole output.
    if let Some(&cut) = sorted.first() {
        let prefix = {
            let mut harness = Harness::new();
            let mut session = Session::new();
            run_cuts(&mut harness, &mut session, &input[..cut], &[])
        };
        let (p, w) = (normalize(&prefix.output), normalize(&whole.output));
        assert!(
            w.starts_with(&p),
            "rule 4 (prefix output is a prefix), cut {cut}"
        );
    }

    // Rule 5: closing mid-value stores nothing.
    if split.receiving_at_end {
        let before = harness.store.stats();
        session.on_close(&mut harness.ctx());
        let after = harness.store.stats();
        assert_eq!(
            before.curr_items, after.curr_items,
            "rule 5: abort linked an item"
        );
        assert_eq!(
            before.total_items, after.total_items,
            "rule 5: abort linked an item"
        );
        assert!(!session.is_receiving_value());
    }
}
