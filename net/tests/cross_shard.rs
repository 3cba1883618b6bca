//! Several shards in one process: requests whose keys belong to other shards, pipelined,
//! fanned out, flooding both ways, and whole-server commands. Each test runs at every layout
//! of [`layouts`] (2 and 4 shards over every CPU, and 3 shards on fewer CPUs, so that shards
//! share a thread) and, where an answer can be compared, checks it against a one-shard
//! server's answer to the same bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ringcache_net::route::shard_of;
use ringcache_net::runtime::Server;

mod common;

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Shard counts and the CPUs they are pinned to: every CPU this process may use (2 and 4
/// shards), and fewer CPUs than shards, where the shards of one CPU share its thread
/// (`runtime::group`): 3 shards on one CPU, and, with two CPUs or more, 3 shards on two (one
/// thread drives two of them, another thread the third).
fn layouts() -> Vec<(u32, Vec<usize>)> {
    let all = ringcache_net::runtime::cpu::allowed_cpus().unwrap();
    let mut layouts = vec![(2, all.clone()), (4, all.clone()), (3, all[..1].to_vec())];
    if all.len() >= 2 {
        layouts.push((3, all[..2].to_vec()));
    }
    layouts
}

fn start(shard_count: u32, conn_limit: u32) -> (Server, SocketAddr) {
    common::start(shard_count, conn_limit, 128)
}

fn start_on(shard_count: u32, cpus: &[usize], conn_limit: u32) -> (Server, SocketAddr) {
    let mut config = common::config(shard_count, conn_limit, 128);
    config.cpus = cpus.to_vec();
    common::start_with(&config)
}

fn connect(addr: SocketAddr) -> TcpStream {
    common::connect(addr, IO_TIMEOUT)
}

/// Sends `request` from a writer thread (so that a large pipeline cannot deadlock on full
/// socket buffers) and reads until the reply ends with `until`.
fn exchange(stream: &TcpStream, request: Vec<u8>, until: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&request).unwrap());
    let mut reader = stream.try_clone().unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while !got.ends_with(until) {
        let n = reader
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{e}: got {:?}", String::from_utf8_lossy(&got)));
        assert!(n > 0, "connection closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    sender.join().unwrap();
    got
}

/// A mixed pipeline over many keys, ending with `mn` so the reader knows where it ends.
fn mixed_pipeline(key_count: usize) -> Vec<u8> {
    let mut req = Vec::new();
    for i in 0..key_count {
        req.extend_from_slice(
            format!("set key:{i} {i} 0 {}\r\nvalue-{i}\r\n", 6 + digits(i)).as_bytes(),
        );
    }
    for i in 0..key_count {
        match i % 7 {
            0 => req.extend_from_slice(format!("get key:{i}\r\n").as_bytes()),
            1 => req.extend_from_slice(format!("delete key:{i}\r\n").as_bytes()),
            2 => req.extend_from_slice(
                format!("get key:{i} key:{} key:{}\r\n", i + 1, i + 2).as_bytes(),
            ),
            3 => req.extend_from_slice(
                format!("append key:{i} 0 0 1\r\nX\r\nget key:{i}\r\n").as_bytes(),
            ),
            4 => req.extend_from_slice(
                format!("mg key:{i} v f k\r\nmg key:{i} s t O{i}\r\n").as_bytes(),
            ),
            5 => req.extend_from_slice(
                format!("set n:{i} 0 0 2\r\n10\r\nincr n:{i} 5\r\ndecr n:{i} 100\r\n").as_bytes(),
            ),
            _ => req.extend_from_slice(
                format!("touch key:{i} 100\r\nadd key:{i} 0 0 1 noreply\r\nx\r\n").as_bytes(),
            ),
        }
    }
    req.extend_from_slice(b"mn\r\n");
    req
}

fn digits(i: usize) -> usize {
    i.to_string().len()
}

#[test]
fn pipelined_requests_across_shards_are_answered_in_order() {
    let request = mixed_pipeline(3000);
    let (reference, addr) = start(1, 64);
    let expected = exchange(&connect(addr), request.clone(), b"MN\r\n");
    reference.stop().unwrap();
    assert!(expected.len() > 100_000);
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 64);
        let got = exchange(&connect(addr), request.clone(), b"MN\r\n");
        let at = got
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(expected.len()));
        assert!(
            got == expected,
            "{shard_count} shards on CPUs {cpus:?} answer differently from one at byte {at}: {:?} \
             instead of {:?}",
            String::from_utf8_lossy(&got[at.saturating_sub(80)..(at + 80).min(got.len())]),
            String::from_utf8_lossy(
                &expected[at.saturating_sub(80)..(at + 80).min(expected.len())]
            ),
        );
        server.stop().unwrap();
    }
}

