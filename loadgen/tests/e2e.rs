//! End to end: the built loadgen against Debian's memcached, ringcache, a two-server fleet,
//! a server that returns wrong values and one that closes every connection. Tests assert
//! behaviour, never speed.

mod common;

use std::time::Duration;

use common::{run_loadgen, run_loadgen_within, temp_path, u, FakeServer, WrongValue};
use ringcache_tests::server::Server;

const PERCENTILES: [&str; 6] = ["p50", "p90", "p99", "p999", "p9999", "max"];

fn assert_schema(json: &serde_json::Value) {
    assert!(
        json["throughput_ops_per_sec"].as_f64().unwrap() > 0.0,
        "{json}"
    );
    for field in ["ops", "hits", "misses", "errors"] {
        u(json, &[field]);
    }
    for family in ["latency_us", "service_time_us"] {
        let mut previous = 0;
        for p in PERCENTILES {
            let value = u(json, &[family, p]);
            assert!(value >= previous, "{family} {p} {value} < {previous}");
            previous = value;
        }
    }
    let params = &json["parameters"];
    for field in [
        "servers",
        "threads",
        "connections",
        "pipeline",
        "duration_secs",
        "warmup_secs",
        "seed",
        "rate_ops_per_sec",
        "arrivals",
        "keys",
        "key_size_bytes",
        "key_distribution",
        "value_size_bytes",
        "get_ratio",
        "multiget",
        "validate",
        "prefill",
    ] {
        assert!(
            params.get(field).is_some(),
            "parameters.{field} missing: {params}"
        );
    }
}

#[test]
fn closed_loop_against_memcached_validates_every_value() {
    let memcached = Server::memcached(&[]);
    let addr = memcached.addr().to_string();
    let json = run_loadgen(&[
        "--server",
        &addr,
        "--connections",
        "4",
        "--pipeline",
        "4",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--keys",
        "5000",
        "--value-size",
        "64-1024",
        "--multiget",
        "4",
        "--key-distribution",
        "zipf:0.99",
        "--validate",
        "--get-ratio",
        "0.8",
    ]);
    assert_schema(&json);
    assert_eq!(u(&json, &["errors"]), 0, "{json}");
    // Prefilled: every key is there.
    assert!(u(&json, &["hits"]) > 0);
    assert_eq!(u(&json, &["misses"]), 0, "{json}");
    assert!(u(&json, &["ops"]) > 100);
    assert_eq!(
        json["parameters"]["rate_ops_per_sec"],
        serde_json::Value::Null
    );
}

#[test]
fn open_loop_against_ringcache() {
    let ringcache = Server::ringcache(&[]);
    let addr = ringcache.addr().to_string();
    let json = run_loadgen(&[
        "--server",
        &addr,
        "--rate",
        "2000",
        "--connections",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--keys",
        "1000",
        "--validate",
    ]);
    assert_schema(&json);
    assert_eq!(u(&json, &["errors"]), 0, "{json}");
    let ops = u(&json, &["ops"]);
    assert!((1600..=2400).contains(&ops), "1 s at 2000/s: {ops}");
    assert_eq!(u(&json, &["misses"]), 0);
}

fn curr_items(server: &Server) -> u64 {
    let mut conn = server.connect();
    let replies = conn.request(b"stats\r\n").expect("stats");
    let text = String::from_utf8_lossy(&replies.to_bytes()).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("STAT curr_items "))
        .expect("curr_items")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_fleet_is_spread_by_ketama() {
    let a = Server::memcached(&[]);
    let b = Server::memcached(&[]);
    let (addr_a, addr_b) = (a.addr().to_string(), b.addr().to_string());
    // Weight 3 on the second server: it should own about three quarters of the keys.
    let weighted_b = format!("{addr_b}:3");
    let json = run_loadgen(&[
        "--server",
        &addr_a,
        "--server",
        &weighted_b,
        "--connections",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--keys",
        "4000",
        "--validate",
    ]);
    assert_eq!(u(&json, &["errors"]), 0, "{json}");
    assert_eq!(
        u(&json, &["misses"]),
        0,
        "a get went to a server its key was not set on"
    );
    let (items_a, items_b) = (curr_items(&a), curr_items(&b));
    assert_eq!(items_a + items_b, 4000);
    assert!((600..1400).contains(&items_a), "{items_a} vs {items_b}");
}

#[test]
fn a_wrong_value_is_counted_as_an_error() {
    let server = FakeServer::start(WrongValue);
    let json = run_loadgen(&[
        "--server",
        &server.addr(),
        "--no-prefill",
        "--connections",
        "1",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--get-ratio",
        "1",
        "--validate",
    ]);
    let gets = u(&json, &["gets"]);
    assert!(gets > 0);
    assert_eq!(u(&json, &["errors_by_kind", "wrong_value"]), gets, "{json}");
    assert_eq!(u(&json, &["errors"]), gets);
    // Without --validate the same replies are plain hits.
    let json = run_loadgen(&[
        "--server",
        &server.addr(),
        "--no-prefill",
        "--connections",
        "1",
        "--duration",
        "300ms",
        "--warmup",
        "0s",
        "--get-ratio",
        "1",
    ]);
    assert_eq!(u(&json, &["errors"]), 0);
    assert_eq!(u(&json, &["hits"]), u(&json, &["gets"]));
}

#[test]
fn sweep_writes_a_table_and_a_plot() {
    let memcached = Server::memcached(&[]);
    let addr = memcached.addr().to_string();
    let svg = temp_path("sweep.svg");
    let csv = temp_path("sweep.csv");
    let json = run_loadgen(&[
        "--server",
        &addr,
        "--sweep",
        "500:1500:500",
        "--duration",
        "500ms",
        "--warmup",
        "100ms",
        "--keys",
        "1000",
        "--sweep-svg",
        svg.to_str().unwrap(),
        "--sweep-csv",
        csv.to_str().unwrap(),
    ]);
    let runs = json["sweep"].as_array().expect("sweep array");
    assert_eq!(runs.len(), 3);
    for (run, rate) in runs.iter().zip([500.0, 1000.0, 1500.0]) {
        assert_schema(run);
        assert_eq!(run["parameters"]["rate_ops_per_sec"].as_f64(), Some(rate));
    }
    let plot = std::fs::read_to_string(&svg).expect("svg written");
    assert!(
        plot.starts_with("<svg") && plot.contains("p99.9"),
        "{plot:.200}"
    );
    let table = std::fs::read_to_string(&csv).expect("csv written");
    assert_eq!(table.lines().count(), 4, "{table}");
    let _ = std::fs::remove_file(svg);
    let _ = std::fs::remove_file(csv);
}

#[test]
fn a_server_that_closes_every_connection_ends_the_run_on_time() {
    // Accepts each connection and closes it at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let common = [
        "--server",
        addr.as_str(),
        "--no-prefill",
        "--connections",
        "4",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
    ];
    // Closed loop: no request is ever answered; the run still ends when its time is up.
    let json = run_loadgen_within(&common, Duration::from_secs(20));
    assert_eq!(u(&json, &["ops"]), 0);
    assert!(u(&json, &["errors_by_kind", "connection"]) > 0, "{json}");
    // Open loop: every scheduled request is counted as lost with its connection.
    let mut open = common.to_vec();
    open.extend(["--rate", "2000"]);
    let json = run_loadgen_within(&open, Duration::from_secs(20));
    assert_eq!(u(&json, &["ops"]), 0);
    let lost = u(&json, &["errors"]);
    assert!(
        (900..=1100).contains(&lost),
        "{lost} of ~1000 scheduled: {json}"
    );
}
