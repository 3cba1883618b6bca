//! Meta behaviours where memcached 1.6.18 is particular, each with the bytes a real
//! memcached 1.6.18 sent (the harness clock starts at memcached's relative time 62).

use super::expect;

#[test]
fn vivified_item_has_no_ttl_before_its_n_flag() {
    expect(
        b"mg b t N100000\r\nmg b t v\r\n",
        b"HD t-1 W\r\nVA 0 t100000 Z\r\n\r\n",
    );
}

#[test]
fn mg_applies_t_n_r_and_reports_t_at_their_positions() {
    expect(
        b"mg x1 N30 t T100\r\nmg x1 t\r\nmg x2 N30 T100 t\r\n",
        b"HD t30 W\r\nHD t100 Z\r\nHD t100 W\r\n",
    );
    expect(
        b"ms num 1\r\n5\r\nmg num R5000 T1000\r\nmg num t\r\nmg num T1000 R5000\r\n",
        b"HD\r\nHD\r\nHD t1000\r\nHD W\r\n",
    );
    expect(
        b"mg g N50 R30 t\r\nmg g t R30\r\n",
        b"HD t50 W\r\nHD t50 Z\r\n",
    );
}

#[test]
fn ttl_of_an_expired_item_wraps_around_like_memcached() {
    expect(
        b"mg c N-1 t\r\nma c2 k N-1 D122 t\r\nms b 1\r\n1\r\nma b T-1 t\r\nma b t\r\n",
        b"HD t4294967235 W\r\nHD kc2 t4294967235\r\nHD\r\nHD t4294967235\r\nNF\r\n",
    );
}

#[test]
fn ma_quiet_hides_an_update_but_not_a_created_item() {
    expect(
        b"ma d q N0\r\nma e q N0 v\r\nma d q\r\nma zz q\r\nmg d v\r\n",
        b"HD\r\nVA 1\r\n0\r\nNF\r\nVA 1\r\n1\r\n",
    );
}

#[test]
fn ma_applies_t_and_n_in_order() {
    expect(
        b"ma v1 N0 T100 t\r\nma v2 N50 t T100\r\nmg v2 t\r\nma v3 t N50\r\nmg v3 t\r\n",
        b"HD t100\r\nHD t50\r\nHD t100\r\nHD t-1\r\nHD t50\r\n",
    );
}

#[test]
fn ma_touch_is_lost_when_the_number_outgrows_its_item() {
    // memcached applies T to the old item when 9 + 1 needs a new one.
    expect(
        b"ms b 1\r\n9\r\nma b T100 t\r\nmg b t\r\nms b 1\r\n1\r\nma b c T200\r\nmg b t\r\n",
        b"HD\r\nHD t100\r\nHD t-1\r\nHD\r\nHD c4\r\nHD t200\r\n",
    );
}

#[test]
fn ma_created_item_counts_neither_hit_nor_miss() {
    let run = super::run_chunked(b"ma a N0\r\nma b MD N0\r\nma a\r\nstats\r\n", usize::MAX);
    let text = String::from_utf8_lossy(&run.output);
    for stat in [
        "STAT incr_misses 0\r\n",
        "STAT incr_hits 1\r\n",
        "STAT decr_misses 0\r\n",
        "STAT decr_hits 0\r\n",
    ] {
        assert!(text.contains(stat), "{stat:?} in {text}");
    }
}

#[test]
fn binary_key_is_echoed_as_the_item_was_stored() {
    expect(
        b"ms a 2\r\nhi\r\nmg YQ== b v k\r\nma YQ== b k\r\nmd YQ== b k q\r\nmd YQ== b k\r\n\
          mg YQ== b k O1\r\nma YQ== b k O1\r\n",
        b"HD\r\nVA 2 ka\r\nhi\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n\
          NF kYQ== b\r\nEN kYQ== b O1\r\nNF kYQ== b O1\r\n",
    );
    expect(
        b"ms YQ== 1 b k\r\n1\r\nmg a k v\r\nmg YQ== b k v\r\nma a k\r\nma YQ== b k\r\n",
        b"HD kYQ== b\r\nVA 1 kYQ== b\r\n1\r\nVA 1 kYQ== b\r\n1\r\nHD ka\r\nHD kYQ== b\r\n",
    );
}

