//! Numbers as memcached reads and writes them.
//!
//! Reading follows memcached 1.6.18's `safe_strto*` helpers (util.c) bug for bug, because
//! clients see the difference: leading C whitespace is skipped, a `+` or `-` sign is accepted,
//! the digits must run to the end of the token (or to a whitespace byte), `strtoul` is the
//! 64-bit C function whose result is truncated to 32 bits (`flags 4294967296` stores 0), and
//! `safe_strtol` truncates a 64-bit `strtol` to 32 bits without a range check
//! (`exptime 4294967396` is 100). A negative number is refused by the unsigned readers only
//! when its value wraps into the upper half (`-1` is refused, `-0` is 0).
//!
//! Writing never goes through `format!`: digits are produced into a stack buffer. The C
//! integer scanner and the digit writer are the engine's ([`ringcache_engine::numeric`]).

use ringcache_engine::numeric::{self, is_c_space, U64_DIGITS_MAX};

/// memcached requires the number to end the token or be followed by whitespace.
fn ends_cleanly(token: &[u8], end: usize) -> bool {
    end == token.len() || is_c_space(token[end])
}

/// memcached `safe_strtoull` (a token never holds a NUL: the line ends at one).
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    numeric::parse_u64(token)
}

/// memcached `safe_strtoul` on a 64-bit build: a `u64` read, truncated to 32 bits.
pub fn parse_u32(token: &[u8]) -> Option<u32> {
    parse_u64(token).map(|v| v as u32)
}

/// memcached `safe_strtol`: a 64-bit `strtol`, truncated to 32 bits.
pub fn parse_i32(token: &[u8]) -> Option<i32> {
    let (negative, magnitude, end) = numeric::scan_c_integer(token)?;
    // strtol's ERANGE: outside i64.
    let value: i64 = if negative {
        if magnitude > (i64::MAX as u64) + 1 {
            return None;
        }
        (magnitude as i64).wrapping_neg()
    } else {
        if magnitude > i64::MAX as u64 {
            return None;
        }
        magnitude as i64
    };
    if !ends_cleanly(token, end) {
        return None;
    }
    Some(value as i32)
}

pub fn write_u64(out: &mut Vec<u8>, value: u64) {
    let mut buf = [0u8; U64_DIGITS_MAX];
    let len = numeric::write_u64(value, &mut buf);
    out.extend_from_slice(&buf[..len]);
}

pub fn write_u32(out: &mut Vec<u8>, value: u32) {
    write_u64(out, u64::from(value));
}

pub fn write_usize(out: &mut Vec<u8>, value: usize) {
    write_u64(out, value as u64);
}

pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(out, value.unsigned_abs());
}

/// Number of decimal digits of `value` (the length `write_u64` appends).
pub fn decimal_len(value: u64) -> usize {
    let mut buf = [0u8; U64_DIGITS_MAX];
    numeric::write_u64(value, &mut buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_readers_follow_safe_strtoul() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"+5"), Some(5));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(
            parse_u32(b"4294967296"),
            Some(0),
            "64-bit strtoul truncates"
        );
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"-0"), Some(0));
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"12abc"), None);
        assert_eq!(parse_u32(b"12\r"), Some(12));
        assert_eq!(parse_u32(b"\t7"), Some(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-18446744073709551615"), Some(1));
        assert_eq!(parse_u64(b"-1"), None);
    }

    #[test]
    fn signed_reader_truncates_like_safe_strtol() {
        assert_eq!(parse_i32(b"-1"), Some(-1));
        assert_eq!(parse_i32(b"4294967396"), Some(100));
        assert_eq!(parse_i32(b"2147483648"), Some(i32::MIN));
        assert_eq!(parse_i32(b"99999999999999999999"), None);
        assert_eq!(parse_i32(b"abc"), None);
        assert_eq!(parse_i32(b"-"), None);
    }

    #[test]
    fn writers_produce_decimal_digits() {
        let mut out = Vec::new();
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        out.push(b' ');
        write_i64(&mut out, -42);
        out.push(b' ');
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, b"0 18446744073709551615 -42 -9223372036854775808");
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(u64::MAX), 20);
    }
}
