//! The life of an item: allocated (a reservation, or a replacement built by append/incr),
//! linked (in the index and its class's LRU), unlinked, freed.
//!
//! ```text
//!   alloc_item ──> unlinked ──link──> linked ──unlink──> unlinked ──free──> free chunk
//!        ^   (reservation:                (lookups find it;           (back on the class
//!        │    never evicted)               may be evicted)             free list)
//!        └── free list / new page / reclaimed dead tail item / evicted tail item
//! ```
//!
//! Expired and flushed items are removed lazily: when a lookup meets one, or when an
//! allocation that found no free chunk and no fresh page searches the LRU tail
//! ([`TAIL_SEARCH_COUNT`] items, as memcached's `lru_pull_tail`) for one to reuse. Only then,
//! and only if `evict_when_full`, is the least recently used item evicted. If the class has
//! no item to evict either (it never got a page, or its only item is the pinned one), a
//! whole page is taken from another class (`reassign.rs`).
//!
//! ```text
//!   alloc_chunk(c): free list / carve / fresh page   (slab.rs, O(1))
//!                   -> dead item among c's last TAIL_SEARCH_COUNT      (reclaimed)
//!                   -> c's LRU tail, if evict_when_full                (evictions)
//!                   -> a page moved from another class                 (reassign.rs)
//!                   -> OutOfMemory
//! ```

use crate::arena::ItemRef;
use crate::hash::hash_key;
use crate::item::{
    self, Header, ITEM_FETCHED, ITEM_KEY_BINARY, ITEM_LINKED, ITEM_STALE, ITEM_TOKEN_SENT,
};
use crate::{Clock, ItemView, ReserveError, Store};

/// Items looked at from the LRU tail for a dead one before evicting (memcached: 5).
pub(crate) const TAIL_SEARCH_COUNT: usize = 5;

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
        let header = item::read_header(&self.arena, r);
        assert!((header.slab_class as usize) < self.slabs.class_count());
        assert!(
            header.total_size_bytes() <= self.slabs.chunk_size_bytes(header.slab_class),
            "item {} overflows its chunk",
            r.0
        );
        header
    }

    /// Checks and writes the header of the item at `r`.
    pub(crate) fn write_header(&mut self, r: ItemRef, header: &Header) {
        assert!((header.slab_class as usize) < self.slabs.class_count());
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
        if !header.has(ITEM_FETCHED) {
            self.stats.expired_unfetched += 1;
        }
    }

    pub(crate) fn count_evicted(&mut self, header: &Header) {
        self.stats.evictions += 1;
        if !header.has(ITEM_FETCHED) {
            self.stats.evicted_unfetched += 1;
        }
    }

    /// The live item with `key`; an expired or flushed one is unlinked and freed on the way.
    pub(crate) fn find_live(&mut self, key: &[u8], hash: u64, clock: &Clock) -> Option<ItemRef> {
        let r = self.index.find(&self.arena, key, hash);
        if r.is_nil() {
            return None;
        }
        let header = self.header(r);
        assert!(header.has(ITEM_LINKED));
        if self.is_dead(&header, clock) {
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
        let total_size_bytes = item::total_size_bytes(key.len(), value_len);
        if total_size_bytes > self.config.item_size_max_bytes || value_len > u32::MAX as usize {
            return Err(ReserveError::TooLarge);
        }
        let class = self
            .slabs
            .class_for(total_size_bytes)
            .ok_or(ReserveError::TooLarge)?;
        let r = self
            .alloc_chunk(class, pin, clock)
            .ok_or(ReserveError::OutOfMemory)?;
        let header = Header {
            cas: 0,
            hash_next: ItemRef::NIL,
            lru_prev: ItemRef::NIL,
            lru_next: ItemRef::NIL,
            expiry,
            last_access: clock.now_rel(),
            client_flags,
            value_len: value_len as u32,
            key_len: key.len() as u8,
            slab_class: class,
            bits: 0,
        };
        self.write_header(r, &header);
        let key_at = r.offset_bytes() + item::HEADER_SIZE_BYTES;
        self.arena.bytes_mut(key_at, key.len()).copy_from_slice(key);
        Ok(r)
    }

    fn alloc_chunk(&mut self, class: u8, pin: ItemRef, clock: &Clock) -> Option<ItemRef> {
        if let Some(r) = self.slabs.alloc(&mut self.arena, class) {
            return Some(r);
        }
        let mut r = self.lru.tail(class);
        for _ in 0..TAIL_SEARCH_COUNT {
            if r.is_nil() {
                break;
            }
            let toward_head = self.lru.toward_head(&self.arena, r);
            let header = self.header(r);
            if r != pin && self.is_dead(&header, clock) {
                self.count_reclaimed(&header);
                self.unlink_unhashed(r);
                return Some(r);
            }
            r = toward_head;
        }
        if self.config.evict_when_full {
            let mut victim = self.lru.tail(class);
            if victim == pin && !victim.is_nil() {
                victim = self.lru.toward_head(&self.arena, victim);
            }
            if !victim.is_nil() {
                let header = self.header(victim);
                self.count_evicted(&header);
                self.unlink_unhashed(victim);
                return Some(victim);
            }
        }
        self.alloc_from_moved_page(class, pin, clock)
    }

    /// Links the unlinked item at `r`: stamps `cas` and the store time, indexes it, puts it
    /// at the head of its LRU.
    pub(crate) fn link(&mut self, r: ItemRef, hash: u64, cas: u64, clock: &Clock) {
        let mut header = self.header(r);
        assert!(!header.has(ITEM_LINKED), "item {} linked twice", r.0);
        header.bits |= ITEM_LINKED;
        header.cas = cas;
        header.last_access = clock.now_rel();
        header.hash_next = ItemRef::NIL;
        header.lru_prev = ItemRef::NIL;
        header.lru_next = ItemRef::NIL;
        self.write_header(r, &header);
        self.index.insert(&mut self.arena, r, hash);
        self.lru.push_head(&mut self.arena, r, header.slab_class);
        self.stats.curr_items += 1;
        self.stats.total_items += 1;
        self.stats.bytes += header.total_size_bytes() as u64;
    }

    /// Takes the linked item at `r` out of the index and its LRU; it stays allocated.
    pub(crate) fn unlink(&mut self, r: ItemRef, hash: u64) {
        let class = self.header(r).slab_class;
        self.index.remove(&mut self.arena, r, hash);
        self.lru.unlink(&mut self.arena, r, class);
        let mut header = self.header(r);
        assert!(header.has(ITEM_LINKED));
        header.bits &= !ITEM_LINKED;
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
        self.unlink(old, hash);
        self.free(old);
        self.link(new, hash, cas, clock);
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

    /// Marks `r` used now and moves it to the head of its LRU (memcached `do_item_update`).
    pub(crate) fn touch_lru(&mut self, r: ItemRef, clock: &Clock) {
        let mut header = self.header(r);
        header.last_access = clock.now_rel();
        self.write_header(r, &header);
        self.lru.bump(&mut self.arena, r, header.slab_class);
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
