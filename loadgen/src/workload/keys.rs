//! Keys: their names and how they are drawn.

use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Distribution, Zipf};

use crate::cli::KeyDistribution;

/// Writes key number `index` as `k` followed by its zero-padded decimal digits, exactly
/// `out.len()` bytes. The caller guarantees the digits fit (checked by `Args::check`).
pub fn write_key(index: u64, out: &mut [u8]) {
    assert!(!out.is_empty());
    out[0] = b'k';
    let mut value = index;
    let digits = &mut out[1..];
    let mut end = digits.len();
    // The significant digits from the right, then zeros: a 32-byte key of a 6-digit number
    // costs 6 divisions, not 31.
    while value > 0 && end > 0 {
        end -= 1;
        digits[end] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    assert_eq!(value, 0, "key {index} does not fit in {} bytes", out.len());
    digits[..end].fill(b'0');
}

/// The key number of a key this generator wrote (`k` and digits), or `None`.
pub fn parse_key(key: &[u8]) -> Option<u64> {
    let digits = key.strip_prefix(b"k")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Keys longer than 20 bytes are zero-padded: the length alone does not bound the value.
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Draws key numbers in `0..key_count`.
pub enum KeySampler {
    Uniform {
        key_count: u64,
    },
    /// Rank 1 (the most popular) is key 0.
    Zipf {
        zipf: Zipf<f64>,
    },
    /// Each thread walks the key space from its own starting point.
    Sequential {
        key_count: u64,
        next: u64,
    },
}

impl KeySampler {
    pub fn new(distribution: KeyDistribution, key_count: u64, start: u64) -> KeySampler {
        assert!(key_count > 0);
        match distribution {
            KeyDistribution::Uniform => KeySampler::Uniform { key_count },
            KeyDistribution::Zipf(exponent) => KeySampler::Zipf {
                zipf: Zipf::new(key_count, exponent).expect("zipf parameters checked by the CLI"),
            },
            KeyDistribution::Sequential => KeySampler::Sequential {
                key_count,
                next: start % key_count,
            },
        }
    }

    pub fn next(&mut self, rng: &mut StdRng) -> u64 {
        match self {
            KeySampler::Uniform { key_count } => rng.gen_range(0..*key_count),
            KeySampler::Zipf { zipf } => zipf.sample(rng) as u64 - 1,
            KeySampler::Sequential { key_count, next } => {
                let key = *next;
                *next = (*next + 1) % *key_count;
                key
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn keys_round_trip() {
        let mut buf = [0u8; 8];
        write_key(42, &mut buf);
        assert_eq!(&buf, b"k0000042");
        assert_eq!(parse_key(&buf), Some(42));
        assert_eq!(parse_key(b"x1"), None);
        assert_eq!(parse_key(b"k"), None);
    }

    #[test]
    fn long_zero_padded_keys_round_trip() {
        let mut buf = [0u8; 32];
        write_key(99_999, &mut buf);
        assert_eq!(parse_key(&buf), Some(99_999));
        assert_eq!(parse_key(b"k99999999999999999999"), None, "beyond u64");
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn key_number_too_long_for_the_size_is_a_bug() {
        write_key(1000, &mut [0u8; 3]);
    }

    #[test]
    fn zipf_favours_low_keys_and_stays_in_range() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut sampler = KeySampler::new(KeyDistribution::Zipf(0.99), 1000, 0);
        let mut low = 0;
        for _ in 0..10_000 {
            let k = sampler.next(&mut rng);
            assert!(k < 1000);
            low += usize::from(k < 10);
        }
        // Keys 0..10 hold about 39% of the mass for s = 0.99, n = 1000.
        assert!((3000..5000).contains(&low), "{low}");
    }

    #[test]
    fn sequential_wraps() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut sampler = KeySampler::new(KeyDistribution::Sequential, 3, 2);
        let drawn: Vec<u64> = (0..4).map(|_| sampler.next(&mut rng)).collect();
        assert_eq!(drawn, [2, 0, 1, 2]);
    }
}
