//! Slab allocator: size classes, pages handed out from the arena, chunks recycled through
//! per-class free lists, and the page table (which class owns which page).
//!
//! Goals: O(1) allocation and free with no heap use; `memory_limit_bytes` hard (the arena
//! holds exactly `page_count` pages); size classes fine enough that rounding wastes little.
//! Non-goals: eviction and choosing which page moves to another class (the store decides
//! both; see `evict.rs` and `reassign.rs`). This module provides the page-move primitives:
//! taking one free chunk out of a free list ([`Slabs::remove_free`]) and handing a page from
//! one class to another ([`Slabs::move_page`]).
//!
//! ```text
//!  size classes (page 1 MiB):  32, 40, 48, ... +8 ... 256 | x1.125, 8-byte aligned ... 64 KiB
//!                              | x1.25 ... <= page/2 | one whole page         (~86 classes)
//!
//!  a page given to class c:   +---------+---------+---------+-- ... --+---------+-------+
//!                             | chunk 0 | chunk 1 | chunk 2 |         | chunk k | slack |
//!                             +---------+---------+---------+-- ... --+---------+-------+
//!                              <-size c->
//!  a class takes chunks from: 1. its free list (doubly linked: hash_next / expiry word)
//!                             2. the uncut rest of its newest page (carve cursor)
//!                             3. a fresh page from the arena
//!                             (4. its own items, evicted: `evict.rs`)
//!                             (5. a page moved from another class: `reassign.rs`)
//!
//!  page table (outside the arena, 13 bytes per page, sized at start-up):
//!    page_class[p]           class owning page p (NO_CLASS: not handed out yet)
//!    page_expiry_min[p]      lower bound of the expiries in page p (0: none)
//!    page_next[p], page_prev[p]   ring of the pages of one class, in the order they joined
//!    first_page[c]           one page of class c's ring (NIL: no page)
//! ```
//!
//! Why 8-byte steps up to 256 bytes: memcached's classes grow by 1.25 from 96 bytes, so a
//! 135-byte item sits in a 152-byte chunk (11 % lost); here every item up to 256 bytes loses
//! less than 8 bytes, and above that less than 12.5 % (25 % above 64 KiB, where the page
//! count per class is small anyway). More classes cost nothing per item: a class that is not
//! used holds no page.
//!
//! The free list is doubly linked so that a page can leave its class: every free chunk in it
//! is unlinked in O(1) without walking the list.
//!
//! Invariant: every chunk below a page's carve point (the whole page, or the carve cursor for
//! a class's newest page) starts with an item or free-chunk header, or was cleared; the bytes
//! above it are stale and never read. An item's class is its page's class.
//!
//! The page size is 1 MiB, or `item_size_max_bytes` rounded up to 8 if that is larger, so the
//! largest class (a whole page) holds any item the store accepts.

use crate::arena::{Arena, ItemRef, ARENA_ALIGN_BYTES};
use crate::item::{self, HEADER_SIZE_BYTES};

pub(crate) const PAGE_SIZE_MIN_BYTES: usize = 1 << 20;
/// Smallest chunk: a header plus 6 bytes of key and value (also holds a free-chunk header).
pub(crate) const CHUNK_SIZE_MIN_BYTES: usize = 32;
/// Classes grow by [`ARENA_ALIGN_BYTES`] up to this chunk size.
pub(crate) const FINE_STEP_MAX_BYTES: usize = 256;
/// Then by this factor (in 1/1000) up to [`MEDIUM_STEP_MAX_BYTES`] ...
pub(crate) const MEDIUM_GROWTH_PER_MILLE: usize = 1125;
pub(crate) const MEDIUM_STEP_MAX_BYTES: usize = 64 << 10;
/// ... and by this factor (memcached's `-f 1.25`) above.
pub(crate) const LARGE_GROWTH_PER_MILLE: usize = 1250;
/// Upper bound on the number of classes (classes are `u8`, sets of them `u128`).
pub(crate) const CLASS_COUNT_MAX: usize = 128;
/// "No class" in the page table.
pub(crate) const NO_CLASS: u8 = u8::MAX;
/// "No page" in the page rings.
pub(crate) const NO_PAGE: u32 = u32::MAX;

