//! The text-protocol codec on its own, throughput in bytes: the server's request parser
//! (`line::frame` then `request::parse`) over typical lines, the server's reply encoder (one
//! get hit answered through `Session::process`, its only public door: parse, lookup and
//! encode), and the client side the loadgen runs (`client::encode_get`/`encode_set`,
//! `response::parse_response`).
//!
//! Run: `cargo bench -p ringcache-net --bench codec` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringcache_net::exec::Session;
use ringcache_net::proto::check::Harness;
use ringcache_net::proto::client::{encode_get, encode_set};
use ringcache_net::proto::line::{frame, Frame};
use ringcache_net::proto::request::parse;
use ringcache_net::proto::response::parse_response;

const KEY: &[u8] = b"key:000000000000000000000012345";
const VALUE: &[u8] = &[b'v'; 100];

fn request_lines() -> Vec<(&'static str, Vec<u8>)> {
    let multiget: Vec<u8> = (0..10)
        .flat_map(|i| format!(" key:{i:027}").into_bytes())
        .collect();
    vec![
        ("get", [b"get ", KEY, b"\r\n"].concat()),
        ("set", [b"set ", KEY, b" 0 0 100\r\n"].concat()),
        (
            "get_10_keys",
            [b"get".as_slice(), &multiget, b"\r\n"].concat(),
        ),
        ("mg", [b"mg ", KEY, b" v f t c\r\n"].concat()),
    ]
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_request");
    for (name, line) in request_lines() {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let Frame::Line { text, len } = frame(black_box(&line)) else {
                    panic!("a whole line");
                };
                black_box((parse(text), len));
            })
        });
    }
    group.finish();
}

fn bench_reply(c: &mut Criterion) {
    let mut harness = Harness::new();
    let mut session = Session::new();
    let mut out = Vec::new();
    let set = [b"set ", KEY, b" 0 0 100\r\n", VALUE, b"\r\n"].concat();
    let (consumed, _) = session.process(&set, &mut out, &mut harness.ctx());
    assert_eq!(
        (consumed, out.as_slice()),
        (set.len(), b"STORED\r\n".as_slice())
    );
    let get = [b"get ", KEY, b"\r\n"].concat();
    out.clear();
    session.process(&get, &mut out, &mut harness.ctx());
    let reply_len = out.len();
    assert!(out.starts_with(b"VALUE ") && out.ends_with(b"\r\nEND\r\n"));

    let mut group = c.benchmark_group("reply");
    group.throughput(Throughput::Bytes(reply_len as u64));
    group.bench_function("get_hit_100_bytes", |b| {
        b.iter(|| {
            out.clear();
            let mut ctx = harness.ctx();
            black_box(session.process(black_box(&get), &mut out, &mut ctx));
        })
    });
    group.finish();
}

fn bench_client(c: &mut Criterion) {
    let mut group = c.benchmark_group("client");
    let mut out = Vec::with_capacity(4096);
    encode_get(&mut out, [KEY]);
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("encode_get", |b| {
        b.iter(|| {
            out.clear();
            encode_get(&mut out, [black_box(KEY)]);
        })
    });
    out.clear();
    encode_set(&mut out, KEY, 0, 0, VALUE);
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("encode_set_100_bytes", |b| {
        b.iter(|| {
            out.clear();
            encode_set(&mut out, black_box(KEY), 0, 0, black_box(VALUE));
        })
    });
    let hit = [b"VALUE ", KEY, b" 0 100\r\n", VALUE, b"\r\nEND\r\n"].concat();
    group.throughput(Throughput::Bytes(hit.len() as u64));
    group.bench_function("parse_get_hit_100_bytes", |b| {
        b.iter(|| {
            let mut at = 0;
            while at < hit.len() {
                let (element, used) = parse_response(black_box(&hit[at..]))
                    .expect("a valid reply")
                    .expect("a whole element");
                black_box(element);
                at += used;
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_reply, bench_client);
criterion_main!(benches);
