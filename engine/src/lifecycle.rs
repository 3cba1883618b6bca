//! The life of an item: allocated (a reservation, or a replacement built by append/incr),
//! linked (in the index and its class's S3-FIFO queues), unlinked, freed.
//!
//! ```text
//!   alloc_item ──> unlinked ──link──> linked ──unlink──> unlinked ──free──> free chunk
//!        ^   (reservation:                (lookups find it;           (back on the class
//!        │    never evicted)               may be evicted)             free list)
//!        └── free list / new page / reclaimed dead tail item / evicted tail item
//! ```
//!
//! Expired and flushed items are removed when a lookup meets one, when a clock hand of
//! their class passes over one (`evict.rs`), and by the crawler in [`Store::maintain`]
//! (`maintain.rs`). Only if nothing dead is found, and only if `evict_when_full`, is a live
//! item evicted (S3-FIFO). If the class has nothing to evict either (it never got a page, or
//! its only item is the pinned one), a whole page is taken from another class
//! (`reassign.rs`).
//!
//! ```text
//!   alloc_chunk(c): free list / carve / fresh page                     (slab.rs, O(1))
//!                   -> a page from a much colder class, every REBALANCE_EVERY_EVICTIONS
//!                      evictions of c                                  (reassign.rs)
//!                   -> expired items of c, in pages that may hold some  (reclaim.rs)
//!                   -> S3-FIFO victim of c, if evict_when_full          (evictions)
//!                   -> a page moved from another class                  (reassign.rs)
//!                   -> OutOfMemory
//! ```

use crate::arena::ItemRef;
use crate::hash::hash_key;
use crate::item::{
    self, Header, FREQ_MAX, ITEM_CFLAGS, ITEM_FETCHED, ITEM_KEY_BINARY, ITEM_LINKED, ITEM_SMALL,
    ITEM_STALE, ITEM_TOKEN_SENT,
};
use crate::{Clock, ItemView, ReserveError, Store};

impl Store {
    /// The CAS value for a newly stored item: 0 without CAS, else `explicit` (meta `E`) or the
    /// next value of this store's sequence.
    pub(crate) fn new_cas(&mut self, explicit: Option<u64>) -> u64 {
        if !self.config.cas_enabled {
            return 0;
        }
        if let Some(cas) = explicit {
            return cas;
        }
        let cas = self.cas_next;
        self.cas_next = cas.wrapping_add(self.config.cas_step);
        cas
    }

    /// Reads and checks the header of the item at `r`.
    pub(crate) fn header(&self, r: ItemRef) -> Header {
        let mut header = item::read_header(&self.arena, r);
        header.slab_class = self.slabs.class_of(r);
        assert!(
            header.total_size_bytes() <= self.slabs.chunk_size_bytes(header.slab_class),
            "item {} overflows its chunk",
            r.0
        );
        header
    }

    /// Checks and writes the header of the item at `r`.
    pub(crate) fn write_header(&mut self, r: ItemRef, header: &Header) {
        assert_eq!(header.slab_class, self.slabs.class_of(r));
        assert!(header.total_size_bytes() <= self.slabs.chunk_size_bytes(header.slab_class));
        item::write_header(&mut self.arena, r, header);
    }

    /// memcached `item_is_flushed`.
    pub(crate) fn is_flushed(&self, header: &Header, clock: &Clock) -> bool {
        let oldest_live = self.oldest_live;
        if oldest_live == 0 || oldest_live > clock.now_rel() {
            return false;
        }
        header.last_access <= oldest_live
            || (self.oldest_cas != 0 && header.cas != 0 && header.cas < self.oldest_cas)
    }

    pub(crate) fn is_dead(&self, header: &Header, clock: &Clock) -> bool {
        self.is_flushed(header, clock) || clock.is_expired(header.expiry)
    }

    pub(crate) fn count_reclaimed(&mut self, header: &Header) {
        self.stats.reclaimed += 1;
        let counters = self.policy.counters_mut(header.slab_class);
        counters.reclaimed += 1;
        if !header.has(ITEM_FETCHED) {
            self.stats.expired_unfetched += 1;
            counters.expired_unfetched += 1;
        }
    }