const _: () = assert!(CHUNK_SIZE_MIN_BYTES % ARENA_ALIGN_BYTES == 0);
const _: () = assert!(CHUNK_SIZE_MIN_BYTES >= HEADER_SIZE_BYTES + 6);
const _: () = assert!(CLASS_COUNT_MAX <= NO_CLASS as usize);

#[derive(Clone, Copy, Debug)]
struct SlabClass {
    chunk_size_bytes: usize,
    free_head: ItemRef,
    free_count: u64,
    /// Chunks cut from the class's pages so far (items, reservations, free chunks).
    carved_count: u64,
    /// Next uncut byte of the class's newest page, and the end of the usable part of it.
    carve_next_bytes: usize,
    carve_end_bytes: usize,
    page_count: u32,
    /// A page of the class's ring, or NO_PAGE.
    first_page: u32,
}

pub(crate) struct Slabs {
    classes: [SlabClass; CLASS_COUNT_MAX],
    class_count: usize,
    page_size_bytes: usize,
    page_count: usize,
    pages_used_count: usize,
    page_class: Box<[u8]>,
    page_next: Box<[u32]>,
    page_prev: Box<[u32]>,
    /// Lower bound of the expiry of the items in each page (0: none has one), kept by
    /// `reclaim.rs`.
    page_expiry_min: Box<[u32]>,
}

/// The page size for an item size limit.
pub(crate) fn page_size_for(item_size_max_bytes: usize) -> usize {
    let rounded = item_size_max_bytes.div_ceil(ARENA_ALIGN_BYTES) * ARENA_ALIGN_BYTES;
    rounded.max(PAGE_SIZE_MIN_BYTES)
}

/// The chunk size after `size`.
fn next_chunk_size(size: usize) -> usize {
    let grown = if size < FINE_STEP_MAX_BYTES {
        size + ARENA_ALIGN_BYTES
    } else if size < MEDIUM_STEP_MAX_BYTES {
        size * MEDIUM_GROWTH_PER_MILLE / 1000
    } else {
        size * LARGE_GROWTH_PER_MILLE / 1000
    };
    let aligned = grown.div_ceil(ARENA_ALIGN_BYTES) * ARENA_ALIGN_BYTES;
    aligned.max(size + ARENA_ALIGN_BYTES)
}

impl Slabs {
    /// Classes for `page_size_bytes`, with `page_count` pages available in the arena.
    pub(crate) fn new(page_size_bytes: usize, page_count: usize) -> Slabs {
        assert!(page_size_bytes >= PAGE_SIZE_MIN_BYTES);
        assert!(page_size_bytes % ARENA_ALIGN_BYTES == 0);
        assert!(page_count < NO_PAGE as usize);
        let empty = SlabClass {
            chunk_size_bytes: 0,
            free_head: ItemRef::NIL,
            free_count: 0,
            carved_count: 0,
            carve_next_bytes: 0,
            carve_end_bytes: 0,
            page_count: 0,
            first_page: NO_PAGE,
        };
        let mut classes = [empty; CLASS_COUNT_MAX];
        let mut class_count = 0;
        let mut size = CHUNK_SIZE_MIN_BYTES;
        while size <= page_size_bytes / 2 && class_count < CLASS_COUNT_MAX - 1 {
            classes[class_count].chunk_size_bytes = size;
            class_count += 1;
            size = next_chunk_size(size);
        }
        classes[class_count].chunk_size_bytes = page_size_bytes;
        class_count += 1;
        let slabs = Slabs {
            classes,
            class_count,
            page_size_bytes,
            page_count,
            pages_used_count: 0,
            page_class: vec![NO_CLASS; page_count].into_boxed_slice(),
            page_next: vec![NO_PAGE; page_count].into_boxed_slice(),
            page_prev: vec![NO_PAGE; page_count].into_boxed_slice(),
            page_expiry_min: vec![0; page_count].into_boxed_slice(),
        };
        for pair in slabs.classes[..class_count].windows(2) {
            assert!(pair[0].chunk_size_bytes < pair[1].chunk_size_bytes);
        }
        slabs
    }

