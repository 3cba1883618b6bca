//! Retrieval: get/gets/gat/gats/touch and meta mg/me, with the meta win/stale logic.
//!
//! Win token (protocol.txt, mg flags N, R and return flags W, X, Z), as memcached 1.6.18:
//! - a miss with `vivify` creates an empty item (flags 0, no expiry); a `Vivify` step then
//!   sets its expiry and makes its creator win;
//! - the expiry steps apply in request order (`expiry.rs`): a `Recache` step wins if no token
//!   was sent yet, the item was not just created, and its expiry at that point is set and
//!   earlier than the step's time;
//! - a stale item wins if no token was sent yet;
//! - a win sets the item's token-sent bit; later requesters see `Z` (`win_token_sent`).

use crate::expiry::replay;
use crate::hash::hash_key;
use crate::item::{FREQ_MAX, ITEM_FETCHED, ITEM_STALE, ITEM_TOKEN_SENT};
use crate::{Clock, GetHit, GetOp, Store};

impl Store {
    pub(crate) fn get_item(&mut self, key: &[u8], op: &GetOp, clock: &Clock) -> Option<GetHit<'_>> {
        let hash = hash_key(key);
        let mut vivified = false;
        let r = match self.find_live_for(key, hash, true, clock) {
            Some(r) => r,
            None => {
                if !op.vivify {
                    return None;
                }
                let r = self
                    .alloc_item(key, 0, 0, 0, crate::arena::ItemRef::NIL, clock)
                    .ok()?;
                let cas = self.new_cas(None);
                self.link(r, hash, cas, clock);
                vivified = true;
                r
            }
        };
        let mut header = self.header(r);
        let (fetched_before, token_before) = Store::access_bits(&header);
        // memcached bumps a vivified item too (after building the reply): it reads as fetched.
        if op.bump {
            header.bits |= ITEM_FETCHED;
            header.last_access = clock.now_rel();
            header.freq = (header.freq + 1).min(FREQ_MAX);
        }
        let replayed = replay(&op.steps, header.expiry, vivified, token_before, clock);
        if replayed.final_expiry() != header.expiry {
            header.expiry = replayed.final_expiry();
            self.note_expiry(r, header.slab_class, header.expiry);
        }
        let mut win = replayed.win || (header.has(ITEM_STALE) && !token_before);
        if !op.meta_win {
            win = false;
        }
        if win {
            header.bits |= ITEM_TOKEN_SENT;
        }
        self.write_header(r, &header);
        Some(GetHit {
            item: self.view(r, fetched_before, token_before),
            win,
            vivified,
            expiry_at_step: replayed.at_step,
        })
    }
}
