//! Model-based property test: random command sequences applied to `Store` and to a plain
//! `HashMap` model of memcached's semantics.
//!
//! - Roomy store (nothing is ever evicted): every outcome and every value must be identical.
//! - Tiny store (a few pages, values of several size classes, so that pages move between
//!   classes): eviction and out-of-memory may only turn hits into misses or make a command
//!   fail without effect; every value the store returns must be one the model allows, and
//!   the memory used never exceeds the limit.

use std::collections::HashMap;

use proptest::prelude::*;
use ringcache_engine::{
    ArithOp, ArithOutcome, Clock, Config, DeleteOp, DeleteOutcome, GetOp, ReserveError, Store,
    StoreMode, StoreOp, StoreOutcome,
};

const START_UNIX_SECS: i64 = 1_700_000_000;
const MIB: usize = 1 << 20;

#[derive(Clone, Debug)]
enum Cmd {
    Store {
        mode: StoreMode,
        key: usize,
        value: Vec<u8>,
        flags: u32,
        exptime: i64,
        cas: Option<CasPick>,
    },
    Get {
        key: usize,
    },
    Touch {
        key: usize,
        exptime: i64,
    },
    Delete {
        key: usize,
    },
    Arith {
        key: usize,
        decr: bool,
        delta: u64,
    },
    Flush {
        delay_secs: i64,
    },
    Advance {
        secs: u32,
    },
    /// `Store::maintain`: reclaims dead items, may move a page (tiny stores lose items).
    Maintain {
        budget_items: usize,
    },
}