    pub(crate) fn class_count(&self) -> usize {
        self.class_count
    }

    pub(crate) fn page_size_bytes(&self) -> usize {
        self.page_size_bytes
    }

    pub(crate) fn page_count(&self) -> usize {
        self.page_count
    }

    pub(crate) fn pages_used_count(&self) -> usize {
        self.pages_used_count
    }

    /// Memory of the page table (outside the arena).
    pub(crate) fn table_memory_bytes(&self) -> usize {
        self.page_count * (1 + 4 + 4 + 4)
    }

    pub(crate) fn chunk_size_bytes(&self, class: u8) -> usize {
        assert!((class as usize) < self.class_count);
        self.classes[class as usize].chunk_size_bytes
    }

    /// Chunks one page of `class` holds.
    pub(crate) fn chunks_per_page(&self, class: u8) -> usize {
        self.page_size_bytes / self.chunk_size_bytes(class)
    }

    /// The smallest class whose chunks hold `total_size_bytes`, if any.
    pub(crate) fn class_for(&self, total_size_bytes: usize) -> Option<u8> {
        let classes = &self.classes[..self.class_count];
        let index = classes.partition_point(|c| c.chunk_size_bytes < total_size_bytes);
        (index < self.class_count).then_some(index as u8)
    }

    /// Index of the page holding byte `offset_bytes`.
    pub(crate) fn page_of_offset(&self, offset_bytes: usize) -> usize {
        let page = offset_bytes / self.page_size_bytes;
        assert!(page < self.pages_used_count, "offset {offset_bytes}");
        page
    }

    /// The class owning the chunk at `r`.
    #[inline]
    pub(crate) fn class_of(&self, r: ItemRef) -> u8 {
        let class = self.page_class[self.page_of_offset(r.offset_bytes())];
        debug_assert!((class as usize) < self.class_count);
        class
    }

    /// The class owning page `page` (NO_CLASS if not handed out).
    pub(crate) fn page_class(&self, page: usize) -> u8 {
        self.page_class[page]
    }

    /// A page of `class` (NO_PAGE if it has none); [`Slabs::next_page`] goes round its ring.
    pub(crate) fn first_page(&self, class: u8) -> u32 {
        self.classes[class as usize].first_page
    }

    pub(crate) fn next_page(&self, page: u32) -> u32 {
        self.page_next[page as usize]
    }

    pub(crate) fn page_expiry_min(&self, page: usize) -> u32 {
        self.page_expiry_min[page]
    }

    pub(crate) fn set_page_expiry_min(&mut self, page: usize, expiry_min: u32) {
        self.page_expiry_min[page] = expiry_min;
    }

    fn ring_insert(&mut self, page: usize, class: u8) {
        let c = &mut self.classes[class as usize];
        self.page_class[page] = class;
        if c.first_page == NO_PAGE {
            c.first_page = page as u32;
            self.page_next[page] = page as u32;
            self.page_prev[page] = page as u32;
            return;
        }
        // Insert just before the first page: the newest page is the last of the ring.
        let first = c.first_page as usize;
        let last = self.page_prev[first] as usize;
        self.page_next[last] = page as u32;
        self.page_prev[page] = last as u32;
        self.page_next[page] = first as u32;
        self.page_prev[first] = page as u32;
    }

