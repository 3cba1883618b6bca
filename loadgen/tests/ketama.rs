//! Our ketama picks the same server as libmemcached for every key of the fixture, which the
//! real library produced (see fixtures/ketama_vectors.c for the program and the command).

use ringcache_loadgen::ketama::{Continuum, ServerName};

#[test]
fn matches_libmemcached_weighted_ketama_on_every_fixture_key() {
    let text = include_str!("fixtures/ketama_vectors.txt");
    let mut fleets: Vec<Continuum> = Vec::new();
    let mut keys = 0;
    for line in text.lines() {
        if let Some(config) = line.strip_prefix("# config ") {
            let servers: Vec<ServerName> = config
                .split_whitespace()
                .skip(1)
                .map(|s| {
                    let mut parts = s.rsplitn(3, ':');
                    let weight = parts.next().unwrap().parse().unwrap();
                    let port = parts.next().unwrap().parse().unwrap();
                    let host = parts.next().unwrap().to_string();
                    ServerName { host, port, weight }
                })
                .collect();
            fleets.push(Continuum::new(&servers));
            continue;
        }
        let mut words = line.split_whitespace();
        let key = words.next().unwrap();
        let expected: Vec<usize> = words.map(|w| w.parse().unwrap()).collect();
        assert_eq!(expected.len(), fleets.len());
        for (fleet, (continuum, &want)) in fleets.iter().zip(&expected).enumerate() {
            assert_eq!(
                continuum.server_of(key.as_bytes()),
                want,
                "key {key} in fleet {fleet}"
            );
        }
        keys += 1;
    }
    assert_eq!((fleets.len(), keys), (4, 1000));
}

#[test]
fn a_changed_weight_moves_keys() {
    // The fixture test must be able to fail: a different weight gives a different mapping.
    let server = |port, weight| ServerName {
        host: "127.0.0.1".into(),
        port,
        weight,
    };
    let even = Continuum::new(&[server(11211, 1), server(11212, 1)]);
    let heavy = Continuum::new(&[server(11211, 1), server(11212, 3)]);
    let moved = (0..1000)
        .filter(|i| {
            let key = format!("key{i}");
            even.server_of(key.as_bytes()) != heavy.server_of(key.as_bytes())
        })
        .count();
    assert!(moved > 100, "{moved}");
}