#[test]
fn vivify_and_append_do_not_keep_a_binary_key() {
    expect(
        b"mg YQ== b N0 k\r\nmg a k\r\nmd a\r\nma YQ== b N0 k\r\nmg a k\r\n\
          ms YQ== 1 b\r\n1\r\nms YQ== 1 b MA\r\n2\r\nmg a k v\r\n\
          ms YQ== 1 b\r\n9\r\nincr a 1\r\nmg a k\r\nms YQ== 1 b\r\n1\r\nincr a 1\r\nmg a k\r\n",
        b"HD ka W\r\nHD ka Z\r\nHD\r\nHD kYQ== b\r\nHD ka\r\n\
          HD\r\nHD\r\nVA 2 ka\r\n12\r\n\
          HD\r\n10\r\nHD ka\r\nHD\r\n2\r\nHD kYQ== b\r\n",
    );
}

#[test]
fn me_prints_the_key_as_stored() {
    let run = super::run_chunked(
        b"ms a 2\r\nhi\r\nme YQ== b\r\nms YQ== 1 b\r\n1\r\nme a\r\n",
        usize::MAX,
    );
    let text = String::from_utf8_lossy(&run.output);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[1].starts_with("ME a exp=-1 "), "{text}");
    assert!(lines[3].starts_with("ME YQ== exp=-1 "), "{text}");
}

#[test]
fn flags_newer_than_1_6_18_are_rejected() {
    expect(
        b"ms a 1 E1000007 c\r\nq\r\nmg a v\r\nms a 1\r\nx\r\nmd a x\r\nmg a v\r\nmg a E5 c\r\n\
          ma a N0 E77 c\r\nmd a E9\r\nmg k s u E1 s\r\n",
        b"CLIENT_ERROR invalid flag\r\nEN\r\nHD\r\nCLIENT_ERROR invalid or duplicate flag\r\n\
          VA 1\r\nx\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n\
          CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid flag\r\n",
    );
}

#[test]
fn long_opaque_fails_after_mg_and_ma_took_effect() {
    let long = "O123456789012345678901234567890123";
    let input = format!(
        "mg v1 N30 {long}\r\nmg v1 t v\r\nms n 1\r\n5\r\nma n {long}\r\nmg n v\r\n\
         ma n2 N0 {long}\r\nmg n2 v\r\nmg n T100 {long}\r\nmg n t\r\nmg n {long} T200\r\n\
         mg n t\r\nmd n {long}\r\nmg n v\r\n"
    );
    let error = "CLIENT_ERROR opaque token too long\r\n";
    let expected = format!(
        "{error}VA 0 t30\r\n\r\nHD\r\n{error}VA 1\r\n6\r\n{error}VA 1\r\n0\r\n{error}HD t100\r\n\
         {error}HD t100\r\n{error}VA 1\r\n6\r\n"
    );
    expect(input.as_bytes(), expected.as_bytes());
}

#[test]
fn ms_replace_with_cas_is_a_cas() {
    expect(
        b"ms b 1 MR C5\r\n1\r\nms b 1\r\n1\r\nms b 1 MR C999 c\r\n2\r\nmg b c\r\n\
          ms b 1 MR C5 I\r\n3\r\nmg b v\r\n",
        b"NF\r\nHD\r\nEX c0\r\nHD c1\r\nEX\r\nVA 1\r\n1\r\n",
    );
}

#[test]
fn vivified_item_reads_as_fetched_unless_no_bump() {
    let run = super::run_chunked(
        b"mg a v N1000\r\nme a\r\nmg b N1000 u\r\nme b\r\nmg a h\r\n",
        usize::MAX,
    );
    let text = String::from_utf8_lossy(&run.output);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "VA 0 W");
    assert!(lines[2].contains(" fetch=yes "), "{text}");
    assert_eq!(lines[3], "HD W");
    assert!(lines[4].contains(" fetch=no "), "{text}");
    assert_eq!(lines[5], "HD h1 Z");
}
