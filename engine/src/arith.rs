//! incr/decr and meta ma, as memcached's `do_add_delta`:
//!
//! - an empty value, or one `safe_strtoull` rejects, is `NonNumeric` (checked before the
//!   CAS compare for an empty value, after it otherwise, as memcached does);
//! - `compare_cas` of `Some(0)` compares nothing;
//! - incr wraps at 2^64, decr stops at 0;
//! - a result no longer than the old value is written in place, padded with spaces
//!   ("10" decr 1 -> "9 "); a longer one goes into a new item with the old flags and TTL;
//!   either way the item gets a new CAS and is bumped;
//! - `vivify_initial` (meta N/J) on a miss stores the initial value (flags 0, no expiry) and
//!   returns it as is, with `created` set;
//! - the expiry steps (meta `T`, `N`) apply in request order to the item the result was
//!   written to: the item updated in place or the created one. When the result went into a
//!   new item, memcached applies them to the old, unlinked item: the reply's `t` sees them,
//!   the stored item keeps the old expiry.

use crate::arena::ItemRef;
use crate::expiry::replay;
use crate::hash::hash_key;
use crate::item::{self, KEY_LEN_MAX};
use crate::numeric::{parse_u64, write_u64, U64_DIGITS_MAX};
use crate::{ArithOp, ArithOutcome, Clock, Store};

impl Store {
    pub(crate) fn arith_item(&mut self, key: &[u8], op: &ArithOp, clock: &Clock) -> ArithOutcome {
        let hash = hash_key(key);
        let Some(r) = self.find_live(key, hash, clock) else {
            return match op.vivify_initial {
                Some(initial) => self.vivify_number(key, hash, initial, op, clock),
                None => ArithOutcome::NotFound,
            };
        };
        let header = self.header(r);
        if header.value_len == 0 {
            return ArithOutcome::NonNumeric;
        }
        if op
            .compare_cas
            .is_some_and(|cas| cas != 0 && cas != header.cas)
        {
            return ArithOutcome::Exists;
        }
        let Some(old_value) = parse_u64(item::value(&self.arena, r)) else {
            return ArithOutcome::NonNumeric;
        };
        let value = if op.decr {
            old_value.saturating_sub(op.delta)
        } else {
            old_value.wrapping_add(op.delta)
        };
        let mut digits = [0u8; U64_DIGITS_MAX];
        let digits_len = write_u64(value, &mut digits);
        let in_place = digits_len <= header.value_len as usize;
        let target = if in_place {
            let stored = item::value_mut(&mut self.arena, r);
            stored[..digits_len].copy_from_slice(&digits[..digits_len]);
            stored[digits_len..].fill(b' ');
            let cas = self.new_cas(op.explicit_cas);
            let mut header = self.header(r);
            header.cas = cas;
            self.write_header(r, &header);
            self.touch_access(r, clock);
            r
        } else {
            let mut key_buf = [0u8; KEY_LEN_MAX];
            let key_len = self.copy_key(r, &mut key_buf);
            let Ok(new) = self.alloc_item(
                &key_buf[..key_len],
                header.client_flags,
                header.expiry,
                digits_len,
                r,
                clock,
            ) else {
                return ArithOutcome::OutOfMemory;
            };
            item::value_mut(&mut self.arena, new).copy_from_slice(&digits[..digits_len]);
            let cas = self.new_cas(op.explicit_cas);
            self.replace(r, new, hash, cas, clock);
            new
        };
        self.finish_arith(target, value, Finish::Updated { in_place }, op, clock)
    }

    fn vivify_number(
        &mut self,
        key: &[u8],
        hash: u64,
        initial: u64,
        op: &ArithOp,
        clock: &Clock,
    ) -> ArithOutcome {
        let mut digits = [0u8; U64_DIGITS_MAX];
        let digits_len = write_u64(initial, &mut digits);
        let Ok(r) = self.alloc_item(key, 0, 0, digits_len, ItemRef::NIL, clock) else {
            return ArithOutcome::OutOfMemory;
        };
        item::value_mut(&mut self.arena, r).copy_from_slice(&digits[..digits_len]);
        let cas = self.new_cas(op.explicit_cas);
        self.link(r, hash, cas, clock);
        self.finish_arith(r, initial, Finish::Created, op, clock)
    }

    /// Applies the expiry steps to `r` (if memcached would) and builds the outcome.
    fn finish_arith(
        &mut self,
        r: ItemRef,
        value: u64,
        how: Finish,
        op: &ArithOp,
        clock: &Clock,
    ) -> ArithOutcome {
        let mut header = self.header(r);
        let created = how == Finish::Created;
        // No token is involved in arith: `Recache` never wins with `token_sent`.
        let replayed = replay(&op.steps, header.expiry, created, true, clock);
        if how != (Finish::Updated { in_place: false }) {
            header.expiry = replayed.final_expiry();
            self.write_header(r, &header);
            self.note_expiry(r, header.slab_class, header.expiry);
        }
        ArithOutcome::Done {
            value,
            cas: header.cas,
            expiry: header.expiry,
            created,
            expiry_at_step: replayed.at_step,
        }
    }
}

/// How an arith result reached the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finish {
    /// Written over an existing number (`in_place`) or into a new item that replaced it.
    Updated { in_place: bool },
    /// Stored as a new item by `vivify_initial`.
    Created,
}
