//! Masking of what legitimately differs between two memcached-compatible servers.
//!
//! Everything in a reply is compared byte for byte except:
//! - the `VERSION` string, and `STAT` values (a run of `STAT` lines compares as one token);
//! - CAS numbers (`gets`/`gats` 5th token, meta `c<n>` flags, `me`'s `cas=`): each server's CAS
//!   numbers go through a per-server bijection to ordinals in order of first appearance, so two
//!   CAS values that are equal (or unequal) on one server must be equal (or unequal) on the other;
//! - wall-clock seconds (meta `t<n>`/`l<n>`, `me`'s `exp=`/`la=`): compared within
//!   [`SECONDS_TOLERANCE`], and `-1` (no expiry) exactly; `me`'s `exp=` by absolute value
//!   (memcached 1.6.18 prints it negated);
//! - `me`'s `cls=` and `size=`, which depend on the storage layout;
//! - the replies before a connection close: memcached drops the replies it has not sent when
//!   it closes a connection for an over-long line, and which those are depends on how its
//!   reads split the step; when both servers close, one's replies may be a prefix of the
//!   other's ([`close_prefix_equal`]);
//! - trailing spaces after a number in a value: memcached's `incr`/`decr` rewrites a value in
//!   place, padded with spaces, only when no other thread holds a reference to the item, so
//!   memcached itself answers either `19` or `19<18 spaces>` (the length token and the meta `s`
//!   flag are adjusted to the trimmed value).
//!
//! The inverse bijection turns a CAS ordinal into that server's own number, so a generated
//! command can name "the CAS that `gets` returned" on both servers.

use std::collections::HashMap;

use crate::conn::Unit;

/// Two servers may differ by this much in a seconds value (their clocks tick independently).
pub const SECONDS_TOLERANCE: i64 = 2;

/// One server's CAS number <-> ordinal bijection.
#[derive(Clone, Default, Debug)]
pub struct CasMap {
    ordinal_of: HashMap<u64, usize>,
    cas_of: Vec<u64>,
}

impl CasMap {
    pub fn ordinal(&mut self, cas: u64) -> usize {
        let next = self.cas_of.len();
        let ordinal = *self.ordinal_of.entry(cas).or_insert(next);
        if ordinal == next {
            self.cas_of.push(cas);
        }
        debug_assert_eq!(self.cas_of[ordinal], cas);
        ordinal
    }

    /// This server's CAS number for an ordinal seen before.
    pub fn cas(&self, ordinal: usize) -> Option<u64> {
        self.cas_of.get(ordinal).copied()
    }

    pub fn len(&self) -> usize {
        self.cas_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cas_of.is_empty()
    }

    pub fn clear(&mut self) {
        self.ordinal_of.clear();
        self.cas_of.clear();
    }
}

/// A normalized reply token.
#[derive(Clone, Debug)]
pub enum Tok {
    Lit(Vec<u8>),
    /// A seconds value, compared within [`SECONDS_TOLERANCE`].
    Secs(Vec<u8>, i64),
}

impl PartialEq for Tok {
    fn eq(&self, other: &Tok) -> bool {
        match (self, other) {
            (Tok::Lit(a), Tok::Lit(b)) => a == b,
            (Tok::Secs(pa, a), Tok::Secs(pb, b)) => pa == pb && (a - b).abs() <= SECONDS_TOLERANCE,
            _ => false,
        }
    }
}

/// A normalized reply stream.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Normalized(pub Vec<Tok>);

impl Normalized {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for tok in &self.0 {
            match tok {
                Tok::Lit(b) => out.push_str(&b.escape_ascii().to_string()),
                Tok::Secs(p, n) => out.push_str(&format!("{}~{n}", p.escape_ascii())),
            }
        }
        out
    }
}

fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_i64(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

struct Out<'a> {
    toks: &'a mut Vec<Tok>,
}

impl Out<'_> {
    fn lit(&mut self, b: &[u8]) {
        if let Some(Tok::Lit(last)) = self.toks.last_mut() {
            last.extend_from_slice(b);
        } else {
            self.toks.push(Tok::Lit(b.to_vec()));
        }
    }
    fn secs(&mut self, prefix: &[u8], b: &[u8]) {
        match parse_i64(b) {
            Some(-1) | None => {
                self.lit(prefix);
                self.lit(b);
            }
            Some(n) => self.toks.push(Tok::Secs(prefix.to_vec(), n)),
        }
    }
    fn cas(&mut self, prefix: &[u8], b: &[u8], cas: &mut CasMap) {
        self.lit(prefix);
        match parse_u64(b) {
            Some(n) => self.lit(format!("#{}", cas.ordinal(n)).as_bytes()),
            None => self.lit(b),
        }
    }
}

