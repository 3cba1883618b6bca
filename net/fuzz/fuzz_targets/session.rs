//! Feeds arbitrary bytes, cut at arbitrary points, into a `Session` over a real store and
//! asserts the protocol rules of `ringcache_net::proto::check` (well-formed replies,
//! split-independent output, bounded consumption, prefix-consistent replies, nothing stored
//! from an unfinished value block).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first bytes choose where to cut the rest; the remainder is the request stream.
    if data.len() < 4 {
        return;
    }
    let cut_count = usize::from(data[0] % 8);
    let header = 1 + cut_count * 2;
    if data.len() < header {
        return;
    }
    let cuts: Vec<usize> = data[1..header]
        .chunks(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    ringcache_net::proto::check::check_session(&data[header..], &cuts);
});
