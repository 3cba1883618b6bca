//! Proactive work, done from the shard's 1-second timer and when it is idle
//! ([`Store::maintain`]): the crawler that reclaims expired and flushed items before anyone
//! touches them, and one rebalance check for the class that evicted most.
//!
//! ```text
//!   crawl cursor: page p, chunk offset   (all pages handed out, in address order, wrapping)
//!     page 0 (class 7)      page 1 (class 30)     page 2 (class 7)  ...
//!     [it][it][free][it]... [  it  ][  it  ]...   [it][it]...
//!           ^ cursor: each visited item that is expired or flushed is unlinked and freed
//! ```
//!
//! Bounds: one call visits at most `budget_items` chunks (free chunks count) plus one
//! rebalance check (a few header reads per class, and at most one page emptied). Nothing is
//! allocated. Goal: after a burst of short-TTL items expires, their memory is back on the
//! free lists before new writes need it, so no live item is evicted while dead ones hold
//! memory. A full crawl of the arena takes `chunk count / budget_items` calls.

use crate::arena::ItemRef;
use crate::hash::hash_key;
use crate::item;
use crate::slab::NO_CLASS;
use crate::{Clock, Store};

/// Where the crawler stopped: a page index and a byte offset in it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Crawl {
    page: usize,
    offset_bytes: usize,
    /// The class `page` had when the cursor entered it: if the page has moved to another
    /// class since, its chunk boundaries changed and the crawl of it restarts at 0.
    page_class: u8,
    /// Evictions seen at the last rebalance check, per class (to find the class that evicted
    /// most since).
    evictions_seen: u64,
}

impl Store {
    pub(crate) fn maintain_store(&mut self, clock: &Clock, budget_items: usize) -> usize {
        let visited = self.crawl(clock, budget_items);
        self.rebalance_check(clock);
        visited
    }

    pub(crate) fn crawl(&mut self, clock: &Clock, budget_items: usize) -> usize {
        let pages_used = self.slabs.pages_used_count();
        if pages_used == 0 {
            return 0;
        }
        let page_size_bytes = self.slabs.page_size_bytes();
        let mut visited = 0;
        let mut pages_passed = 0;
        while visited < budget_items && pages_passed <= pages_used {
            let page = self.crawl_state.page % pages_used;
            let class = self.slabs.page_class(page);
            if class != self.crawl_state.page_class {
                self.crawl_state.page_class = class;
                self.crawl_state.offset_bytes = 0;
            }
            let page_start_bytes = page * page_size_bytes;
            let end_bytes = if class == NO_CLASS {
                page_start_bytes
            } else {
                self.slabs.carved_end_bytes(page_start_bytes, class)
            };
            let at = page_start_bytes + self.crawl_state.offset_bytes;
            if at >= end_bytes {
                self.crawl_state.page = (page + 1) % pages_used;
                self.crawl_state.offset_bytes = 0;
                self.crawl_state.page_class = self.slabs.page_class(self.crawl_state.page);
                pages_passed += 1;
                continue;
            }
            visited += 1;
            self.crawl_state.offset_bytes += self.slabs.chunk_size_bytes(class);
            self.crawl_visit(ItemRef::from_offset_bytes(at), clock);
        }
        self.stats.crawler_items_checked += visited as u64;
        visited
    }

    fn crawl_visit(&mut self, r: ItemRef, clock: &Clock) {
        if !item::is_item(&self.arena, r) {
            return;
        }
        let header = self.header(r);
        if !header.has(item::ITEM_LINKED) || !self.is_dead(&header, clock) {
            return;
        }
        self.count_reclaimed(&header);
        self.stats.crawler_reclaimed += 1;
        self.policy
            .counters_mut(header.slab_class)
            .crawler_reclaimed += 1;
        let hash = hash_key(item::key(&self.arena, r));
        self.unlink(r, hash);
        self.free(r);
    }

    /// If any class evicted since the last check, the one with the youngest victims may take
    /// a page from a much colder class (only once it has used up its own memory).
    pub(crate) fn rebalance_check(&mut self, clock: &Clock) {
        if !self.config.evict_when_full || self.stats.evictions == self.crawl_state.evictions_seen {
            return;
        }
        self.crawl_state.evictions_seen = self.stats.evictions;
        let mut youngest: Option<(u32, u8)> = None;
        for c in (0..self.slabs.class_count()).map(|c| c as u8) {
            if self.policy.counters(c).evicted == 0 {
                continue;
            }
            let age = self.policy.counters(c).evicted_time_secs;
            if youngest.is_none_or(|(y, _)| age < y) {
                youngest = Some((age, c));
            }
        }
        let Some((_, class)) = youngest else {
            return;
        };
        if !self.slabs.is_full(class) {
            return;
        }
        // A page moved here is carved at once; its first chunk goes back as free.
        if let Some(r) = self.rebalance_into(class, ItemRef::NIL, clock) {
            self.slabs.free(&mut self.arena, r, class);
        }
    }
}
