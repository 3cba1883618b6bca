//! Retrieval: get/gets/gat/gats/touch and meta mg/me, with the meta win/stale logic.
//!
//! Win token (protocol.txt, mg flags N, R and return flags W, X, Z), as memcached 1.6:
//! - a miss with `N` creates an empty item (flags 0) with the given TTL; its creator wins;
//! - with `R n`, a hit whose expiry is set and less than `n` seconds away wins, unless a
//!   token was already sent or the item was just created;
//! - a stale item wins if no token was sent yet;
//! - a win sets the item's token-sent bit; later requesters see `Z` (`win_token_sent`).

use crate::hash::hash_key;
use crate::item::{ITEM_FETCHED, ITEM_TOKEN_SENT};
use crate::{Clock, GetHit, GetOp, Store};

impl Store {
    pub(crate) fn get_item(&mut self, key: &[u8], op: &GetOp, clock: &Clock) -> Option<GetHit<'_>> {
        let hash = hash_key(key);
        let mut vivified = false;
        let r = match self.find_live(key, hash, clock) {
            Some(r) => r,
            None => {
                let exptime = op.vivify_exptime?;
                let expiry = clock.expiry_of(exptime);
                let r = self
                    .alloc_item(key, 0, expiry, 0, crate::arena::ItemRef::NIL, clock)
                    .ok()?;
                let cas = self.new_cas(None);
                self.link(r, hash, cas, clock);
                vivified = true;
                r
            }
        };
        let mut header = self.header(r);
        let (fetched_before, token_before) = Store::access_bits(&header);
        if op.bump && !vivified {
            header.bits |= ITEM_FETCHED;
            header.last_access = clock.now_rel();
        }
        if let Some(exptime) = op.touch_exptime {
            header.expiry = clock.expiry_of(exptime);
        }
        let mut win = vivified;
        if let Some(recache_below_secs) = op.recache_below_secs {
            let below = u64::from(clock.now_rel()) + u64::from(recache_below_secs);
            if !token_before && !vivified && header.expiry != 0 && u64::from(header.expiry) < below
            {
                win = true;
            }
        }
        if header.has(crate::item::ITEM_STALE) && !token_before {
            win = true;
        }
        if win {
            header.bits |= ITEM_TOKEN_SENT;
        }
        self.write_header(r, &header);
        if op.bump && !vivified {
            self.lru.bump(&mut self.arena, r, header.slab_class);
        }
        Some(GetHit {
            item: self.view(r, fetched_before, token_before),
            win,
            vivified,
        })
    }
}
