//! Bad input from one client never affects another client or any stored value: seeded
//! "attacker" connections send garbage and malformed requests aimed at the keys another
//! client stored, while that client keeps working; afterwards every stored value is intact
//! and the server still serves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringcache_tests::Server;

const VICTIM_KEY_COUNT: usize = 200;
const ATTACKER_COUNT: usize = 6;
const ATTACKS_PER_CONNECTION: usize = 40;

fn victim_value(i: usize) -> Vec<u8> {
    let len = (i * 37) % 3000;
    (0..len).map(|j| ((i * 31 + j * 7) % 256) as u8).collect()
}

/// One malformed request aimed at the victim's keys, or plain garbage.
fn attack(rng: &mut StdRng) -> Vec<u8> {
    let key = format!("victim:{}", rng.gen_range(0..VICTIM_KEY_COUNT));
    match rng.gen_range(0..9) {
        // Random bytes, newlines included.
        0 => (0..rng.gen_range(1..4000)).map(|_| rng.gen()).collect(),
        // A data block of the wrong length: `CLIENT_ERROR bad data chunk`, nothing stored.
        1 => format!("set {key} 0 0 5\r\nwrong-length-block\r\n").into_bytes(),
        2 => format!("cas {key} 0 0 3 18446744073709551615\r\nabcdef\r\n").into_bytes(),
        // Malformed numbers and keys.
        3 => format!("set {key} abc 0 1\r\nx\r\nincr {key} -5\r\ntouch {key} zz\r\n").into_bytes(),
        4 => format!("set {key} 0 0 -1\r\nappend {key} 0 0 x\r\nmg {key} Zq O\r\n").into_bytes(),
        5 => format!("get {}\r\ndelete {} 0 0\r\n", "k".repeat(300), key).into_bytes(),
        // Meta requests with broken flags.
        6 => format!(
            "ms {key} 2 F-1 Tx\r\nhi\r\nma {key} Dabc\r\nmd {key} C18446744073709551615 q\r\n"
        )
        .into_bytes(),
        // A long line without a newline (the connection is closed).
        7 => vec![b'z'; 2100 + rng.gen_range(0..3000)],
        // A NUL ends a command line: this is `delete` without a key.
        _ => format!("delete\0{key}\r\n").into_bytes(),
    }
}

fn run_attacker(addr: SocketAddr, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stream: Option<TcpStream> = None;
    for _ in 0..ATTACKS_PER_CONNECTION * 3 {
        let conn = stream.get_or_insert_with(|| {
            let s = TcpStream::connect(addr).expect("attacker connects");
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            s
        });
        let bytes = attack(&mut rng);
        let broken = conn.write_all(&bytes).is_err();
        let mut sink = [0u8; 65536];
        let closed = matches!(conn.read(&mut sink), Ok(0));
        if broken || closed || rng.gen_ratio(1, 10) {
            // Sometimes leave mid-request, with an unfinished data block pending.
            if rng.gen_bool(0.5) {
                let _ = conn.write_all(b"set victim:0 0 0 100\r\nonly-part-of-the-block");
            }
            stream = None;
        }
    }
}

#[test]
fn garbage_from_some_clients_harms_no_other_client_and_no_value() {
    // 256 MiB: at -t 4 each shard still has a page for every size class the victim's 200
    // values use, so nothing is evicted (this test is about isolation, not memory pressure).
    let server = Server::ringcache(&["-m", "256", "-c", "64"]);
    let mut victim = server.connect();
    for i in 0..VICTIM_KEY_COUNT {
        let value = victim_value(i);
        let mut request = format!("set victim:{i} {i} 0 {}\r\n", value.len()).into_bytes();
        request.extend_from_slice(&value);
        request.extend_from_slice(b"\r\n");
        victim.expect(&request, b"STORED\r\n");
    }

    let addr = server.addr();
    let attackers: Vec<_> = (0..ATTACKER_COUNT as u64)
        .map(|seed| std::thread::spawn(move || run_attacker(addr, 0x5eed + seed)))
        .collect();
    // The victim keeps working while the attack runs.
    for round in 0..50 {
        let key = format!("side:{round}");
        victim.expect(
            format!("set {key} 0 0 2\r\nok\r\nget {key}\r\n").as_bytes(),
            format!("STORED\r\nVALUE {key} 0 2\r\nok\r\nEND\r\n").as_bytes(),
        );
    }
    for attacker in attackers {
        attacker.join().expect("attacker thread");
    }

    for i in 0..VICTIM_KEY_COUNT {
        let value = victim_value(i);
        let mut expected = format!("VALUE victim:{i} {i} {}\r\n", value.len()).into_bytes();
        expected.extend_from_slice(&value);
        expected.extend_from_slice(b"\r\nEND\r\n");
        victim.expect(format!("get victim:{i}\r\n").as_bytes(), &expected);
    }
    // Only the victim is left connected once the server has seen the attackers go.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = String::from_utf8_lossy(&victim.call(b"stats\r\n")).into_owned();
        if stats.contains("STAT curr_connections 1\r\n") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "connections left open:\n{stats}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
