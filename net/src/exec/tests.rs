//! Executor tests: byte streams fed into a `Session` over a real `Store`, at every fragment
//! size, compared with the exact bytes memcached 1.6.18 sends (probed with a real server).

use super::*;
use crate::proto::check::{check_session, check_well_formed, run_chunked, run_cuts, Harness};

const FRAGMENT_SIZES: [usize; 6] = [1, 2, 5, 10, 100, usize::MAX];

/// Runs `input` at every fragment size and checks the output is `expected` each time.
fn expect(input: &[u8], expected: &[u8]) {
    for size in FRAGMENT_SIZES {
        let run = run_chunked(input, size);
        assert_eq!(
            String::from_utf8_lossy(&run.output),
            String::from_utf8_lossy(expected),
            "fragment size {size}, input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    check_well_formed(expected).expect("expected output is well formed");
}

fn expect_closed(input: &[u8], expected: &[u8]) {
    for size in FRAGMENT_SIZES {
        let run = run_chunked(input, size);
        assert!(run.closed, "fragment size {size}: not closed");
        assert_eq!(
            String::from_utf8_lossy(&run.output),
            String::from_utf8_lossy(expected)
        );
    }
}

#[test]
fn set_then_get() {
    expect(
        b"set k 0 0 3\r\nabc\r\nget k\r\n",
        b"STORED\r\nVALUE k 0 3\r\nabc\r\nEND\r\n",
    );
}

#[test]
fn gets_returns_cas_and_cas_command_checks_it() {
    expect(
        b"set k 5 0 1\r\na\r\ngets k\r\ncas k 0 0 1 99\r\nb\r\ncas k 0 0 1 1\r\nc\r\ncas nokey 0 0 1 1\r\nx\r\ngets k\r\n",
        b"STORED\r\nVALUE k 5 1 1\r\na\r\nEND\r\nEXISTS\r\nSTORED\r\nNOT_FOUND\r\nVALUE k 0 1 2\r\nc\r\nEND\r\n",
    );
}

#[test]
fn add_replace_append_prepend() {
    expect(
        b"set k 0 0 1\r\na\r\nadd k 0 0 1\r\nb\r\nreplace nokey 0 0 1\r\nb\r\nappend nokey 0 0 1\r\nb\r\n\
          prepend k 0 0 1\r\nz\r\nappend k 0 0 1\r\ny\r\nget k\r\n",
        b"STORED\r\nNOT_STORED\r\nNOT_STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\nVALUE k 0 3\r\nzay\r\nEND\r\n",
    );
}

#[test]
fn bad_data_chunk_is_rejected() {
    // memcached reads exactly <bytes>+2, rejects, then parses what follows as commands.
    expect(
        b"set k 0 0 3\r\nabcde\r\nget k\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    expect(
        b"set k 0 0 3\r\nab\r\n\r\nget k\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    expect(
        b"set k 0 0 1\r\na\nget k\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    // noreply hides the error but not the ERROR for the leftover bytes.
    expect(
        b"set k 0 0 3 noreply\r\nabcde\r\nget k\r\n",
        b"ERROR\r\nEND\r\n",
    );
}

#[test]
fn unfinished_data_block_is_not_executed() {
    let input = b"set k 0 0 10\r\nabc";
    for size in FRAGMENT_SIZES {
        let mut harness = Harness::new();
        let mut session = Session::new();
        let cuts: Vec<usize> = (1..input.len())
            .filter(|c| size != usize::MAX && c % size == 0)
            .collect();
        let run = run_cuts(&mut harness, &mut session, input, &cuts);
        assert!(run.output.is_empty());
        assert!(run.receiving_at_end);
        session.on_close(&mut harness.ctx());
        let mut session = Session::new();
        let run = run_cuts(&mut harness, &mut session, b"get k\r\n", &[]);
        assert_eq!(run.output, b"END\r\n");
        assert_eq!(harness.store.stats().curr_items, 0);
    }
}

#[test]
fn key_of_251_bytes_is_rejected() {
    let key250 = vec![b'a'; 250];
    let key251 = vec![b'a'; 251];
    let mut input = b"set ".to_vec();
    input.extend_from_slice(&key250);
    input.extend_from_slice(b" 0 0 1\r\nx\r\nset ");
    input.extend_from_slice(&key251);
    input.extend_from_slice(b" 0 0 1\r\nx\r\nget k ");
    input.extend_from_slice(&key251);
    input.extend_from_slice(b"\r\nmg ");
    input.extend_from_slice(&key251);
    input.extend_from_slice(b" v\r\n");
    expect(
        &input,
        b"STORED\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n\
          CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n",
    );
}

#[test]
fn multiget_with_long_key_sends_only_the_error() {
    let mut input = b"set k 0 0 1\r\na\r\nget k ".to_vec();
    input.extend_from_slice(&[b'a'; 251]);
    input.extend_from_slice(b" k\r\nget k k\r\n");
    expect(
        &input,
        b"STORED\r\nCLIENT_ERROR bad command line format\r\nVALUE k 0 1\r\na\r\nVALUE k 0 1\r\na\r\nEND\r\n",
    );
}

#[test]
fn malformed_storage_lines() {
    expect(
        b"set k -1 0 1\r\na\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    expect(
        b"set k 0 0 -1\r\na\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    expect(
        b"set k 0 abc 1\r\na\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    expect(b"set k 0 0 noreply\r\na\r\n", b"ERROR\r\n");
    expect(b"set k 0 0\r\na\r\n", b"ERROR\r\nERROR\r\n");
    expect(b"set k 0 0 1 2 3\r\na\r\n", b"ERROR\r\nERROR\r\n");
    expect(
        b"cas k 0 0 1 abc\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    expect(b"cas k 0 0 1\r\nx\r\n", b"ERROR\r\nERROR\r\n");
}

#[test]
fn numbers_are_read_like_memcached() {
    expect(
        b"set k 4294967296 0 1\r\na\r\nget k\r\nset k +5 0 1\r\na\r\nget k\r\n\
          set k 0 4294967396 1\r\na\r\nget k\r\nset k 0 2147483648 1\r\na\r\nget k\r\n",
        b"STORED\r\nVALUE k 0 1\r\na\r\nEND\r\nSTORED\r\nVALUE k 5 1\r\na\r\nEND\r\n\
          STORED\r\nVALUE k 0 1\r\na\r\nEND\r\nSTORED\r\nEND\r\n",
    );
}

#[test]
fn noreply_suppresses_replies_and_errors() {
    expect(
        b"set k 0 0 1 noreply\r\na\r\nget k\r\nincr k x noreply\r\ndelete k noreply\r\n\
          delete k 0 noreply\r\nflush_all noreply\r\nverbosity 1 noreply\r\ntouch k 1 noreply\r\nget k\r\n",
        b"VALUE k 0 1\r\na\r\nEND\r\nEND\r\n",
    );
}

#[test]
fn incr_decr() {
    expect(
        b"incr nokey 1\r\nincr k abc\r\nincr k -1\r\nset n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n\
          incr n 18446744073709551615\r\nincr n -18446744073709551615\r\nset s 0 0 3\r\nabc\r\nincr s 1\r\n\
          incr n 1 2\r\nincr k\r\n",
        b"NOT_FOUND\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\n\
          STORED\r\n15\r\n0\r\n18446744073709551615\r\n0\r\nSTORED\r\n\
          CLIENT_ERROR cannot increment or decrement non-numeric value\r\n1\r\nERROR\r\n",
    );
}

#[test]
fn touch_delete_flush() {
    expect(
        b"touch k abc\r\ntouch k 10\r\nset k 0 0 1\r\na\r\ntouch k 10\r\ntouch k\r\n\
          delete k 5\r\ndelete k 0 x\r\ndelete k 0\r\ndelete k\r\n\
          flush_all abc\r\nflush_all 0\r\nflush_all 1 2 3\r\nflush_all -1\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\nNOT_FOUND\r\nSTORED\r\nTOUCHED\r\nERROR\r\n\
          CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n\
          CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n\
          DELETED\r\nNOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nERROR\r\nOK\r\n",
    );
}

#[test]
fn flush_all_empties_the_cache() {
    expect(
        b"set k 0 0 1\r\na\r\nflush_all\r\nget k\r\n",
        b"STORED\r\nOK\r\nEND\r\n",
    );
}

#[test]
fn misc_commands() {
    expect(
        b"verbosity\r\nverbosity 1\r\nverbosity abc\r\nverbosity 5 6 7\r\nversion\r\n\
          \r\nx\r\nxx\r\nfoo bar\r\n \r\nget\r\ngetx k\r\nshutdown\r\ngat abc k\r\ngat 10\r\n\
          stats foo\r\nstats detail\r\nstats detail on\r\nstats reset\r\nstats cachedump 1 1\r\n",
        b"ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nVERSION 1.6.18\r\n\
          ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR: shutdown not enabled\r\n\
          CLIENT_ERROR invalid exptime argument\r\nEND\r\n\
          ERROR\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nOK\r\nRESET\r\n\
          CLIENT_ERROR stats cachedump not allowed\r\n",
    );
}

#[test]
fn verbosity_sets_the_runtime_setting() {
    let mut harness = Harness::new();
    let mut session = Session::new();
    run_cuts(&mut harness, &mut session, b"verbosity 7\r\n", &[]);
    assert_eq!(harness.settings.verbosity, 2);
}

#[test]
fn quit_closes_and_ignores_the_rest() {
    expect_closed(b"version\r\nquit\r\nversion\r\n", b"VERSION 1.6.18\r\n");
    expect_closed(b"GET / HTTP/1.1\r\nversion\r\n", b"");
}

#[test]
fn nul_ends_the_command() {
    expect(
        b"set k 0 0 2\r\nza\r\nget k\x00zz\r\nset k\x00 0 0 1\r\na\r\n",
        b"STORED\r\nVALUE k 0 2\r\nza\r\nEND\r\nERROR\r\nERROR\r\n",
    );
}

#[test]
fn bare_newlines_end_command_lines() {
    expect(
        b"set k 0 0 1\na\r\nget k\nget k\r\n",
        b"STORED\r\nVALUE k 0 1\r\na\r\nEND\r\nVALUE k 0 1\r\na\r\nEND\r\n",
    );
}

#[test]
fn line_without_newline_over_limit_closes() {
    expect_closed(&[b'x'; 2100], b"");
    // A long line whose newline is still to come when 2048 bytes are in closes.
    let mut input = b"version\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 3000]);
    input.extend_from_slice(b"\r\nversion\r\n");
    for size in [1, 2, 5, 10, 100, 1000] {
        let run = run_chunked(&input, size);
        assert!(run.closed, "fragment size {size}: not closed");
        assert_eq!(run.output, b"VERSION 1.6.18\r\n");
    }
    // A long multi-get is fine.
    let mut get = b"get".to_vec();
    for _ in 0..1000 {
        get.extend_from_slice(b" a");
    }
    get.extend_from_slice(b"\r\n");
    expect(&get, b"END\r\n");
    // ...up to the input buffer's size.
    let mut huge = b"get ".to_vec();
    huge.resize(INPUT_PENDING_MAX_BYTES, b'a');
    expect_closed(&huge, b"");
}

/// memcached drops the replies it has not sent when it closes for a long line: those to
/// the requests that arrived in the same read.
#[test]
fn replies_arriving_with_an_overlong_line_are_dropped() {
    let mut input = b"version\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 3000]);
    let run = run_chunked(&input, usize::MAX);
    assert!(run.closed);
    assert_eq!(run.output, b"");
    let run = run_cuts(&mut Harness::new(), &mut Session::new(), &input, &[9]);
    assert!(run.closed);
    assert_eq!(run.output, b"VERSION 1.6.18\r\n");
}

/// memcached measures only lines still waiting for their newline: one that arrives whole is
/// served at any length (here: an unknown command).
#[test]
fn long_line_arriving_with_its_newline_is_served() {
    let mut input = b"version\r\n".to_vec();
    input.extend_from_slice(&[b'x'; 3000]);
    input.extend_from_slice(b"\r\nversion\r\n");
    let run = run_chunked(&input, usize::MAX);
    assert!(!run.closed);
    assert_eq!(
        String::from_utf8_lossy(&run.output),
        "VERSION 1.6.18\r\nERROR\r\nVERSION 1.6.18\r\n"
    );
}

#[test]
fn value_over_item_size_limit_is_swallowed() {
    let mut input = b"set k 0 0 1\r\na\r\nadd k 0 0 2000000\r\n".to_vec();
    input.resize(input.len() + 2_000_002, b'x');
    input.extend_from_slice(b"get k\r\nset k 0 0 2000000\r\n");
    input.resize(input.len() + 2_000_002, b'x');
    input.extend_from_slice(b"get k\r\n");
    let expected: &[u8] =
        b"STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE k 0 1\r\na\r\nEND\r\n\
        SERVER_ERROR object too large for cache\r\nEND\r\n";
    for size in [1000, 4096, 65536, usize::MAX] {
        let run = run_chunked(&input, size);
        assert_eq!(
            String::from_utf8_lossy(&run.output),
            String::from_utf8_lossy(expected)
        );
        assert!(run.pending_max_bytes < 4096 || size == usize::MAX);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200u32 {
        let key = format!("key{i}");
        input.extend_from_slice(format!("set {key} {i} 0 {}\r\n{}\r\n", key.len(), key).as_bytes());
        expected.extend_from_slice(b"STORED\r\n");
        if i % 3 == 0 {
            input.extend_from_slice(format!("get {key} nokey\r\n").as_bytes());
            expected.extend_from_slice(
                format!("VALUE {key} {i} {}\r\n{key}\r\nEND\r\n", key.len()).as_bytes(),
            );
        }
        if i % 7 == 0 {
            input.extend_from_slice(format!("mg {key} v f O{i}\r\nmn\r\n").as_bytes());
            expected.extend_from_slice(
                format!("VA {} f{i} O{i}\r\n{key}\r\nMN\r\n", key.len()).as_bytes(),
            );
        }
    }
    expect(&input, &expected);
}

#[test]
fn one_mebibyte_value_streams_through_a_small_buffer() {
    let len = (1 << 20) - 512;
    let mut input = format!("set big 0 0 {len}\r\n").into_bytes();
    input.extend((0..len).map(|i| (i % 251) as u8));
    input.extend_from_slice(b"\r\nmg big s\r\n");
    for size in [1, 100, 1000, 16384] {
        let run = run_chunked(&input, size);
        assert_eq!(
            String::from_utf8_lossy(&run.output),
            format!("STORED\r\nHD s{len}\r\n")
        );
        assert!(
            run.pending_max_bytes <= 64,
            "pending {} at fragment {size}",
            run.pending_max_bytes
        );
    }
    let mut harness = Harness::new();
    let mut session = Session::new();
    run_cuts(&mut harness, &mut session, &input, &[7, 1000, 500_000]);
    let hit = harness
        .store
        .get(b"big", &Default::default(), &harness.clock)
        .expect("stored");
    assert!(hit
        .item
        .value
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn big_multiget_resumes_after_output_full() {
    let value = vec![b'v'; 10_000];
    let mut input = Vec::new();
    let mut expected = Vec::new();
    let mut get = b"get".to_vec();
    for i in 0..40 {
        input.extend_from_slice(format!("set k{i} 0 0 {}\r\n", value.len()).as_bytes());
        input.extend_from_slice(&value);
        input.extend_from_slice(b"\r\n");
        expected.extend_from_slice(b"STORED\r\n");
        get.extend_from_slice(format!(" k{i} miss{i}").as_bytes());
    }
    get.extend_from_slice(b"\r\nversion\r\n");
    input.extend_from_slice(&get);
    for i in 0..40 {
        expected.extend_from_slice(format!("VALUE k{i} 0 {}\r\n", value.len()).as_bytes());
        expected.extend_from_slice(&value);
        expected.extend_from_slice(b"\r\n");
    }
    expected.extend_from_slice(b"END\r\nVERSION 1.6.18\r\n");
    expect(&input, &expected);
    let run = run_chunked(&input, usize::MAX);
    assert!(
        run.output_full_count >= 5,
        "output_full_count {}",
        run.output_full_count
    );
}

#[test]
fn meta_get_flags_and_misses() {
    expect(
        b"ms mk 2\r\nhi\r\nmg mk v\r\nmg mk\r\nmg mk s v f t c k O123 q\r\nmg nokey\r\nmg nokey q\r\n\
          mg nokey k O55 q\r\nmg nokey k O55\r\nmn\r\n",
        b"HD\r\nVA 2\r\nhi\r\nHD\r\nVA 2 s2 f0 t-1 c1 kmk O123\r\nhi\r\nEN\r\nEN knokey O55\r\nMN\r\n",
    );
}

#[test]
fn meta_base64_keys() {
    expect(
        b"ms bWs= 2 b k c O9\r\nhi\r\nmg bWs= b k v\r\nmg mk v\r\nme bWs= b\r\nme nokey\r\n\
          ms mk 2 T0 F5 c k O1 b\r\nhi\r\nmg !!!! b v\r\nme !!!! b\r\n",
        b"HD kbWs= b c1 O9\r\nVA 2 kbWs= b\r\nhi\r\nVA 2\r\nhi\r\n\
          ME bWs= exp=-1 la=0 cas=1 fetch=yes cls=0 size=30\r\nEN\r\n\
          CLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\nCLIENT_ERROR bad command line format\r\n",
    );
}

#[test]
fn meta_set_modes_and_errors() {
    expect(
        b"ms mk 2 q\r\nhi\r\nms mk 2 q ME\r\nhi\r\nms mk 2 MX\r\nhi\r\nms mk 2 C999 q\r\nhi\r\n\
          ms mk S2\r\nhi\r\nms mk\r\nhi\r\nms mk 2 Z\r\nhi\r\nms mk 2 v v\r\nhi\r\nms mk 2 Fabc\r\nhi\r\n\
          ms mk 2 Tabc\r\nhi\r\nms mk 2 O123456789012345678901234567890123\r\nhi\r\nmn\r\n",
        b"NS\r\nCLIENT_ERROR invalid mode for ms M token\r\nEX\r\n\
          CLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\n\
          CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\nCLIENT_ERROR bad command line format\r\n\
          CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR opaque token too long\r\nMN\r\n",
    );
    expect(
        b"ms mk 3\r\nhi\r\nms mk 2\r\nhi\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nERROR\r\n",
    );
}

#[test]
fn meta_delete_and_arith() {
    expect(
        b"ms mk 1\r\n5\r\nmd mk q\r\nmd mk q\r\nmd mk\r\nmd mk O1 k\r\nmd mk Z\r\nmn\r\n",
        b"HD\r\nNF\r\nNF\r\nNF O1 kmk\r\nCLIENT_ERROR invalid or duplicate flag\r\nMN\r\n",
    );
    expect(
        b"ms mk 1\r\n5\r\nma mk\r\nma mk v\r\nma mk MD D10 v t\r\nma mk q\r\nma nokey q\r\nma nokey\r\n\
          ma nokey N0 J42 v\r\nma mk Dabc\r\nma mk MX\r\nma mk Jx\r\nms mk 1\r\nx\r\nma mk q\r\nmn\r\n",
        b"HD\r\nHD\r\nVA 1\r\n7\r\nVA 1 t-1\r\n0\r\nNF\r\nNF\r\nVA 2\r\n42\r\n\
          CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid mode for ma M token\r\n\
          CLIENT_ERROR invalid or duplicate flag\r\nHD\r\n\
          CLIENT_ERROR cannot increment or decrement non-numeric value\r\nMN\r\n",
    );
}

#[test]
fn meta_get_errors() {
    expect(
        b"mg mk v v\r\nmg mk Z\r\nmg mk Tabc\r\nmg mk O123456789012345678901234567890123\r\nmg\r\n\
          mg mk a b c d e f g h i j k l m n o p q r s\r\nmz\r\nm\r\nmn x\r\n",
        b"CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR bad token in command line format\r\n\
          CLIENT_ERROR opaque token too long\r\nERROR\r\nCLIENT_ERROR options flags are too long\r\nERROR\r\nERROR\r\nMN\r\n",
    );
}

#[test]
fn stats_renders_memcached_fields() {
    let run = run_chunked(
        b"set a 0 0 1\r\n1\r\nget a b\r\nstats\r\nstats settings\r\nstats items\r\n",
        usize::MAX,
    );
    check_well_formed(&run.output).unwrap();
    let text = String::from_utf8(run.output).unwrap();
    for needle in [
        "STAT pid 4242\r\n",
        "STAT version 1.6.18\r\n",
        "STAT cmd_get 2\r\n",
        "STAT cmd_set 1\r\n",
        "STAT get_hits 1\r\n",
        "STAT get_misses 1\r\n",
        "STAT curr_items 1\r\n",
        "STAT item_size_max 1048576\r\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let pos = |name| order.iter().position(|&n| n == name).unwrap();
    assert!(
        pos("pid") < pos("uptime")
            && pos("cmd_get") < pos("get_hits")
            && pos("bytes") < pos("curr_items")
    );
}

#[test]
fn protocol_rules_hold_on_a_mixed_stream() {
    let input: &[u8] =
        b"set a 0 0 1\r\n1\r\nincr a 5\r\nget a b\r\nms x 3 T10\r\nabc\r\nmg x v c\r\n\
        set b 0 0 5\r\nab\r\n\r\nxx\r\nstats\r\nset c 0 0 100\r\nunfinished";
    for cuts in [&[1usize, 2, 3][..], &[17, 40, 41, 90], &[100, 101, 150]] {
        check_session(input, cuts);
    }
}

/// Meta flag order, TTL wrap-around, ma `q`, stored binary keys, 1.6.18's flag set.
mod meta_compat;
