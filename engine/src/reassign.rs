//! Page reassignment: when a class needs a chunk and has nothing left to give or evict, a
//! whole page is taken from another class, emptied, and re-carved for the class in need
//! (memcached's "slab reassign", done inline and bounded instead of by a background thread).
//!
//! Goal: "when full, evict" holds for every size. Pages never return to the arena, so without
//! this a class that never got a page (other sizes filled memory first) could store nothing
//! at all. Non-goals: balancing classes ahead of need (memcached's automover), and moving
//! items to other chunks instead of evicting them.
//!
//! ```text
//!   class a (48 B chunks)          class b (1184 B chunks)        class c: needs a chunk;
//!   page 3                         page 7                         no free chunk, no fresh
//!   +----+----+----+----+- ..     +--------+--------+- ..         page, nothing to evict
//!   |item|free|item|resv|         |  item  |  free  |
//!   +----+----+----+----+- ..     +--------+--------+- ..
//!     ^ holds a reservation:        ^ b's main-hand item is the coldest of all: victim page
//!       skip page 3
//!
//!   empty page 7:   item -> unlink from index + queue (evictions, or reclaimed if dead)
//!                   free -> unlink from b's free list (doubly linked: O(1) each)
//!                   then: b.page_count -= 1 (and b's carve cursor is dropped if page 7 was
//!                   b's newest page), c.page_count += 1, c carves page 7 from its start
//!
//!   page 7 after:   +-------------+-------------+- ..          (chunks of class c)
//!                   | c's chunk 0 | uncut ...                  chunk 0 is the allocation
//! ```
//!
//! Victim choice, in this order, one candidate page per class:
//! 1. A class that owns pages but has no linked item (deleted, flushed or aborted items left
//!    only free chunks and reservations): its page holding the free-list head, or its newest
//!    page. Taking it loses no data, so this is done even with `evict_when_full == false`.
//! 2. Only if `evict_when_full`: the class whose next S3-FIFO victim (the item at its main
//!    hand) was accessed least recently, and the page holding that item. Comparing the
//!    hands approximates one global policy across classes: the memory nobody touched for
//!    longest goes first. It costs a few header reads per class.
//!
//! Rebalancing (no calcification): a class that evicts while another class holds much
//! colder memory takes a page from it. Every [`REBALANCE_EVERY_EVICTIONS`] evictions of a
//! class (and once per [`Store::maintain`] for the class that evicted most), the age of its
//! next victim is compared with the coldest other class's; if that one is older than
//! `2 * age + REBALANCE_MARGIN_SECS`, its page at the main hand moves over. When a workload
//! moves from small values to large ones, the large class's victims are seconds old and the
//! small class's items are as old as the shift: the pages follow within seconds, at the rate
//! of the evictions (memcached's automover moves at most one page per few seconds).
//!
//! A candidate page is skipped if it holds a reservation (an unlinked item being received:
//! its owner writes into it later) or the pinned item (the item being appended to or
//! incremented, which must survive its own allocation). Then the next candidate class is
//! tried. Limitation: only one page per class is tried, so a class whose tail page holds a
//! reservation is passed over for this allocation even if its other pages are movable;
//! reservations are short-lived, so a later allocation will take it.
//!
//! Bounds: at most [`REASSIGN_CANDIDATE_COUNT`] candidate pages per allocation; choosing one
//! reads one header per class; checking and emptying a page each walk its chunks once, so an
//! allocation that moves a page costs at most `REASSIGN_CANDIDATE_COUNT + 1` page walks of
//! `page_size / chunk_size` chunks (32768 for 32-byte chunks in a 1 MiB page), plus an index
//! unlink per evicted item. That is a latency spike on the request that triggers it, paid only
//! when a class runs dry; nothing is allocated.
//!
//! Invariants: a moved page holds no linked item, no reservation and no chunk of the old
//! class's free list; its old chunks are marked KL_NONE, so a stale reference fails loudly.
//! The arena's used page count does not change (`memory_used_bytes` stays within the limit).

use crate::arena::ItemRef;
use crate::item::{self, ITEM_LINKED, KL_FREE};
use crate::slab::CLASS_COUNT_MAX;
use crate::{Clock, Store};

