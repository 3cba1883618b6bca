//! Reply encoding shared by the command files: digits without `format!`, meta key echo.

use ringcache_engine::RelTime;

use crate::proto::base64;
use crate::proto::number::{write_i64, write_u32, write_u64, write_usize};

pub(super) fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
}

/// `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`
pub(super) fn value_block(
    out: &mut Vec<u8>,
    key: &[u8],
    flags: u32,
    data: &[u8],
    cas: Option<u64>,
) {
    put(out, b"VALUE ");
    put(out, key);
    out.push(b' ');
    write_u32(out, flags);
    out.push(b' ');
    write_usize(out, data.len());
    if let Some(cas) = cas {
        out.push(b' ');
        write_u64(out, cas);
    }
    put(out, b"\r\n");
    put(out, data);
    put(out, b"\r\n");
}

/// ` k<key>`, or ` k<base64 key> b` for a binary key (memcached `META_KEY`).
pub(super) fn meta_key(out: &mut Vec<u8>, key: &[u8], binary: bool) {
    put(out, b" k");
    if binary {
        base64::encode(key, out);
        put(out, b" b");
    } else {
        put(out, key);
    }
}

/// ` <flag><number>`
pub(super) fn meta_u64(out: &mut Vec<u8>, flag: u8, value: u64) {
    out.push(b' ');
    out.push(flag);
    write_u64(out, value);
}

/// ` t<secs>`: `-1` without expiry, else memcached's `exptime - current_time` in `u32`
/// arithmetic, so an already-expired item prints a wrapped-around number
/// (expiry 1 at time 62: `t4294967235`).
pub(super) fn meta_ttl(out: &mut Vec<u8>, expiry: RelTime, now: RelTime) {
    if expiry == 0 {
        put(out, b" t-1");
    } else {
        meta_u64(out, b't', u64::from(expiry.wrapping_sub(now)));
    }
}

/// ` <opaque token>` (the token includes its `O`).
pub(super) fn meta_opaque(out: &mut Vec<u8>, opaque: &[u8]) {
    out.push(b' ');
    put(out, opaque);
}

pub(super) fn stat_u64(out: &mut Vec<u8>, name: &[u8], value: u64) {
    put(out, b"STAT ");
    put(out, name);
    out.push(b' ');
    write_u64(out, value);
    put(out, b"\r\n");
}

pub(super) fn stat_i64(out: &mut Vec<u8>, name: &[u8], value: i64) {
    put(out, b"STAT ");
    put(out, name);
    out.push(b' ');
    write_i64(out, value);
    put(out, b"\r\n");
}

pub(super) fn stat_str(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    put(out, b"STAT ");
    put(out, name);
    out.push(b' ');
    put(out, value);
    put(out, b"\r\n");
}

/// `STAT <name> <secs>.<micros, 6 digits>` (memcached's rusage format).
pub(super) fn stat_secs_micros(out: &mut Vec<u8>, name: &[u8], secs: u64, micros: u32) {
    put(out, b"STAT ");
    put(out, name);
    out.push(b' ');
    write_u64(out, secs);
    out.push(b'.');
    let mut digits = [b'0'; 6];
    let mut m = micros % 1_000_000;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    put(out, &digits);
    put(out, b"\r\n");
}