#[test]
fn a_multiget_spanning_every_shard_is_answered_once_in_key_order() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 64);
        let conn = connect(addr);
        let keys: Vec<String> = (0..200).map(|i| format!("mk{i}")).collect();
        let owners: std::collections::HashSet<usize> = keys
            .iter()
            .map(|k| shard_of(k.as_bytes(), shard_count as usize))
            .collect();
        assert_eq!(
            owners.len(),
            shard_count as usize,
            "the keys cover every shard"
        );
        let mut sets = Vec::new();
        for (i, key) in keys.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
            sets.extend_from_slice(
                format!("set {key} {i} 0 {}\r\nv{i}\r\n", 1 + digits(i)).as_bytes(),
            );
        }
        sets.extend_from_slice(b"mn\r\n");
        exchange(&conn, sets, b"MN\r\n");
        let line = format!("gets {}\r\n", keys.join(" "));
        let got = String::from_utf8(exchange(&conn, line.into_bytes(), b"END\r\n")).unwrap();
        let mut expected_keys = Vec::new();
        let mut cas_values = std::collections::HashSet::new();
        let mut lines = got.split("\r\n");
        while let Some(head) = lines.next() {
            if head == "END" {
                break;
            }
            let fields: Vec<&str> = head.split(' ').collect();
            assert_eq!(fields[0], "VALUE", "{head}");
            let i: usize = fields[2].parse().unwrap();
            assert_eq!(fields[1], keys[i]);
            assert_eq!(lines.next().unwrap(), format!("v{i}"));
            assert!(
                cas_values.insert(fields[4].to_string()),
                "CAS {} handed out twice",
                fields[4]
            );
            expected_keys.push(i);
        }
        let want: Vec<usize> = (0..200).filter(|i| i % 3 != 0).collect();
        assert_eq!(
            expected_keys, want,
            "hits in request order, misses left out"
        );
        assert!(
            got.ends_with("END\r\n") && got.matches("END").count() == 1,
            "one END"
        );
        server.stop().unwrap();
    }
}

#[test]
fn a_slow_reader_stalls_only_itself() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 64);
        let value = vec![b'v'; 100_000];
        let setter = connect(addr);
        let mut sets = Vec::new();
        for i in 0..20 {
            sets.extend_from_slice(format!("set big{i} 0 0 {}\r\n", value.len()).as_bytes());
            sets.extend_from_slice(&value);
            sets.extend_from_slice(b"\r\n");
        }
        sets.extend_from_slice(b"mn\r\n");
        exchange(&setter, sets, b"MN\r\n");
        // 600 gets of 100 KB values, most owned by other shards, not read for a while.
        let mut slow = connect(addr);
        let mut pipeline = Vec::new();
        for i in 0..600 {
            pipeline.extend_from_slice(format!("get big{}\r\n", i % 20).as_bytes());
        }
        pipeline.extend_from_slice(b"mn\r\n");
        let mut writer = slow.try_clone().unwrap();
        let sender = thread::spawn(move || writer.write_all(&pipeline).unwrap());
        thread::sleep(Duration::from_millis(300));
        // Others are served meanwhile, on every shard.
        let other = connect(addr);
        let started = Instant::now();
        for i in 0..50 {
            let got = exchange(
                &other,
                format!("get big{}\r\n", i % 20).into_bytes(),
                b"END\r\n",
            );
            assert_eq!(got.len(), value.len() + 27 + digits(i % 20));
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "others were held up"
        );
        // The slow reader then gets every reply, in order.
        let mut buf = vec![0u8; 1 << 20];
        let mut got = Vec::new();
        while !got.ends_with(b"MN\r\n") {
            let n = slow.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        sender.join().unwrap();
        let mut at = 0;
        for i in 0..600 {
            let head = format!("VALUE big{} 0 {}\r\n", i % 20, value.len());
            assert!(
                got[at..].starts_with(head.as_bytes()),
                "reply {i} out of order"
            );
            at += head.len() + value.len() + 2;
            assert!(got[at..].starts_with(b"END\r\n"));
            at += 5;
        }
        assert_eq!(&got[at..], b"MN\r\n");
        server.stop().unwrap();
    }
}