    pub(crate) fn count_evicted(&mut self, header: &Header, clock: &Clock) {
        self.stats.evictions += 1;
        let counters = self.policy.counters_mut(header.slab_class);
        counters.evicted += 1;
        counters.evicted_time_secs = clock.now_rel().saturating_sub(header.last_access);
        if !header.has(ITEM_FETCHED) {
            self.stats.evicted_unfetched += 1;
            counters.evicted_unfetched += 1;
        }
    }

    /// The live item with `key`; an expired or flushed one is unlinked and freed on the way.
    pub(crate) fn find_live(&mut self, key: &[u8], hash: u64, clock: &Clock) -> Option<ItemRef> {
        self.find_live_for(key, hash, false, clock)
    }

    /// [`Store::find_live`]; `for_get` counts a dead item in `get_expired` / `get_flushed`.
    pub(crate) fn find_live_for(
        &mut self,
        key: &[u8],
        hash: u64,
        for_get: bool,
        clock: &Clock,
    ) -> Option<ItemRef> {
        let r = self.index.find(&self.arena, key, hash);
        if r.is_nil() {
            return None;
        }
        let header = self.header(r);
        assert!(header.has(ITEM_LINKED));
        if self.is_dead(&header, clock) {
            if for_get {
                if self.is_flushed(&header, clock) {
                    self.stats.get_flushed += 1;
                } else {
                    self.stats.get_expired += 1;
                }
            }
            self.count_reclaimed(&header);
            self.unlink(r, hash);
            self.free(r);
            return None;
        }
        Some(r)
    }

    /// Memory for a new unlinked item with its header and key written; the value is left as
    /// it was. `pin` (or NIL) is a linked item that must survive the allocation.
    pub(crate) fn alloc_item(
        &mut self,
        key: &[u8],
        client_flags: u32,
        expiry: u32,
        value_len: usize,
        pin: ItemRef,
        clock: &Clock,
    ) -> Result<ItemRef, ReserveError> {
        assert!(key.len() <= item::KEY_LEN_MAX, "key of {} bytes", key.len());
        let has_client_flags = client_flags != 0;
        let total_size_bytes = item::total_size_bytes(key.len(), value_len, has_client_flags);
        if total_size_bytes > self.config.item_size_max_bytes || value_len > item::VALUE_LEN_MAX {
            return Err(ReserveError::TooLarge);
        }
        let class = self
            .slabs
            .class_for(total_size_bytes)
            .ok_or(ReserveError::TooLarge)?;
        let Some(r) = self.alloc_chunk(class, pin, clock) else {
            self.policy.counters_mut(class).outofmemory += 1;
            return Err(ReserveError::OutOfMemory);
        };
        let header = Header {
            cas: 0,
            hash_next: ItemRef::NIL,
            expiry,
            last_access: clock.now_rel(),
            client_flags,
            value_len: value_len as u32,
            freq: 0,
            key_len: key.len() as u8,
            bits: if has_client_flags { ITEM_CFLAGS } else { 0 },
            slab_class: class,
        };
        self.write_header(r, &header);
        let key_at = item::key_offset_bytes(&self.arena, r);
        self.arena.bytes_mut(key_at, key.len()).copy_from_slice(key);
        Ok(r)
    }

    fn alloc_chunk(&mut self, class: u8, pin: ItemRef, clock: &Clock) -> Option<ItemRef> {
        if let Some(r) = self.slabs.alloc(&mut self.arena, class) {
            return Some(r);
        }
        if let Some(r) = self.rebalance_on_eviction(class, pin, clock) {
            return Some(r);
        }
        if let Some(r) = self.reclaim_scan(class, clock) {
            return Some(r);
        }
        if let Some(r) = self.evict_chunk(class, pin, clock) {
            return Some(r);
        }
        self.alloc_from_moved_page(class, pin, clock)
    }

    /// Links the unlinked item at `r` as a new key: stamps `cas` and the store time, indexes
    /// it, and queues it in S3-FIFO's small queue (or the main one if the ghost remembers the
    /// key: it was evicted from the small queue not long ago).
    pub(crate) fn link(&mut self, r: ItemRef, hash: u64, cas: u64, clock: &Clock) {
        let small = !self.ghost.take(hash);
        self.link_queued(r, hash, cas, small, 0, clock);
    }

