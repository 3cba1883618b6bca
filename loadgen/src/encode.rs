//! Turning a queued request into protocol bytes, with the shared codec's encoders; and which
//! server owns a key.

use std::sync::Arc;

use ringcache_net::proto::client::{encode_get, encode_set};

use crate::conn::Request;
use crate::worker::WorkerConfig;
use crate::workload::keys::write_key;
use crate::workload::OpKind;

/// Draws before giving up finding another key of one server for a multi-get.
const SAME_SERVER_DRAWS_MAX: usize = 1000;

/// Which server owns a key: a fleet's ketama answers, precomputed per key number.
pub struct KeyOwners {
    pub server_of_key: Option<Arc<[u16]>>,
}

impl KeyOwners {
    pub fn of(&self, key: u64) -> usize {
        self.server_of_key
            .as_ref()
            .map_or(0, |table| usize::from(table[key as usize]))
    }
}

/// Writes one request into `out` with the shared codec's encoders.
pub fn encode(
    out: &mut Vec<u8>,
    request: &Request,
    server: usize,
    key_buf: &mut [u8],
    cfg: &mut WorkerConfig,
) {
    let key_size = cfg.key_size_bytes;
    match request.kind {
        OpKind::Set { value_len_bytes } => {
            let key = &mut key_buf[..key_size];
            write_key(request.key, key);
            let value = cfg.pattern.value(request.key, value_len_bytes as usize);
            encode_set(out, key, 0, 0, value);
        }
        OpKind::Get { key_count } => {
            // The first key chose the connection; the others are drawn among the keys of the
            // same server, as a client splits a multi-get by server.
            let keys = &mut key_buf[..usize::from(key_count) * key_size];
            for (index, slot) in keys.chunks_mut(key_size).enumerate() {
                let key = if index == 0 {
                    request.key
                } else {
                    same_server_key(server, request.key, cfg)
                };
                write_key(key, slot);
            }
            encode_get(out, keys.chunks(key_size));
        }
    }
}

fn same_server_key(server: usize, fallback: u64, cfg: &mut WorkerConfig) -> u64 {
    for _ in 0..SAME_SERVER_DRAWS_MAX {
        let key = cfg.sampler.next(&mut cfg.rng);
        if cfg.owners.of(key) == server {
            return key;
        }
    }
    fallback
}
