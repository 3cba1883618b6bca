//! flush_all, as memcached 1.6 does it: nothing is touched now; items stored at or before
//! `oldest_live` become invisible once `oldest_live` is reached (see `Store::is_flushed`).
//!
//! - CAS on: `oldest_live = flush time - 1`, and when that is not in the future also
//!   `oldest_cas = next CAS value`, so that items stored earlier in the very second of an
//!   immediate flush (same `last_access`, smaller CAS) are flushed too, while items stored
//!   after the flush in that second (larger CAS) are not.
//! - CAS off (`-C`): `oldest_live = flush time`, so an immediate flush also hides items
//!   stored later in the same second (memcached does the same).
//! - The flush time is now for exptime <= 0, else `realtime(exptime)`; an absolute exptime
//!   at or before the server start gives `realtime() = 1`, `oldest_live = 0`: no flush at all,
//!   exactly like memcached.
//! - A new flush never brings back items the flush in effect hides: they are reclaimed first
//!   (`reclaim_flushed`), as memcached 1.6.18 answers too.

use crate::arena::ItemRef;
use crate::hash::hash_key;
use crate::item::{self, ITEM_LINKED, KEY_LEN_MAX};
use crate::slab::NO_CLASS;
use crate::{Clock, Store};

impl Store {
    pub(crate) fn flush(&mut self, exptime: i64, clock: &Clock) {
        let now = clock.now_rel();
        if self.oldest_live != 0 && self.oldest_live <= now {
            self.reclaim_flushed(clock);
        }
        let new_oldest = if exptime > 0 {
            clock.expiry_of(exptime)
        } else {
            now
        };
        if self.config.cas_enabled {
            self.oldest_live = new_oldest.wrapping_sub(1);
            if self.oldest_live <= now {
                self.oldest_cas = self.new_cas(None);
            }
        } else {
            self.oldest_live = new_oldest;
        }
    }

    /// Reclaims every linked item the flush now in effect hides, before a new flush replaces
    /// it: otherwise a delayed flush (whose `oldest_live` lies in the future) would make them
    /// visible again. memcached 1.6.18 does not bring them back either. O(chunks): it walks
    /// every carved chunk once; it runs only when a flush replaces one that has already taken
    /// effect.
    fn reclaim_flushed(&mut self, clock: &Clock) {
        let mut key = [0u8; KEY_LEN_MAX];
        let page_size_bytes = self.slabs.page_size_bytes();
        for page in 0..self.slabs.pages_used_count() {
            let class = self.slabs.page_class(page);
            if class == NO_CLASS {
                continue;
            }
            let start_bytes = page * page_size_bytes;
            let end_bytes = self.slabs.carved_end_bytes(start_bytes, class);
            let step = self.slabs.chunk_size_bytes(class);
            for at in (start_bytes..end_bytes).step_by(step) {
                let r = ItemRef::from_offset_bytes(at);
                if !item::is_item(&self.arena, r) {
                    continue;
                }
                let header = self.header(r);
                if header.has(ITEM_LINKED) && self.is_flushed(&header, clock) {
                    let len = self.copy_key(r, &mut key);
                    self.count_reclaimed(&header);
                    self.unlink(r, hash_key(&key[..len]));
                    self.free(r);
                }
            }
        }
    }
}