/// Candidate pages examined per allocation before giving up with OutOfMemory.
pub(crate) const REASSIGN_CANDIDATE_COUNT: usize = 4;
/// A class checks for a colder class to take a page from once per this many evictions.
pub(crate) const REBALANCE_EVERY_EVICTIONS: u32 = 64;
/// A donor's coldest item must be older than twice the receiver's victim plus this.
pub(crate) const REBALANCE_MARGIN_SECS: u32 = 1;

const _: () = assert!(CLASS_COUNT_MAX <= u128::BITS as usize);

/// A set of slab classes, one bit each.
#[derive(Clone, Copy, Debug)]
struct ClassSet(u128);

impl ClassSet {
    fn of(class: u8) -> ClassSet {
        ClassSet(1u128 << class)
    }

    fn insert(&mut self, class: u8) {
        self.0 |= 1u128 << class;
    }

    fn contains(self, class: u8) -> bool {
        self.0 & (1u128 << class) != 0
    }
}

impl Store {
    /// A chunk of `class` carved from a page taken from another class, or `None` if none of
    /// the candidates could be emptied. `pin` (or NIL) is a linked item that must survive.
    pub(crate) fn alloc_from_moved_page(
        &mut self,
        class: u8,
        pin: ItemRef,
        clock: &Clock,
    ) -> Option<ItemRef> {
        let mut tried = ClassSet::of(class);
        for _ in 0..REASSIGN_CANDIDATE_COUNT {
            let (from, page_start_bytes) = self.victim_page(tried)?;
            assert_ne!(from, class);
            tried.insert(from);
            if let Some(r) = self.take_page(page_start_bytes, from, class, pin, clock) {
                return Some(r);
            }
        }
        None
    }

    /// Empties the page and carves its first chunk for `to`; `None` if the page holds a
    /// reservation or `pin`.
    fn take_page(
        &mut self,
        page_start_bytes: usize,
        from: u8,
        to: u8,
        pin: ItemRef,
        clock: &Clock,
    ) -> Option<ItemRef> {
        if !self.page_is_movable(page_start_bytes, from, pin) {
            self.stats.slab_reassign_busy_items += 1;
            return None;
        }
        self.empty_page(page_start_bytes, from, clock);
        debug_assert!(self.page_is_cleared(page_start_bytes, from));
        self.slabs.move_page(page_start_bytes, from, to);
        self.stats.slabs_moved += 1;
        let r = self.slabs.alloc(&mut self.arena, to);
        assert_eq!(r.map(ItemRef::offset_bytes), Some(page_start_bytes));
        r
    }

    /// Called when `class` is about to evict: every REBALANCE_EVERY_EVICTIONS times, a page
    /// from a much colder class instead (see the module docs).
    pub(crate) fn rebalance_on_eviction(
        &mut self,
        class: u8,
        pin: ItemRef,
        clock: &Clock,
    ) -> Option<ItemRef> {
        if !self.config.evict_when_full
            || !self
                .policy
                .eviction_check_due(class, REBALANCE_EVERY_EVICTIONS)
        {
            return None;
        }
        self.rebalance_into(class, pin, clock)
    }

    /// Moves a page into `class` from the coldest other class if that one is much colder.
    pub(crate) fn rebalance_into(
        &mut self,
        class: u8,
        pin: ItemRef,
        clock: &Clock,
    ) -> Option<ItemRef> {
        let now = clock.now_rel();
        let (own_access, _) = self.coldest_access(class)?;
        let own_age = now.saturating_sub(own_access);
        let mut coldest: Option<(u32, u8, ItemRef)> = None;
        for c in (0..self.slabs.class_count()).map(|c| c as u8) {
            if c == class || self.slabs.class_page_count(c) == 0 {
                continue;
            }
            if let Some((access, r)) = self.coldest_access(c) {
                let age = now.saturating_sub(access);
                if coldest.is_none_or(|(oldest, ..)| age > oldest) {
                    coldest = Some((age, c, r));
                }
            }
        }
        let (age, from, r) = coldest?;
        if age
            <= own_age
                .saturating_mul(2)
                .saturating_add(REBALANCE_MARGIN_SECS)
        {
            return None;
        }
        let page_start_bytes = self.slabs.page_start_of(r);
        let taken = self.take_page(page_start_bytes, from, class, pin, clock)?;
        self.stats.slab_rebalance_moves += 1;
        Some(taken)
    }

