//! Raw-socket client with deadlines, and a reply framer that needs no knowledge of requests.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Default deadline for one complete set of replies.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// The reply sentinel: `mn` is answered with exactly `MN\r\n` after everything sent before it.
pub const SENTINEL_CMD: &[u8] = b"mn\r\n";
const SENTINEL_REPLY: &[u8] = b"MN\r\n";

/// One framed reply unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The reply line, including its `\r\n`.
    pub line: Vec<u8>,
    /// The data block after a `VALUE`/`VA` line, including its `\r\n`.
    pub data: Option<Vec<u8>>,
}

impl Unit {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.line.clone();
        if let Some(d) = &self.data {
            out.extend_from_slice(d);
        }
        out
    }
}

/// Length of the data block a reply line announces, if any.
fn announced_data_len(line: &[u8]) -> Option<usize> {
    let text = line.strip_suffix(b"\r\n").unwrap_or(line);
    let mut tokens = text.split(|&b| b == b' ');
    let len_token = match tokens.next()? {
        b"VALUE" => tokens.nth(2)?,
        b"VA" => tokens.next()?,
        _ => return None,
    };
    std::str::from_utf8(len_token).ok()?.parse().ok()
}

/// Splits `buf` into whole reply units. Returns the units and the number of bytes they use;
/// a trailing partial unit is left unconsumed.
pub fn frame_replies(buf: &[u8]) -> (Vec<Unit>, usize) {
    let mut units = Vec::new();
    let mut pos = 0;
    while let Some(nl) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
        let line_end = pos + nl + 2;
        let line = &buf[pos..line_end];
        let data = match announced_data_len(line) {
            Some(len) => {
                let data_end = line_end + len + 2;
                if buf.len() < data_end {
                    break;
                }
                Some(buf[line_end..data_end].to_vec())
            }
            None => None,
        };
        pos = data.as_ref().map_or(line_end, |d| line_end + d.len());
        units.push(Unit {
            line: line.to_vec(),
            data,
        });
    }
    (units, pos)
}

/// The replies to one request, read up to the sentinel or the connection's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replies {
    pub units: Vec<Unit>,
    /// The server closed the connection (after these units).
    pub closed: bool,
    /// Bytes after the last whole unit when the connection closed.
    pub trailing: Vec<u8>,
}

impl Replies {
    /// All reply bytes, as received (without the sentinel's reply).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.units.iter().flat_map(|u| u.to_bytes()).collect();
        out.extend_from_slice(&self.trailing);
        if self.closed {
            out.extend_from_slice(b"<connection closed>");
        }
        out
    }
}

