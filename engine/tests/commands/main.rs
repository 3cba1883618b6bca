//! Command semantics of `Store`, one module per command family, through the public API.

mod arith;
mod delete;
mod flush;
mod get;
mod memory;
mod policy;
mod set;

use ringcache_engine::{Clock, Config, DeleteOp, GetOp, Store, StoreMode, StoreOp, StoreOutcome};

pub const START_UNIX_SECS: i64 = 1_700_000_000;
pub const MIB: usize = 1 << 20;

pub fn config(memory_limit_bytes: usize) -> Config {
    Config {
        memory_limit_bytes,
        item_size_max_bytes: MIB,
        evict_when_full: true,
        cas_enabled: true,
        cas_first: 1,
        cas_step: 1,
    }
}

pub fn store() -> (Store, Clock) {
    (
        Store::new(config(8 * MIB)).unwrap(),
        Clock::new(START_UNIX_SECS),
    )
}

pub fn op(mode: StoreMode) -> StoreOp {
    StoreOp::new(mode)
}

pub fn store_with(
    s: &mut Store,
    clock: &Clock,
    key: &[u8],
    value: &[u8],
    flags: u32,
    exptime: i64,
    op: StoreOp,
) -> StoreOutcome {
    let reservation = s.reserve(key, flags, exptime, value.len(), clock).unwrap();
    s.value_mut(&reservation).copy_from_slice(value);
    s.commit(reservation, &op, clock)
}

pub fn set(s: &mut Store, clock: &Clock, key: &[u8], value: &[u8]) -> u64 {
    match store_with(s, clock, key, value, 0, 0, op(StoreMode::Set)) {
        StoreOutcome::Stored { cas } => cas,
        other => panic!("set failed: {other:?}"),
    }
}

pub fn peek_op() -> GetOp {
    GetOp::default()
}

pub fn get_op() -> GetOp {
    GetOp {
        bump: true,
        ..GetOp::default()
    }
}

/// The value of `key`, without touching it.
pub fn value_of(s: &mut Store, clock: &Clock, key: &[u8]) -> Option<Vec<u8>> {
    s.get(key, &peek_op(), clock)
        .map(|hit| hit.item.value.to_vec())
}

pub fn delete(s: &mut Store, clock: &Clock, key: &[u8]) -> ringcache_engine::DeleteOutcome {
    s.delete(key, &DeleteOp::default(), clock)
}
