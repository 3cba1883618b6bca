//! Keys, values and key popularity shared by the workloads.
//!
//! A key is exactly [`KEY_LEN_BYTES`] bytes: a one-letter key space prefix and 11 decimal
//! digits (`k00000000042`), so every workload's key size is the one the issue fixes. A value is
//! a pure function of its key and length, so a reader can check every hit byte for byte
//! without keeping what it wrote.

use rand::Rng;
use rand_distr::{Distribution, Zipf};

/// Every benchmark key is this long.
pub const KEY_LEN_BYTES: usize = 12;
/// Largest key index a key can carry (11 decimal digits).
pub const KEY_INDEX_MAX: u64 = 99_999_999_999;

pub type Key = [u8; KEY_LEN_BYTES];

/// The key `index` of the key space named `prefix`.
pub fn key(prefix: u8, index: u64) -> Key {
    assert!(
        index <= KEY_INDEX_MAX,
        "key index {index} has over 11 digits"
    );
    let mut key = [b'0'; KEY_LEN_BYTES];
    key[0] = prefix;
    let mut n = index;
    for slot in key[1..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    key
}

/// Writes the value of `key` into `value` (its whole length): letters derived from an FNV-1a
/// hash of the key, so two keys' values differ and a value handed back for the wrong key shows.
pub fn fill_value(key: &Key, value: &mut [u8]) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for (i, slot) in value.iter_mut().enumerate() {
        let mixed = hash.rotate_left((i % 64) as u32) ^ i as u64;
        *slot = b'a' + (mixed % 26) as u8;
    }
}

/// Whether `got` is the value [`fill_value`] writes for `key` at `got`'s length, given the
/// length the writer used. `scratch` must be at least `expected_len` long.
pub fn value_is_right(key: &Key, got: &[u8], expected_len: usize, scratch: &mut [u8]) -> bool {
    if got.len() != expected_len {
        return false;
    }
    let expected = &mut scratch[..expected_len];
    fill_value(key, expected);
    got == expected
}

/// Zipf popularity over `key_count` keys: rank 1 (key index 0) is the most requested.
pub struct Popularity {
    zipf: Zipf<f64>,
}

impl Popularity {
    pub fn new(key_count: u64, exponent: f64) -> Popularity {
        let zipf = Zipf::new(key_count, exponent).expect("valid Zipf parameters");
        Popularity { zipf }
    }

    /// A key index in `0..key_count`.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        self.zipf.sample(rng) as u64 - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn keys_are_twelve_bytes() {
        assert_eq!(&key(b'k', 0), b"k00000000000");
        assert_eq!(&key(b'z', 42), b"z00000000042");
        assert_eq!(&key(b'a', KEY_INDEX_MAX), b"a99999999999");
    }

    #[test]
    fn values_depend_on_the_key() {
        let (mut a, mut b, mut scratch) = ([0u8; 64], [0u8; 64], [0u8; 64]);
        fill_value(&key(b'k', 1), &mut a);
        fill_value(&key(b'k', 2), &mut b);
        assert_ne!(a, b);
        assert!(value_is_right(&key(b'k', 1), &a, 64, &mut scratch));
        assert!(!value_is_right(&key(b'k', 2), &a, 64, &mut scratch));
        assert!(!value_is_right(&key(b'k', 1), &a[..63], 64, &mut scratch));
    }

    #[test]
    fn zipf_ranks_are_in_range_and_skewed() {
        let popularity = Popularity::new(1000, 0.99);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut first = 0;
        for _ in 0..10_000 {
            let index = popularity.sample(&mut rng);
            assert!(index < 1000);
            first += u32::from(index == 0);
        }
        assert!(first > 500, "rank 1 drawn {first} times of 10000");
    }
}
