//! libmemcached-compatible weighted ketama: which server of a fleet owns a key.
//!
//! The scheme of libmemcached's `update_continuum` (hosts.cc) with
//! `MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`:
//! - each server gets `floor(weight / total_weight * 160 / 4 * server_count + 1e-10) * 4`
//!   points, computed in C `float` (so in `f32` here: the rounding decides ties);
//! - for point group `i` in `0..points / 4` the server's name is `host-i` when its port is
//!   memcached's default 11211, else `host:port-i`; its MD5 digest gives four points, point
//!   `a` being the little-endian `u32` of digest bytes `4a..4a + 4`;
//! - a key hashes to the little-endian `u32` of its MD5's first four bytes and belongs to the
//!   first point at or above that hash, wrapping to the first point.
//!
//! Proven against the real library: `loadgen/tests/ketama.rs` checks 1000 keys on four
//! fleets against vectors `loadgen/tests/fixtures/ketama_vectors.c` produced with Debian's
//! libmemcached 1.1.4.

use md5::{Digest, Md5};

/// libmemcached `MEMCACHED_POINTS_PER_SERVER_KETAMA`.
pub const POINTS_PER_SERVER: u32 = 160;
/// libmemcached `MEMCACHED_DEFAULT_PORT`: servers on it are named without the port.
pub const DEFAULT_PORT: u16 = 11211;
/// Points from one MD5 digest.
const POINTS_PER_HASH: u32 = 4;

/// A server as the continuum names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerName {
    pub host: String,
    pub port: u16,
    pub weight: u32,
}

pub struct Continuum {
    /// `(point, server index)`, sorted by point.
    points: Vec<(u32, usize)>,
}

fn md5(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// libmemcached's `hashkit_md5`: the first four digest bytes, little-endian.
pub fn key_hash(key: &[u8]) -> u32 {
    let d = md5(key);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

impl Continuum {
    pub fn new(servers: &[ServerName]) -> Continuum {
        assert!(!servers.is_empty(), "a continuum needs a server");
        let total_weight: u32 = servers.iter().map(|s| s.weight).sum();
        assert!(total_weight > 0, "server weights sum to 0");
        let server_count = servers.len() as f32;
        let mut points = Vec::new();
        for (index, server) in servers.iter().enumerate() {
            // The float arithmetic of hosts.cc, operation by operation.
            let pct = server.weight as f32 / total_weight as f32;
            let groups = (pct * POINTS_PER_SERVER as f32 / 4.0 * server_count + 0.000_000_000_1)
                .floor() as u32;
            let points_for_server = groups * 4;
            for group in 0..points_for_server / POINTS_PER_HASH {
                let name = if server.port == DEFAULT_PORT {
                    format!("{}-{group}", server.host)
                } else {
                    format!("{}:{}-{group}", server.host, server.port)
                };
                let d = md5(name.as_bytes());
                for a in 0..POINTS_PER_HASH as usize {
                    let point =
                        u32::from_le_bytes([d[4 * a], d[4 * a + 1], d[4 * a + 2], d[4 * a + 3]]);
                    points.push((point, index));
                }
            }
        }
        // libmemcached sorts by point only (qsort, not stable); equal points of two servers
        // are a 2^-32 event per pair, so the order between them does not matter in practice.
        points.sort_unstable();
        assert!(!points.is_empty());
        Continuum { points }
    }

    /// The index (in the list given to [`Continuum::new`]) of the server owning `key`.
    pub fn server_of(&self, key: &[u8]) -> usize {
        let hash = key_hash(key);
        let at = self.points.partition_point(|&(point, _)| point < hash);
        self.points[if at == self.points.len() { 0 } else { at }].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_owns_everything_and_points_are_sorted() {
        let c = Continuum::new(&[ServerName {
            host: "127.0.0.1".into(),
            port: 11211,
            weight: 1,
        }]);
        assert_eq!(c.points.len(), 160);
        assert!(c.points.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(c.server_of(b"anything"), 0);
    }
}
