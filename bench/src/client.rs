//! A blocking, pipelining memcached text-protocol client for the benchmarks.
//!
//! Requests are queued into one output buffer and sent together ([`Client::exchange`]); the
//! replies are then read and matched to the requests in order with the server's own
//! client-side parser, [`parse_response`]. `noreply` is used nowhere: every request is answered
//! and every answer is counted, so a lost or extra reply is an error, not a silent skew.
//!
//! Invariants:
//! - Buffers are allocated once, in [`Client::connect`]; queuing and exchanging allocate
//!   nothing (the pending-request list never grows past [`BATCH_REQUESTS_MAX`]).
//! - At most [`BATCH_REQUESTS_MAX`] requests are in flight, and a reply element is at most
//!   [`REPLY_ELEMENT_LEN_MAX_BYTES`]; the read buffer holds one whole element plus slack.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ringcache_net::proto::response::{parse_response, Response};

/// Most requests queued before an exchange.
pub const BATCH_REQUESTS_MAX: usize = 1000;
/// Largest reply element the benchmarks expect (a value of at most 1 MiB plus its header).
pub const REPLY_ELEMENT_LEN_MAX_BYTES: usize = 1024 * 1024 + 512;
/// Size of the read buffer.
const READ_BUFFER_SIZE_BYTES: usize = 4 * 1024 * 1024;
/// Size the output buffer is created with (it holds one batch of requests).
const WRITE_BUFFER_CAPACITY_BYTES: usize = 2 * 1024 * 1024;
/// A server that does not answer within this long is declared stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

const _: () = assert!(READ_BUFFER_SIZE_BYTES >= 2 * REPLY_ELEMENT_LEN_MAX_BYTES);

/// What one request got back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// `get` found the key: its value.
    Hit(&'a [u8]),
    /// `get` did not find the key.
    Miss,
    /// `set` stored the item.
    Stored,
    /// Anything else (`NOT_STORED`, `SERVER_ERROR ...`, an unexpected element).
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    Get,
    Set,
}

/// One connection to one server.
pub struct Client {
    stream: TcpStream,
    out: Vec<u8>,
    pending: Vec<Pending>,
    read_buf: Box<[u8]>,
    /// Unparsed bytes are `read_buf[read_start..read_end]`.
    read_start: usize,
    read_end: usize,
}

fn protocol_error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Appends `n` in decimal without allocating.
fn put_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Client {
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Client {
            stream,
            out: Vec::with_capacity(WRITE_BUFFER_CAPACITY_BYTES),
            pending: Vec::with_capacity(BATCH_REQUESTS_MAX),
            read_buf: vec![0u8; READ_BUFFER_SIZE_BYTES].into_boxed_slice(),
            read_start: 0,
            read_end: 0,
        })
    }

    /// Requests queued and not yet exchanged.
    pub fn queued_count(&self) -> usize {
        self.pending.len()
    }

    /// Queues `get <key>`.
    pub fn queue_get(&mut self, key: &[u8]) {
        assert!(self.pending.len() < BATCH_REQUESTS_MAX, "batch is full");
        self.out.extend_from_slice(b"get ");
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(b"\r\n");
        self.pending.push(Pending::Get);
    }

    /// Queues `set <key> 0 <exptime_secs> <len>` and the value.
    pub fn queue_set(&mut self, key: &[u8], exptime_secs: u32, value: &[u8]) {
        assert!(self.pending.len() < BATCH_REQUESTS_MAX, "batch is full");
        self.out.extend_from_slice(b"set ");
        self.out.extend_from_slice(key);
        self.out.extend_from_slice(b" 0 ");
        put_decimal(&mut self.out, u64::from(exptime_secs));
        self.out.push(b' ');
        put_decimal(&mut self.out, value.len() as u64);
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        self.pending.push(Pending::Set);
    }

    /// Sends every queued request, then reads every reply, calling `on_reply(index, outcome)`
    /// once per request in the order they were queued.
    pub fn exchange(&mut self, mut on_reply: impl FnMut(usize, Outcome<'_>)) -> io::Result<()> {
        self.stream.write_all(&self.out)?;
        self.out.clear();
        let mut index = 0;
        let mut got_value = false;
        while index < self.pending.len() {
            let parsed = parse_response(&self.read_buf[self.read_start..self.read_end])
                .map_err(|e| protocol_error(format!("bad reply stream: {e:?}")))?;
            let Some((response, len)) = parsed else {
                self.fill()?;
                continue;
            };
            let (outcome, done) = match (self.pending[index], response) {
                (Pending::Get, Response::Value { data, .. }) if !got_value => {
                    got_value = true;
                    (Some(Outcome::Hit(data)), false)
                }
                (Pending::Get, Response::End) if got_value => (None, true),
                (Pending::Get, Response::End) => (Some(Outcome::Miss), true),
                (Pending::Set, Response::Stored) => (Some(Outcome::Stored), true),
                (Pending::Set, Response::NotStored | Response::ServerError(_)) => {
                    (Some(Outcome::Failed), true)
                }
                (pending, other) => {
                    return Err(protocol_error(format!(
                        "unexpected reply {other:?} to a {pending:?} request"
                    )))
                }
            };
            if let Some(outcome) = outcome {
                on_reply(index, outcome);
            }
            self.read_start += len;
            if done {
                index += 1;
                got_value = false;
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Reads more bytes, first moving the unparsed tail to the front if space runs short.
    fn fill(&mut self) -> io::Result<()> {
        if self.read_buf.len() - self.read_end < REPLY_ELEMENT_LEN_MAX_BYTES {
            self.read_buf.copy_within(self.read_start..self.read_end, 0);
            self.read_end -= self.read_start;
            self.read_start = 0;
        }
        if self.read_end - self.read_start > REPLY_ELEMENT_LEN_MAX_BYTES {
            return Err(protocol_error("reply element too long".into()));
        }
        let n = self.stream.read(&mut self.read_buf[self.read_end..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.read_end += n;
        Ok(())
    }

    /// `stats`: every `(name, value)` pair (not on a hot path, so it allocates).
    pub fn stats(&mut self) -> io::Result<Vec<(String, String)>> {
        assert!(self.pending.is_empty(), "stats with requests queued");
        self.stream.write_all(b"stats\r\n")?;
        let mut stats = Vec::new();
        loop {
            let parsed = parse_response(&self.read_buf[self.read_start..self.read_end])
                .map_err(|e| protocol_error(format!("bad stats reply: {e:?}")))?;
            let Some((response, len)) = parsed else {
                self.fill()?;
                continue;
            };
            self.read_start += len;
            match response {
                Response::Stat { name, value } => stats.push((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                )),
                Response::End => return Ok(stats),
                other => return Err(protocol_error(format!("unexpected {other:?} in stats"))),
            }
        }
    }

    /// One numeric field of `stats`; 0 when the server does not report it.
    pub fn stat_u64(&mut self, name: &str) -> io::Result<u64> {
        let stats = self.stats()?;
        Ok(stats
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::put_decimal;

    #[test]
    fn decimal_digits() {
        for n in [0u64, 7, 10, 99, 1234567, u64::MAX] {
            let mut out = Vec::new();
            put_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