    fn ring_remove(&mut self, page: usize, class: u8) {
        assert_eq!(self.page_class[page], class);
        let (prev, next) = (self.page_prev[page], self.page_next[page]);
        let c = &mut self.classes[class as usize];
        if next as usize == page {
            c.first_page = NO_PAGE;
        } else {
            self.page_next[prev as usize] = next;
            self.page_prev[next as usize] = prev;
            if c.first_page as usize == page {
                c.first_page = next;
            }
        }
        self.page_next[page] = NO_PAGE;
        self.page_prev[page] = NO_PAGE;
        self.page_class[page] = NO_CLASS;
        self.page_expiry_min[page] = 0;
    }

    /// A chunk of `class` from its free list, its newest page, or a fresh page; `None` when
    /// all three are exhausted. The chunk's header is not written.
    pub(crate) fn alloc(&mut self, arena: &mut Arena, class: u8) -> Option<ItemRef> {
        let page_size_bytes = self.page_size_bytes;
        let c = &mut self.classes[class as usize];
        if !c.free_head.is_nil() {
            let r = c.free_head;
            assert!(
                item::read_free_prev(arena, r).is_nil(),
                "free list head {}",
                r.0
            );
            c.free_head = item::read_free_next(arena, r);
            if !c.free_head.is_nil() {
                item::set_free_prev(arena, c.free_head, ItemRef::NIL);
            }
            c.free_count -= 1;
            return Some(r);
        }
        if c.carve_next_bytes + c.chunk_size_bytes > c.carve_end_bytes {
            if self.pages_used_count == self.page_count {
                return None;
            }
            let page = self.pages_used_count;
            let page_start_bytes = page * page_size_bytes;
            self.pages_used_count += 1;
            c.page_count += 1;
            c.carve_next_bytes = page_start_bytes;
            c.carve_end_bytes = page_start_bytes + page_size_bytes;
            assert!(c.carve_end_bytes <= arena.size_bytes());
            self.ring_insert(page, class);
        }
        let c = &mut self.classes[class as usize];
        let r = ItemRef::from_offset_bytes(c.carve_next_bytes);
        c.carve_next_bytes += c.chunk_size_bytes;
        c.carved_count += 1;
        assert!(c.carve_next_bytes <= c.carve_end_bytes);
        Some(r)
    }

    /// Returns the chunk at `r` to `class`'s free list.
    pub(crate) fn free(&mut self, arena: &mut Arena, r: ItemRef, class: u8) {
        assert!((class as usize) < self.class_count);
        assert_eq!(
            self.class_of(r),
            class,
            "chunk {} freed to a foreign class",
            r.0
        );
        let c = &mut self.classes[class as usize];
        item::write_free(arena, r, ItemRef::NIL, c.free_head);
        if !c.free_head.is_nil() {
            item::set_free_prev(arena, c.free_head, r);
        }
        c.free_head = r;
        c.free_count += 1;
    }

    /// Takes the free chunk at `r` out of `class`'s free list, wherever it is in the list.
    pub(crate) fn remove_free(&mut self, arena: &mut Arena, r: ItemRef, class: u8) {
        assert_eq!(self.class_of(r), class, "free chunk {}", r.0);
        let (prev, next) = (
            item::read_free_prev(arena, r),
            item::read_free_next(arena, r),
        );
        let c = &mut self.classes[class as usize];
        assert!(c.free_count > 0);
        if prev.is_nil() {
            assert_eq!(c.free_head, r, "free chunk {} is not in list {class}", r.0);
            c.free_head = next;
        } else {
            item::set_free_next(arena, prev, next);
        }
        if !next.is_nil() {
            item::set_free_prev(arena, next, prev);
        }
        c.free_count -= 1;
        item::clear_chunk(arena, r);
    }

    /// Start of the page holding the chunk at `r`.
    pub(crate) fn page_start_of(&self, r: ItemRef) -> usize {
        self.page_of_offset(r.offset_bytes()) * self.page_size_bytes
    }

