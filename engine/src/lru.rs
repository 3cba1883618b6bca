//! Per-class least-recently-used lists, doubly linked through the item headers.
//!
//! ```text
//!   head (most recent)                                   tail (next victim)
//!   heads[c] -> [item] <-> [item] <-> ... <-> [item] <- tails[c]
//!               lru_prev = NIL                lru_next = NIL
//! ```
//!
//! Only linked items are in a list; items being received (reservations) never are, so they
//! can never be evicted. A later issue replaces this policy with S3-FIFO.

use crate::arena::{Arena, ItemRef};
use crate::item::{self, field};
use crate::slab::CLASS_COUNT_MAX;

pub(crate) struct Lru {
    heads: [ItemRef; CLASS_COUNT_MAX],
    tails: [ItemRef; CLASS_COUNT_MAX],
}

fn next(arena: &Arena, r: ItemRef) -> ItemRef {
    ItemRef(item::get_u32(arena, r, field::LRU_NEXT))
}

fn prev(arena: &Arena, r: ItemRef) -> ItemRef {
    ItemRef(item::get_u32(arena, r, field::LRU_PREV))
}

fn set_next(arena: &mut Arena, r: ItemRef, to: ItemRef) {
    item::set_u32(arena, r, field::LRU_NEXT, to.0);
}

fn set_prev(arena: &mut Arena, r: ItemRef, to: ItemRef) {
    item::set_u32(arena, r, field::LRU_PREV, to.0);
}

impl Lru {
    pub(crate) fn new() -> Lru {
        Lru {
            heads: [ItemRef::NIL; CLASS_COUNT_MAX],
            tails: [ItemRef::NIL; CLASS_COUNT_MAX],
        }
    }

    pub(crate) fn push_head(&mut self, arena: &mut Arena, r: ItemRef, class: u8) {
        let c = class as usize;
        let old_head = self.heads[c];
        set_prev(arena, r, ItemRef::NIL);
        set_next(arena, r, old_head);
        if old_head.is_nil() {
            assert!(self.tails[c].is_nil());
            self.tails[c] = r;
        } else {
            assert!(prev(arena, old_head).is_nil());
            set_prev(arena, old_head, r);
        }
        self.heads[c] = r;
    }

    pub(crate) fn unlink(&mut self, arena: &mut Arena, r: ItemRef, class: u8) {
        let c = class as usize;
        let (p, n) = (prev(arena, r), next(arena, r));
        if p.is_nil() {
            assert_eq!(self.heads[c], r, "item {} is not in LRU {class}", r.0);
            self.heads[c] = n;
        } else {
            set_next(arena, p, n);
        }
        if n.is_nil() {
            assert_eq!(self.tails[c], r, "item {} is not in LRU {class}", r.0);
            self.tails[c] = p;
        } else {
            set_prev(arena, n, p);
        }
        set_prev(arena, r, ItemRef::NIL);
        set_next(arena, r, ItemRef::NIL);
    }

    /// Moves `r` to the head of its list.
    pub(crate) fn bump(&mut self, arena: &mut Arena, r: ItemRef, class: u8) {
        if self.heads[class as usize] != r {
            self.unlink(arena, r, class);
            self.push_head(arena, r, class);
        }
    }

    pub(crate) fn tail(&self, class: u8) -> ItemRef {
        self.tails[class as usize]
    }

    /// The item one step closer to the head than `r`.
    pub(crate) fn toward_head(&self, arena: &Arena, r: ItemRef) -> ItemRef {
        prev(arena, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{write_header, Header};

    fn items(arena: &mut Arena, count: usize) -> Vec<ItemRef> {
        (0..count)
            .map(|i| {
                let r = ItemRef::from_offset_bytes(i * 64);
                let header = Header {
                    cas: 0,
                    hash_next: ItemRef::NIL,
                    lru_prev: ItemRef::NIL,
                    lru_next: ItemRef::NIL,
                    expiry: 0,
                    last_access: 0,
                    client_flags: 0,
                    value_len: 0,
                    key_len: 0,
                    slab_class: 1,
                    bits: 0,
                };
                write_header(arena, r, &header);
                r
            })
            .collect()
    }

    fn order_from_tail(lru: &Lru, arena: &Arena, class: u8) -> Vec<ItemRef> {
        let mut out = Vec::new();
        let mut r = lru.tail(class);
        while !r.is_nil() {
            out.push(r);
            r = lru.toward_head(arena, r);
        }
        out
    }

    #[test]
    fn tail_is_least_recently_used() {
        let mut arena = Arena::new(4096).unwrap();
        let rs = items(&mut arena, 4);
        let mut lru = Lru::new();
        for &r in &rs {
            lru.push_head(&mut arena, r, 1);
        }
        assert_eq!(order_from_tail(&lru, &arena, 1), rs);
        lru.bump(&mut arena, rs[0], 1);
        assert_eq!(
            order_from_tail(&lru, &arena, 1),
            vec![rs[1], rs[2], rs[3], rs[0]]
        );
        lru.unlink(&mut arena, rs[2], 1);
        assert_eq!(order_from_tail(&lru, &arena, 1), vec![rs[1], rs[3], rs[0]]);
        lru.unlink(&mut arena, rs[1], 1);
        lru.unlink(&mut arena, rs[0], 1);
        assert_eq!(order_from_tail(&lru, &arena, 1), vec![rs[3]]);
        lru.unlink(&mut arena, rs[3], 1);
        assert!(lru.tail(1).is_nil());
        assert!(lru.tail(0).is_nil());
    }
}