/// A `VALUE`/`VA` unit whose data is a number padded with spaces, rewritten without the padding.
fn trim_padded_number(unit: &Unit) -> Option<Unit> {
    let data = unit.data.as_ref()?.strip_suffix(b"\r\n")?;
    let digits = data.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits == data.len() || !data[digits..].iter().all(|&b| b == b' ') {
        return None;
    }
    let line = unit.line.strip_suffix(b"\r\n")?;
    let mut words: Vec<Vec<u8>> = line.split(|&b| b == b' ').map(<[u8]>::to_vec).collect();
    let len = digits.to_string().into_bytes();
    match words[0].as_slice() {
        b"VALUE" if words.len() >= 4 => words[3] = len,
        b"VA" if words.len() >= 2 => {
            words[1] = len.clone();
            for w in words.iter_mut().skip(2) {
                if w.first() == Some(&b's') && parse_u64(&w[1..]).is_some() {
                    *w = [&b"s"[..], &len].concat();
                }
            }
        }
        _ => return None,
    }
    let mut new_line = words.join(&b' ');
    new_line.extend_from_slice(b"\r\n");
    let mut new_data = data[..digits].to_vec();
    new_data.extend_from_slice(b"\r\n");
    Some(Unit {
        line: new_line,
        data: Some(new_data),
    })
}

/// Joins an `ME` line cut by a `\r\n` inside its key (`me` prints a key stored through a
/// vivify with a binary key raw, as memcached does) with the lines that finish it.
fn join_split_me_lines(units: &[Unit]) -> Vec<Unit> {
    let mut joined: Vec<Unit> = Vec::with_capacity(units.len());
    let mut open = false;
    for unit in units {
        if open {
            let last = joined.last_mut().expect("an open ME line");
            last.line.extend_from_slice(&unit.line);
        } else {
            joined.push(unit.clone());
        }
        let last = joined.last().expect("just pushed");
        open = last.line.starts_with(b"ME ")
            && last.data.is_none()
            && !last.line.windows(5).any(|w| w == b" exp=");
    }
    joined
}

/// Both servers closed the connection and the replies of one are, masked, the first replies
/// of the other. Updates the CAS bijections (as they were before the step) with the replies
/// both sent.
pub fn close_prefix_equal(a: &[Unit], b: &[Unit], cas_a: &mut CasMap, cas_b: &mut CasMap) -> bool {
    let n = a.len().min(b.len());
    normalize(&a[..n], cas_a) == normalize(&b[..n], cas_b)
}

