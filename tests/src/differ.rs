//! Runs the same requests against a reference server and a server under test and compares the
//! masked replies (see [`crate::mask`]).
//!
//! Each step is sent on one connection per server, followed by the `mn` sentinel, and the
//! replies up to `MN` are compared. When a step ends with `quit` (or a server closes the
//! connection) both sides reconnect.

use std::fmt;
use std::time::Duration;

use crate::conn::{count_mn_lines, show, Conn, Replies};
use crate::edges;
use crate::gen::{Gen, Step};
use crate::mask::{close_prefix_equal, normalize, CasMap, Normalized};
use crate::server::Server;

/// Delay between the pieces of a split write.
const SPLIT_DELAY: Duration = Duration::from_millis(2);

/// One side of the comparison.
pub struct Side {
    pub server: Server,
    conn: Conn,
    pub cas: CasMap,
}

impl Side {
    pub fn new(server: Server) -> Side {
        let conn = server.connect();
        Side {
            server,
            conn,
            cas: CasMap::default(),
        }
    }

    fn exchange(&mut self, step: &Step) -> (Vec<u8>, Result<Replies, String>) {
        let bytes = step.render(&self.cas);
        // A connection the server closed shows up as end-of-stream when reading.
        let _ = match step.split_len {
            Some(len) => self.conn.send_split(&bytes, len, SPLIT_DELAY),
            None => self.conn.send(&bytes),
        };
        let mn_before = count_mn_lines(&bytes);
        let replies = self.conn.request_after(b"", mn_before);
        (bytes, replies)
    }

    fn reconnect(&mut self) {
        self.conn = self.server.connect();
    }
}

/// A difference between the two servers' replies to one step.
#[derive(Debug)]
pub struct Mismatch {
    /// Where: seed and step index, or edge group and step index.
    pub label: String,
    pub request_a: Vec<u8>,
    pub request_b: Vec<u8>,
    pub reply_a: String,
    pub reply_b: String,
    pub normalized_a: String,
    pub normalized_b: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MISMATCH {}", self.label)?;
        writeln!(f, "  request (reference): {}", show(&self.request_a))?;
        if self.request_b != self.request_a {
            writeln!(f, "  request (under test): {}", show(&self.request_b))?;
        }
        writeln!(f, "  reply (reference):  {}", self.reply_a)?;
        writeln!(f, "  reply (under test): {}", self.reply_b)?;
        writeln!(f, "  masked (reference):  {}", self.normalized_a)?;
        write!(f, "  masked (under test): {}", self.normalized_b)
    }
}

/// A reference server and a server under test, driven in lockstep.
pub struct Pair {
    pub reference: Side,
    pub under_test: Side,
}

/// `DIFF_TRACE=1` prints every request and the reference server's replies (and the server
/// under test's, where they differ before masking).
fn trace_enabled() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("DIFF_TRACE").is_some_and(|v| v != "0"))
}

fn replies_text(r: &Result<Replies, String>) -> String {
    match r {
        Ok(r) => show(&r.to_bytes()),
        Err(e) => format!("<{e}>"),
    }
}

fn normalized(
    r: &Result<Replies, String>,
    cas: &mut CasMap,
) -> Result<(Normalized, bool, Vec<u8>), String> {
    match r {
        Ok(r) => Ok((normalize(&r.units, cas), r.closed, r.trailing.clone())),
        Err(e) => Err(e.clone()),
    }
}

impl Pair {
    pub fn new(reference: Server, under_test: Server) -> Pair {
        Pair {
            reference: Side::new(reference),
            under_test: Side::new(under_test),
        }
    }

    /// Forgets CAS numbers seen so far (both sides), e.g. at the start of a new case.
    pub fn reset_cas(&mut self) {
        self.reference.cas.clear();
        self.under_test.cas.clear();
    }

    /// Sends one step to both servers and compares the masked replies.
    pub fn step(
        &mut self,
        label: impl FnOnce() -> String,
        step: &Step,
    ) -> Result<(), Box<Mismatch>> {
        let started = std::time::Instant::now();
        let (request_a, ra) = self.reference.exchange(step);
        let (request_b, rb) = self.under_test.exchange(step);
        let cas_before = (self.reference.cas.clone(), self.under_test.cas.clone());
        let na = normalized(&ra, &mut self.reference.cas);
        let nb = normalized(&rb, &mut self.under_test.cas);
        let closed = |r: &Result<Replies, String>| r.as_ref().map_or(true, |r| r.closed);
        if closed(&ra) {
            self.reference.reconnect();
        }
        if closed(&rb) {
            self.under_test.reconnect();
        }
        if trace_enabled() {
            eprintln!(
                "> {:?} {}\n< {}",
                started.elapsed(),
                show(&request_a),
                replies_text(&ra)
            );
            let (text_a, text_b) = (replies_text(&ra), replies_text(&rb));
            if text_a != text_b {
                eprintln!("<(under test) {text_b}");
            }
        }
        if na.is_ok() && na == nb {
            return Ok(());
        }
        if let (Ok(a), Ok(b)) = (&ra, &rb) {
            let (mut cas_a, mut cas_b) = cas_before;
            if a.closed
                && b.closed
                && close_prefix_equal(&a.units, &b.units, &mut cas_a, &mut cas_b)
            {
                // Only the replies both servers sent count for the CAS bijections.
                self.reference.cas = cas_a;
                self.under_test.cas = cas_b;
                return Ok(());
            }
        }
        let render = |n: &Result<(Normalized, bool, Vec<u8>), String>| match n {
            Ok((n, closed, trailing)) => format!(
                "{}{}{}",
                n.render(),
                trailing.escape_ascii(),
                if *closed { "<connection closed>" } else { "" }
            ),
            Err(e) => format!("<{e}>"),
        };
        Err(Box::new(Mismatch {
            label: label(),
            request_a,
            request_b,
            reply_a: replies_text(&ra),
            reply_b: replies_text(&rb),
            normalized_a: render(&na),
            normalized_b: render(&nb),
        }))
    }

    /// Runs one seeded case of `steps_count` random steps, starting from an empty cache.
    pub fn run_case(&mut self, seed: u64, steps_count: usize) -> Result<(), Box<Mismatch>> {
        let mut gen = Gen::new(seed);
        self.reset_cas();
        let mut start = Step::default();
        start.cmds.push(gen_flush());
        let label = |index: usize| {
            move || format!("seed={seed} step={index} (reproduce: DIFF_SEED={seed} DIFF_CASES=1)")
        };
        self.step(label(0), &start)?;
        for index in 1..=steps_count {
            let cas_known = self.reference.cas.len();
            let step = gen.step(cas_known);
            self.step(label(index), &step)?;
        }
        Ok(())
    }

    /// Runs every edge-case group from an empty cache; returns the first mismatch of each group.
    pub fn run_edges(&mut self) -> Vec<Mismatch> {
        let mut mismatches = Vec::new();
        for (name, steps) in edges::groups() {
            self.reset_cas();
            let mut start = Step::default();
            start.cmds.push(gen_flush());
            let mut result = self.step(|| format!("edge group {name}: flush_all"), &start);
            for (index, bytes) in steps.iter().enumerate() {
                if result.is_err() {
                    break;
                }
                let step = edges::step(bytes, self.reference.cas.len());
                result = self.step(|| format!("edge group {name} step {index}"), &step);
            }
            if let Err(m) = result {
                mismatches.push(*m);
            }
        }
        mismatches
    }
}

fn gen_flush() -> crate::gen::Cmd {
    crate::gen::Cmd {
        pieces: vec![crate::gen::Piece::Raw(b"flush_all\r\n".to_vec())],
    }
}