/// A raw client connection. Every read has a deadline.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pub reply_timeout: Duration,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .expect("write timeout");
        Conn {
            stream,
            buf: Vec::new(),
            reply_timeout: REPLY_TIMEOUT,
        }
    }

    /// Sends bytes; a write error (server closed) is returned, not a panic.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `bytes` in pieces of `piece_len` bytes with `delay` between pieces.
    pub fn send_split(
        &mut self,
        bytes: &[u8],
        piece_len: usize,
        delay: Duration,
    ) -> std::io::Result<()> {
        assert!(piece_len > 0);
        for (i, piece) in bytes.chunks(piece_len).enumerate() {
            if i > 0 {
                thread::sleep(delay);
            }
            self.stream.write_all(piece)?;
        }
        Ok(())
    }

    /// Reads until `done(buffer)` says the buffer holds a complete answer, the connection
    /// closes, or the deadline passes. Returns the bytes and whether the peer closed.
    pub fn read_until(&mut self, done: impl Fn(&[u8]) -> bool) -> Result<(Vec<u8>, bool), String> {
        let deadline = Instant::now() + self.reply_timeout;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if done(&self.buf) {
                return Ok((std::mem::take(&mut self.buf), false));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no complete reply within {:?}; received so far: {}",
                    self.reply_timeout,
                    show(&self.buf)
                ));
            }
            self.stream
                .set_read_timeout(Some(deadline - now))
                .expect("read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok((std::mem::take(&mut self.buf), true)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    return Ok((std::mem::take(&mut self.buf), true))
                }
                Err(e) => {
                    return Err(format!(
                        "read error: {e}; received so far: {}",
                        show(&self.buf)
                    ))
                }
            }
        }
    }

    /// Reads whole reply units until the sentinel's `MN\r\n` (which is dropped), the
    /// connection's end, or the deadline. `mn_before` is the number of `mn` requests sent
    /// before the sentinel, whose `MN` replies must not be taken for the sentinel's.
    pub fn read_to_sentinel(&mut self, mn_before: usize) -> Result<Replies, String> {
        let (bytes, closed) = self.read_until(|buf| {
            let (units, used) = frame_replies(buf);
            let mn_count = units.iter().filter(|u| u.line == SENTINEL_REPLY).count();
            used == buf.len()
                && units.last().is_some_and(|u| u.line == SENTINEL_REPLY)
                && mn_count > mn_before
        })?;
        let (mut units, used) = frame_replies(&bytes);
        if !closed {
            let last = units.pop();
            assert_eq!(last.map(|u| u.line), Some(SENTINEL_REPLY.to_vec()));
        }
        Ok(Replies {
            units,
            closed,
            trailing: bytes[used..].to_vec(),
        })
    }

    /// Sends `request` followed by the `mn` sentinel and returns all replies before `MN`.
    pub fn request(&mut self, request: &[u8]) -> Result<Replies, String> {
        let mn_before = count_mn_lines(request);
        self.request_after(request, mn_before)
    }

    /// [`Conn::request`] with the count of `mn` requests inside `request` given.
    pub fn request_after(&mut self, request: &[u8], mn_before: usize) -> Result<Replies, String> {
        let mut bytes = request.to_vec();
        bytes.extend_from_slice(SENTINEL_CMD);
        // A connection the server closed shows up as end-of-stream when reading.
        let _ = self.send(&bytes);
        self.read_to_sentinel(mn_before)
    }

    /// `request` that returns the reply bytes and panics on a timeout.
    pub fn call(&mut self, request: &[u8]) -> Vec<u8> {
        match self.request(request) {
            Ok(r) => r.to_bytes(),
            Err(e) => panic!("request {}: {e}", show(request)),
        }
    }

    /// Asserts that `request` is answered with exactly `expected`.
    #[track_caller]
    pub fn expect(&mut self, request: &[u8], expected: &[u8]) {
        let got = self.call(request);
        assert!(
            got == expected,
            "request {}\n expected {}\n      got {}",
            show(request),
            show(expected),
            show(&got)
        );
    }
}

/// The number of `mn` request lines (`mn`, `mn <anything>`) in `request` (their `MN` replies precede the sentinel's).
pub fn count_mn_lines(request: &[u8]) -> usize {
    request
        .split(|&b| b == b'\n')
        .filter(|line| {
            line.strip_prefix(b"mn")
                .is_some_and(|rest| matches!(rest.first(), None | Some(b'\r' | b' ')))
        })
        .count()
}

/// Printable form of protocol bytes: escapes control and non-ASCII bytes, elides the middle of
/// long runs.
pub fn show(bytes: &[u8]) -> String {
    const SHOW_LEN_MAX: usize = 600;
    let escape = |b: &[u8]| -> String { b.escape_ascii().to_string() };
    if bytes.len() <= SHOW_LEN_MAX {
        format!("\"{}\"", escape(bytes))
    } else {
        format!(
            "\"{}\" ... <{} bytes> ... \"{}\"",
            escape(&bytes[..SHOW_LEN_MAX / 2]),
            bytes.len() - SHOW_LEN_MAX,
            escape(&bytes[bytes.len() - SHOW_LEN_MAX / 2..])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_splits_value_blocks_containing_crlf() {
        let buf = b"VALUE k 0 4\r\nMN\r\n\r\nEND\r\nVA 2 f1\r\n\r\n\r\nMN\r\nVAL";
        let (units, used) = frame_replies(buf);
        let lines: Vec<&[u8]> = units.iter().map(|u| u.line.as_slice()).collect();
        assert_eq!(
            lines,
            vec![
                &b"VALUE k 0 4\r\n"[..],
                b"END\r\n",
                b"VA 2 f1\r\n",
                b"MN\r\n"
            ]
        );
        assert_eq!(units[0].data.as_deref(), Some(&b"MN\r\n\r\n"[..]));
        assert_eq!(used, buf.len() - 3);
    }

    #[test]
    fn framing_waits_for_a_whole_data_block() {
        let (units, used) = frame_replies(b"VALUE k 0 10\r\nabc");
        assert!(units.is_empty());
        assert_eq!(used, 0);
    }
}
