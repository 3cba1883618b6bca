//! Request lines: framing (where does the next command line end?) and memcached's tokenizer.
//!
//! Framing follows memcached 1.6.18's `try_read_command_ascii`:
//! - a line ends at `\n`; one `\r` before it is dropped (unless the line is just `\r`);
//! - a NUL byte ends the command early (memcached runs `strlen` over the line);
//! - more than [`LINE_LEN_MAX_BYTES`] without a newline closes the connection unless the line
//!   starts (after at most [`LEADING_SPACES_MAX`] spaces) with `get ` or `gets `; those may run
//!   to [`GET_LINE_LEN_MAX_BYTES`]. A line whose newline has arrived is served at any length.
//!
//! The tokenizer splits on single spaces only (tabs are part of a token) and keeps at most
//! [`TOKENS_MAX`]` - 1` tokens, exactly like `tokenize_command`, so that token-count checks
//! (`WANT_TOKENS`) and "flags too long" answers come out the same.

use crate::exec::INPUT_PENDING_MAX_BYTES;

/// memcached closes a connection that sent this many bytes without a newline...
pub const LINE_LEN_MAX_BYTES: usize = 2048;
/// ...unless the line is a multi-get, which we bound by the runtime's input buffer.
pub const GET_LINE_LEN_MAX_BYTES: usize = INPUT_PENDING_MAX_BYTES - 1;
/// More leading spaces than this and a long line is not treated as a multi-get.
pub const LEADING_SPACES_MAX: usize = 100;
/// memcached's `MAX_TOKENS`: the token array, including the terminal entry.
pub const TOKENS_MAX: usize = 24;

/// The result of looking for the next command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete line: its command text and the bytes it occupies including `\n`.
    Line { text: &'a [u8], len: usize },
    /// No newline yet and the line is still within its limit.
    Incomplete,
    /// The line is over its limit: close the connection.
    TooLong,
}

fn is_multiget_prefix(buf: &[u8]) -> Option<bool> {
    let spaces = buf.iter().take_while(|&&b| b == b' ').count();
    if spaces > LEADING_SPACES_MAX {
        return Some(false);
    }
    let rest = &buf[spaces..];
    if rest.len() < 5 && spaces == buf.len() {
        return None;
    }
    let starts = |p: &[u8]| rest.len() >= p.len() && &rest[..p.len()] == p;
    if starts(b"get ") || starts(b"gets ") {
        return Some(true);
    }
    if rest.len() < 5 && (b"get ".starts_with(rest) || b"gets ".starts_with(rest)) {
        return None;
    }
    Some(false)
}

/// Finds the next command line at the front of `buf`.
///
/// As in memcached, only a line still waiting for its newline is measured against the limits:
/// a line whose newline has arrived is processed whatever its length (it is at most
/// `INPUT_PENDING_MAX_BYTES`, the runtime's input bound). So whether a line between
/// [`LINE_LEN_MAX_BYTES`] and that bound is served or closes the connection depends on how it
/// arrives, exactly as with memcached's reads.
pub fn frame(buf: &[u8]) -> Frame<'_> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > LINE_LEN_MAX_BYTES {
            let multiget = is_multiget_prefix(buf).unwrap_or(false);
            if !multiget || buf.len() > GET_LINE_LEN_MAX_BYTES {
                return Frame::TooLong;
            }
        }
        return Frame::Incomplete;
    };
    let mut end = nl;
    if end > 1 && buf[end - 1] == b'\r' {
        end -= 1;
    }
    let mut text = &buf[..end];
    if let Some(nul) = memchr(0, text) {
        text = &text[..nul];
    }
    Frame::Line { text, len: nl + 1 }
}

pub fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// The tokens of one command line, borrowed from it.
#[derive(Clone, Copy, Debug)]
pub struct Tokens<'a> {
    tokens: [&'a [u8]; TOKENS_MAX - 1],
    count: usize,
    /// What follows the last kept token when the line had more tokens than memcached keeps.
    rest: &'a [u8],
}

