//! Seeded random memcached text-protocol requests for the differential test.
//!
//! Goals: frequent hits, misses and CAS conflicts (a handful of keys), every classic and meta
//! command with their flags, edge values, noreply everywhere, pipelining, split writes, bad data
//! chunks, over-size values, garbage.
//!
//! Meta flags memcached 1.6.18 lacks (`E` explicit CAS, md `x`) are generated now and then:
//! both servers must reject them the same way.
//!
//! Invariants that keep the two servers comparable:
//! - No TTL can run out during a run: TTLs are 0, negative, absolute past, or >= 1000 seconds.
//! - A request never leaves the connection waiting for more data than was sent (declared data
//!   lengths are always covered), so the `mn` sentinel after each step is always read as a
//!   command.
//! - CAS values in requests are either [`Piece::Cas`] (an ordinal resolved per server through
//!   its [`CasMap`]) or values no server can have issued (0, 2^64-1, junk).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::mask::CasMap;

/// The value size limit both servers run with (`-I 1m`).
pub const ITEM_SIZE_MAX_BYTES: usize = 1024 * 1024;

/// A piece of a request.
#[derive(Clone, Debug)]
pub enum Piece {
    Raw(Vec<u8>),
    /// The CAS number with this ordinal, resolved per server.
    Cas(usize),
}

/// One request (a command line and its data block, if any).
#[derive(Clone, Debug, Default)]
pub struct Cmd {
    pub pieces: Vec<Piece>,
}

impl Cmd {
    fn raw(bytes: impl AsRef<[u8]>) -> Cmd {
        Cmd {
            pieces: vec![Piece::Raw(bytes.as_ref().to_vec())],
        }
    }

    fn push(&mut self, bytes: impl AsRef<[u8]>) {
        match self.pieces.last_mut() {
            Some(Piece::Raw(last)) => last.extend_from_slice(bytes.as_ref()),
            _ => self.pieces.push(Piece::Raw(bytes.as_ref().to_vec())),
        }
    }

    /// The request bytes for a server with CAS bijection `cas`.
    pub fn render(&self, cas: &CasMap) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Raw(b) => out.extend_from_slice(b),
                Piece::Cas(ordinal) => {
                    // An ordinal the server never issued: it already diverged; any value will do.
                    let n = cas.cas(*ordinal).unwrap_or(u64::MAX);
                    out.extend_from_slice(n.to_string().as_bytes());
                }
            }
        }
        out
    }
}

/// What is sent in one write (or one split write) before the sentinel.
#[derive(Clone, Debug, Default)]
pub struct Step {
    pub cmds: Vec<Cmd>,
    /// Send the step in pieces of this many bytes, with a short delay between pieces.
    pub split_len: Option<usize>,
}

impl Step {
    pub fn render(&self, cas: &CasMap) -> Vec<u8> {
        self.cmds.iter().flat_map(|c| c.render(cas)).collect()
    }

    /// Whether the step ends with `quit` (the servers close the connection).
    pub fn quits(&self) -> bool {
        self.cmds.last().is_some_and(
            |c| matches!(c.pieces.first(), Some(Piece::Raw(b)) if b.starts_with(b"quit")),
        )
    }
}

/// The request generator.
pub struct Gen {
    rng: StdRng,
    now_unix_secs: u64,
    key_250: String,
    key_251: String,
}