    fn link_queued(
        &mut self,
        r: ItemRef,
        hash: u64,
        cas: u64,
        small: bool,
        freq: u8,
        clock: &Clock,
    ) {
        let mut header = self.header(r);
        assert!(!header.has(ITEM_LINKED), "item {} linked twice", r.0);
        header.bits |= ITEM_LINKED;
        header.bits &= !ITEM_SMALL;
        if small {
            header.bits |= ITEM_SMALL;
        }
        header.freq = freq;
        header.cas = cas;
        header.last_access = clock.now_rel();
        header.hash_next = ItemRef::NIL;
        self.write_header(r, &header);
        self.index.insert(&mut self.arena, r, hash);
        self.policy.on_link(&header);
        self.note_expiry(r, header.slab_class, header.expiry);
        self.stats.curr_items += 1;
        self.stats.total_items += 1;
        self.stats.bytes += header.total_size_bytes() as u64;
    }

    /// Takes the linked item at `r` out of the index and its queue; it stays allocated.
    pub(crate) fn unlink(&mut self, r: ItemRef, hash: u64) {
        self.index.remove(&mut self.arena, r, hash);
        let mut header = self.header(r);
        assert!(header.has(ITEM_LINKED));
        self.policy.on_unlink(&header);
        header.bits &= !(ITEM_LINKED | ITEM_SMALL);
        self.write_header(r, &header);
        self.stats.curr_items -= 1;
        self.stats.bytes -= header.total_size_bytes() as u64;
    }

    pub(crate) fn unlink_unhashed(&mut self, r: ItemRef) {
        let hash = hash_key(item::key(&self.arena, r));
        self.unlink(r, hash);
    }

    /// Gives the unlinked item at `r` back to its class.
    pub(crate) fn free(&mut self, r: ItemRef) {
        let header = self.header(r);
        assert!(!header.has(ITEM_LINKED), "freeing linked item {}", r.0);
        self.slabs.free(&mut self.arena, r, header.slab_class);
    }

    /// Puts `new` (unlinked) where `old` (linked, same key) was, and frees `old`.
    pub(crate) fn replace(
        &mut self,
        old: ItemRef,
        new: ItemRef,
        hash: u64,
        cas: u64,
        clock: &Clock,
    ) {
        debug_assert_eq!(item::key(&self.arena, old), item::key(&self.arena, new));
        // The new value takes the old one's place in S3-FIFO; the update counts as an access.
        let old_header = self.header(old);
        let small = old_header.has(ITEM_SMALL);
        let freq = (old_header.freq + 1).min(FREQ_MAX);
        self.unlink(old, hash);
        self.free(old);
        self.link_queued(new, hash, cas, small, freq, clock);
    }

    /// A view of the item at `r` with the given access-dependent bits.
    pub(crate) fn view(
        &self,
        r: ItemRef,
        fetched_before: bool,
        token_before: bool,
    ) -> ItemView<'_> {
        let header = self.header(r);
        ItemView {
            key: item::key(&self.arena, r),
            value: item::value(&self.arena, r),
            flags: header.client_flags,
            cas: header.cas,
            expiry: header.expiry,
            last_access: header.last_access,
            fetched_before,
            stale: header.has(ITEM_STALE),
            win_token_sent: token_before,
            key_binary: header.has(ITEM_KEY_BINARY),
            slab_class: header.slab_class,
            total_size_bytes: header.total_size_bytes(),
        }
    }

    /// Marks `r` used now and counts an access for S3-FIFO (memcached `do_item_update`).
    pub(crate) fn touch_access(&mut self, r: ItemRef, clock: &Clock) {
        let mut header = self.header(r);
        header.last_access = clock.now_rel();
        header.freq = (header.freq + 1).min(FREQ_MAX);
        self.write_header(r, &header);
    }

    /// Copies `key` of the item at `r` into `buf` and returns its length.
    pub(crate) fn copy_key(&self, r: ItemRef, buf: &mut [u8; item::KEY_LEN_MAX]) -> usize {
        let key = item::key(&self.arena, r);
        buf[..key.len()].copy_from_slice(key);
        key.len()
    }

    /// The bits a client sees as `h` and `Z` before an access.
    pub(crate) fn access_bits(header: &Header) -> (bool, bool) {
        (header.has(ITEM_FETCHED), header.has(ITEM_TOKEN_SENT))
    }
}