impl<'a> Tokens<'a> {
    pub fn new(line: &'a [u8]) -> Tokens<'a> {
        let mut tokens: [&'a [u8]; TOKENS_MAX - 1] = [&[]; TOKENS_MAX - 1];
        let mut count = 0;
        let mut start = 0;
        let mut i = 0;
        let mut rest: &'a [u8] = &[];
        while i < line.len() {
            if line[i] == b' ' {
                if start != i {
                    tokens[count] = &line[start..i];
                    count += 1;
                    if count == TOKENS_MAX - 1 {
                        rest = &line[i + 1..];
                        start = line.len();
                        break;
                    }
                }
                start = i + 1;
            }
            i += 1;
        }
        if start < line.len() {
            tokens[count] = &line[start..];
            count += 1;
        }
        Tokens {
            tokens,
            count,
            rest,
        }
    }

    /// Number of kept tokens.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// memcached's `ntokens`: kept tokens plus the terminal entry.
    pub fn ntokens(&self) -> usize {
        self.count + 1
    }

    pub fn get(&self, index: usize) -> &'a [u8] {
        if index < self.count {
            self.tokens[index]
        } else {
            &[]
        }
    }

    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.tokens[..self.count]
    }

    /// `true` if the last kept token is `noreply` (memcached `set_noreply_maybe`).
    pub fn last_is_noreply(&self) -> bool {
        self.count > 0 && self.tokens[self.count - 1] == b"noreply"
    }

    /// Text not split into tokens because the line had too many.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Iterates the space-separated words of `text` (for multi-get keys, which memcached
/// re-tokenizes without limit).
pub fn words(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < text.len() && text[pos] == b' ' {
            pos += 1;
        }
        if pos >= text.len() {
            return None;
        }
        let start = pos;
        while pos < text.len() && text[pos] != b' ' {
            pos += 1;
        }
        Some((start, &text[start..pos]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_lines_with_and_without_cr() {
        assert_eq!(
            frame(b"get a\r\nx"),
            Frame::Line {
                text: b"get a",
                len: 7
            }
        );
        assert_eq!(
            frame(b"get a\nx"),
            Frame::Line {
                text: b"get a",
                len: 6
            }
        );
        assert_eq!(
            frame(b"\r\n"),
            Frame::Line {
                text: b"\r",
                len: 2
            }
        );
        assert_eq!(
            frame(b"get a\0b\r\n"),
            Frame::Line {
                text: b"get a",
                len: 9
            }
        );
        assert_eq!(frame(b"get a"), Frame::Incomplete);
    }

    #[test]
    fn line_without_newline_over_limit_closes() {
        let line = vec![b'x'; LINE_LEN_MAX_BYTES + 1];
        assert_eq!(frame(&line), Frame::TooLong);
        assert_eq!(frame(&line[..LINE_LEN_MAX_BYTES]), Frame::Incomplete);
        let mut get = b"  get ".to_vec();
        get.resize(LINE_LEN_MAX_BYTES + 10, b'a');
        assert_eq!(frame(&get), Frame::Incomplete);
        get.resize(GET_LINE_LEN_MAX_BYTES + 1, b'a');
        assert_eq!(frame(&get), Frame::TooLong);
        let mut gat = b"gat ".to_vec();
        gat.resize(LINE_LEN_MAX_BYTES + 10, b'a');
        assert_eq!(frame(&gat), Frame::TooLong);
    }

    #[test]
    fn tokenizer_keeps_23_tokens() {
        let t = Tokens::new(b"set  k 0 0 5 noreply");
        assert_eq!(
            t.as_slice(),
            &[&b"set"[..], b"k", b"0", b"0", b"5", b"noreply"]
        );
        assert!(t.last_is_noreply());
        let long: Vec<u8> = (0..30).flat_map(|_| b"ab ".iter().copied()).collect();
        let t = Tokens::new(&long);
        assert_eq!(t.ntokens(), TOKENS_MAX);
        assert!(!t.rest().is_empty());
        let t = Tokens::new(b"");
        assert_eq!(t.ntokens(), 1);
    }
}