#[derive(Clone, Copy, Debug)]
enum CasPick {
    /// The key's current CAS (or 1 when the model has no item).
    Current,
    Other(u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Item {
    value: Vec<u8>,
    flags: u32,
    expiry: u32,
    stored_at: u32,
    cas: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Res {
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Number(u64),
    NonNumeric,
    Hit(Vec<u8>, u32, u64),
    Miss,
    OutOfMemory,
}

fn key_name(key: usize) -> Vec<u8> {
    if key == 0 {
        vec![b'K'; 250]
    } else {
        format!("key:{key}").into_bytes()
    }
}

/// `safe_strtoull` for the values this test generates (digits, letters, space padding):
/// a run of digits that ends the value or is followed by a space, without overflow.
fn model_parse(value: &[u8]) -> Option<u64> {
    let digits_len = value.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits_len == 0 || value.get(digits_len).is_some_and(|b| *b != b' ') {
        return None;
    }
    std::str::from_utf8(&value[..digits_len]).ok()?.parse().ok()
}

/// memcached semantics of one keyed command given the item before it (`None` = absent).
/// New items carry CAS 0 here; the store's CAS is copied in afterwards.
fn apply(cmd: &Cmd, before: Option<&Item>, clock: &Clock) -> (Res, Option<Item>) {
    let now = clock.now_rel();
    let same = before.cloned();
    match cmd {
        Cmd::Store {
            mode,
            value,
            flags,
            exptime,
            cas,
            ..
        } => {
            let new = Item {
                value: value.clone(),
                flags: *flags,
                expiry: clock.expiry_of(*exptime),
                stored_at: now,
                cas: 0,
            };
            let compare = cas.map(|pick| match pick {
                CasPick::Current => before.map_or(1, |b| b.cas),
                CasPick::Other(cas) => cas,
            });
            match (mode, before) {
                (StoreMode::Set, None) if compare.is_some() => (Res::NotFound, None),
                (StoreMode::Set, Some(b)) if compare.is_some() => {
                    if compare == Some(b.cas) && b.cas != 0 {
                        (Res::Stored, Some(new))
                    } else {
                        (Res::Exists, same)
                    }
                }
                (StoreMode::Set, _) | (StoreMode::Add, None) => (Res::Stored, Some(new)),
                (StoreMode::Add, Some(b)) => (
                    Res::NotStored,
                    Some(Item {
                        stored_at: now,
                        ..b.clone()
                    }),
                ),
                (StoreMode::Replace, Some(_)) => (Res::Stored, Some(new)),
                (StoreMode::Replace | StoreMode::Append | StoreMode::Prepend, None) => {
                    (Res::NotStored, None)
                }
                (StoreMode::Append | StoreMode::Prepend, Some(b)) => {
                    if compare.is_some_and(|c| c != b.cas) {
                        return (Res::Exists, same);
                    }
                    let joined = if *mode == StoreMode::Append {
                        [&b.value[..], &value[..]].concat()
                    } else {
                        [&value[..], &b.value[..]].concat()
                    };
                    (
                        Res::Stored,
                        Some(Item {
                            value: joined,
                            stored_at: now,
                            cas: 0,
                            ..b.clone()
                        }),
                    )
                }
            }
        }
        Cmd::Get { .. } => match before {
            Some(b) => (
                Res::Hit(b.value.clone(), b.flags, b.cas),
                Some(Item {
                    stored_at: now,
                    ..b.clone()
                }),
            ),
            None => (Res::Miss, None),
        },
        Cmd::Touch { exptime, .. } => match before {
            Some(b) => (
                Res::Hit(b.value.clone(), b.flags, b.cas),
                Some(Item {
                    stored_at: now,
                    expiry: clock.expiry_of(*exptime),
                    ..b.clone()
                }),
            ),
            None => (Res::Miss, None),
        },
        Cmd::Delete { .. } => match before {
            Some(_) => (Res::Deleted, None),
            None => (Res::NotFound, None),
        },
        Cmd::Arith { decr, delta, .. } => {
            let Some(b) = before else {
                return (Res::NotFound, None);
            };
            let Some(old) = model_parse(&b.value) else {
                return (Res::NonNumeric, same);
            };
            let new = if *decr {
                old.saturating_sub(*delta)
            } else {
                old.wrapping_add(*delta)
            };
            let mut digits = new.to_string().into_bytes();
            if digits.len() <= b.value.len() {
                digits.resize(b.value.len(), b' ');
            }
            (
                Res::Number(new),
                Some(Item {
                    value: digits,
                    stored_at: now,
                    cas: 0,
                    ..b.clone()
                }),
            )
        }
        Cmd::Flush { .. } | Cmd::Advance { .. } | Cmd::Maintain { .. } => {
            unreachable!("not keyed")
        }
    }
}

struct Harness {
    store: Store,
    clock: Clock,
    model: HashMap<usize, Item>,
    /// memcached `oldest_live` as the model sees it: items stored at or before it are gone
    /// once it is reached.
    flushed_up_to: Option<u32>,
    key_count: usize,
    tiny: bool,
    memory_limit_bytes: usize,
}

impl Harness {
    fn new(memory_limit_bytes: usize, key_count: usize, tiny: bool) -> Harness {
        Harness::with_eviction(memory_limit_bytes, key_count, tiny, true)
    }

    fn with_eviction(
        memory_limit_bytes: usize,
        key_count: usize,
        tiny: bool,
        evict_when_full: bool,
    ) -> Harness {
        let config = Config {
            memory_limit_bytes,
            item_size_max_bytes: MIB,
            evict_when_full,
            cas_enabled: true,
            cas_first: 1,
            cas_step: 1,
        };
        Harness {
            store: Store::new(config).unwrap(),
            clock: Clock::new(START_UNIX_SECS),
            model: HashMap::new(),
            flushed_up_to: None,
            key_count,
            tiny,
            memory_limit_bytes,
        }
    }

    fn live(&self, item: &Item) -> bool {
        let now = self.clock.now_rel();
        let flushed = self
            .flushed_up_to
            .is_some_and(|f| f <= now && item.stored_at <= f);
        !self.clock.is_expired(item.expiry) && !flushed
    }

    fn model_item(&mut self, key: usize) -> Option<Item> {
        let item = self.model.get(&key)?.clone();
        if self.live(&item) {
            Some(item)
        } else {
            self.model.remove(&key);
            None
        }
    }

    fn peek(&mut self, key: usize) -> Option<Item> {
        let hit = self
            .store
            .get(&key_name(key), &GetOp::default(), &self.clock)?;
        Some(Item {
            value: hit.item.value.to_vec(),
            flags: hit.item.flags,
            expiry: hit.item.expiry,
            stored_at: 0,
            cas: hit.item.cas,
        })
    }

    /// Store and model agree on `key`: equal, or (tiny) the store lost it.
    fn sync(&mut self, key: usize) {
        let model = self.model_item(key);
        let store = self.peek(key);
        match (store, model) {
            (None, None) => {}
            (Some(s), Some(m)) => assert_eq!(
                (&s.value, s.flags, s.expiry, s.cas),
                (&m.value, m.flags, m.expiry, m.cas)
            ),
            (None, Some(m)) => {
                assert!(self.tiny, "store lost key {key} ({} bytes)", m.value.len());
                self.model.remove(&key);
            }
            (Some(s), None) => panic!(
                "store has key {key} ({} bytes) the model has not",
                s.value.len()
            ),
        }
    }

    fn sweep(&mut self) {
        for key in 0..self.key_count {
            self.sync(key);
        }
    }

    fn run_on_store(&mut self, cmd: &Cmd, before: Option<&Item>) -> Res {
        let clock = self.clock;
        match cmd {
            Cmd::Store {
                mode,
                key,
                value,
                flags,
                exptime,
                cas,
            } => {
                let compare_cas = cas.map(|pick| match pick {
                    CasPick::Current => before.map_or(1, |b| b.cas),
                    CasPick::Other(cas) => cas,
                });
                let name = key_name(*key);
                let reservation =
                    match self
                        .store
                        .reserve(&name, *flags, *exptime, value.len(), &clock)
                    {
                        Ok(reservation) => reservation,
                        Err(ReserveError::OutOfMemory) => {
                            // memcached drops the old value when a set cannot allocate.
                            if *mode == StoreMode::Set {
                                self.store.delete(&name, &DeleteOp::default(), &clock);
                            }
                            return Res::OutOfMemory;
                        }
                        Err(ReserveError::TooLarge) => panic!("values are below the size limit"),
                    };
                self.store.value_mut(&reservation).copy_from_slice(value);
                let op = StoreOp {
                    compare_cas,
                    ..StoreOp::new(*mode)
                };
                match self.store.commit(reservation, &op, &clock) {
                    StoreOutcome::Stored { .. } => Res::Stored,
                    StoreOutcome::NotStored => Res::NotStored,
                    StoreOutcome::Exists => Res::Exists,
                    StoreOutcome::NotFound => Res::NotFound,
                }
            }
            Cmd::Get { key } | Cmd::Touch { key, .. } => {
                let op = if let Cmd::Touch { exptime, .. } = cmd {
                    GetOp::touch(*exptime)
                } else {
                    GetOp {
                        bump: true,
                        ..GetOp::default()
                    }
                };
                match self.store.get(&key_name(*key), &op, &clock) {
                    Some(hit) => Res::Hit(hit.item.value.to_vec(), hit.item.flags, hit.item.cas),
                    None => Res::Miss,
                }
            }
            Cmd::Delete { key } => {
                match self
                    .store
                    .delete(&key_name(*key), &DeleteOp::default(), &clock)
                {
                    DeleteOutcome::Deleted => Res::Deleted,
                    DeleteOutcome::NotFound => Res::NotFound,
                    DeleteOutcome::Exists => Res::Exists,
                }
            }
            Cmd::Arith { key, decr, delta } => {
                let op = ArithOp {
                    decr: *decr,
                    delta: *delta,
                    ..ArithOp::default()
                };
                match self.store.arith(&key_name(*key), &op, &clock) {
                    ArithOutcome::Done { value, .. } => Res::Number(value),
                    ArithOutcome::NotFound => Res::NotFound,
                    ArithOutcome::NonNumeric => Res::NonNumeric,
                    ArithOutcome::Exists => Res::Exists,
                    ArithOutcome::OutOfMemory => Res::OutOfMemory,
                }
            }
            Cmd::Flush { .. } | Cmd::Advance { .. } | Cmd::Maintain { .. } => unreachable!(),
        }
    }

    fn step(&mut self, cmd: &Cmd) {
        match cmd {
            Cmd::Advance { secs } => {
                self.clock.advance_secs(*secs);
                self.sweep();
            }
            Cmd::Maintain { budget_items } => {
                let evictions = self.store.stats().evictions;
                let visited = self.store.maintain(&self.clock, *budget_items);
                assert!(visited <= *budget_items, "maintain went over its budget");
                if !self.tiny {
                    assert_eq!(
                        self.store.stats().evictions,
                        evictions,
                        "roomy store evicted"
                    );
                }
                self.sweep();
            }
            Cmd::Flush { delay_secs } => {
                self.sweep();
                self.store.flush_all(*delay_secs, &self.clock);
                let now = self.clock.now_rel();
                if *delay_secs <= 0 {
                    self.model.clear();
                    self.flushed_up_to = Some(now - 1);
                } else {
                    self.flushed_up_to = Some(self.clock.expiry_of(*delay_secs) - 1);
                }
                self.sweep();
            }
            Cmd::Store { key, .. }
            | Cmd::Get { key }
            | Cmd::Touch { key, .. }
            | Cmd::Delete { key }
            | Cmd::Arith { key, .. } => self.keyed(*key, cmd),
        }
        assert!(self.store.memory_used_bytes() <= self.memory_limit_bytes);
        assert!(self.store.stats().bytes as usize <= self.store.memory_used_bytes());
        let clock = self.clock;
        let classes: Vec<_> = self.store.slab_class_stats(&clock).collect();
        let pages: u64 = classes.iter().map(|c| c.total_pages).sum();
        let items: u64 = classes.iter().map(|c| c.number).sum();
        assert_eq!(
            pages as usize * self.store.page_size_bytes(),
            self.store.memory_used_bytes()
        );
        assert_eq!(items, self.store.stats().curr_items);
        for c in &classes {
            assert!(c.number <= c.used_chunks && c.used_chunks <= c.total_chunks);
            assert!(c.total_chunks <= c.total_pages * c.chunks_per_page);
        }
    }

    fn keyed(&mut self, key: usize, cmd: &Cmd) {
        if self.tiny {
            self.sync(key);
        }
        let before = self.model_item(key);
        let (expected, present_after) = apply(cmd, before.as_ref(), &self.clock);
        let present_after = present_after.filter(|item| self.live(item));
        let actual = self.run_on_store(cmd, before.as_ref());
        let after = self.peek(key);
        if !self.tiny {
            assert_eq!(actual, expected, "{cmd:?}");
            self.expect_after(key, after, present_after);
            return;
        }
        // Tiny: the store may have lost the key before or during the command, or failed
        // to allocate; any of these worlds is fine, a value from none of them is not.
        let (_, absent_after) = apply(cmd, None, &self.clock);
        let absent_after = absent_after.filter(|item| self.live(item));
        if let Res::Hit(value, ..) = &actual {
            let item = before.as_ref().expect("a hit the model cannot explain");
            assert_eq!(value, &item.value);
        }
        let candidates = [present_after, absent_after, before];
        match after {
            None => {
                self.model.remove(&key);
            }
            Some(store) => {
                let matching = candidates.into_iter().flatten().find(|c| {
                    (&c.value, c.flags, c.expiry) == (&store.value, store.flags, store.expiry)
                });
                let Some(item) = matching else {
                    panic!(
                        "{cmd:?} left {} bytes the model cannot explain",
                        store.value.len()
                    )
                };
                self.model.insert(
                    key,
                    Item {
                        cas: store.cas,
                        ..item
                    },
                );
            }
        }
    }

    fn expect_after(&mut self, key: usize, after: Option<Item>, expected: Option<Item>) {
        match (after, expected) {
            (None, None) => {
                self.model.remove(&key);
            }
            (Some(store), Some(model)) => {
                assert_eq!(
                    (&store.value, store.flags, store.expiry),
                    (&model.value, model.flags, model.expiry)
                );
                if model.cas != 0 {
                    assert_eq!(store.cas, model.cas, "an unchanged item keeps its CAS");
                }
                self.model.insert(
                    key,
                    Item {
                        cas: store.cas,
                        ..model
                    },
                );
            }
            (after, expected) => panic!("store {after:?} model {expected:?}"),
        }
    }
}

/// Protocol exptimes; `never_weight` sets how often items are immortal.
fn exptime(never_weight: u32) -> impl Strategy<Value = i64> {
    prop_oneof![
        never_weight => Just(0i64),
        3 => 1i64..6,
        1 => Just(-1i64),
        1 => Just(START_UNIX_SECS + 4),
    ]
}

fn small_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0u64..200).prop_map(|n| n.to_string().into_bytes()),
        1 => Just(u64::MAX.to_string().into_bytes()),
        1 => Just(b"10".to_vec()),
        2 => proptest::collection::vec(b'a'..=b'z', 0..12),
    ]
}

