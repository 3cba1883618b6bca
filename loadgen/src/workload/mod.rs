//! What the generator asks for: keys, operations and values.
//!
//! Goals: every choice comes from a seeded RNG (one per thread, derived from `--seed`), so a
//! run is repeatable; choosing an operation allocates nothing.
//! Invariant: a key is `k` and its zero-padded number, exactly `--key-size` bytes; the value
//! written for key `n` is a slice of one shared pattern starting at an offset derived from `n`
//! (see [`values`]), so a value read back can be checked without remembering what was written.

pub mod keys;
pub mod values;

use rand::rngs::StdRng;
use rand::Rng;

use crate::cli::ValueSize;

/// One operation, before it is assigned to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A get of this many keys (the keys are in the connection's key queue).
    Get { key_count: u8 },
    /// A set of one key with a value of this many bytes.
    Set { value_len_bytes: u32 },
}

/// Picks gets versus sets and value sizes.
pub struct OpMix {
    get_ratio: f64,
    multiget_keys: u8,
    value_size: ValueSize,
}

impl OpMix {
    pub fn new(get_ratio: f64, multiget_keys: usize, value_size: ValueSize) -> OpMix {
        assert!((1..=usize::from(u8::MAX)).contains(&multiget_keys));
        OpMix {
            get_ratio,
            multiget_keys: multiget_keys as u8,
            value_size,
        }
    }

    pub fn multiget_keys(&self) -> u8 {
        self.multiget_keys
    }

    pub fn next(&self, rng: &mut StdRng) -> OpKind {
        if self.get_ratio >= 1.0 || (self.get_ratio > 0.0 && rng.gen::<f64>() < self.get_ratio) {
            OpKind::Get {
                key_count: self.multiget_keys,
            }
        } else {
            OpKind::Set {
                value_len_bytes: self.value_len(rng),
            }
        }
    }

    pub fn value_len(&self, rng: &mut StdRng) -> u32 {
        let ValueSize {
            min_bytes,
            max_bytes,
        } = self.value_size;
        let len = if min_bytes == max_bytes {
            min_bytes
        } else {
            rng.gen_range(min_bytes..=max_bytes)
        };
        len as u32
    }
}