    /// The next candidate: a class not in `tried` and a page of it (see the module docs).
    fn victim_page(&self, tried: ClassSet) -> Option<(u8, usize)> {
        let class_count = self.slabs.class_count();
        assert!(class_count <= CLASS_COUNT_MAX);
        let mut oldest: Option<(u32, u8, ItemRef)> = None;
        for c in (0..class_count).map(|c| c as u8) {
            if tried.contains(c) || self.slabs.class_page_count(c) == 0 {
                continue;
            }
            if self.policy.item_count(c) == 0 {
                if let Some(page_start_bytes) = self.slabs.spare_page_of(c) {
                    return Some((c, page_start_bytes));
                }
                continue;
            }
            if !self.config.evict_when_full {
                continue;
            }
            let Some((last_access, r)) = self.coldest_access(c) else {
                continue;
            };
            if oldest.is_none_or(|(oldest_access, ..)| last_access < oldest_access) {
                oldest = Some((last_access, c, r));
            }
        }
        oldest.map(|(_, c, r)| (c, self.slabs.page_start_of(r)))
    }

    /// The page holds neither a reservation nor `pin`, so every item in it may go.
    fn page_is_movable(&self, page_start_bytes: usize, class: u8, pin: ItemRef) -> bool {
        let chunk_size_bytes = self.slabs.chunk_size_bytes(class);
        let end_bytes = self.slabs.carved_end_bytes(page_start_bytes, class);
        for at in (page_start_bytes..end_bytes).step_by(chunk_size_bytes) {
            let r = ItemRef::from_offset_bytes(at);
            match item::chunk_state(&self.arena, r) {
                KL_FREE => {}
                state if state as usize <= item::KEY_LEN_MAX => {
                    let header = self.header(r);
                    assert_eq!(header.slab_class, class, "item {} in a foreign page", r.0);
                    if r == pin || !header.has(ITEM_LINKED) {
                        return false;
                    }
                }
                state => panic!("chunk {} of class {class} has state {state:#x}", r.0),
            }
        }
        true
    }

    /// Evicts every item in the page and takes its free chunks out of `class`'s free list.
    /// The page must have passed [`Store::page_is_movable`].
    fn empty_page(&mut self, page_start_bytes: usize, class: u8, clock: &Clock) {
        let chunk_size_bytes = self.slabs.chunk_size_bytes(class);
        let end_bytes = self.slabs.carved_end_bytes(page_start_bytes, class);
        for at in (page_start_bytes..end_bytes).step_by(chunk_size_bytes) {
            let r = ItemRef::from_offset_bytes(at);
            if item::chunk_state(&self.arena, r) == KL_FREE {
                self.slabs.remove_free(&mut self.arena, r, class);
                continue;
            }
            let header = self.header(r);
            assert!(
                header.has(ITEM_LINKED),
                "reservation {} in a moved page",
                r.0
            );
            if self.is_dead(&header, clock) {
                self.count_reclaimed(&header);
            } else {
                assert!(self.config.evict_when_full, "-M evicted item {}", r.0);
                self.count_evicted(&header, clock);
            }
            self.unlink_unhashed(r);
            item::clear_chunk(&mut self.arena, r);
        }
    }

