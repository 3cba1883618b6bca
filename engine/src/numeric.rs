//! Decimal numbers as memcached reads and writes them: C's `strtoull` core, memcached's
//! `safe_strtoull` (used by incr/decr on stored values and by the protocol layer on tokens),
//! and a digit writer that needs no allocation. One implementation for both layers.

/// Longest decimal `u64` (18446744073709551615).
pub const U64_DIGITS_MAX: usize = 20;

/// C's `isspace` in the "C" locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The core of C `strtoull`/`strtol` in base 10: leading C whitespace, an optional sign, then
/// digits. Returns (negative, magnitude, index after the digits), or `None` when there are no
/// digits or the magnitude overflows `u64` (ERANGE).
pub fn scan_c_integer(bytes: &[u8]) -> Option<(bool, u64, usize)> {
    let mut at = 0;
    while at < bytes.len() && is_c_space(bytes[at]) {
        at += 1;
    }
    let mut negative = false;
    if at < bytes.len() && (bytes[at] == b'+' || bytes[at] == b'-') {
        negative = bytes[at] == b'-';
        at += 1;
    }
    let digits_start = at;
    let mut magnitude: u64 = 0;
    while at < bytes.len() && bytes[at].is_ascii_digit() {
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(bytes[at] - b'0'))?;
        at += 1;
    }
    if at == digits_start {
        return None;
    }
    Some((negative, magnitude, at))
}

/// memcached's `safe_strtoull`, on a protocol token or a stored value (which in memcached ends
/// in "\r\n"): `strtoull(bytes, &end, 10)` must consume at least one digit without overflow
/// and stop at a space, a NUL or the end; a '-' sign is accepted only if the result (as C's
/// strtoull negates it) does not look negative as a signed number.
pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let (negative, magnitude, end) = scan_c_integer(bytes)?;
    if end < bytes.len() && !is_c_space(bytes[end]) && bytes[end] != 0 {
        return None;
    }
    if !negative {
        return Some(magnitude);
    }
    let number = magnitude.wrapping_neg();
    ((number as i64) >= 0).then_some(number)
}

/// Writes `value` in decimal into `buf`; returns the number of digits.
pub fn write_u64(mut value: u64, buf: &mut [u8; U64_DIGITS_MAX]) -> usize {
    let mut tmp = [0u8; U64_DIGITS_MAX];
    let mut len = 0;
    loop {
        tmp[U64_DIGITS_MAX - 1 - len] = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf[..len].copy_from_slice(&tmp[U64_DIGITS_MAX - len..]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_safe_strtoull() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"42"), Some(42));
        assert_eq!(
            parse_u64(b"9 "),
            Some(9),
            "trailing space padding from in-place decr"
        );
        assert_eq!(parse_u64(b"12 34"), Some(12));
        assert_eq!(parse_u64(b"  7"), Some(7));
        assert_eq!(parse_u64(b"+7"), Some(7));
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"000000000000000000000000001"), Some(1));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b" "), None);
        assert_eq!(parse_u64(b"abc"), None);
        assert_eq!(parse_u64(b"12abc"), None);
        assert_eq!(parse_u64(b"1.5"), None);
        assert_eq!(parse_u64(b"5\0x"), Some(5));
    }

    #[test]
    fn writes_digits() {
        let mut buf = [0u8; U64_DIGITS_MAX];
        for value in [0, 9, 10, 12345, u64::MAX] {
            let len = write_u64(value, &mut buf);
            assert_eq!(&buf[..len], value.to_string().as_bytes());
        }
    }
}
