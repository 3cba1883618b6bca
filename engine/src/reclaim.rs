//! Reclaim before evict: when a class must make room and may hold expired items, the pages
//! that may hold them are walked first, and every expired item found goes back to the free
//! list. Only if none is found does the class evict a live item.
//!
//! ```text
//!   class expiry_min  (lower bound over its items; 0 = none has a TTL)
//!        |  <= now?  no -> nothing to look for, evict
//!        v  yes
//!   page ring of the class, from the page after the last one scanned:
//!     page_expiry_min[p] <= now ?  walk page p: free every expired item, and set
//!                                  page_expiry_min[p] to the exact minimum of the rest
//!     else                         skip (no chunk read)
//!   found some: allocate from the free list.  Went round: class expiry_min = min of the
//!   pages' minima (exact again), evict.
//! ```
//!
//! Bounds: at most [`RECLAIM_PAGE_WALKS_MAX`] page walks per allocation (a page walk reads
//! `page / chunk` headers, like a page move), plus one step per page of the class to skip the
//! pages without expired items. Each walk that finds nothing lowers no bound it did not need
//! to, so a class whose expired items are gone stops scanning after one round. Flushed items
//! are not tracked here: lookups, clock hands and the crawler of `maintain.rs` take them.

use crate::arena::ItemRef;
use crate::evict::min_expiry;
use crate::item::{self, ITEM_LINKED};
use crate::slab::NO_PAGE;
use crate::{Clock, RelTime, Store};

/// Pages walked per allocation before evicting.
pub(crate) const RECLAIM_PAGE_WALKS_MAX: usize = 2;

impl Store {
    /// Records that the item at `r` (of `class`) expires at `expiry` (0: never).
    pub(crate) fn note_expiry(&mut self, r: ItemRef, class: u8, expiry: RelTime) {
        if expiry == 0 {
            return;
        }
        self.policy.on_expiry_change(class, expiry);
        let page = self.slabs.page_of_offset(r.offset_bytes());
        let page_min = min_expiry(self.slabs.page_expiry_min(page), expiry);
        self.slabs.set_page_expiry_min(page, page_min);
    }

    /// A free chunk of `class` after reclaiming expired items, if it may hold any.
    pub(crate) fn reclaim_scan(&mut self, class: u8, clock: &Clock) -> Option<ItemRef> {
        let now = clock.now_rel();
        let expiry_min = self.policy.expiry_min(class);
        if expiry_min == 0 || expiry_min > now {
            return None;
        }
        let first = self.slabs.first_page(class);
        if first == NO_PAGE {
            return None;
        }
        let mut page = match self.policy.scan_page(class) {
            p if p == NO_PAGE || self.slabs.page_class(p as usize) != class => first,
            p => self.slabs.next_page(p),
        };
        let page_count = self.slabs.class_page_count(class);
        let mut walks = 0;
        let mut class_min = 0;
        for _ in 0..page_count {
            let page_min = self.slabs.page_expiry_min(page as usize);
            if page_min != 0 && page_min <= now {
                self.policy.set_scan_page(class, page);
                let freed = self.walk_page_for_expired(page as usize, class, clock);
                walks += 1;
                if freed > 0 {
                    return self.slabs.alloc(&mut self.arena, class);
                }
                if walks == RECLAIM_PAGE_WALKS_MAX {
                    return None;
                }
            }
            class_min = min_expiry(class_min, self.slabs.page_expiry_min(page as usize));
            page = self.slabs.next_page(page);
        }
        // Every page was looked at: the class's bound is exact again.
        self.policy.set_expiry_min(class, class_min);
        None
    }

    /// Frees every expired linked item of the page; sets the page's bound to the exact
    /// minimum expiry of the items left. Returns the items freed.
    fn walk_page_for_expired(&mut self, page: usize, class: u8, clock: &Clock) -> usize {
        let page_start_bytes = page * self.slabs.page_size_bytes();
        let end_bytes = self.slabs.carved_end_bytes(page_start_bytes, class);
        let step = self.slabs.chunk_size_bytes(class);
        let mut freed = 0;
        let mut page_min = 0;
        for at in (page_start_bytes..end_bytes).step_by(step) {
            let r = ItemRef::from_offset_bytes(at);
            if !item::is_item(&self.arena, r) {
                continue;
            }
            let header = self.header(r);
            if !header.has(ITEM_LINKED) {
                // A reservation: its expiry is noted when it is linked.
                continue;
            }
            if clock.is_expired(header.expiry) {
                self.count_reclaimed(&header);
                self.unlink_unhashed(r);
                self.free(r);
                freed += 1;
            } else {
                page_min = min_expiry(page_min, header.expiry);
            }
        }
        self.slabs.set_page_expiry_min(page, page_min);
        freed
    }
}
