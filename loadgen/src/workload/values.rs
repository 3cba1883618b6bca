//! Values and their validation.
//!
//! The value of key `n` with length `len` is `pattern[offset(n)..offset(n) + len]`, where the
//! pattern is random printable bytes from `--seed`, `PATTERN_OFFSETS` bytes longer than the
//! largest value, and `offset(n)` spreads keys over those offsets. Any value some connection
//! wrote for key `n` passes; a value written for another key (or garbled) fails unless the
//! two keys share an offset and the lengths agree (about 1 in 4096 for a swapped value).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Distinct starting offsets in the pattern.
pub const PATTERN_OFFSETS: usize = 4096;

pub struct ValuePattern {
    bytes: Box<[u8]>,
    value_len_max_bytes: usize,
}

impl ValuePattern {
    pub fn new(seed: u64, value_len_max_bytes: usize) -> ValuePattern {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = StdRng::seed_from_u64(seed ^ 0x7a1e_5eed);
        let bytes = (0..value_len_max_bytes + PATTERN_OFFSETS)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect();
        ValuePattern {
            bytes,
            value_len_max_bytes,
        }
    }

    fn offset(key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize % PATTERN_OFFSETS
    }

    /// The value the generator writes for `key` with `len` bytes.
    pub fn value(&self, key: u64, len: usize) -> &[u8] {
        assert!(len <= self.value_len_max_bytes);
        let start = Self::offset(key);
        &self.bytes[start..start + len]
    }

    /// Whether `data` is a value the generator could have written for `key`.
    pub fn is_valid(&self, key: u64, data: &[u8]) -> bool {
        data.len() <= self.value_len_max_bytes && self.value(key, data.len()) == data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_validate_and_others_do_not() {
        let pattern = ValuePattern::new(1, 100);
        let v = pattern.value(5, 100).to_vec();
        assert!(pattern.is_valid(5, &v));
        assert!(pattern.is_valid(5, &v[..10]));
        assert!(!pattern.is_valid(6, &v));
        let mut garbled = v.clone();
        garbled[50] ^= 1;
        assert!(!pattern.is_valid(5, &garbled));
        assert!(!pattern.is_valid(5, &[b'x'; 101]));
    }
}