const KEYS: &[&str] = &["a", "b", "c", "num", "k:1"];
const COMMANDS_PER_PIPELINE_MAX: usize = 8;
/// A split write is sent in at most this many pieces.
const SPLIT_PIECES_MAX: usize = 16;

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let now_unix_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        Gen {
            rng: StdRng::seed_from_u64(seed),
            now_unix_secs,
            key_250: "K".repeat(250),
            key_251: "L".repeat(251),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.choose(&mut self.rng).expect("non-empty")
    }

    pub fn key(&mut self) -> String {
        match self.rng.gen_range(0..100) {
            0..=1 => self.key_250.clone(),
            2 => self.key_251.clone(),
            _ => self.pick(KEYS).to_string(),
        }
    }

    fn flags(&mut self) -> String {
        match self.rng.gen_range(0..20) {
            0 => "4294967295".into(),
            1 => "4294967296".into(),
            2 => "-1".into(),
            3 => "x1".into(),
            4 => self.rng.gen::<u32>().to_string(),
            5..=9 => self.rng.gen_range(1..100u32).to_string(),
            _ => "0".into(),
        }
    }

    /// A TTL that cannot run out during the test.
    fn exptime(&mut self) -> String {
        match self.rng.gen_range(0..24) {
            0 => "-1".into(),
            1 => "1000000000".into(), // absolute, in the past
            2 => (self.now_unix_secs + 100_000).to_string(), // absolute, in the future
            3 => "2592000".into(),    // exactly 30 days: relative
            4 => "2592001".into(),    // > 30 days: absolute, 1970
            5 => "1000".into(),
            6 => "abc".into(),
            7 => "-1000".into(),
            _ => "0".into(),
        }
    }

    fn ttl_token(&mut self) -> String {
        self.pick(&["0", "-1", "1000", "100000", "2592001", "x"])
            .to_string()
    }

    /// A CAS value for a request: mostly one the servers issued.
    fn cas(&mut self, cas_known: usize, cmd: &mut Cmd) {
        if cas_known > 0 && self.chance(0.75) {
            // Recent CAS values are the likely-current ones.
            let back = self.rng.gen_range(0..cas_known.min(4));
            cmd.pieces.push(Piece::Cas(cas_known - 1 - back));
            return;
        }
        let literal = self.pick(&[
            "0",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "x",
        ]);
        cmd.push(literal);
    }

    pub fn value(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..100) {
            0..=9 => Vec::new(),
            10..=39 => self
                .pick(&[
                    "0",
                    "1",
                    "42",
                    "100",
                    "18446744073709551615",
                    "18446744073709551614",
                    "18446744073709551616",
                    "00010",
                    "12abc",
                    " 5",
                    "-5",
                    "99999999999999999999999",
                ])
                .as_bytes()
                .to_vec(),
            40..=59 => {
                let len = self.rng.gen_range(1..40);
                let mut v: Vec<u8> = (0..len).map(|_| self.rng.gen()).collect();
                let at = self.rng.gen_range(0..=v.len());
                v.splice(at..at, b"\r\n".iter().copied());
                v
            }
            60..=61 => {
                let len = self.rng.gen_range(1000..100_000);
                self.bulk(len)
            }
            // Values near and over the limit are slow to handle in debug builds: keep them rare.
            62 if self.chance(0.2) => self.bulk(ITEM_SIZE_MAX_BYTES - 4096),
            63 if self.chance(0.2) => self.bulk(ITEM_SIZE_MAX_BYTES + 1),
            _ => {
                let len = self.rng.gen_range(1..20);
                let v: Vec<u8> = (0..len).map(|_| self.rng.gen_range(b'a'..=b'z')).collect();
                // A value that reads as an `mn` request (after an error made the server parse
                // the data as commands) would confuse the sentinel count.
                if v == b"mn" {
                    b"nm".to_vec()
                } else {
                    v
                }
            }
        }
    }

    fn bulk(&mut self, len: usize) -> Vec<u8> {
        let byte = self.rng.gen_range(b'a'..=b'z');
        let mut v = vec![byte; len];
        v[len / 2] = b'\n';
        v
    }

    fn noreply(&mut self, cmd: &mut Cmd) {
        if self.chance(0.15) {
            cmd.push(" noreply");
        }
    }

    /// A data block for a declared length `declared`: usually the value, sometimes a bad chunk
    /// (always at least as long as declared, so the connection is never left waiting).
    fn data_block(&mut self, cmd: &mut Cmd, value: &[u8]) {
        match self.rng.gen_range(0..30) {
            0 => {
                // Longer than declared: the terminator lands inside the data.
                cmd.push(value);
                cmd.push(b"XY\r\n");
            }
            1 => {
                // Right length, wrong terminator.
                cmd.push(value);
                cmd.push(b"\n\n");
            }
            _ => {
                cmd.push(value);
                cmd.push(b"\r\n");
            }
        }
    }

    fn storage(&mut self, cas_known: usize) -> Cmd {
        let verb = self.pick(&[
            "set", "set", "add", "replace", "append", "prepend", "cas", "cas",
        ]);
        let key = self.key();
        let value = self.value();
        let mut cmd = Cmd::raw(format!("{verb} {key} {} {} ", self.flags(), self.exptime()));
        let len = match self.rng.gen_range(0..40) {
            0 => "-1".to_string(),
            1 => "abc".to_string(),
            2 => "".to_string(), // missing length
            _ => value.len().to_string(),
        };
        cmd.push(&len);
        if verb == "cas" && self.chance(0.95) {
            cmd.push(" ");
            self.cas(cas_known, &mut cmd);
        }
        self.noreply(&mut cmd);
        cmd.push("\r\n");
        if len.parse::<usize>().is_ok() {
            self.data_block(&mut cmd, &value);
        }
        cmd
    }

    fn retrieval(&mut self) -> Cmd {
        let verb = self.pick(&["get", "get", "gets", "gets", "gat", "gats"]);
        let mut line = verb.to_string();
        if verb.starts_with("ga") {
            line += " ";
            line += &self.exptime();
        }
        let count = match self.rng.gen_range(0..20) {
            0 => 0,
            1 => 30,
            _ => self.rng.gen_range(1..4),
        };
        for _ in 0..count {
            // memcached 1.6.18 drops the replies of earlier pipelined commands when a
            // multi-key get fails on a 251-byte key; the edge cases test that key alone.
            let key = loop {
                let key = self.key();
                if key.len() <= 250 {
                    break key;
                }
            };
            line += " ";
            line += &key;
        }
        Cmd::raw(line + "\r\n")
    }

    fn arith_delta(&mut self) -> String {
        match self.rng.gen_range(0..12) {
            0 => "18446744073709551615".into(),
            1 => "18446744073709551616".into(),
            2 => "-1".into(),
            3 => "abc".into(),
            4 => "0".into(),
            5 => "".into(),
            6 => self.rng.gen::<u64>().to_string(),
            _ => self.rng.gen_range(1..200u64).to_string(),
        }
    }

    fn classic_other(&mut self) -> Cmd {
        let mut cmd = match self.rng.gen_range(0..100) {
            0..=24 => Cmd::raw(format!("delete {}", self.key())),
            25..=29 => Cmd::raw(format!("delete {} {}", self.key(), self.pick(&["0", "5"]))),
            30..=59 => {
                let verb = self.pick(&["incr", "decr"]);
                Cmd::raw(format!("{verb} {} {}", self.key(), self.arith_delta()))
            }
            60..=74 => Cmd::raw(format!("touch {} {}", self.key(), self.exptime())),
            75..=79 => {
                let delay = self.pick(&["", " 0", " 3600", " -1", " x"]);
                Cmd::raw(format!("flush_all{delay}"))
            }
            80..=84 => Cmd::raw(format!("verbosity {}", self.pick(&["0", "1", "x"]))),
            85..=87 => return Cmd::raw("version\r\n"),
            88..=89 => return Cmd::raw("stats\r\n"),
            _ => return self.garbage(),
        };
        self.noreply(&mut cmd);
        cmd.push("\r\n");
        cmd
    }

    fn garbage(&mut self) -> Cmd {
        let line = self.pick(&[
            "bogus",
            "GET a",
            "",
            "get",
            "set",
            "set a",
            "set a 0 0",
            "incr",
            "incr a",
            "touch a",
            "delete",
            "cas a 0 0 1",
            "mg",
            "ms a",
            "md",
            "ma",
            "me",
            "mz a",
            "verbosity",
            "flush_all 0 0 0",
            "gets  a",
            "get a  b",
        ]);
        Cmd::raw(format!("{line}\r\n"))
    }

    fn meta_key(&mut self, cmd: &mut Cmd) -> bool {
        if self.chance(0.08) {
            // Base64 keys: "a", "num", and a binary key.
            let b64 = self.pick(&["YQ==", "bnVt", "AAEgDQo=", "!!"]);
            cmd.push(format!(" {b64}"));
            return true;
        }
        let key = self.key();
        cmd.push(format!(" {key}"));
        false
    }

    fn meta_flags(&mut self, cmd: &mut Cmd, base64: bool, menu: &[&str], cas_known: usize) {
        if base64 {
            cmd.push(" b");
        }
        let count = self.rng.gen_range(0..5);
        for _ in 0..count {
            let flag = self.pick(menu);
            cmd.push(" ");
            match flag {
                "T" | "N" => {
                    let ttl = self.ttl_token();
                    cmd.push(format!("{flag}{ttl}"));
                }
                "R" => cmd.push(self.pick(&["R30", "R5000"])),
                "O" => cmd.push(self.pick(&[
                    "O123",
                    "Oopaque",
                    "O",
                    // 33 bytes: one over memcached's limit.
                    "O12345678901234567890123456789012",
                ])),
                "C" => {
                    cmd.push("C");
                    self.cas(cas_known, cmd);
                }
                "E" => {
                    let e = 1_000_000 + self.rng.gen_range(0..4);
                    cmd.push(format!("E{e}"));
                }
                "F" => {
                    let flags = self.flags();
                    cmd.push(format!("F{flags}"));
                }
                "M" => cmd.push(format!(
                    "M{}",
                    self.pick(&["E", "A", "P", "R", "S", "I", "+", "D", "-", "X"])
                )),
                "J" => cmd.push(format!(
                    "J{}",
                    self.pick(&["0", "5", "18446744073709551615", "x"])
                )),
                "D" => {
                    let delta = self.arith_delta();
                    cmd.push(format!("D{delta}"));
                }
                other => cmd.push(other),
            }
        }
    }

    fn meta(&mut self, cas_known: usize) -> Cmd {
        let verb = self.pick(&[
            "mg", "mg", "mg", "ms", "ms", "ms", "md", "ma", "ma", "me", "mn",
        ]);
        let mut cmd = Cmd::raw(verb);
        if verb == "mn" {
            cmd.push("\r\n");
            return cmd;
        }
        let base64 = self.meta_key(&mut cmd);
        match verb {
            "mg" => {
                let menu = [
                    "v", "v", "f", "s", "k", "c", "t", "h", "l", "O", "q", "u", "T", "N", "R", "Z",
                    "E",
                ];
                self.meta_flags(&mut cmd, base64, &menu, cas_known);
                cmd.push("\r\n");
            }
            "ms" => {
                let value = self.value();
                let len = match self.rng.gen_range(0..40) {
                    0 => "x".to_string(),
                    1 => "S3".to_string(),
                    _ => value.len().to_string(),
                };
                cmd.push(format!(" {len}"));
                let menu = [
                    "c", "C", "F", "I", "k", "O", "q", "T", "M", "M", "N", "s", "b",
                ];
                self.meta_flags(&mut cmd, base64, &menu, cas_known);
                cmd.push("\r\n");
                if len.parse::<usize>().is_ok() {
                    self.data_block(&mut cmd, &value);
                }
            }
            "md" => {
                let menu = ["C", "I", "k", "O", "q", "T", "x"];
                self.meta_flags(&mut cmd, base64, &menu, cas_known);
                cmd.push("\r\n");
            }
            "ma" => {
                let menu = ["C", "N", "J", "D", "T", "M", "O", "q", "t", "c", "v", "k"];
                self.meta_flags(&mut cmd, base64, &menu, cas_known);
                cmd.push("\r\n");
            }
            _ => {
                if base64 {
                    cmd.push(" b");
                }
                cmd.push("\r\n");
            }
        }
        cmd
    }

    /// One request.
    pub fn cmd(&mut self, cas_known: usize) -> Cmd {
        match self.rng.gen_range(0..100) {
            0..=29 => self.storage(cas_known),
            30..=49 => self.retrieval(),
            50..=69 => self.classic_other(),
            70..=98 => self.meta(cas_known),
            _ => Cmd::raw(b"quit\r\n"),
        }
    }

    /// One step: usually one request, sometimes a pipeline, sometimes split into small writes.
    pub fn step(&mut self, cas_known: usize) -> Step {
        let count = if self.chance(0.15) {
            self.rng.gen_range(2..=COMMANDS_PER_PIPELINE_MAX)
        } else {
            1
        };
        let mut step = Step::default();
        for _ in 0..count {
            let cmd = self.cmd(cas_known);
            let quits = matches!(cmd.pieces.first(), Some(Piece::Raw(b)) if b.starts_with(b"quit"));
            step.cmds.push(cmd);
            if quits {
                break;
            }
        }
        let len: usize = step
            .cmds
            .iter()
            .map(|c| c.render(&CasMap::default()).len())
            .sum();
        if self.chance(0.05) {
            // Small pieces, but at most SPLIT_PIECES_MAX of them (each waits a little).
            let piece_len = self.rng.gen_range(1..8).max(len.div_ceil(SPLIT_PIECES_MAX));
            step.split_len = Some(piece_len);
        }
        step
    }
}
