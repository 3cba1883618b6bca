//! The storage commands: set/add/replace/append/prepend/cas and meta ms, in two steps.
//!
//! `reserve` takes memory for the whole item (header, key, value) before the value arrives,
//! so the network layer can receive straight into the arena; `commit` then applies the
//! command, as memcached's `do_store_item`:
//!
//! ```text
//!   CAS result (only if an item is found): compare_cas None or 0 -> NONE, == item -> MATCH,
//!                                          invalidate && < item -> STALE, else BADVAL
//!   mode               item found                                      no item
//!   Set (no cas)       store                                           store
//!   Set + compare_cas  MATCH: store; STALE: store, keep TTL, mark      NotFound
//!                      stale (+token bit); else Exists
//!   Add                NotStored, and the item is bumped                store
//!   Replace            store                                           NotStored
//!   Append/Prepend     NONE or MATCH: new combined item with the old   NotStored
//!                      flags and TTL (NotStored if no memory); else Exists
//! ```
//!
//! `key_binary` marks the reserved item; the combined item of append/prepend is a fresh one
//! and is not marked (memcached allocates it without `ITEM_KEY_BINARY` either).

use crate::arena::ItemRef;
use crate::hash::hash_key;
use crate::item::{self, ITEM_KEY_BINARY, ITEM_LINKED, ITEM_STALE, ITEM_TOKEN_SENT, KEY_LEN_MAX};
use crate::{Clock, Reservation, ReserveError, Store, StoreMode, StoreOp, StoreOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CasResult {
    None,
    Match,
    Stale,
    BadValue,
}

impl Store {
    pub(crate) fn reserve_item(
        &mut self,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value_len: usize,
        clock: &Clock,
    ) -> Result<Reservation, ReserveError> {
        let expiry = clock.expiry_of(exptime);
        let r = self.alloc_item(key, flags, expiry, value_len, ItemRef::NIL, clock)?;
        Ok(Reservation {
            offset: r.0,
            value_len: value_len as u32,
        })
    }

    /// The reserved item, checked to be one.
    fn reserved(&self, reservation: &Reservation) -> ItemRef {
        let r = ItemRef(reservation.offset);
        let header = self.header(r);
        assert!(!header.has(ITEM_LINKED), "reservation {} is linked", r.0);
        assert_eq!(
            header.value_len, reservation.value_len,
            "reservation {} is stale",
            r.0
        );
        r
    }

    pub(crate) fn reservation_value_mut(&mut self, reservation: &Reservation) -> &mut [u8] {
        let r = self.reserved(reservation);
        item::value_mut(&mut self.arena, r)
    }

    pub(crate) fn abort_reservation(&mut self, reservation: Reservation) {
        let r = self.reserved(&reservation);
        self.free(r);
    }

    pub(crate) fn commit_reservation(
        &mut self,
        reservation: Reservation,
        op: &StoreOp,
        clock: &Clock,
    ) -> StoreOutcome {
        let new = self.reserved(&reservation);
        if op.key_binary {
            let mut header = self.header(new);
            header.bits |= ITEM_KEY_BINARY;
            self.write_header(new, &header);
        }
        let mut key_buf = [0u8; KEY_LEN_MAX];
        let key_len = self.copy_key(new, &mut key_buf);
        let key = &key_buf[..key_len];
        let hash = hash_key(key);
        let is_cas = op.mode == StoreMode::Set && op.compare_cas.is_some();
        let Some(old) = self.find_live(key, hash, clock) else {
            return match op.mode {
                StoreMode::Set if is_cas => self.drop_new(new, StoreOutcome::NotFound),
                StoreMode::Set | StoreMode::Add => self.link_new(new, hash, op, clock),
                StoreMode::Replace | StoreMode::Append | StoreMode::Prepend => {
                    self.drop_new(new, StoreOutcome::NotStored)
                }
            };
        };
        let old_header = self.header(old);
        let cas_in = op.compare_cas.unwrap_or(0);
        let cas_result = if cas_in == 0 {
            CasResult::None
        } else if cas_in == old_header.cas {
            CasResult::Match
        } else if op.invalidate && cas_in < old_header.cas {
            CasResult::Stale
        } else {
            CasResult::BadValue
        };
        match op.mode {
            StoreMode::Add => {
                self.touch_access(old, clock);
                self.drop_new(new, StoreOutcome::NotStored)
            }
            StoreMode::Set if is_cas => match cas_result {
                CasResult::Match => self.replace_with_new(old, new, hash, op, clock),
                CasResult::Stale => {
                    let mut header = self.header(new);
                    header.expiry = old_header.expiry;
                    header.bits |= ITEM_STALE | (old_header.bits & ITEM_TOKEN_SENT);
                    self.write_header(new, &header);
                    self.replace_with_new(old, new, hash, op, clock)
                }
                CasResult::None | CasResult::BadValue => self.drop_new(new, StoreOutcome::Exists),
            },
            StoreMode::Set | StoreMode::Replace => self.replace_with_new(old, new, hash, op, clock),
            StoreMode::Append | StoreMode::Prepend => {
                if !matches!(cas_result, CasResult::None | CasResult::Match) {
                    return self.drop_new(new, StoreOutcome::Exists);
                }
                self.concatenate(old, new, hash, op, clock)
            }
        }
    }

    fn drop_new(&mut self, new: ItemRef, outcome: StoreOutcome) -> StoreOutcome {
        self.free(new);
        outcome
    }

    fn link_new(&mut self, new: ItemRef, hash: u64, op: &StoreOp, clock: &Clock) -> StoreOutcome {
        let cas = self.new_cas(op.explicit_cas);
        self.link(new, hash, cas, clock);
        StoreOutcome::Stored { cas }
    }

    fn replace_with_new(
        &mut self,
        old: ItemRef,
        new: ItemRef,
        hash: u64,
        op: &StoreOp,
        clock: &Clock,
    ) -> StoreOutcome {
        let cas = self.new_cas(op.explicit_cas);
        self.replace(old, new, hash, cas, clock);
        StoreOutcome::Stored { cas }
    }

    /// append/prepend: a new item holding both values, with the old item's flags and expiry.
    fn concatenate(
        &mut self,
        old: ItemRef,
        new: ItemRef,
        hash: u64,
        op: &StoreOp,
        clock: &Clock,
    ) -> StoreOutcome {
        let old_header = self.header(old);
        let (old_at, old_len) = item::value_offset_and_len(&self.arena, old);
        let (new_at, new_len) = item::value_offset_and_len(&self.arena, new);
        let mut key_buf = [0u8; KEY_LEN_MAX];
        let key_len = self.copy_key(old, &mut key_buf);
        let flags = old_header.client_flags;
        let expiry = old_header.expiry;
        // Both `old` (pinned) and `new` (unlinked) survive this allocation.
        let Ok(combined) = self.alloc_item(
            &key_buf[..key_len],
            flags,
            expiry,
            old_len + new_len,
            old,
            clock,
        ) else {
            return self.drop_new(new, StoreOutcome::NotStored);
        };
        let (combined_at, combined_len) = item::value_offset_and_len(&self.arena, combined);
        assert_eq!(combined_len, old_len + new_len);
        let (first, second) = match op.mode {
            StoreMode::Append => ((old_at, old_len), (new_at, new_len)),
            _ => ((new_at, new_len), (old_at, old_len)),
        };
        self.arena.copy_within(first.0, first.1, combined_at);
        self.arena
            .copy_within(second.0, second.1, combined_at + first.1);
        self.free(new);
        self.replace_with_new(old, combined, hash, op, clock)
    }
}
