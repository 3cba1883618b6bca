//! Named edge cases for the differential test: each group starts from an empty cache and is a
//! list of steps (bytes sent in one write). `{cas}` stands for the most recent CAS number the
//! server returned, `{cas-1}` for the one before it (resolved per server).

use crate::gen::{Cmd, Piece, Step};

/// The edge-case groups: `(name, steps)`.
pub fn groups() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let k250 = "K".repeat(250);
    let k251 = "L".repeat(251);
    let big_ok = vec![b'v'; 1024 * 1024 - 4096];
    let too_big = vec![b'w'; 1024 * 1024 + 1];
    let s = |t: &str| t.as_bytes().to_vec();
    let with_data = |line: &str, data: &[u8]| {
        let mut v = line.as_bytes().to_vec();
        v.extend_from_slice(data);
        v.extend_from_slice(b"\r\n");
        v
    };
    vec![
        ("set-get-basics", vec![
            s("set a 0 0 1\r\nx\r\n"), s("get a\r\n"), s("gets a\r\n"), s("get a b a\r\n"),
            s("set a 5 0 0\r\n\r\n"), s("get a\r\n"), s("set b 0 0 4\r\n\r\n\r\n\r\n"), s("get b\r\n"),
            with_data("set c 0 0 6\r\n", b"\x00\xff\r\n\x01\n"), s("get c\r\n"),
        ]),
        ("keys-250-251", vec![
            s(&format!("set {k250} 0 0 1\r\nx\r\n")), s(&format!("get {k250}\r\n")),
            s(&format!("set {k251} 0 0 1\r\nx\r\n")), s(&format!("get {k251}\r\n")),
            s(&format!("get a {k251}\r\n")), s(&format!("delete {k251}\r\n")),
            s(&format!("incr {k251} 1\r\n")), s(&format!("touch {k251} 0\r\n")),
            s(&format!("mg {k251} v\r\n")), s(&format!("mg {k250} v\r\n")), s(&format!("md {k250}\r\n")),
        ]),
        ("flags", vec![
            s("set a 4294967295 0 1\r\nx\r\n"), s("get a\r\n"), s("set a 4294967296 0 1\r\nx\r\n"),
            s("get a\r\n"), s("set a -1 0 1\r\nx\r\n"), s("get a\r\n"), s("set a abc 0 1\r\nx\r\n"),
            s("ms a 1 F4294967295\r\nx\r\n"), s("mg a f v\r\n"), s("ms a 1 F4294967296\r\nx\r\n"),
            s("mg a f\r\n"),
        ]),
        ("exptime", vec![
            s("set a 0 -1 1\r\nx\r\n"), s("get a\r\n"), s("set a 0 1000000000 1\r\nx\r\n"), s("get a\r\n"),
            s("set a 0 2592001 1\r\nx\r\n"), s("get a\r\n"), s("set a 0 2592000 1\r\nx\r\n"), s("get a\r\n"),
            s("set a 0 4000000000 1\r\nx\r\n"), s("get a\r\n"), s("mg a t v\r\n"),
            s("set a 0 1000 1\r\nx\r\n"), s("mg a t\r\n"), s("touch a -1\r\n"), s("get a\r\n"),
            s("set a 0 0 1\r\nx\r\n"), s("gat -1 a\r\n"), s("get a\r\n"), s("set a 0 x 1\r\nx\r\n"),
        ]),
        ("add-replace-append-prepend", vec![
            s("add a 0 0 1\r\nx\r\n"), s("add a 0 0 1\r\ny\r\n"), s("replace b 0 0 1\r\ny\r\n"),
            s("replace a 3 0 1\r\ny\r\n"), s("gets a\r\n"), s("append a 9 0 2\r\nzz\r\n"),
            s("prepend a 9 0 2\r\nww\r\n"), s("gets a\r\n"), s("append b 0 0 1\r\nx\r\n"),
            s("prepend b 0 0 1\r\nx\r\n"), s("get b\r\n"),
        ]),
        ("cas", vec![
            s("cas a 0 0 1 1\r\nx\r\n"), s("set a 0 0 1\r\nx\r\n"), s("gets a\r\n"),
            s("cas a 0 0 1 {cas}\r\ny\r\n"), s("gets a\r\n"), s("cas a 0 0 1 {cas-1}\r\nz\r\n"),
            s("cas a 0 0 1 0\r\nz\r\n"), s("cas a 0 0 1 18446744073709551615\r\nz\r\n"),
            s("cas a 0 0 1 18446744073709551616\r\nz\r\n"), s("cas a 0 0 1 -1\r\nz\r\n"),
            s("cas a 0 0 1\r\nz\r\n"), s("gets a\r\n"), s("cas a 0 0 1 {cas} noreply\r\nq\r\n"),
            s("gets a\r\n"), s("delete a\r\n"), s("cas a 0 0 1 {cas}\r\nq\r\n"),
        ]),
        ("incr-decr", vec![
            s("incr a 1\r\n"), s("set a 0 0 20\r\n18446744073709551615\r\n"), s("incr a 1\r\n"), s("get a\r\n"),
            s("set a 0 0 1\r\n5\r\n"), s("decr a 10\r\n"), s("get a\r\n"), s("incr a 18446744073709551615\r\n"),
            s("incr a 18446744073709551616\r\n"), s("incr a -1\r\n"), s("incr a abc\r\n"), s("incr a\r\n"),
            s("set a 0 0 3\r\nabc\r\n"), s("incr a 1\r\n"), s("decr a 1\r\n"),
            s("set a 0 0 3\r\n100\r\n"), s("decr a 95\r\n"), s("get a\r\n"), s("incr a 1000\r\n"), s("get a\r\n"),
            s("set a 0 0 5\r\n00010\r\n"), s("incr a 1\r\n"), s("get a\r\n"), s("set a 0 0 2\r\n 5\r\n"), s("incr a 1\r\n"),
            s("set a 0 0 21\r\n184467440737095516150\r\n"), s("incr a 1\r\n"), s("set a 0 0 0\r\n\r\n"), s("incr a 1\r\n"),
            s("set a 0 0 1\r\n1\r\n"), s("incr a 1 noreply\r\n"), s("decr a 1 noreply\r\n"), s("get a\r\n"),
            s("incr a 0\r\n"), s("gets a\r\n"), s("incr a 1\r\n"), s("gets a\r\n"),
        ]),
        ("delete-touch", vec![
            s("delete a\r\n"), s("set a 0 0 1\r\nx\r\n"), s("delete a 0\r\n"), s("set a 0 0 1\r\nx\r\n"),
            s("delete a 5\r\n"), s("delete a noreply\r\n"), s("get a\r\n"), s("touch a 0\r\n"),
            s("set a 0 0 1\r\nx\r\n"), s("touch a 1000\r\n"), s("touch a 0 noreply\r\n"), s("touch a\r\n"),
            s("gat 1000 a b\r\n"), s("gats 0 a\r\n"), s("gat a\r\n"), s("gat\r\n"),
        ]),
        ("noreply-everywhere", vec![
            s("set a 0 0 1 noreply\r\nx\r\n"), s("add a 0 0 1 noreply\r\nx\r\n"), s("add b 0 0 1 noreply\r\nx\r\n"),
            s("replace a 0 0 1 noreply\r\ny\r\n"), s("append a 0 0 1 noreply\r\nz\r\n"),
            s("prepend a 0 0 1 noreply\r\nw\r\n"), s("get a b\r\n"), s("cas a 0 0 1 1 noreply\r\nq\r\n"),
            s("delete b noreply\r\n"), s("incr a 1 noreply\r\n"), s("touch a 0 noreply\r\n"),
            s("verbosity 1 noreply\r\n"), s("flush_all noreply\r\n"), s("flush_all 0 noreply\r\n"),
            s("get a b\r\n"), s("set a 0 0 1 noreply\r\nxy\r\n"), s("set a 0 0 1 norepl\r\nx\r\n"),
        ]),
        ("pipelining", vec![
            s("set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a b\r\nincr a 5\r\ndelete b\r\nget a b\r\nmg a v\r\nmn\r\n"),
            s("get a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\nget a\r\n"),
            s("mg a v q\r\nmg zz v q\r\nmg a v k q\r\nmn\r\n"),
        ]),
        ("bad-data-chunks", vec![
            s("set a 0 0 1\r\nxyz\r\n"), s("get a\r\n"), s("set a 0 0 3\r\nxy\r\r\n"), s("set a 0 0 1\r\nx\n\n"),
            s("set a 0 0 -1\r\n"), s("set a 0 0 abc\r\n"), s("set a 0 0\r\n"), s("set a 0\r\n"),
            s("ms a 1\r\nxyz\r\n"), s("ms a x\r\n"), s("ms a\r\n"), s("get a\r\n"),
        ]),
        ("over-size", vec![
            with_data("set a 0 0 1044480\r\n", &big_ok), s("mg a s\r\n"),
            with_data("set a 0 0 1048577\r\n", &too_big), s("get a\r\n"), s("mg a s\r\n"),
            with_data("ms a 1048577\r\n", &too_big), s("mg a s\r\n"),
            with_data("set b 0 0 1048577 noreply\r\n", &too_big), s("get b\r\n"),
        ]),
        ("unknown-and-garbage", vec![
            s("bogus\r\n"), s("\r\n"), s("GET a\r\n"), s("get\r\n"), s("gets\r\n"), s("set\r\n"),
            s("incr\r\n"), s("delete\r\n"), s("touch a\r\n"), s("mz a\r\n"), s("mg\r\n"), s("ma\r\n"), s("md\r\n"),
            s("me\r\n"), s("verbosity\r\n"), s("version\r\n"), s("verbosity 1\r\n"), s("get a\n"), s("mn\n"),
            s(&format!("get {}\r\n", "a ".repeat(200))), s("stats\r\n"),
        ]),
        ("flush_all", vec![
            s("set a 0 0 1\r\nx\r\n"), s("flush_all\r\n"), s("get a\r\n"), s("set a 0 0 1\r\nx\r\n"),
            s("flush_all 0\r\n"), s("get a\r\n"), s("set a 0 0 1\r\nx\r\n"), s("flush_all 3600\r\n"),
            s("get a\r\n"), s("flush_all -1\r\n"), s("flush_all x\r\n"), s("flush_all 0 0\r\n"), s("get a\r\n"),
        ]),
        ("meta-get", vec![
            s("mg a v\r\n"), s("mg a\r\n"), s("mg a q\r\n"), s("ms a 2 F7 T0\r\nhi\r\n"),
            s("mg a\r\n"), s("mg a v f s k c t h l Oop\r\n"), s("mg a h\r\n"), s("mg a q v\r\n"), s("mg a k q\r\n"),
            s("mg a u v\r\n"), s("mg a T1000 t\r\n"), s("mg a t\r\n"), s("mg b N1000 v c t\r\n"), s("mg b v c\r\n"),
            s("mg b N1000 v\r\n"), s("ms c 1 T1000\r\nx\r\n"), s("mg c R5000 v c\r\n"), s("mg c R5000 v c\r\n"),
            s("mg c R30 v\r\n"), s("mg YQ== b v k\r\n"), s("mg !!! b v\r\n"), s("mg a Z\r\n"), s("mg a v v\r\n"),
            s("mg a O\r\n"), s("mg a Oabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\r\n"), 
        ]),
        ("meta-set", vec![
            s("ms a 2\r\nhi\r\n"), s("ms a 2 c k Oxx\r\n12\r\n"), s("mg a c v\r\n"), s("ms a 2 C{cas} c\r\nab\r\n"),
            s("ms a 2 C{cas-1}\r\nab\r\n"), s("ms a 2 C0\r\nab\r\n"), s("ms a 2 q\r\nab\r\n"),
            s("ms a 2 q C1\r\nab\r\n"), s("ms a 2 ME\r\nab\r\n"), s("ms b 2 ME\r\nab\r\n"), s("ms a 1 MA\r\nz\r\n"),
            s("ms a 1 MP\r\ny\r\n"), s("mg a v\r\n"), s("ms zz 1 MR\r\nz\r\n"), s("ms zz 1 MA\r\nz\r\n"),
            s("ms zz 1 MA N1000\r\nz\r\n"), s("mg zz v\r\n"), s("ms a 1 MS\r\nz\r\n"), s("ms a 1 MX\r\nz\r\n"),
            s("ms a 1 I\r\nz\r\n"), 
            s("ms a 1 T-1\r\nz\r\n"), s("mg a v\r\n"), s("ms YQ== 1 b k\r\nz\r\n"), s("mg a v s f\r\n"),
            s("ms a 1 Fx\r\nz\r\n"), s("ms a 1 Tx\r\nz\r\n"), s("ms a 0\r\n\r\n"), s("mg a v\r\n"),
        ]),
        ("meta-delete", vec![
            s("md a\r\n"), s("md a q\r\n"), s("ms a 1\r\nx\r\n"), s("md a k Oo\r\n"), s("ms a 1\r\nx\r\n"),
            s("mg a c\r\n"), s("md a C{cas-1}\r\n"), s("md a C{cas}\r\n"), s("ms a 1\r\nx\r\n"),
            s("md a I T1000\r\n"), s("mg a v c t\r\n"), s("mg a v c\r\n"), s("ms a 1 I\r\ny\r\n"),
            s("mg a v f\r\n"), s("md a q\r\n"), s("md YQ== b\r\n"),
        ]),
        ("meta-arithmetic", vec![
            s("ma a\r\n"), s("ma a q\r\n"), s("ma a N0 J10 v\r\n"), s("ma a v\r\n"), s("ma a MD D3 v\r\n"),
            s("ma a M- D100 v\r\n"), s("ma a M+ D18446744073709551615 v\r\n"), s("ma a MI v t c\r\n"),
            s("ma a C{cas} v\r\n"), s("ma a C1 v\r\n"), s("ma a Dx\r\n"), s("ma a D-1\r\n"), s("ma a MX\r\n"),
            s("ms b 3\r\nabc\r\n"), s("ma b\r\n"), s("ma a T1000 t v\r\n"), s("ma a k O9 q\r\n"), s("mn\r\n"),
            s("ma c N1000 J18446744073709551615 v\r\n"), s("ma c v\r\n"), s("ma bnVt b N0 v k\r\n"),
        ]),
        ("meta-debug-and-noop", vec![
            s("me a\r\n"), s("ms a 1 T0\r\nx\r\n"), s("me a\r\n"), s("mg a v\r\n"), s("me a\r\n"),
            s("ms b 1 T1000\r\nx\r\n"), s("me b\r\n"), s("me YQ== b\r\n"), s("mn\r\n"), s("mn x\r\n"),
        ]),
        // Flags newer memcached releases added (`E` explicit CAS, md `x`): memcached 1.6.18
        // rejects them, and so does ringcache until the baseline moves.
        ("meta-flags-newer-than-1.6.18", vec![
            s("ms a 1 E1000007 c\r\nq\r\n"), s("mg a c v\r\n"), s("flush_all\r\n"), s("mg a v\r\n"),
            s("ms a 1\r\nx\r\n"), s("md a x\r\n"), s("mg a v\r\n"), s("mg a E5 c\r\n"),
            s("ma a N0 E77 c\r\n"), s("md a E9\r\n"),
        ]),
        ("quit", vec![s("get a\r\nquit\r\n"), s("get a\r\n"), s("quit extra\r\n"), s("quit\r\n")]),
    ]
}

/// Turns one edge-case step into a [`Step`], resolving `{cas}` / `{cas-1}` against `cas_known`.
pub fn step(bytes: &[u8], cas_known: usize) -> Step {
    let mut cmd = Cmd::default();
    let mut rest = bytes;
    let mut raw = Vec::new();
    while !rest.is_empty() {
        let (tag, back) = if rest.starts_with(b"{cas}") {
            (5, 1)
        } else if rest.starts_with(b"{cas-1}") {
            (7, 2)
        } else {
            raw.push(rest[0]);
            rest = &rest[1..];
            continue;
        };
        cmd.pieces.push(Piece::Raw(std::mem::take(&mut raw)));
        match cas_known.checked_sub(back) {
            Some(ordinal) => cmd.pieces.push(Piece::Cas(ordinal)),
            None => cmd.pieces.push(Piece::Raw(b"424242".to_vec())),
        }
        rest = &rest[tag..];
    }
    cmd.pieces.push(Piece::Raw(raw));
    Step {
        cmds: vec![cmd],
        split_len: None,
    }
}
