//! Base64 for meta `b` keys, with memcached 1.6.18's decoder semantics (base64.c): bytes
//! outside the alphabet are skipped, the count of alphabet bytes must be a non-zero multiple
//! of 4, decoding stops after the first padded block, and three `=` in a block is an error.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn value_of(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        b'=' => Some(0),
        _ => None,
    }
}

/// Decodes `src` into `out`; `None` where memcached's `base64_decode` returns 0.
pub fn decode(src: &[u8], out: &mut [u8]) -> Option<usize> {
    let count = src.iter().filter(|&&b| value_of(b).is_some()).count();
    if count == 0 || count % 4 != 0 || count / 4 * 3 > out.len() {
        return None;
    }
    let mut pos = 0;
    let mut block = [0u8; 4];
    let mut filled = 0;
    let mut pad = 0;
    for &b in src {
        let Some(v) = value_of(b) else { continue };
        if b == b'=' {
            pad += 1;
        }
        block[filled] = v;
        filled += 1;
        if filled == 4 {
            out[pos] = (block[0] << 2) | (block[1] >> 4);
            out[pos + 1] = (block[1] << 4) | (block[2] >> 2);
            out[pos + 2] = (block[2] << 6) | block[3];
            pos += 3;
            filled = 0;
            if pad > 0 {
                match pad {
                    1 => pos -= 1,
                    2 => pos -= 2,
                    _ => return None,
                }
                break;
            }
        }
    }
    if pos == 0 {
        return None;
    }
    Some(pos)
}

/// Appends the padded base64 form of `src` to `out`.
pub fn encode(src: &[u8], out: &mut Vec<u8>) {
    for chunk in src.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        out.push(ALPHABET[(b0 >> 2) as usize]);
        out.push(ALPHABET[(((b0 & 0x03) << 4) | (b1 >> 4)) as usize]);
        if chunk.len() > 1 {
            out.push(ALPHABET[(((b1 & 0x0f) << 2) | (b2 >> 6)) as usize]);
        } else {
            out.push(b'=');
        }
        if chunk.len() > 2 {
            out.push(ALPHABET[(b2 & 0x3f) as usize]);
        } else {
            out.push(b'=');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for len in 0..20 {
            let src: Vec<u8> = (0..len).map(|i| (i * 37 + 5) as u8).collect();
            let mut enc = Vec::new();
            encode(&src, &mut enc);
            let mut dec = [0u8; 64];
            if len == 0 {
                assert_eq!(decode(&enc, &mut dec), None);
            } else {
                assert_eq!(decode(&enc, &mut dec), Some(len), "{enc:?}");
                assert_eq!(&dec[..len], &src[..]);
            }
        }
    }

    #[test]
    fn memcached_quirks() {
        let mut out = [0u8; 16];
        assert_eq!(decode(b"bWs=", &mut out), Some(2));
        assert_eq!(&out[..2], b"mk");
        assert_eq!(decode(b"!!!!", &mut out), None);
        assert_eq!(decode(b"a", &mut out), None);
        assert_eq!(
            decode(b"b!Ws=", &mut out),
            Some(2),
            "bytes outside the alphabet are skipped"
        );
        assert_eq!(decode(b"A===", &mut out), None);
        assert_eq!(decode(b"====", &mut out), None);
    }
}
