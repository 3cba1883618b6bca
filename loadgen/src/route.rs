//! Which connection a request goes to.
//!
//! Open loop: round robin among the live connections of the server that owns the key; the
//! request joins that connection's queue (its backlog when the pipeline is full), as a client
//! with one queue per connection does.
//!
//! Closed loop and prefill: the connection of that server that has had room in its pipeline
//! longest, taken from a queue of such connections. So a reply that makes room on a
//! connection is followed by a request on it within the same loop turn, and no connection
//! with room waits while the next request waits for one that is full. When every connection
//! of the server is full, the request waits for the first to make room (the worker holds it).
//!
//! Invariant (closed loop): a live connection with fewer than `pipeline_depth` requests
//! queued is in its server's `ready` queue exactly once (`in_ready`); a full one is in none;
//! a failed one may stay in its queue until it reaches the front, where it is dropped.

use std::collections::VecDeque;

use crate::conn::Conn;

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To this connection (index into the worker's connections).
    Conn(usize),
    /// Closed loop: every live connection of the server is full.
    Full,
    /// The server has no live connection left.
    NoLiveConn,
}

pub struct Router {
    /// Indexes into the worker's connections per server, and the next one (open loop).
    conns_of_server: Vec<Vec<usize>>,
    round_robin: Vec<usize>,
    /// Closed loop: the connections of each server with room, longest first.
    ready: Vec<VecDeque<usize>>,
    in_ready: Vec<bool>,
    live_count: Vec<usize>,
}

impl Router {
    /// Every connection starts alive and empty, so ready.
    pub fn new(conns: &[Conn], server_count: usize) -> Router {
        let mut conns_of_server = vec![Vec::new(); server_count];
        for (index, conn) in conns.iter().enumerate() {
            conns_of_server[conn.server_index].push(index);
        }
        let ready = conns_of_server
            .iter()
            .map(|of_server| of_server.iter().copied().collect::<VecDeque<_>>())
            .collect();
        let live_count = conns_of_server.iter().map(Vec::len).collect();
        Router {
            conns_of_server,
            round_robin: vec![0; server_count],
            ready,
            in_ready: vec![true; conns.len()],
            live_count,
        }
    }

    /// The connection for the next request to `server`.
    pub fn route(&mut self, server: usize, open: bool, conns: &[Conn], depth: usize) -> Route {
        if self.live_count[server] == 0 {
            return Route::NoLiveConn;
        }
        if open {
            let candidates = &self.conns_of_server[server];
            let rr = &mut self.round_robin[server];
            // Terminates: at least one candidate is alive.
            loop {
                let index = candidates[*rr];
                *rr = if *rr + 1 == candidates.len() {
                    0
                } else {
                    *rr + 1
                };
                if conns[index].alive {
                    return Route::Conn(index);
                }
            }
        }
        let ready = &mut self.ready[server];
        while let Some(&index) = ready.front() {
            let conn = &conns[index];
            if conn.alive {
                assert!(
                    conn.queue.len() < depth,
                    "a full connection in the ready queue"
                );
                return Route::Conn(index);
            }
            ready.pop_front();
            self.in_ready[index] = false;
        }
        Route::Full
    }

    /// Closed loop: a request was just queued on `index`, which [`Self::route`] returned.
    pub fn queued(&mut self, index: usize, conns: &[Conn], depth: usize) {
        let conn = &conns[index];
        if conn.queue.len() < depth {
            return;
        }
        let ready = &mut self.ready[conn.server_index];
        assert_eq!(ready.front(), Some(&index), "routed from the front");
        ready.pop_front();
        self.in_ready[index] = false;
    }

    /// Closed loop: replies were parsed on `index`; if that made room, it is ready again.
    pub fn made_room(&mut self, index: usize, conns: &[Conn], depth: usize) {
        let conn = &conns[index];
        if !self.in_ready[index] && conn.alive && conn.queue.len() < depth {
            self.ready[conn.server_index].push_back(index);
            self.in_ready[index] = true;
        }
    }

    /// Connection `index` failed (called once per connection).
    pub fn failed(&mut self, index: usize, conns: &[Conn]) {
        let server = conns[index].server_index;
        assert!(!conns[index].alive && self.live_count[server] > 0);
        self.live_count[server] -= 1;
    }
}
