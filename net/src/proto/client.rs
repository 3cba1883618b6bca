//! Client side: request encoders for the load generator (the reply side is [`super::response`]).
//!
//! Goals: the few classic commands a load generator sends (`get` with one or more keys, `set`),
//! written into a caller's buffer without allocating (the buffer is sized at start-up; digits
//! are written by [`super::number`], never through `format!`).
//! Non-goals: every command; meta commands; checking that the caller's keys are valid beyond
//! the asserted length and byte rules.

use super::number::{write_u32, write_usize};
use super::KEY_LEN_MAX;

fn assert_key(key: &[u8]) {
    assert!(
        !key.is_empty() && key.len() <= KEY_LEN_MAX,
        "key length {} outside 1..={KEY_LEN_MAX}",
        key.len()
    );
    debug_assert!(
        key.iter().all(|&b| b > b' ' && b != 0x7f),
        "key holds a space or control byte"
    );
}

/// `get <key> [<key>...]\r\n`.
pub fn encode_get<'k>(out: &mut Vec<u8>, keys: impl IntoIterator<Item = &'k [u8]>) {
    let start = out.len();
    out.extend_from_slice(b"get");
    for key in keys {
        assert_key(key);
        out.push(b' ');
        out.extend_from_slice(key);
    }
    assert!(out.len() > start + 3, "get needs at least one key");
    out.extend_from_slice(b"\r\n");
}

/// `set <key> <flags> <exptime> <bytes>\r\n<value>\r\n`.
pub fn encode_set(out: &mut Vec<u8>, key: &[u8], flags: u32, exptime_secs: u32, value: &[u8]) {
    assert_key(key);
    out.extend_from_slice(b"set ");
    out.extend_from_slice(key);
    out.push(b' ');
    write_u32(out, flags);
    out.push(b' ');
    write_u32(out, exptime_secs);
    out.push(b' ');
    write_usize(out, value.len());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Bytes [`encode_set`] writes for a key and value of these lengths (flags and exptime at
/// most 10 digits each): the size a send buffer reserves per request.
pub const fn set_len_max(key_len: usize, value_len: usize) -> usize {
    // "set " key ' ' flags ' ' exptime ' ' len "\r\n" value "\r\n"
    4 + key_len + 1 + 10 + 1 + 10 + 1 + 20 + 2 + value_len + 2
}

#[cfg(test)]
mod tests {
    use super::super::request::{parse, Request, StoreCommand};
    use super::super::Frame;
    use super::*;

    #[test]
    fn get_and_set_encode_as_memcached_expects() {
        let mut out = Vec::new();
        encode_get(&mut out, [&b"a"[..], b"bc"]);
        assert_eq!(out, b"get a bc\r\n");
        out.clear();
        encode_set(&mut out, b"key", 5, 0, b"hello");
        assert_eq!(out, b"set key 5 0 5\r\nhello\r\n");
        assert!(out.len() <= set_len_max(3, 5));
        out.clear();
        encode_set(&mut out, b"k", u32::MAX, u32::MAX, b"");
        assert_eq!(out, b"set k 4294967295 4294967295 0\r\n\r\n");
        assert!(out.len() <= set_len_max(1, 0));
    }

    #[test]
    fn encoded_requests_parse_on_the_server_side() {
        let mut out = Vec::new();
        encode_set(&mut out, b"key", 1, 2, b"xyz");
        let Frame::Line { text, len } = super::super::frame(&out) else {
            panic!("not a line")
        };
        let Request::Store(store) = parse(text) else {
            panic!("not a store request")
        };
        assert_eq!(store.command, StoreCommand::Set);
        assert_eq!((store.key, store.flags, store.exptime), (&b"key"[..], 1, 2));
        assert_eq!(&out[len..], b"xyz\r\n");
    }

    #[test]
    #[should_panic(expected = "key length")]
    fn key_of_251_bytes_is_rejected() {
        encode_get(&mut Vec::new(), [&[b'k'; 251][..]]);
    }
}
