//! One connection: its socket, its request queue, its buffers, and the matching of replies
//! to requests.
//!
//! ```text
//!   queue: [ sent, sent, ... (inflight) | waiting, waiting, ... (backlog) ]
//!            front = oldest sent request, answered first (memcached answers in order)
//!   inbuf: [ parsed | unparsed (in_start..in_end) | free (Recv target) ]
//!   out:   encoded requests of one Send; untouched while the Send is in flight
//! ```
//!
//! Invariants: at most one Recv and one Send in flight; `inflight <= pipeline_depth`;
//! `queue.len() <= pipeline_depth + backlog_max` (the worker checks before pushing); every
//! buffer is allocated in [`Conn::new`] and never grows (asserted after encoding).

use std::collections::VecDeque;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

use ringcache_net::proto::response::{parse_response, Response};

use crate::stats::Stats;
use crate::workload::keys::parse_key;
use crate::workload::values::ValuePattern;
use crate::workload::OpKind;

/// A request from the moment it is scheduled until its reply is parsed.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// When the schedule meant it to be sent (ns since the run's start). In a closed loop it
    /// is set to the send time.
    pub intended_ns: u64,
    /// When it was handed to the kernel (ns since the run's start); 0 until then.
    pub sent_ns: u64,
    pub kind: OpKind,
    /// The (first) key.
    pub key: u64,
}

impl Request {
    /// A request not sent yet.
    pub fn new(intended_ns: u64, kind: OpKind, key: u64) -> Request {
        Request {
            intended_ns,
            sent_ns: 0,
            kind,
            key,
        }
    }
}

/// Where the measured window is, and what to check.
pub struct Window<'a> {
    /// Requests intended (closed loop: sent) before this are warmup: not counted.
    pub measure_from_ns: u64,
    pub validate: bool,
    pub pattern: &'a ValuePattern,
}

impl Window<'_> {
    fn measured(&self, request: &Request) -> bool {
        request.intended_ns >= self.measure_from_ns
    }
}

/// The reply stream broke the protocol, or does not match the requests.
#[derive(Debug)]
pub struct ProtocolError;

pub struct Conn {
    pub stream: TcpStream,
    pub server_index: usize,
    pub alive: bool,
    pub queue: VecDeque<Request>,
    /// Requests at the front of `queue` that were sent.
    pub inflight: usize,
    pub out: Vec<u8>,
    pub out_sent_bytes: usize,
    pub send_busy: bool,
    pub inbuf: Box<[u8]>,
    pub in_start: usize,
    pub in_end: usize,
    pub recv_busy: bool,
    /// `VALUE` blocks seen so far for the get at the front.
    reply_hits: u32,
}

impl Conn {
    pub fn new(
        stream: TcpStream,
        server_index: usize,
        queue_len_max: usize,
        out_len_max_bytes: usize,
        in_len_bytes: usize,
    ) -> Conn {
        Conn {
            stream,
            server_index,
            alive: true,
            queue: VecDeque::with_capacity(queue_len_max),
            inflight: 0,
            out: Vec::with_capacity(out_len_max_bytes),
            out_sent_bytes: 0,
            send_busy: false,
            inbuf: vec![0u8; in_len_bytes].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            recv_busy: false,
            reply_hits: 0,
        }
    }

    pub fn fd(&self) -> i32 {
        self.stream.as_raw_fd()
    }

    /// Requests waiting to be sent.
    pub fn backlog_len(&self) -> usize {
        self.queue.len() - self.inflight
    }

    /// Parses the replies received so far; each completed request is recorded in `total` (if
    /// in the measured window) and `interval` (always).
    pub fn parse_replies(
        &mut self,
        now_ns: u64,
        window: &Window<'_>,
        total: &mut Stats,
        interval: &mut Stats,
    ) -> Result<(), ProtocolError> {
        while self.in_start < self.in_end {
            let buf = &self.inbuf[self.in_start..self.in_end];
            let (response, len) = match parse_response(buf) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(_) => return Err(ProtocolError),
            };
            self.in_start += len;
            let Some(&front) = self.queue.front().filter(|_| self.inflight > 0) else {
                return Err(ProtocolError);
            };
            let measured = window.measured(&front);
            let mut error_reply = false;
            let mut hits = 0;
            let mut misses = 0;
            match (front.kind, response) {
                (OpKind::Get { .. }, Response::Value { key, data, .. }) => {
                    self.reply_hits += 1;
                    let valid = !window.validate
                        || parse_key(key).is_some_and(|k| window.pattern.is_valid(k, data));
                    if !valid {
                        total.errors.wrong_value += u64::from(measured);
                        interval.errors.wrong_value += 1;
                    }
                    continue;
                }
                (OpKind::Get { key_count }, Response::End) => {
                    hits = u64::from(self.reply_hits);
                    misses = u64::from(key_count).saturating_sub(hits);
                    if hits > u64::from(key_count) {
                        return Err(ProtocolError);
                    }
                }
                (OpKind::Set { .. }, Response::Stored) => {}
                (
                    OpKind::Set { .. },
                    Response::NotStored | Response::Exists | Response::NotFound,
                )
                | (_, Response::Error | Response::ClientError(_) | Response::ServerError(_)) => {
                    error_reply = true;
                }
                _ => return Err(ProtocolError),
            }
            self.reply_hits = 0;
            self.queue.pop_front();
            self.inflight -= 1;
            let latency_ns = now_ns.saturating_sub(front.intended_ns);
            let service_ns = now_ns.saturating_sub(front.sent_ns);
            for (stats, counted) in [(&mut *total, measured), (&mut *interval, true)] {
                if !counted {
                    continue;
                }
                stats.record(latency_ns, service_ns);
                stats.hits += hits;
                stats.misses += misses;
                stats.errors.error_reply += u64::from(error_reply);
                match front.kind {
                    OpKind::Get { .. } => stats.gets += 1,
                    OpKind::Set { .. } => stats.sets += 1,
                }
            }
        }
        // Make room for the next Recv: the buffer holds the largest reply, so a full buffer
        // that parses to nothing is a broken stream.
        if self.in_start == 0 && self.in_end == self.inbuf.len() {
            return Err(ProtocolError);
        }
        if self.in_start == self.in_end {
            self.in_start = 0;
            self.in_end = 0;
        } else if self.in_start > 0 {
            // A partial reply is usually short: moving it keeps the free space in one piece.
            self.inbuf.copy_within(self.in_start..self.in_end, 0);
            self.in_end -= self.in_start;
            self.in_start = 0;
        }
        Ok(())
    }

    /// Drops every queued request after a failure; returns how many were measured.
    pub fn fail(&mut self, window_from_ns: u64) -> u64 {
        self.alive = false;
        let lost = self
            .queue
            .iter()
            .filter(|r| r.intended_ns >= window_from_ns)
            .count() as u64;
        self.queue.clear();
        self.inflight = 0;
        lost
    }
}
