//! End to end with the Rust `memcache` crate (ASCII protocol) against a ringcache it started.

use std::collections::HashMap;
use std::time::Duration;

use ringcache_tests::Server;

const FLAGS: &[&str] = &["-m", "64", "-I", "1m"];

fn client(server: &Server) -> memcache::Client {
    let url = format!(
        "memcache://127.0.0.1:{}?protocol=ascii&timeout=10",
        server.port()
    );
    let client = memcache::Client::connect(url.as_str()).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    client
}

#[test]
fn set_get_add_replace_append_prepend_delete() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    c.set("k", "v1", 0).unwrap();
    assert_eq!(c.get::<String>("k").unwrap().as_deref(), Some("v1"));
    // The crate's add/replace/append/prepend return Ok(()) on NOT_STORED: check the effect.
    c.add("k", "v2", 0).unwrap();
    assert_eq!(
        c.get::<String>("k").unwrap().as_deref(),
        Some("v1"),
        "add must not overwrite"
    );
    c.add("new", "n", 0).unwrap();
    assert_eq!(c.get::<String>("new").unwrap().as_deref(), Some("n"));
    c.replace("k", "v3", 0).unwrap();
    c.replace("missing", "x", 0).unwrap();
    assert_eq!(
        c.get::<String>("missing").unwrap(),
        None,
        "replace must not create"
    );
    c.append("k", "-end").unwrap();
    c.prepend("k", "start-").unwrap();
    assert_eq!(
        c.get::<String>("k").unwrap().as_deref(),
        Some("start-v3-end")
    );
    c.append("missing", "x").unwrap();
    c.prepend("missing", "x").unwrap();
    assert_eq!(
        c.get::<String>("missing").unwrap(),
        None,
        "append/prepend must not create"
    );
    assert!(c.delete("k").unwrap());
    assert!(!c.delete("k").unwrap());
    assert_eq!(c.get::<String>("k").unwrap(), None);
}

#[test]
fn flags_are_stored_with_the_value() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    // (value, flags) round trip through the crate's typed values.
    c.set("n", 12345u64, 0).unwrap();
    assert_eq!(c.get::<u64>("n").unwrap(), Some(12345));
    c.set("b", true, 0).unwrap();
    assert_eq!(c.get::<bool>("b").unwrap(), Some(true));
    let (value, flags): (Vec<u8>, u32) = c.get("n").unwrap().unwrap();
    assert_eq!(value, b"12345");
    let (_, flags_b): (Vec<u8>, u32) = c.get("b").unwrap().unwrap();
    assert_eq!(
        flags, flags_b,
        "the crate stores plain values with the same flags"
    );
}

#[test]
fn cas_via_gets() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    c.set("k", "one", 0).unwrap();
    let (_, _, cas): (String, u32, Option<u64>) = c.get("k").unwrap().unwrap();
    let cas = cas.expect("gets returns a cas");
    assert!(
        c.cas("k", "two", 0, cas).unwrap(),
        "cas with the current unique stores"
    );
    assert!(
        !c.cas("k", "three", 0, cas).unwrap(),
        "cas with a stale unique is refused"
    );
    assert_eq!(c.get::<String>("k").unwrap().as_deref(), Some("two"));
    let (_, _, cas2): (String, u32, Option<u64>) = c.get("k").unwrap().unwrap();
    assert_ne!(cas2, Some(cas), "a store changes the cas unique");
    assert!(!c.cas("missing", "x", 0, 1).unwrap());
}

#[test]
fn incr_decr() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    assert!(
        c.increment("ctr", 1).is_err(),
        "incr on a missing key fails"
    );
    c.set("ctr", 10u64, 0).unwrap();
    assert_eq!(c.increment("ctr", 5).unwrap(), 15);
    assert_eq!(c.decrement("ctr", 3).unwrap(), 12);
    assert_eq!(c.decrement("ctr", 100).unwrap(), 0, "decr stops at 0");
    c.set("ctr", u64::MAX, 0).unwrap();
    assert_eq!(c.increment("ctr", 2).unwrap(), 1, "incr wraps at 2^64");
    c.set("text", "abc", 0).unwrap();
    assert!(
        c.increment("text", 1).is_err(),
        "incr on a non-number fails"
    );
}

#[test]
fn touch_and_expiry() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    c.set("k", "v", 0).unwrap();
    assert!(c.touch("k", 1000).unwrap());
    assert!(!c.touch("missing", 1000).unwrap());
    assert_eq!(c.get::<String>("k").unwrap().as_deref(), Some("v"));
    // An absolute time in the past expires the item at once (no sleeping).
    c.set("old", "v", 1_000_000_000).unwrap();
    assert_eq!(c.get::<String>("old").unwrap(), None);
}

#[test]
fn flush_and_multi_get() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    let keys: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        c.set(k, format!("value{i}").as_str(), 0).unwrap();
    }
    let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
    wanted.push("missing");
    let got: HashMap<String, String> = c.gets(&wanted).unwrap();
    assert_eq!(got.len(), 50);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(got[k], format!("value{i}"));
    }
    c.flush().unwrap();
    let got: HashMap<String, String> = c.gets(&wanted).unwrap();
    assert!(got.is_empty(), "flush_all empties the cache: {got:?}");
}

#[test]
fn large_and_binary_values() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    let binary: Vec<u8> = (0..=255u8).chain(b"\r\nEND\r\n".iter().copied()).collect();
    c.set("bin", binary.as_slice(), 0).unwrap();
    assert_eq!(c.get::<Vec<u8>>("bin").unwrap(), Some(binary));
    c.set("empty", "", 0).unwrap();
    assert_eq!(c.get::<Vec<u8>>("empty").unwrap(), Some(Vec::new()));
    // Near the 1 MiB item limit (the limit counts the item header and key too).
    let big: Vec<u8> = (0..1024 * 1024 - 4096).map(|i| (i % 251) as u8).collect();
    c.set("big", big.as_slice(), 0).unwrap();
    assert_eq!(c.get::<Vec<u8>>("big").unwrap(), Some(big));
    let too_big = vec![b'x'; 1024 * 1024 + 1];
    assert!(
        c.set("huge", too_big.as_slice(), 0).is_err(),
        "values over -I are refused"
    );
    assert_eq!(c.get::<Vec<u8>>("huge").unwrap(), None);
    // The connection is still usable after the refusal.
    assert_eq!(c.get::<Vec<u8>>("empty").unwrap(), Some(Vec::new()));
}

/// (The crate's `stats()` stops at the first STAT line, so stats are checked by the
/// pymemcache and memcstat tests instead.)
#[test]
fn version() {
    let server = Server::ringcache(FLAGS);
    let c = client(&server);
    let versions = c.version().unwrap();
    assert_eq!(versions.len(), 1);
    assert!(!versions[0].1.is_empty());
    c.set("k", "v", 0).unwrap();
    assert_eq!(c.get::<String>("k").unwrap().as_deref(), Some("v"));
}
