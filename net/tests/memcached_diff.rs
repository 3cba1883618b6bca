//! Differential test: the same request streams sent to a real memcached (`/usr/bin/memcached`,
//! installed by `tests/setup`) and to a `Session` must get the same bytes back. Streams avoid CAS
//! values and `me`, whose numbers legitimately differ.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::Duration;

use ringcache_net::proto::check::run_chunked;

const MEMCACHED: &str = "/usr/bin/memcached";

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Server {
    assert!(
        std::path::Path::new(MEMCACHED).exists(),
        "{MEMCACHED} not found: run tests/setup (apt-get install memcached)"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(MEMCACHED)
        .args([
            "-u",
            "nobody",
            "-U",
            "0",
            "-l",
            "127.0.0.1",
            "-m",
            "64",
            "-I",
            "1m",
            "-p",
        ])
        .arg(port.to_string())
        .spawn()
        .expect("memcached starts");
    let server = Server(child, port);
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("memcached did not listen on port {port} within 5 s");
}

fn talk(port: u16, input: &[u8]) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    conn.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

const CASES: &[&[u8]] = &[
    b"set k 0 0 3\r\nabc\r\nget k\r\n",
    b"set k 0 0 3\r\nabcde\r\nget k\r\n",
    b"set k 0 0 3\r\nab\r\n\r\nget k\r\n",
    b"set k 0 0 3 noreply\r\nabcde\r\nget k\r\n",
    b"set k 4294967296 0 1\r\na\r\nget k\r\nset k -1 0 1\r\na\r\nset k +5 0 1\r\na\r\nget k\r\n",
    b"set k 0 0 -1\r\na\r\nset k 0 0 noreply\r\na\r\nset k 0 0\r\na\r\nset k 0 abc 1\r\na\r\n",
    b"set k 0 4294967396 1\r\na\r\nget k\r\nset k 0 2147483648 1\r\na\r\nget k\r\n",
    b"incr nokey 1\r\nincr k abc\r\nincr k -1\r\nset n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\nincr n -18446744073709551615\r\n",
    b"touch k abc\r\ntouch k 10\r\nset k 0 0 1\r\na\r\ntouch k 10\r\ntouch k\r\ndelete k 5\r\ndelete k 0 x\r\ndelete k 0\r\ndelete k\r\n",
    b"flush_all abc\r\nflush_all 1 2 3\r\nverbosity\r\nverbosity 1\r\nverbosity abc\r\nverbosity 5 6 7\r\nversion x\r\n",
    b"\r\nx\r\nxx\r\nfoo bar\r\n \r\nget\r\ngetx k\r\nshutdown\r\ngat abc k\r\ngat 10\r\nstats foo\r\nstats detail\r\nstats detail on\r\nstats detail off\r\n",
    b"set k 0 0 1\r\na\nget k\r\nset k 0 0 1\na\r\nget k\nget k\r\n",
    b"set k 0 0 1\r\na\r\nadd k 0 0 1\r\nb\r\nreplace nokey 0 0 1\r\nb\r\nappend nokey 0 0 1\r\nb\r\nprepend k 0 0 1\r\nz\r\nget k\r\n",
    b"set k 0 0 2\r\nza\r\nget k\x00zz\r\nset k\x00 0 0 1\r\na\r\n",
    b"ms mk 2\r\nhi\r\nmg mk v\r\nmg mk\r\nmg mk s v f t k O123 q\r\nmg nokey\r\nmg nokey q\r\nmg nokey k O55\r\nmn\r\n",
    b"ms bWs= 2 b k O9\r\nhi\r\nmg bWs= b k v\r\nmg !!!! b v\r\nme !!!! b\r\nms !!!! 2 b\r\nhi\r\n",
    b"ms mk 2 q\r\nhi\r\nms mk 2 q ME\r\nhi\r\nms mk 2 MX\r\nhi\r\nms mk 2 C999 q\r\nhi\r\nms mk S2\r\nhi\r\nms mk\r\nhi\r\n",
    b"ms mk 2 Z\r\nhi\r\nms mk 2 v v\r\nhi\r\nms mk 2 Fabc\r\nhi\r\nms mk 2 Tabc\r\nhi\r\nms mk 2 O123456789012345678901234567890123\r\nhi\r\nmn\r\n",
    b"ms mk 3\r\nhi\r\nms mk 2\r\nhi\r\nmd mk q\r\nmd mk q\r\nmd mk\r\nmd mk O1 k\r\nmd mk Z\r\nmd mk C5\r\nmn\r\n",
    b"ms mk 1\r\n5\r\nma mk\r\nma mk v\r\nma mk MD D10 v t\r\nma mk q\r\nma nokey q\r\nma nokey\r\nma nokey N0 J42 v\r\nma mk Dabc\r\nma mk MX\r\nma mk Jx\r\nmn\r\n",
    b"mg mk v v\r\nmg mk Z\r\nmg mk Tabc\r\nmg mk O123456789012345678901234567890123\r\nmg\r\nmg mk a b c d e f g h i j k l m n o p q r s\r\nmz\r\nm\r\nmn x\r\n",
    b"version\r\nquit\r\nversion\r\n",
    b"GET / HTTP/1.1\r\nversion\r\n",
];

#[test]
fn replies_match_memcached_1_6_18() {
    let server = start();
    let mut mismatches = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let _ = talk(server.1, b"flush_all\r\n");
        // Keys differ per case so that no state leaks between cases on either side.
        let expected = talk(server.1, case);
        let ours = run_chunked(case, usize::MAX).output;
        if ours != expected {
            mismatches.push(format!(
                "case {i} {:?}\n  memcached: {:?}\n  ringcache: {:?}",
                String::from_utf8_lossy(case),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&ours)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