/// Normalizes one server's replies, updating its CAS bijection.
pub fn normalize(units: &[Unit], cas: &mut CasMap) -> Normalized {
    let units = join_split_me_lines(units);
    let mut toks = Vec::new();
    let mut out = Out { toks: &mut toks };
    let mut in_stats = false;
    for unit in &units {
        let trimmed = trim_padded_number(unit);
        let unit = trimmed.as_ref().unwrap_or(unit);
        let line = unit.line.strip_suffix(b"\r\n").unwrap_or(&unit.line);
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let head = words[0];
        if head == b"STAT" {
            if !in_stats {
                out.lit(b"STAT *\r\n");
            }
            in_stats = true;
            continue;
        }
        in_stats = false;
        match head {
            b"VERSION" => out.lit(b"VERSION *"),
            b"VALUE" if words.len() == 5 => {
                out.lit(&words[..4].join(&b' '));
                out.cas(b" ", words[4], cas);
            }
            b"VA" | b"HD" | b"EX" | b"NS" | b"NF" | b"EN" => {
                out.lit(head);
                let first_flag = if head == b"VA" { 2 } else { 1 };
                for (i, w) in words.iter().enumerate().skip(1) {
                    if i < first_flag || w.is_empty() {
                        out.lit(b" ");
                        out.lit(w);
                        continue;
                    }
                    match w[0] {
                        b'c' if parse_u64(&w[1..]).is_some() => out.cas(b" c", &w[1..], cas),
                        b't' | b'l' if parse_i64(&w[1..]).is_some() => {
                            out.secs(&[b' ', w[0]], &w[1..])
                        }
                        _ => {
                            out.lit(b" ");
                            out.lit(w);
                        }
                    }
                }
            }
            b"ME" => {
                out.lit(&words[..words.len().min(2)].join(&b' '));
                for w in words.iter().skip(2) {
                    let (k, v) = match w.iter().position(|&b| b == b'=') {
                        Some(p) => (&w[..p + 1], &w[p + 1..]),
                        None => (&w[..], &b""[..]),
                    };
                    let mut prefix = b" ".to_vec();
                    prefix.extend_from_slice(k);
                    match k {
                        // memcached 1.6.18 prints exp= negated (current_time - exptime);
                        // accept either sign.
                        b"exp=" => match parse_i64(v) {
                            Some(n) if n != -1 => out.secs(&prefix, n.abs().to_string().as_bytes()),
                            _ => out.secs(&prefix, v),
                        },
                        b"la=" => out.secs(&prefix, v),
                        b"cas=" => out.cas(&prefix, v, cas),
                        b"cls=" | b"size=" => {
                            out.lit(&prefix);
                            out.lit(b"*");
                        }
                        _ => {
                            out.lit(&prefix);
                            out.lit(v);
                        }
                    }
                }
            }
            _ => out.lit(line),
        }
        out.lit(b"\r\n");
        if let Some(data) = &unit.data {
            out.lit(data);
        }
    }
    Normalized(toks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::frame_replies;

    fn norm(bytes: &[u8], cas: &mut CasMap) -> Normalized {
        let (units, used) = frame_replies(bytes);
        assert_eq!(used, bytes.len());
        normalize(&units, cas)
    }

    #[test]
    fn cas_numbers_compare_through_a_bijection() {
        let (mut a, mut b) = (CasMap::default(), CasMap::default());
        let ra = b"VALUE k 0 1 17\r\nx\r\nVALUE j 0 1 17\r\ny\r\nEND\r\nHD c99\r\n";
        let rb = b"VALUE k 0 1 5\r\nx\r\nVALUE j 0 1 5\r\ny\r\nEND\r\nHD c7\r\n";
        assert_eq!(norm(ra, &mut a), norm(rb, &mut b));
        assert_eq!(b.cas(0), Some(5));
        // Equal on one side, unequal on the other: a difference.
        let ra = b"VALUE k 0 1 17\r\nx\r\nVALUE j 0 1 17\r\ny\r\nEND\r\n";
        let rb = b"VALUE k 0 1 5\r\nx\r\nVALUE j 0 1 8\r\ny\r\nEND\r\n";
        assert_ne!(norm(ra, &mut a), norm(rb, &mut b));
    }

    #[test]
    fn everything_else_must_match() {
        let (mut a, mut b) = (CasMap::default(), CasMap::default());
        for (ra, rb) in [
            (
                &b"VALUE k 0 1\r\nx\r\nEND\r\n"[..],
                &b"VALUE k 1 1\r\nx\r\nEND\r\n"[..],
            ),
            (b"VA 1 t-1\r\nx\r\n", b"VA 1 t100\r\nx\r\n"),
            (b"VA 1 t50\r\nx\r\n", b"VA 1 t100\r\nx\r\n"),
            (b"HD f1\r\n", b"HD f2\r\n"),
            (b"ERROR\r\n", b"CLIENT_ERROR bad command line format\r\n"),
            (
                b"ME k exp=-1 la=0 cas=1 fetch=no cls=1 size=63\r\n",
                b"ME k exp=-1 la=0 cas=1 fetch=yes cls=1 size=63\r\n",
            ),
        ] {
            assert_ne!(norm(ra, &mut a), norm(rb, &mut b), "{}", ra.escape_ascii());
        }
    }

    #[test]
    fn masked_fields_may_differ() {
        let (mut a, mut b) = (CasMap::default(), CasMap::default());
        for (ra, rb) in [
            (&b"VERSION 1.6.18\r\n"[..], &b"VERSION 0.1.0\r\n"[..]),
            (
                b"STAT pid 1\r\nSTAT x 2\r\nEND\r\n",
                b"STAT pid 7\r\nEND\r\n",
            ),
            (b"VA 1 t100 l3\r\nx\r\n", b"VA 1 t99 l2\r\nx\r\n"),
            (
                b"ME k exp=50 la=0 cas=9 fetch=no cls=1 size=63\r\n",
                b"ME k exp=49 la=1 cas=3 fetch=no cls=4 size=80\r\n",
            ),
            (
                b"VALUE k 0 20\r\n19                  \r\nEND\r\n",
                b"VALUE k 0 2\r\n19\r\nEND\r\n",
            ),
            (b"VA 5 s5\r\n7    \r\n", b"VA 1 s1\r\n7\r\n"),
            (
                b"ME \x00 \r\n exp=-1 la=1 cas=9 fetch=no cls=1 size=65\r\n",
                b"ME \x00 \r\n exp=-1 la=0 cas=3 fetch=no cls=0 size=46\r\n",
            ),
        ] {
            assert_eq!(norm(ra, &mut a), norm(rb, &mut b), "{}", ra.escape_ascii());
        }
    }
}