fn sized_value(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    (b'a'..=b'z', len).prop_map(|(byte, len)| vec![byte; len])
}

fn big_value() -> impl Strategy<Value = Vec<u8>> {
    sized_value(120_000..160_000)
}

/// Small, medium and big values: each size range spans a few slab classes, and three pages
/// cannot hold a page for each, so classes keep taking pages from one another.
fn spread_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => small_value(),
        2 => sized_value(300..3_000),
        2 => sized_value(10_000..40_000),
        1 => sized_value(60_000..100_000),
        2 => big_value(),
    ]
}

fn commands(
    key_count: usize,
    value: BoxedStrategy<Vec<u8>>,
    len: std::ops::Range<usize>,
    never_weight: u32,
    flush_weight: u32,
) -> impl Strategy<Value = Vec<Cmd>> {
    let key = 0..key_count;
    let mode = prop_oneof![
        4 => Just(StoreMode::Set),
        1 => Just(StoreMode::Add),
        1 => Just(StoreMode::Replace),
        1 => Just(StoreMode::Append),
        1 => Just(StoreMode::Prepend),
    ];
    let cas = prop_oneof![
        6 => Just(None),
        2 => Just(Some(CasPick::Current)),
        1 => (1u64..50).prop_map(|c| Some(CasPick::Other(c))),
    ];
    let cmd = prop_oneof![
        8 => (mode, key.clone(), value, any::<u32>(), exptime(never_weight), cas).prop_map(|(mode, key, value, flags, exptime, cas)| {
            Cmd::Store { mode, key, value, flags, exptime, cas }
        }),
        5 => key.clone().prop_map(|key| Cmd::Get { key }),
        1 => (key.clone(), exptime(never_weight)).prop_map(|(key, exptime)| Cmd::Touch { key, exptime }),
        2 => key.clone().prop_map(|key| Cmd::Delete { key }),
        3 => (key, any::<bool>(), prop_oneof![0u64..20, Just(u64::MAX)])
            .prop_map(|(key, decr, delta)| Cmd::Arith { key, decr, delta }),
        flush_weight => prop_oneof![Just(0i64), 1i64..4].prop_map(|delay_secs| Cmd::Flush { delay_secs }),
        3 => (0u32..3).prop_map(|secs| Cmd::Advance { secs }),
        1 => prop_oneof![Just(1usize), 1usize..64, Just(100_000)]
            .prop_map(|budget_items| Cmd::Maintain { budget_items }),
    ];
    proptest::collection::vec(cmd, len)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn roomy_store_matches_the_model_exactly(cmds in commands(5, small_value().boxed(), 1..120, 4, 1)) {
        let mut harness = Harness::new(16 * MIB, 5, false);
        for cmd in &cmds {
            harness.step(cmd);
        }
        harness.sweep();
        prop_assert_eq!(harness.store.stats().curr_items as usize, harness.model.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tiny_store_only_forgets(
        cmds in commands(64, spread_value().boxed(), 100..300, 60, 0),
    ) {
        let mut harness = Harness::new(3 * MIB, 64, true);
        for cmd in &cmds {
            harness.step(cmd);
        }
        harness.sweep();
        if std::env::var_os("MODEL_STATS").is_some() {
            eprintln!("{:?}", harness.store.stats());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// `-M`: pages still move, but only pages that hold no item; nothing is ever evicted.
    #[test]
    fn tiny_store_without_eviction_never_evicts(
        cmds in commands(64, spread_value().boxed(), 100..300, 60, 0),
    ) {
        let mut harness = Harness::with_eviction(3 * MIB, 64, true, false);
        for cmd in &cmds {
            harness.step(cmd);
            prop_assert_eq!(harness.store.stats().evictions, 0);
        }
        harness.sweep();
        if std::env::var_os("MODEL_STATS").is_some() {
            eprintln!("{:?}", harness.store.stats());
        }
    }
}
