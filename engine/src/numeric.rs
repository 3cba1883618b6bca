//! Decimal numbers as incr/decr see them: memcached's `safe_strtoull` and a digit writer that
//! needs no allocation.

/// Longest decimal `u64` (18446744073709551615).
pub(crate) const U64_DIGITS_MAX: usize = 20;

fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// memcached's `safe_strtoull` on a stored value (which in memcached ends in "\r\n"):
/// `strtoull(value, &end, 10)` must consume at least one digit without overflow and stop at
/// a space or the end of the value; a '-' sign is accepted only if the result (as C's strtoull
/// negates it) does not look negative as a signed number.
pub(crate) fn parse_u64(value: &[u8]) -> Option<u64> {
    let mut at = 0;
    while at < value.len() && is_c_space(value[at]) {
        at += 1;
    }
    let mut negative = false;
    if at < value.len() && (value[at] == b'+' || value[at] == b'-') {
        negative = value[at] == b'-';
        at += 1;
    }
    let digits_start = at;
    let mut number: u64 = 0;
    while at < value.len() && value[at].is_ascii_digit() {
        number = number
            .checked_mul(10)?
            .checked_add(u64::from(value[at] - b'0'))?;
        at += 1;
    }
    if at == digits_start {
        return None;
    }
    // strtoull stops at the first non-digit; memcached accepts a space or a NUL there (a
    // stored value is followed by "\r\n" in memcached, so the end of the value counts too).
    if at < value.len() && !is_c_space(value[at]) && value[at] != 0 {
        return None;
    }
    if negative {
        number = number.wrapping_neg();
        if (number as i64) < 0 {
            return None;
        }
    }
    Some(number)
}

/// Writes `value` in decimal into `buf`; returns the number of digits.
pub(crate) fn write_u64(mut value: u64, buf: &mut [u8; U64_DIGITS_MAX]) -> usize {
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
