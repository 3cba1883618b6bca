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

use crate::{Clock, Store};

impl Store {
    pub(crate) fn flush(&mut self, exptime: i64, clock: &Clock) {
        let now = clock.now_rel();
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
}
