//! The io_uring runtime under load shapes that stress its buffers and limits, against an
//! in-process server on a free port. Protocol correctness is covered by `exec` and by the
//! end-to-end suite in `tests/`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ringcache_net::runtime::Server;

mod common;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Shards to run (`RINGCACHE_TEST_THREADS`, default 1; the suite runs at 1, 2 and 4).
fn shard_count() -> u32 {
    std::env::var("RINGCACHE_TEST_THREADS").map_or(1, |t| t.parse().expect("a number"))
}

fn start(conn_limit: u32) -> (Server, SocketAddr) {
    common::start(shard_count(), conn_limit, 64)
}

fn connect(addr: SocketAddr) -> TcpStream {
    common::connect(addr, IO_TIMEOUT)
}

/// Reads until `expected_len` bytes have arrived.
fn read_exact_len(stream: &mut TcpStream, expected_len: usize) -> Vec<u8> {
    let mut buf = vec![0; expected_len];
    stream.read_exact(&mut buf).unwrap();
    buf
}

fn roundtrip(stream: &mut TcpStream, request: &[u8], expected: &[u8]) {
    stream.write_all(request).unwrap();
    let got = read_exact_len(stream, expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn connections_over_the_limit_are_told_and_closed() {
    let (server, addr) = start(2);
    let mut a = connect(addr);
    let mut b = connect(addr);
    roundtrip(
        &mut a,
        b"version\r\n",
        format!("VERSION {}\r\n", ringcache_net::VERSION).as_bytes(),
    );
    roundtrip(
        &mut b,
        b"version\r\n",
        format!("VERSION {}\r\n", ringcache_net::VERSION).as_bytes(),
    );
    let mut c = connect(addr);
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"ERROR Too many open connections\r\n");
    drop(a);
    // The freed slot is usable again once the server has seen the close.
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let mut d = connect(addr);
        d.write_all(b"version\r\n").unwrap();
        let mut first = [0u8; 5];
        d.read_exact(&mut first).unwrap();
        if &first == b"VERSI" {
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.stop().unwrap();
}

#[test]
fn a_large_pipeline_is_answered_in_order() {
    let (server, addr) = start(16);
    let mut stream = connect(addr);
    let count = 20_000;
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..count {
        request.extend_from_slice(
            format!("set k{i} {i} 0 {}\r\nv{i}\r\n", format!("v{i}").len()).as_bytes(),
        );
        request.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expected.extend_from_slice(b"STORED\r\n");
        expected.extend_from_slice(
            format!(
                "VALUE k{i} {i} {}\r\nv{i}\r\nEND\r\n",
                format!("v{i}").len()
            )
            .as_bytes(),
        );
    }
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&request).unwrap())
    };
    let got = read_exact_len(&mut stream, expected.len());
    writer.join().unwrap();
    assert!(
        got == expected,
        "pipelined replies differ from the expected order"
    );
    server.stop().unwrap();
}

#[test]
fn a_one_megabyte_value_arrives_in_small_pieces() {
    let (server, addr) = start(16);
    let mut stream = connect(addr);
    let value: Vec<u8> = (0..(1 << 20) - 512).map(|i| (i % 251) as u8).collect();
    let mut request = format!("set big 7 0 {}\r\n", value.len()).into_bytes();
    request.extend_from_slice(&value);
    request.extend_from_slice(b"\r\n");
    for piece in request.chunks(1000) {
        stream.write_all(piece).unwrap();
    }
    assert_eq!(read_exact_len(&mut stream, 8), b"STORED\r\n");
    stream.write_all(b"get big\r\n").unwrap();
    let header = format!("VALUE big 7 {}\r\n", value.len());
    let got = read_exact_len(&mut stream, header.len() + value.len() + 7);
    assert_eq!(&got[..header.len()], header.as_bytes());
    assert!(
        got[header.len()..header.len() + value.len()] == value[..],
        "value corrupted"
    );
    assert_eq!(&got[header.len() + value.len()..], b"\r\nEND\r\n");
    server.stop().unwrap();
}

