//! The metrics endpoint (`--metrics-port`) of an in-process server: the exposition passes
//! `promtool check metrics` (Debian's `prometheus`, installed by `tests/setup`; without it
//! these tests fail rather than pass unchecked), its numbers move when requests are served,
//! with a `shard` label per shard, the HTTP side refuses what it should, stopping the server
//! stops the endpoint, and the Grafana dashboard uses only metrics a live scrape has.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringcache_net::metrics::CONNECTIONS_MAX;
use ringcache_net::route::shard_of;
use ringcache_net::runtime::Server;

mod common;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const SHARD_COUNT: u32 = 2;

fn start() -> (Server, SocketAddr, SocketAddr) {
    let mut config = common::config(SHARD_COUNT, 64, 128);
    config.metrics_port = Some(0);
    let (server, addr) = common::start_with(&config);
    let port = server.metrics_port.expect("metrics port is bound");
    (server, addr, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Sends `request` (a whole HTTP request) and returns the status line, headers and body.
fn http(metrics: SocketAddr, request: &[u8]) -> (String, String, String) {
    let mut stream = common::connect(metrics, IO_TIMEOUT);
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

fn scrape(metrics: SocketAddr) -> String {
    let (status, headers, body) = http(
        metrics,
        b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("Content-Type: text/plain; version=0.0.4"));
    body
}

/// Scrapes until `ready` holds (a shard busy elsewhere on this shared machine may answer a
/// scrape's call for fresh counters only after the endpoint's bounded wait).
fn scrape_until(metrics: SocketAddr, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(metrics);
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the sample named `series` exactly (name and labels as exposed).
fn value(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no sample {series}"))
        .parse()
        .unwrap()
}

fn promtool_check(text: &str) -> String {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|e| {
        panic!("promtool not found ({e}): install Debian's prometheus package (tests/setup does)")
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool check metrics: {report}");
    report
}

/// A key that shard `shard` owns.
fn key_on(shard: usize, tag: &str) -> String {
    (0..)
        .map(|i| format!("{tag}-{i}"))
        .find(|k| shard_of(k.as_bytes(), SHARD_COUNT as usize) == shard)
        .unwrap()
}

fn roundtrip(stream: &mut TcpStream, request: &str, expected: &str) {
    stream.write_all(request.as_bytes()).unwrap();
    let mut got = vec![0; expected.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

#[test]
fn the_exposition_passes_promtool_and_its_numbers_move() {
    let (server, addr, metrics) = start();
    let before = scrape(metrics);
    let report = promtool_check(&before);
    println!("promtool check metrics: ok {report}");
    for shard in 0..SHARD_COUNT {
        let get = format!("ringcache_commands_total{{shard=\"{shard}\",command=\"get\"}}");
        assert_eq!(value(&before, &get), 0.0);
    }
    // Every connection sets and gets a key of each shard, and misses one.
    let mut clients: Vec<TcpStream> = (0..4).map(|_| common::connect(addr, IO_TIMEOUT)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        for shard in 0..SHARD_COUNT as usize {
            let key = key_on(shard, &format!("k{i}"));
            roundtrip(client, &format!("set {key} 0 0 2\r\nhi\r\n"), "STORED\r\n");
            roundtrip(
                client,
                &format!("get {key}\r\n"),
                &format!("VALUE {key} 0 2\r\nhi\r\nEND\r\n"),
            );
            let absent = key_on(shard, &format!("absent{i}"));
            roundtrip(client, &format!("get {absent}\r\n"), "END\r\n");
        }
    }
    let sum = |text: &str, series: &dyn Fn(u32) -> String| {
        (0..SHARD_COUNT)
            .map(|s| value(text, &series(s)))
            .sum::<f64>()
    };
    let timed = |text: &str| {
        sum(text, &|s| {
            format!("ringcache_service_time_seconds_count{{shard=\"{s}\"}}")
        })
    };
    let after = scrape_until(metrics, |text| timed(text) >= 24.0);
    promtool_check(&after);
    let commands = |command: &'static str| {
        move |s: u32| format!("ringcache_commands_total{{shard=\"{s}\",command=\"{command}\"}}")
    };
    assert_eq!(sum(&after, &commands("set")), 8.0);
    assert_eq!(sum(&after, &commands("get")), 16.0);
    // Hits and misses count where each key lives: 4 of each on every shard.
    for shard in 0..SHARD_COUNT {
        let hits = format!("ringcache_hits_total{{shard=\"{shard}\",command=\"get\"}}");
        let misses = format!("ringcache_misses_total{{shard=\"{shard}\",command=\"get\"}}");
        assert_eq!(value(&after, &hits), 4.0, "{hits}");
        assert_eq!(value(&after, &misses), 4.0, "{misses}");
        let items = format!("ringcache_items{{shard=\"{shard}\"}}");
        assert_eq!(value(&after, &items), 4.0, "{items}");
    }
    assert_eq!(timed(&before), 0.0);
    assert_eq!(timed(&after), 24.0, "every request is timed once");
    let inf =
        |s: u32| format!("ringcache_service_time_seconds_bucket{{le=\"+Inf\",shard=\"{s}\"}}");
    assert_eq!(sum(&after, &inf), 24.0);
    let sent = |s: u32| format!("ringcache_cross_shard_sent_total{{shard=\"{s}\"}}");
    let served = |s: u32| format!("ringcache_cross_shard_served_total{{shard=\"{s}\"}}");
    assert_eq!(sum(&after, &sent), sum(&after, &served));
    assert!(
        sum(&after, &sent) > 0.0,
        "keys of the other shard were forwarded"
    );
    let open = |s: u32| format!("ringcache_open_connections{{shard=\"{s}\"}}");
    assert_eq!(sum(&after, &open), 4.0);
    let limit = |s: u32| format!("ringcache_memory_limit_bytes{{shard=\"{s}\"}}");
    assert_eq!(sum(&after, &limit), (128u64 << 20) as f64);
    assert!(after.contains(&format!(
        "ringcache_build_info{{version=\"{}\",memcached_version=\"1.6.18\"}} 1",
        ringcache_net::PACKAGE_VERSION
    )));
    drop(clients);
    server.stop().unwrap();
}

#[test]
fn openmetrics_is_served_to_a_scraper_that_asks_for_it() {
    let (server, _, metrics) = start();
    let (status, headers, body) = http(
        metrics,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,\
          text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("Content-Type: application/openmetrics-text; version=1.0.0"));
    assert!(body.contains("# TYPE ringcache_commands counter\n"));
    assert!(body.contains("# UNIT ringcache_service_time_seconds seconds\n"));
    assert!(body.ends_with("# EOF\n"));
    server.stop().unwrap();
}

#[test]
fn other_paths_methods_and_bad_requests_are_refused() {
    let (server, _, metrics) = start();
    let status = |request: &[u8]| http(metrics, request).0;
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(
        status(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(status(b"hello\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    let mut huge = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    huge.resize(20_000, b'a');
    assert_eq!(
        status(&huge),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let (status, headers, body) = http(metrics, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(headers.contains("Content-Length: "));
    assert!(body.is_empty(), "HEAD has no body");
    server.stop().unwrap();
}

#[test]
fn connections_over_the_limit_are_turned_away() {
    let (server, _, metrics) = start();
    // Idle connections that never send a request hold the endpoint's connection slots.
    let idle: Vec<TcpStream> = (0..CONNECTIONS_MAX)
        .map(|_| common::connect(metrics, IO_TIMEOUT))
        .collect();
    // Let the endpoint accept them all before the next one.
    std::thread::sleep(Duration::from_millis(200));
    // The next one is answered without sending anything (so no unread request of ours can
    // make the endpoint's close a reset).
    let started = Instant::now();
    let mut refused = common::connect(metrics, Duration::from_secs(1));
    let mut response = String::new();
    refused.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{response:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "refused at once"
    );
    drop(idle);
    server.stop().unwrap();
}

#[test]
fn stopping_the_server_stops_the_endpoint() {
    let (server, _, metrics) = start();
    // A client that sends half a request is cut off by the stop, not waited for.
    let mut half = common::connect(metrics, IO_TIMEOUT);
    half.write_all(b"GET /metr").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        started.elapsed()
    );
    let refused = TcpStream::connect_timeout(&metrics, Duration::from_secs(1));
    assert!(refused.is_err(), "the metrics port still accepts");
}

/// Metric names in a PromQL expression (every `ringcache_*` identifier).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("ringcache_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !preceded {
            names.push(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

#[test]
fn the_dashboard_uses_only_metrics_a_scrape_has() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tuning/grafana/ringcache.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("dashboard JSON");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for wanted in ["datasource", "shard"] {
        assert!(variables.contains(&wanted), "no ${wanted} variable");
    }
    let mut exprs: Vec<String> = Vec::new();
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(query) = variable["definition"].as_str() {
            exprs.push(query.to_string());
        }
    }
    let panels = dashboard["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    for wanted in [
        "Throughput by command",
        "Hit ratio",
        "Service time percentiles",
        "Memory",
        "Evictions and reclaims",
        "Connections",
        "Requests per shard",
        "Cross-core hops per shard",
    ] {
        assert!(titles.contains(&wanted), "no panel {wanted:?}");
    }
    let quantiles = exprs
        .iter()
        .filter(|e| e.contains("histogram_quantile(") && e.contains("service_time_seconds_bucket"))
        .count();
    assert!(quantiles >= 3, "p50, p99 and p99.9 of the service time");

    let (server, _, metrics) = start();
    let text = scrape(metrics);
    server.stop().unwrap();
    let exposed: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    assert!(used.len() >= 15, "the dashboard uses {used:?}");
    let missing: Vec<&String> = used
        .iter()
        .filter(|n| !exposed.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard uses metrics no scrape has: {missing:?}"
    );
}

#[test]
fn without_a_metrics_port_nothing_serves_metrics() {
    let (server, _) = common::start(1, 8, 64);
    assert_eq!(server.metrics_port, None);
    server.stop().unwrap();
}