    /// Post-condition of [`Store::empty_page`]: no chunk of the page reads as item or free.
    fn page_is_cleared(&self, page_start_bytes: usize, class: u8) -> bool {
        let chunk_size_bytes = self.slabs.chunk_size_bytes(class);
        let end_bytes = self.slabs.carved_end_bytes(page_start_bytes, class);
        (page_start_bytes..end_bytes)
            .step_by(chunk_size_bytes)
            .all(|at| {
                item::chunk_state(&self.arena, ItemRef::from_offset_bytes(at)) == item::KL_NONE
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::item::total_size_bytes;
    use crate::{
        Clock, Config, DeleteOp, DeleteOutcome, GetOp, ReserveError, Store, StoreMode, StoreOp,
        StoreOutcome,
    };

    const MIB: usize = 1 << 20;
    const START_UNIX_SECS: i64 = 1_700_000_000;
    /// Keys are `prefix:NNNNNN`, with a one-byte prefix.
    const KEY_LEN: usize = 8;

    fn store(page_count: usize, evict_when_full: bool) -> (Store, Clock) {
        let config = Config {
            memory_limit_bytes: page_count * MIB,
            item_size_max_bytes: MIB,
            evict_when_full,
            cas_enabled: true,
            cas_first: 1,
            cas_step: 1,
        };
        (Store::new(config).unwrap(), Clock::new(START_UNIX_SECS))
    }

    fn key(prefix: char, i: usize) -> Vec<u8> {
        let key = format!("{prefix}:{i:06}").into_bytes();
        assert_eq!(key.len(), KEY_LEN);
        key
    }

    /// A value that tells which key it belongs to.
    fn value(prefix: char, i: usize, len: usize) -> Vec<u8> {
        let mut value = vec![b'a' + (i % 26) as u8; len];
        let tag = format!("{prefix}{i}");
        let tag_len = tag.len().min(len);
        value[..tag_len].copy_from_slice(&tag.as_bytes()[..tag_len]);
        value
    }

    fn set_op(mode: StoreMode) -> StoreOp {
        StoreOp::new(mode)
    }

    fn try_store(
        s: &mut Store,
        clock: &Clock,
        key: &[u8],
        value: &[u8],
        mode: StoreMode,
    ) -> Result<StoreOutcome, ReserveError> {
        let reservation = s.reserve(key, 0, 0, value.len(), clock)?;
        s.value_mut(&reservation).copy_from_slice(value);
        Ok(s.commit(reservation, &set_op(mode), clock))
    }

    fn set(s: &mut Store, clock: &Clock, key: &[u8], value: &[u8]) {
        let outcome = try_store(s, clock, key, value, StoreMode::Set);
        assert!(
            matches!(outcome, Ok(StoreOutcome::Stored { .. })),
            "{outcome:?}"
        );
        assert!(s.memory_used_bytes() <= s.config().memory_limit_bytes);
    }

    fn fill(s: &mut Store, clock: &Clock, prefix: char, count: usize, value_len: usize) {
        for i in 0..count {
            set(s, clock, &key(prefix, i), &value(prefix, i, value_len));
        }
    }

    fn value_of(s: &mut Store, clock: &Clock, key: &[u8]) -> Option<Vec<u8>> {
        let hit = s.get(key, &GetOp::default(), clock)?;
        Some(hit.item.value.to_vec())
    }

    fn class_of(s: &Store, value_len: usize) -> u8 {
        s.slabs
            .class_for(total_size_bytes(KEY_LEN, value_len, false))
            .unwrap()
    }

    fn per_page(s: &Store, value_len: usize) -> usize {
        MIB / s.slab_chunk_size_bytes(class_of(s, value_len))
    }

    /// Items `prefix:0..count` are all present and intact, or (below `lost`) all misses.
    fn expect_items(
        s: &mut Store,
        clock: &Clock,
        prefix: char,
        lost: usize,
        count: usize,
        value_len: usize,
    ) {
        for i in 0..count {
            let expected = (i >= lost).then(|| value(prefix, i, value_len));
            assert_eq!(
                value_of(s, clock, &key(prefix, i)),
                expected,
                "{prefix}:{i}"
            );
        }
    }

    #[test]
    fn a_new_size_in_a_full_store_takes_the_oldest_page() {
        let (mut s, mut clock) = store(4, true);
        let per_page_a = per_page(&s, 1000);
        fill(&mut s, &clock, 'a', 4 * per_page_a, 1000);
        assert_eq!((s.memory_used_bytes(), s.stats().evictions), (4 * MIB, 0));
        clock.advance_secs(1);
        fill(&mut s, &clock, 'b', 100, 100);
        let stats = s.stats();
        assert_eq!(stats.slabs_moved, 1);
        assert_eq!(stats.evictions as usize, per_page_a);
        assert_eq!(stats.evicted_unfetched as usize, per_page_a);
        assert_eq!(stats.curr_items as usize, 3 * per_page_a + 100);
        // Page 0 held the first (least recently used) items of class a.
        expect_items(&mut s, &clock, 'a', per_page_a, 4 * per_page_a, 1000);
        expect_items(&mut s, &clock, 'b', 0, 100, 100);
        assert_eq!(s.slabs.class_page_count(class_of(&s, 1000)), 3);
        assert_eq!(s.slabs.class_page_count(class_of(&s, 100)), 1);
        // A third size gets one page, from class a (whose tail is older than b's); once it
        // has a page, it evicts its own tail like any class with items.
        clock.advance_secs(1);
        let count_c = per_page(&s, 20_000) + 1;
        fill(&mut s, &clock, 'c', count_c, 20_000);
        assert_eq!(s.stats().slabs_moved, 2);
        assert_eq!(s.stats().evictions as usize, 2 * per_page_a + 1);
        expect_items(&mut s, &clock, 'a', 2 * per_page_a, 4 * per_page_a, 1000);
        expect_items(&mut s, &clock, 'b', 0, 100, 100);
        expect_items(&mut s, &clock, 'c', 1, count_c, 20_000);
        assert_eq!(s.memory_used_bytes(), 4 * MIB);
    }

    #[test]
    fn no_eviction_mode_keeps_its_pages() {
        let (mut s, mut clock) = store(4, false);
        let per_page_a = per_page(&s, 1000);
        fill(&mut s, &clock, 'a', 4 * per_page_a, 1000);
        clock.advance_secs(1);
        let outcome = try_store(
            &mut s,
            &clock,
            &key('b', 0),
            &value('b', 0, 100),
            StoreMode::Set,
        );
        assert_eq!(outcome, Err(ReserveError::OutOfMemory));
        assert_eq!((s.stats().evictions, s.stats().slabs_moved), (0, 0));
        expect_items(&mut s, &clock, 'a', 0, 4 * per_page_a, 1000);
    }

    #[test]
    fn no_eviction_mode_takes_a_page_that_holds_no_item() {
        let (mut s, clock) = store(2, false);
        let per_page_a = per_page(&s, 1000);
        let per_page_c = per_page(&s, 5000);
        fill(&mut s, &clock, 'a', per_page_a, 1000);
        fill(&mut s, &clock, 'c', per_page_c, 5000);
        for i in 0..per_page_a {
            let outcome = s.delete(&key('a', i), &DeleteOp::default(), &clock);
            assert_eq!(outcome, DeleteOutcome::Deleted);
        }
        fill(&mut s, &clock, 'b', 100, 100);
        assert_eq!((s.stats().evictions, s.stats().slabs_moved), (0, 1));
        expect_items(&mut s, &clock, 'b', 0, 100, 100);
        expect_items(&mut s, &clock, 'c', 0, per_page_c, 5000);
        // Class a's page held no item; class c's is live and -M keeps it.
        let outcome = try_store(&mut s, &clock, b"big", &[b'x'; 50_000], StoreMode::Set);
        assert_eq!(outcome, Err(ReserveError::OutOfMemory));
    }

    #[test]
    fn a_page_holding_a_reservation_is_passed_over() {
        let (mut s, mut clock) = store(2, true);
        let big = value('r', 0, 300_000);
        let reservation = s.reserve(b"r:pending", 0, 0, big.len(), &clock).unwrap();
        s.value_mut(&reservation).copy_from_slice(&big);
        // The rest of page 0 (class a, oldest), then page 1 (class d).
        let per_page_a = per_page(&s, big.len());
        fill(&mut s, &clock, 'a', per_page_a - 1, big.len());
        clock.advance_secs(1);
        let per_page_d = per_page(&s, 1000);
        fill(&mut s, &clock, 'd', per_page_d, 1000);
        clock.advance_secs(1);
        set(&mut s, &clock, &key('b', 0), &value('b', 0, 100));
        assert_eq!(s.stats().slabs_moved, 1);
        expect_items(&mut s, &clock, 'd', per_page_d, per_page_d, 1000);
        expect_items(&mut s, &clock, 'a', 0, per_page_a - 1, big.len());
        assert_eq!(s.value_mut(&reservation), &big[..]);
        let outcome = s.commit(reservation, &set_op(StoreMode::Set), &clock);
        assert!(matches!(outcome, StoreOutcome::Stored { .. }));
        assert_eq!(value_of(&mut s, &clock, b"r:pending"), Some(big));
    }

    #[test]
    fn a_reservation_in_the_only_candidate_page_means_out_of_memory() {
        let (mut s, mut clock) = store(1, true);
        let big = value('r', 0, 300_000);
        let reservation = s.reserve(b"r:pending", 0, 0, big.len(), &clock).unwrap();
        s.value_mut(&reservation).copy_from_slice(&big);
        let per_page_a = per_page(&s, big.len());
        fill(&mut s, &clock, 'a', per_page_a - 1, big.len());
        clock.advance_secs(1);
        let small = value('b', 0, 100);
        let outcome = try_store(&mut s, &clock, &key('b', 0), &small, StoreMode::Set);
        assert_eq!(outcome, Err(ReserveError::OutOfMemory));
        assert_eq!((s.stats().evictions, s.stats().slabs_moved), (0, 0));
        let outcome = s.commit(reservation, &set_op(StoreMode::Set), &clock);
        assert!(matches!(outcome, StoreOutcome::Stored { .. }));
        assert_eq!(value_of(&mut s, &clock, b"r:pending"), Some(big));
        // Committed, the item may go with its page.
        set(&mut s, &clock, &key('b', 0), &small);
        assert_eq!(s.stats().slabs_moved, 1);
        assert_eq!(value_of(&mut s, &clock, b"r:pending"), None);
        assert_eq!(s.stats().evictions as usize, per_page_a);
    }

    #[test]
    fn append_never_moves_the_page_of_the_item_it_extends() {
        let (mut s, mut clock) = store(3, true);
        // Page 0: the target; page 1: class s, where the appended bytes are received; both
        // are older than page 2 (class d).
        set(&mut s, &clock, b"t:target", &[b'a'; 1000]);
        set(&mut s, &clock, &key('s', 0), &value('s', 0, 500));
        clock.advance_secs(1);
        let per_page_d = per_page(&s, 5000);
        fill(&mut s, &clock, 'd', per_page_d, 5000);
        clock.advance_secs(1);
        // The combined item needs a new class. Class s's tail is oldest (ties go to the
        // smaller class) but its page holds the reservation of the appended bytes; the
        // target's page is pinned; so class d's page goes.
        let outcome = try_store(&mut s, &clock, b"t:target", &[b'b'; 500], StoreMode::Append);
        assert!(
            matches!(outcome, Ok(StoreOutcome::Stored { .. })),
            "{outcome:?}"
        );
        let mut expected = vec![b'a'; 1000];
        expected.extend_from_slice(&[b'b'; 500]);
        assert_eq!(value_of(&mut s, &clock, b"t:target"), Some(expected));
        assert_eq!(
            value_of(&mut s, &clock, &key('s', 0)),
            Some(value('s', 0, 500))
        );
        assert_eq!(s.stats().evictions as usize, per_page_d);
        assert_eq!(s.stats().slabs_moved, 1);
    }

    #[test]
    fn append_with_only_the_pinned_page_is_not_stored() {
        // One page: the target and the appended bytes share a class; the combined item needs
        // a bigger one, and the only page holds both the pin and the reservation.
        let (mut s, clock) = store(1, true);
        set(&mut s, &clock, b"t:target", &[b'a'; 600]);
        let outcome = try_store(&mut s, &clock, b"t:target", &[b'b'; 600], StoreMode::Append);
        assert_eq!(outcome, Ok(StoreOutcome::NotStored));
        assert_eq!(value_of(&mut s, &clock, b"t:target"), Some(vec![b'a'; 600]));
        assert_eq!((s.stats().evictions, s.stats().slabs_moved), (0, 0));
    }

    #[test]
    fn moving_a_partly_carved_page_drops_its_carve_cursor() {
        let (mut s, mut clock) = store(2, true);
        fill(&mut s, &clock, 'a', 10, 1000);
        clock.advance_secs(1);
        let per_page_d = per_page(&s, 5000);
        fill(&mut s, &clock, 'd', per_page_d, 5000);
        clock.advance_secs(1);
        set(&mut s, &clock, &key('b', 0), &value('b', 0, 100));
        let (class_a, class_d) = (class_of(&s, 1000), class_of(&s, 5000));
        assert_eq!(s.slabs.class_page_count(class_a), 0);
        expect_items(&mut s, &clock, 'a', 10, 10, 1000);
        // Class a has no page now; it takes class d's (older than b's).
        clock.advance_secs(1);
        fill(&mut s, &clock, 'a', 20, 1000);
        assert_eq!(s.stats().slabs_moved, 2);
        assert_eq!(s.slabs.class_page_count(class_a), 1);
        assert_eq!(s.slabs.class_page_count(class_d), 0);
        expect_items(&mut s, &clock, 'a', 0, 20, 1000);
        expect_items(&mut s, &clock, 'd', per_page_d, per_page_d, 5000);
        assert_eq!(
            value_of(&mut s, &clock, &key('b', 0)),
            Some(value('b', 0, 100))
        );
        assert_eq!(s.memory_used_bytes(), 2 * MIB);
    }
}
