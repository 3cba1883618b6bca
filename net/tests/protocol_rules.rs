//! The fuzz target's protocol rules (`ringcache_net::proto::check`), run as a proptest over
//! streams of plausible requests mixed with junk, cut at random points.

use proptest::prelude::*;
use ringcache_net::proto::check::check_session;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        "[a-z]{1,4}",
        Just("x".repeat(251)),
    ]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (key(), 0u32..10, -2i32..100, value.clone(), any::<bool>()).prop_map(|(k, f, e, v, nr)| {
            let cmd = ["set", "add", "replace", "append", "prepend"][v.len() % 5];
            let mut r = format!(
                "{cmd} {k} {f} {e} {}{}\r\n",
                v.len(),
                if nr { " noreply" } else { "" }
            )
            .into_bytes();
            r.extend_from_slice(&v);
            r.extend_from_slice(b"\r\n");
            r
        }),
        (key(), value.clone(), 0u64..5).prop_map(|(k, v, cas)| {
            let mut r = format!("cas {k} 0 0 {} {cas}\r\n", v.len()).into_bytes();
            r.extend_from_slice(&v);
            r.extend_from_slice(b"\r\n");
            r
        }),
        // A declared length that does not match the data.
        (key(), 0usize..8, value.clone()).prop_map(|(k, n, v)| {
            let mut r = format!("set {k} 0 0 {n}\r\n").into_bytes();
            r.extend_from_slice(&v);
            r.extend_from_slice(b"\r\n");
            r
        }),
        proptest::collection::vec(key(), 1..5)
            .prop_map(|ks| format!("get {}\r\n", ks.join(" ")).into_bytes()),
        proptest::collection::vec(key(), 1..5).prop_map(|ks| format!(
            "gats 10 {}\r\n",
            ks.join(" ")
        )
        .into_bytes()),
        (key(), 0u64..20, any::<bool>()).prop_map(|(k, d, decr)| {
            format!("{} {k} {d}\r\n", if decr { "decr" } else { "incr" }).into_bytes()
        }),
        key().prop_map(|k| format!("delete {k}\r\ntouch {k} 5\r\n").into_bytes()),
        (key(), "[a-zA-Z0-9]{0,3}( [a-zA-Z][0-9]{0,2}){0,6}")
            .prop_map(|(k, flags)| { format!("mg {k} {flags}\r\n").into_bytes() }),
        (key(), value.clone(), "( [a-zA-Z][0-9]{0,2}){0,5}").prop_map(|(k, v, flags)| {
            let mut r = format!("ms {k} {}{flags}\r\n", v.len()).into_bytes();
            r.extend_from_slice(&v);
            r.extend_from_slice(b"\r\n");
            r
        }),
        (key(), "( [a-zA-Z][0-9]{0,2}){0,5}")
            .prop_map(|(k, flags)| format!("ma {k}{flags}\r\nmd {k}{flags}\r\n").into_bytes()),
        Just(b"mn\r\nversion\r\nverbosity 1\r\nflush_all\r\n".to_vec()),
        Just(b"stats\r\nstats settings\r\nstats detail dump\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..30),
        proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\r'), Just(b'\n'), Just(b'a'), Just(b'0')],
            0..20
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn session_follows_protocol_rules(
        requests in proptest::collection::vec(request(), 1..12),
        cuts in proptest::collection::vec(any::<u16>(), 0..6),
    ) {
        let input: Vec<u8> = requests.concat();
        let cuts: Vec<usize> = cuts.into_iter().map(usize::from).collect();
        check_session(&input, &cuts);
    }

    #[test]
    fn arbitrary_bytes_follow_protocol_rules(
        input in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<u16>(), 0..6),
    ) {
        let cuts: Vec<usize> = cuts.into_iter().map(usize::from).collect();
        check_session(&input, &cuts);
    }
}
