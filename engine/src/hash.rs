//! The key hash: 64 bits, well mixed in every bit, no allocation, no state.
//!
//! Keys are read 8 bytes at a time and folded with a 64x64->128 multiply (the wyhash "mum"
//! step); the length is mixed in and the result finished with murmur3's `fmix64`, so the low
//! bits the index uses are as good as the high ones. Not DoS-resistant (no secret seed).

const MUL_A: u64 = 0xa076_1d64_78bd_642f;
const MUL_B: u64 = 0xe703_7ed1_a0b4_28db;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = (a as u128) * (b as u128);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub(crate) fn hash_key(key: &[u8]) -> u64 {
    let mut h = MUL_A ^ (key.len() as u64);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = fold(h ^ u64::from_le_bytes(word), MUL_B);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(word), MUL_B ^ rest.len() as u64);
    }
    fmix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_short_keys_differ() {
        assert_ne!(hash_key(b""), hash_key(b"\0"));
        assert_ne!(hash_key(b"a"), hash_key(b"a\0"));
        assert_ne!(hash_key(b"key1"), hash_key(b"key2"));
        assert_eq!(hash_key(b"same"), hash_key(b"same"));
    }

    #[test]
    fn low_bits_spread_over_buckets() {
        let buckets = 1024usize;
        let mut counts = vec![0u32; buckets];
        for i in 0..(buckets * 16) {
            let key = format!("key:{i}");
            counts[(hash_key(key.as_bytes()) as usize) & (buckets - 1)] += 1;
        }
        let max = *counts.iter().max().unwrap();
        let min = *counts.iter().min().unwrap();
        assert!(max < 40 && min > 2, "min {min} max {max}");
    }
}