    /// End of the carved part of the page at `page_start_bytes`, owned by `class`: the carve
    /// cursor if it is the class's newest page, else the end of its last whole chunk.
    pub(crate) fn carved_end_bytes(&self, page_start_bytes: usize, class: u8) -> usize {
        assert!(page_start_bytes % self.page_size_bytes == 0);
        assert!(page_start_bytes < self.pages_used_count * self.page_size_bytes);
        let c = &self.classes[class as usize];
        let page_end_bytes = page_start_bytes + self.page_size_bytes;
        if c.carve_end_bytes == page_end_bytes {
            assert!(c.carve_next_bytes > page_start_bytes && c.carve_next_bytes <= page_end_bytes);
            c.carve_next_bytes
        } else {
            page_start_bytes + self.page_size_bytes / c.chunk_size_bytes * c.chunk_size_bytes
        }
    }

    pub(crate) fn class_page_count(&self, class: u8) -> u32 {
        self.classes[class as usize].page_count
    }

    /// Chunks cut from `class`'s pages and not taken back (items, reservations, free chunks).
    pub(crate) fn carved_count(&self, class: u8) -> u64 {
        self.classes[class as usize].carved_count
    }

    /// `true` if `class` has neither a free chunk nor room in its newest page.
    pub(crate) fn is_full(&self, class: u8) -> bool {
        let c = &self.classes[class as usize];
        c.free_head.is_nil() && c.carve_next_bytes + c.chunk_size_bytes > c.carve_end_bytes
    }

    /// Free chunks waiting in `class`'s free list.
    pub(crate) fn free_count(&self, class: u8) -> u64 {
        self.classes[class as usize].free_count
    }

    /// A page of `class` that holds a free chunk or is its newest page, if any: where to look
    /// first for a page to take from a class that has no linked item.
    pub(crate) fn spare_page_of(&self, class: u8) -> Option<usize> {
        let c = &self.classes[class as usize];
        if c.page_count == 0 {
            return None;
        }
        if !c.free_head.is_nil() {
            return Some(self.page_start_of(c.free_head));
        }
        (c.carve_end_bytes > 0).then(|| c.carve_end_bytes - self.page_size_bytes)
    }