#[test]
fn shards_flooding_each_other_do_not_deadlock() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 256);
        let value = vec![b'x'; 3000];
        // Many connections (spread over the shards by the kernel) each pipeline sets and gets
        // of keys on every shard at once, so every channel fills in both directions.
        let clients: Vec<_> = (0..24)
            .map(|c| {
                let value = value.clone();
                thread::spawn(move || {
                    let conn = connect(addr);
                    let mut req = Vec::new();
                    for i in 0..400 {
                        req.extend_from_slice(
                            format!("set f{c}:{i} 0 0 {}\r\n", value.len()).as_bytes(),
                        );
                        req.extend_from_slice(&value);
                        req.extend_from_slice(format!("\r\nget f{c}:{i}\r\n").as_bytes());
                    }
                    req.extend_from_slice(b"mn\r\n");
                    let got = exchange(&conn, req, b"MN\r\n");
                    let one = 8 + format!("VALUE f{c}:0 0 3000\r\n").len() + 3000 + 7;
                    assert!(got.len() >= 400 * one, "client {c}: {} bytes", got.len());
                })
            })
            .collect();
        for client in clients {
            client.join().expect("client finished");
        }
        server.stop().unwrap();
    }
}

#[test]
fn whole_server_commands_reach_every_shard() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 64);
        let conn = connect(addr);
        let mut sets = Vec::new();
        for i in 0..100 {
            sets.extend_from_slice(format!("set w{i} 0 0 1\r\nx\r\n").as_bytes());
        }
        sets.extend_from_slice(b"mn\r\n");
        exchange(&conn, sets, b"MN\r\n");
        // stats sums the shards: every item, every connection.
        let others: Vec<TcpStream> = (0..5).map(|_| connect(addr)).collect();
        for other in &others {
            exchange(other, b"mn\r\n".to_vec(), b"MN\r\n");
        }
        let stats = String::from_utf8(exchange(&conn, b"stats\r\n".to_vec(), b"END\r\n")).unwrap();
        assert!(stats.contains("STAT curr_items 100\r\n"), "{stats}");
        assert!(stats.contains("STAT cmd_set 100\r\n"), "{stats}");
        assert!(stats.contains("STAT curr_connections 6\r\n"), "{stats}");
        assert!(stats.contains(&format!("STAT threads {shard_count}\r\n")));
        assert!(stats.contains("STAT limit_maxbytes 134217728\r\n"));
        // Per size class, summed over the shards too.
        let sum_of = |report: &str, field: &str| -> u64 {
            report
                .lines()
                .filter(|l| l.split(' ').nth(1).is_some_and(|n| n.ends_with(field)))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum()
        };
        let items =
            String::from_utf8(exchange(&conn, b"stats items\r\n".to_vec(), b"END\r\n")).unwrap();
        assert_eq!(sum_of(&items, ":number"), 100, "{items}");
        let slabs =
            String::from_utf8(exchange(&conn, b"stats slabs\r\n".to_vec(), b"END\r\n")).unwrap();
        assert_eq!(sum_of(&slabs, ":used_chunks"), 100, "{slabs}");
        assert!(
            slabs.contains("STAT 1:chunk_size "),
            "slab ids start at 1: {slabs}"
        );
        // flush_all with a delay: nothing goes before it, everything after, on every shard.
        let ok = exchange(&conn, b"flush_all 2\r\n".to_vec(), b"\r\n");
        assert_eq!(ok, b"OK\r\n");
        let all: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let line = format!("get {}\r\n", all.join(" ")).into_bytes();
        let before = exchange(&conn, line.clone(), b"END\r\n");
        assert_eq!(
            String::from_utf8_lossy(&before).matches("VALUE").count(),
            100
        );
        thread::sleep(Duration::from_millis(3100));
        let after = exchange(&conn, line.clone(), b"END\r\n");
        assert_eq!(after, b"END\r\n", "flushed everywhere");
        // flush_all now, and stats reset, reach every shard before their reply.
        exchange(
            &conn,
            b"set w1 0 0 1\r\nx\r\nset w2 0 0 1\r\nx\r\nflush_all\r\n".to_vec(),
            b"OK\r\n",
        );
        assert_eq!(exchange(&others[0], line, b"END\r\n"), b"END\r\n");
        assert_eq!(
            exchange(&conn, b"stats reset\r\n".to_vec(), b"RESET\r\n"),
            b"RESET\r\n"
        );
        let stats = String::from_utf8(exchange(&conn, b"stats\r\n".to_vec(), b"END\r\n")).unwrap();
        assert!(stats.contains("STAT cmd_set 0\r\n"), "{stats}");
        assert!(stats.contains("STAT cmd_get 1\r\n") || stats.contains("STAT cmd_get 0\r\n"));
        assert_eq!(
            exchange(&conn, b"verbosity 1\r\n".to_vec(), b"\r\n"),
            b"OK\r\n"
        );
        server.stop().unwrap();
    }
}

