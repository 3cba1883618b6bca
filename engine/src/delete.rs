//! delete and meta md, as memcached 1.6: a CAS mismatch is `Exists`; `invalidate` (md `I`)
//! keeps the item, marks it stale, clears its token bit, gives it a new CAS and optionally a
//! new TTL; `remove_value_only` (md `x`) keeps the item with an empty value, client flags 0
//! and no expiry (memcached stores a fresh empty item with the old CAS; this engine empties
//! the item in place, keeping its chunk, so the item stays in its old slab class).

use crate::hash::hash_key;
use crate::item::{ITEM_FETCHED, ITEM_STALE, ITEM_TOKEN_SENT};
use crate::{Clock, DeleteOp, DeleteOutcome, Store};

impl Store {
    pub(crate) fn delete_item(
        &mut self,
        key: &[u8],
        op: &DeleteOp,
        clock: &Clock,
    ) -> DeleteOutcome {
        let hash = hash_key(key);
        let Some(r) = self.find_live(key, hash, clock) else {
            return DeleteOutcome::NotFound;
        };
        let mut header = self.header(r);
        if op.compare_cas.is_some_and(|cas| cas != header.cas) {
            return DeleteOutcome::Exists;
        }
        if op.remove_value_only {
            self.stats.bytes -= u64::from(header.value_len);
            header.value_len = 0;
            header.client_flags = 0;
            header.expiry = 0;
            header.last_access = clock.now_rel();
            header.bits &= !(ITEM_FETCHED | ITEM_STALE | ITEM_TOKEN_SENT);
        }
        if let Some(new_exptime) = op.invalidate {
            if let Some(exptime) = new_exptime {
                header.expiry = clock.expiry_of(exptime);
            }
            header.bits |= ITEM_STALE;
            header.bits &= !ITEM_TOKEN_SENT;
            header.cas = self.new_cas(None);
        }
        if op.remove_value_only || op.invalidate.is_some() {
            self.write_header(r, &header);
            self.note_expiry(r, header.slab_class, header.expiry);
            return DeleteOutcome::Deleted;
        }
        self.unlink(r, hash);
        self.free(r);
        DeleteOutcome::Deleted
    }
}