    /// Hands the page at `page_start_bytes` from `from` to `to`, which carves it from its
    /// start. The caller has emptied it: no item of `from` lives in it and none of its chunks
    /// is in `from`'s free list. `to` must have used up its own newest page.
    pub(crate) fn move_page(&mut self, page_start_bytes: usize, from: u8, to: u8) {
        assert_ne!(from, to);
        assert!(page_start_bytes % self.page_size_bytes == 0);
        assert!(page_start_bytes < self.pages_used_count * self.page_size_bytes);
        let page = page_start_bytes / self.page_size_bytes;
        let page_end_bytes = page_start_bytes + self.page_size_bytes;
        let carved_chunks = (self.carved_end_bytes(page_start_bytes, from) - page_start_bytes)
            / self.classes[from as usize].chunk_size_bytes;
        let f = &mut self.classes[from as usize];
        assert!(f.page_count > 0);
        f.page_count -= 1;
        f.carved_count -= carved_chunks as u64;
        if f.carve_end_bytes == page_end_bytes {
            f.carve_next_bytes = 0;
            f.carve_end_bytes = 0;
        }
        self.ring_remove(page, from);
        let t = &mut self.classes[to as usize];
        assert!(
            t.carve_next_bytes + t.chunk_size_bytes > t.carve_end_bytes,
            "class {to} still has room in its newest page"
        );
        t.page_count += 1;
        t.carve_next_bytes = page_start_bytes;
        t.carve_end_bytes = page_end_bytes;
        self.ring_insert(page, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn classes_step_by_8_then_grow_and_end_with_a_page() {
        let slabs = Slabs::new(MIB, 4);
        assert_eq!(slabs.chunk_size_bytes(0), CHUNK_SIZE_MIN_BYTES);
        assert_eq!(slabs.chunk_size_bytes(1), 40);
        // 12-byte keys with 64-byte values: 102 bytes in a 104-byte chunk.
        let class = slabs.class_for(102).unwrap();
        assert_eq!(slabs.chunk_size_bytes(class), 104);
        let last = (slabs.class_count() - 1) as u8;
        assert_eq!(slabs.chunk_size_bytes(last), MIB);
        assert!(slabs.chunk_size_bytes(last - 1) <= MIB / 2);
        for class in 1..last {
            let (small, big) = (
                slabs.chunk_size_bytes(class - 1),
                slabs.chunk_size_bytes(class),
            );
            assert_eq!(big % 8, 0);
            if small < FINE_STEP_MAX_BYTES {
                assert_eq!(big, small + 8);
            } else {
                assert!(big * 100 <= small * 126 + 800, "{small} -> {big}");
            }
        }
        assert!(slabs.class_count() < 100, "{}", slabs.class_count());
    }

    #[test]
    fn class_selection_picks_the_smallest_fit() {
        let slabs = Slabs::new(MIB, 4);
        assert_eq!(slabs.class_for(1), Some(0));
        assert_eq!(slabs.class_for(32), Some(0));
        assert_eq!(slabs.class_for(33), Some(1));
        assert_eq!(slabs.class_for(40), Some(1));
        assert_eq!(slabs.class_for(MIB), Some((slabs.class_count() - 1) as u8));
        assert_eq!(slabs.class_for(MIB + 1), None);
    }

    #[test]
    fn page_rings_keep_the_pages_of_a_class() {
        let mut arena = Arena::new(4 * MIB).unwrap();
        let mut slabs = Slabs::new(MIB, 4);
        let last = (slabs.class_count() - 1) as u8;
        for _ in 0..3 {
            slabs.alloc(&mut arena, last).unwrap();
        }
        assert_eq!(slabs.first_page(last), 0);
        assert_eq!(
            (slabs.next_page(0), slabs.next_page(1), slabs.next_page(2)),
            (1, 2, 0)
        );
        slabs.ring_remove(1, last);
        assert_eq!((slabs.next_page(0), slabs.next_page(2)), (2, 0));
        slabs.ring_remove(0, last);
        assert_eq!((slabs.first_page(last), slabs.next_page(2)), (2, 2));
        slabs.ring_remove(2, last);
        assert_eq!(slabs.first_page(last), NO_PAGE);
    }

    #[test]
    fn big_item_size_max_makes_big_pages() {
        assert_eq!(page_size_for(1000), MIB);
        assert_eq!(page_size_for(MIB + 1), MIB + 8);
        let slabs = Slabs::new(page_size_for(1 << 30), 1);
        assert!(slabs.class_count() <= CLASS_COUNT_MAX);
        assert_eq!(
            slabs.class_for(1 << 30),
            Some((slabs.class_count() - 1) as u8)
        );
    }

    #[test]
    fn alloc_carves_pages_then_reuses_freed_chunks() {
        let mut arena = Arena::new(2 * MIB).unwrap();
        let mut slabs = Slabs::new(MIB, 2);
        let last = (slabs.class_count() - 1) as u8;
        let a = slabs.alloc(&mut arena, 0).unwrap();
        let b = slabs.alloc(&mut arena, 0).unwrap();
        assert_eq!(a.offset_bytes(), 0);
        assert_eq!(b.offset_bytes(), CHUNK_SIZE_MIN_BYTES);
        assert_eq!(slabs.pages_used_count(), 1);
        let page = slabs.alloc(&mut arena, last).unwrap();
        assert_eq!(page.offset_bytes(), MIB);
        assert_eq!(slabs.alloc(&mut arena, last), None, "arena exhausted");
        slabs.free(&mut arena, a, 0);
        assert_eq!(slabs.free_count(0), 1);
        assert_eq!(slabs.alloc(&mut arena, 0), Some(a));
        assert_eq!(slabs.free_count(0), 0);
        // The class-0 page still has room; other classes have none.
        assert!(slabs.alloc(&mut arena, 0).is_some());
        assert_eq!(slabs.alloc(&mut arena, 5), None);
    }

    #[test]
    fn a_page_holds_floor_page_over_chunk_chunks() {
        let mut arena = Arena::new(MIB).unwrap();
        let mut slabs = Slabs::new(MIB, 1);
        let class = slabs.class_for(100_000).unwrap();
        let per_page = MIB / slabs.chunk_size_bytes(class);
        for _ in 0..per_page {
            assert!(slabs.alloc(&mut arena, class).is_some());
        }
        assert_eq!(slabs.alloc(&mut arena, class), None);
    }

    #[test]
    fn any_free_chunk_leaves_the_free_list_in_constant_time() {
        let mut arena = Arena::new(MIB).unwrap();
        let mut slabs = Slabs::new(MIB, 1);
        let rs: Vec<ItemRef> = (0..5)
            .map(|_| slabs.alloc(&mut arena, 0).unwrap())
            .collect();
        for &r in &rs {
            slabs.free(&mut arena, r, 0);
        }
        // The list is rs[4] rs[3] rs[2] rs[1] rs[0]: take a middle, the head, the tail.
        slabs.remove_free(&mut arena, rs[2], 0);
        slabs.remove_free(&mut arena, rs[4], 0);
        slabs.remove_free(&mut arena, rs[0], 0);
        assert_eq!(
            item::chunk_state(&arena, rs[2]),
            item::KL_NONE,
            "a removed chunk is no longer free"
        );
        assert_eq!(slabs.free_count(0), 2);
        assert_eq!(slabs.alloc(&mut arena, 0), Some(rs[3]));
        assert_eq!(slabs.alloc(&mut arena, 0), Some(rs[1]));
        assert_eq!(slabs.free_count(0), 0);
        let carved = slabs.alloc(&mut arena, 0).unwrap();
        assert_eq!(carved.offset_bytes(), 5 * CHUNK_SIZE_MIN_BYTES);
    }

    #[test]
    fn a_moved_page_is_carved_by_its_new_class() {
        let mut arena = Arena::new(2 * MIB).unwrap();
        let mut slabs = Slabs::new(MIB, 2);
        let last = (slabs.class_count() - 1) as u8;
        let first = slabs.alloc(&mut arena, 0).unwrap();
        assert_eq!(slabs.alloc(&mut arena, last).unwrap().offset_bytes(), MIB);
        assert_eq!(slabs.alloc(&mut arena, 5), None);
        assert_eq!(slabs.carved_end_bytes(0, 0), CHUNK_SIZE_MIN_BYTES);
        assert_eq!(slabs.carved_end_bytes(MIB, last), 2 * MIB);
        assert_eq!(slabs.page_start_of(first), 0);
        assert_eq!(slabs.spare_page_of(0), Some(0));
        assert_eq!((slabs.first_page(0), slabs.page_class(0)), (0, 0));
        slabs.move_page(0, 0, 5);
        assert_eq!((slabs.first_page(0), slabs.first_page(5)), (NO_PAGE, 0));
        assert_eq!((slabs.page_class(0), slabs.next_page(0)), (5, 0));
        assert_eq!(slabs.class_page_count(0), 0);
        assert_eq!(slabs.class_page_count(5), 1);
        assert_eq!(slabs.spare_page_of(0), None);
        assert_eq!(slabs.alloc(&mut arena, 5), Some(first));
        assert_eq!(slabs.carved_end_bytes(0, 5), slabs.chunk_size_bytes(5));
        // Class 0 lost its carve cursor with the page, and no fresh page is left.
        assert_eq!(slabs.alloc(&mut arena, 0), None);
        assert_eq!(slabs.pages_used_count(), 2);
    }
}