#[test]
fn the_connection_limit_holds_for_the_whole_server() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 6);
        let mut open: Vec<TcpStream> = (0..6).map(|_| connect(addr)).collect();
        for conn in &open {
            assert_eq!(exchange(conn, b"mn\r\n".to_vec(), b"\r\n"), b"MN\r\n");
        }
        let mut extra = connect(addr);
        let mut reply = Vec::new();
        extra.read_to_end(&mut reply).unwrap();
        assert_eq!(reply, b"ERROR Too many open connections\r\n");
        drop(open.pop());
        thread::sleep(Duration::from_millis(200));
        let again = connect(addr);
        assert_eq!(exchange(&again, b"mn\r\n".to_vec(), b"\r\n"), b"MN\r\n");
        server.stop().unwrap();
    }
}

#[test]
fn a_client_that_leaves_mid_value_leaves_nothing_behind() {
    for (shard_count, cpus) in layouts() {
        let (server, addr) = start_on(shard_count, &cpus, 64);
        // Keys on other shards, values cut off half way.
        for i in 0..50 {
            let mut conn = connect(addr);
            conn.write_all(format!("set cut{i} 0 0 100000\r\n").as_bytes())
                .unwrap();
            conn.write_all(&[b'a'; 50_000]).unwrap();
        }
        thread::sleep(Duration::from_millis(300));
        let conn = connect(addr);
        let keys: Vec<String> = (0..50).map(|i| format!("cut{i}")).collect();
        let got = exchange(
            &conn,
            format!("get {}\r\n", keys.join(" ")).into_bytes(),
            b"END\r\n",
        );
        assert_eq!(got, b"END\r\n", "no half value was stored");
        let stats = String::from_utf8(exchange(&conn, b"stats\r\n".to_vec(), b"END\r\n")).unwrap();
        assert!(stats.contains("STAT curr_connections 1\r\n"), "{stats}");
        server.stop().unwrap();
    }
}

#[test]
fn a_shard_sharing_a_thread_is_woken_at_once_from_another_thread() {
    let all = ringcache_net::runtime::cpu::allowed_cpus().unwrap();
    if all.len() < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test on two CPUs or more"
        );
        eprintln!("skipped: this process may use one CPU only");
        return;
    }
    // Shards 0 and 2 share the first CPU's thread, shard 1 has the second to itself: half of
    // the requests below cross between the two threads. A lost wake-up would leave the
    // request waiting for the owner's next timer tick, a second later.
    let (server, addr) = start_on(3, &all[..2], 64);
    let round_trip_max = Duration::from_millis(500);
    let conns: Vec<TcpStream> = (0..8).map(|_| connect(addr)).collect();
    for (c, conn) in conns.iter().enumerate() {
        for i in 0..30 {
            let key = format!("w{c}:{i}");
            let started = Instant::now();
            let stored = exchange(
                conn,
                format!("set {key} 0 0 1\r\nx\r\n").into_bytes(),
                b"\r\n",
            );
            assert_eq!(stored, b"STORED\r\n");
            let got = exchange(conn, format!("get {key}\r\n").into_bytes(), b"END\r\n");
            assert_eq!(got, format!("VALUE {key} 0 1\r\nx\r\nEND\r\n").into_bytes());
            let took = started.elapsed();
            assert!(
                took < round_trip_max,
                "set and get of {key} (shard {}) took {took:?}",
                shard_of(key.as_bytes(), 3)
            );
        }
    }
    server.stop().unwrap();
}