/// A client that sends many requests and reads nothing must only stall itself: the server
/// stops reading from it (bounded output), and other clients are served meanwhile.
#[test]
fn a_client_that_does_not_read_only_slows_itself() {
    let (server, addr) = start(16);
    let mut setup = connect(addr);
    let value = vec![b'x'; 10_000];
    let mut set = b"set fat 0 0 10000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    roundtrip(&mut setup, &set, b"STORED\r\n");

    let mut hog = connect(addr);
    hog.set_nonblocking(true).unwrap();
    let get = b"get fat\r\n";
    let mut written_bytes = 0usize;
    let deadline = Instant::now() + Duration::from_secs(5);
    // Write until the kernel buffers on both sides are full and the server stopped reading.
    let mut stalled_since: Option<Instant> = None;
    while Instant::now() < deadline {
        let offset = written_bytes % get.len();
        match hog.write(&get[offset..]) {
            Ok(n) => {
                written_bytes += n;
                stalled_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(300) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    assert!(
        stalled_since.is_some(),
        "server kept reading from a client that never reads"
    );
    // Another client is served promptly while the hog is stalled.
    let mut other = connect(addr);
    let started = Instant::now();
    roundtrip(
        &mut other,
        b"set small 0 0 1\r\na\r\nget small\r\n",
        b"STORED\r\nVALUE small 0 1\r\na\r\nEND\r\n",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "other client starved"
    );
    // The hog gets every reply, complete and in order, once it reads (finishing the request
    // it was cut off in from another thread: the server reads again only as we read).
    hog.set_nonblocking(false).unwrap();
    let partial = written_bytes % get.len();
    let written_count = written_bytes.div_ceil(get.len());
    let finisher = {
        let mut hog = hog.try_clone().unwrap();
        std::thread::spawn(move || {
            if partial > 0 {
                hog.write_all(&get[partial..]).unwrap();
            }
        })
    };
    let one_reply_len = b"VALUE fat 0 10000\r\n".len() + value.len() + b"\r\nEND\r\n".len();
    let mut reply = vec![0u8; one_reply_len];
    for i in 0..written_count {
        hog.read_exact(&mut reply)
            .unwrap_or_else(|e| panic!("reply {i} of {written_count}: {e}"));
        assert!(reply.starts_with(b"VALUE fat 0 10000\r\n") && reply.ends_with(b"\r\nEND\r\n"));
    }
    finisher.join().unwrap();
    server.stop().unwrap();
}

#[test]
fn many_connections_are_served_at_once() {
    let (server, addr) = start(512);
    let mut streams: Vec<TcpStream> = (0..300).map(|_| connect(addr)).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        stream
            .write_all(format!("set c{i} 0 0 {}\r\n{i}\r\n", i.to_string().len()).as_bytes())
            .unwrap();
    }
    for stream in &mut streams {
        assert_eq!(read_exact_len(stream, 8), b"STORED\r\n");
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let expected = format!("VALUE c{i} 0 {}\r\n{i}\r\nEND\r\n", i.to_string().len());
        roundtrip(
            stream,
            format!("get c{i}\r\n").as_bytes(),
            expected.as_bytes(),
        );
    }
    server.stop().unwrap();
}

#[test]
fn stop_closes_open_connections() {
    let (server, addr) = start(16);
    let mut stream = connect(addr);
    roundtrip(&mut stream, b"set a 0 0 1\r\n1\r\n", b"STORED\r\n");
    server.stop().unwrap();
    let mut rest = Vec::new();
    let n = stream.read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "connection still open after stop");
}

#[test]
fn quit_closes_the_connection() {
    let (server, addr) = start(16);
    let mut stream = connect(addr);
    stream.write_all(b"quit\r\n").unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    server.stop().unwrap();
}

/// As memcached: a client that sends requests and then shuts its side down gets every reply
/// before the close, even when they pass the output high-water mark (the session stops
/// consuming while the end of input is already known).
#[test]
fn a_client_that_ends_its_input_gets_every_reply_then_the_close() {
    let (server, addr) = start(16);
    let mut stream = connect(addr);
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    let value = vec![b'v'; 1000];
    for i in 0..500 {
        write!(requests, "set key:{i} 0 0 {}\r\n", value.len()).unwrap();
        requests.extend_from_slice(&value);
        requests.extend_from_slice(b"\r\n");
        write!(requests, "get key:{i}\r\n").unwrap();
        expected.extend_from_slice(b"STORED\r\n");
        write!(expected, "VALUE key:{i} 0 {}\r\n", value.len()).unwrap();
        expected.extend_from_slice(&value);
        expected.extend_from_slice(b"\r\nEND\r\n");
    }
    let reader = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            got
        })
    };
    stream.write_all(&requests).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let got = reader.join().unwrap();
    assert!(
        got == expected,
        "got {} bytes, expected {}; first difference at {:?}",
        got.len(),
        expected.len(),
        got.iter().zip(&expected).position(|(a, b)| a != b)
    );
    server.stop().unwrap();
}

#[test]
fn drain_answers_what_was_received_closes_idle_connections_and_refuses_new_ones() {
    let (server, addr) = start(16);
    let control = server.control();
    let mut idle = connect(addr);
    roundtrip(&mut idle, b"set idle 0 0 1\r\n1\r\n", b"STORED\r\n");
    let mut busy = connect(addr);
    roundtrip(&mut busy, b"set busy 0 0 1\r\n1\r\n", b"STORED\r\n");
    // Sets then gets of keys spread over every shard, all sent before the drain begins.
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        requests.extend_from_slice(format!("set d{i} 0 0 {}\r\n{i}\r\n", digits(i)).as_bytes());
        expected.extend_from_slice(b"STORED\r\n");
    }
    let keys: Vec<String> = (0..500).map(|i| format!("d{i}")).collect();
    requests.extend_from_slice(format!("get {}\r\n", keys.join(" ")).as_bytes());
    for i in 0..500 {
        expected.extend_from_slice(format!("VALUE d{i} 0 {}\r\n{i}\r\n", digits(i)).as_bytes());
    }
    expected.extend_from_slice(b"END\r\n");
    busy.write_all(&requests).unwrap();
    control.drain();
    let mut got = Vec::new();
    busy.read_to_end(&mut got).unwrap();
    assert!(
        got == expected,
        "got {} bytes of {}",
        got.len(),
        expected.len()
    );
    let mut rest = Vec::new();
    assert_eq!(
        idle.read_to_end(&mut rest).unwrap(),
        0,
        "idle connection closed"
    );
    let deadline = Instant::now() + IO_TIMEOUT;
    while !control.drained() {
        assert!(Instant::now() < deadline, "shards never reported drained");
        std::thread::sleep(Duration::from_millis(5));
    }
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    server.stop().unwrap();
}

fn digits(i: usize) -> usize {
    i.to_string().len()
}
