//! The hash index: key -> item, a power-of-two array of bucket heads, chained through the
//! items' `hash_next` header field.
//!
//! ```text
//!   buckets (u32 ItemRef, NIL = empty)
//!   +-----+-----+-----+-----+-- ... --+
//!   | NIL |  r1 | NIL |  r4 |         |     bucket = hash & (bucket_count - 1)
//!   +-----+--|--+-----+--|--+-- ... --+
//!            v           v
//!          item r1     item r4 --hash_next--> item r9 --hash_next--> NIL
//! ```
//!
//! Sizing: fixed at start-up, one bucket per [`BYTES_PER_BUCKET`] bytes of memory limit,
//! rounded up to a power of two and clamped to [`BUCKET_COUNT_MIN`, `BUCKET_COUNT_MAX`]. A
//! bucket is 4 bytes, so the index costs 32 KiB per MiB of `-m` (up to 64 KiB after rounding
//! up), about 3 to 6 % of the item memory; with the smallest items (32-byte chunks) the mean
//! chain length is at most 128 / 32 = 4, with 100-byte items at most 1.3. (A chain link in
//! the item costs 4 bytes per item; an open-addressing table outside the arena would need
//! a slot per item at a load factor below 1, sized for the smallest items: more memory.) The index never
//! grows, so there is no rehash pause.

use crate::arena::{Arena, ItemRef};
use crate::item::{self, field};

pub(crate) const BYTES_PER_BUCKET: usize = 128;
pub(crate) const BUCKET_COUNT_MIN: usize = 1 << 10;
pub(crate) const BUCKET_COUNT_MAX: usize = 1 << 30;

pub(crate) struct Index {
    buckets: Buckets,
    mask: u64,
}

/// The bucket heads, in their own huge-page mapping (see `arena::map_huge`): a lookup reads
/// one bucket at random.
struct Buckets {
    map: memmap2::MmapMut,
}

impl Buckets {
    fn new(bucket_count: usize) -> Buckets {
        let size_bytes = bucket_count * std::mem::size_of::<ItemRef>();
        let mut map = crate::arena::map_huge(size_bytes).expect("mapping the hash index");
        map.fill(0xFF);
        let buckets = Buckets { map };
        assert!(buckets.get(bucket_count - 1).is_nil(), "NIL is all ones");
        buckets
    }

    fn len(&self) -> usize {
        self.map.len() / std::mem::size_of::<ItemRef>()
    }

    #[inline]
    fn get(&self, bucket: usize) -> ItemRef {
        let at = bucket * 4;
        ItemRef(u32::from_ne_bytes(
            self.map[at..at + 4].try_into().expect("4 bytes"),
        ))
    }

    #[inline]
    fn prefetch(&self, bucket: usize) {
        let at = bucket * 4;
        crate::arena::prefetch(&self.map[at..at + 4]);
    }

    #[inline]
    fn set(&mut self, bucket: usize, r: ItemRef) {
        let at = bucket * 4;
        self.map[at..at + 4].copy_from_slice(&r.0.to_ne_bytes());
    }
}

fn hash_next(arena: &Arena, r: ItemRef) -> ItemRef {
    ItemRef(item::get_u32(arena, r, field::HASH_NEXT))
}

fn set_hash_next(arena: &mut Arena, r: ItemRef, to: ItemRef) {
    item::set_u32(arena, r, field::HASH_NEXT, to.0);
}

impl Index {
    pub(crate) fn for_memory_limit(memory_limit_bytes: usize) -> Index {
        let wanted = (memory_limit_bytes / BYTES_PER_BUCKET).next_power_of_two();
        let bucket_count = wanted.clamp(BUCKET_COUNT_MIN, BUCKET_COUNT_MAX);
        Index::with_bucket_count(bucket_count)
    }

    pub(crate) fn with_bucket_count(bucket_count: usize) -> Index {
        assert!(bucket_count.is_power_of_two());
        Index {
            buckets: Buckets::new(bucket_count),
            mask: bucket_count as u64 - 1,
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<ItemRef>()
    }

    fn bucket(&self, hash: u64) -> usize {
        (hash & self.mask) as usize
    }

    /// The item with `key`, or NIL.
    pub(crate) fn find(&self, arena: &Arena, key: &[u8], hash: u64) -> ItemRef {
        let mut r = self.buckets.get(self.bucket(hash));
        while !r.is_nil() {
            if item::key(arena, r) == key {
                return r;
            }
            r = hash_next(arena, r);
        }
        ItemRef::NIL
    }

    /// Starts loading `hash`'s bucket (see `Store::prefetch_bucket`).
    pub(crate) fn prefetch_bucket(&self, hash: u64) {
        self.buckets.prefetch(self.bucket(hash));
    }

    /// Starts loading the header of the first item in `hash`'s bucket, whose bucket should be
    /// in cache by now (see `Store::prefetch_item`).
    pub(crate) fn prefetch_head(&self, arena: &Arena, hash: u64) {
        let r = self.buckets.get(self.bucket(hash));
        if !r.is_nil() {
            arena.prefetch(r.offset_bytes());
        }
    }

    /// Adds `r` (whose key must not be in the index yet) at the head of its bucket.
    pub(crate) fn insert(&mut self, arena: &mut Arena, r: ItemRef, hash: u64) {
        debug_assert!(
            self.find(arena, item::key(arena, r), hash).is_nil(),
            "key indexed twice"
        );
        let bucket = self.bucket(hash);
        set_hash_next(arena, r, self.buckets.get(bucket));
        self.buckets.set(bucket, r);
    }

    /// Removes `r`, which must be in the index under `hash`.
    pub(crate) fn remove(&mut self, arena: &mut Arena, r: ItemRef, hash: u64) {
        let bucket = self.bucket(hash);
        let next = hash_next(arena, r);
        if self.buckets.get(bucket) == r {
            self.buckets.set(bucket, next);
        } else {
            let mut at = self.buckets.get(bucket);
            loop {
                assert!(!at.is_nil(), "item {} is not in bucket {bucket}", r.0);
                let after = hash_next(arena, at);
                if after == r {
                    set_hash_next(arena, at, next);
                    break;
                }
                at = after;
            }
        }
        set_hash_next(arena, r, ItemRef::NIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{write_header, Header, HEADER_SIZE_BYTES};

    fn put(arena: &mut Arena, at: usize, key: &[u8]) -> ItemRef {
        let r = ItemRef::from_offset_bytes(at);
        let header = Header {
            cas: 0,
            hash_next: ItemRef::NIL,
            expiry: 0,
            last_access: 0,
            client_flags: 0,
            value_len: 0,
            freq: 0,
            key_len: key.len() as u8,
            bits: 0,
            slab_class: 0,
        };
        write_header(arena, r, &header);
        arena
            .bytes_mut(at + HEADER_SIZE_BYTES, key.len())
            .copy_from_slice(key);
        r
    }

    #[test]
    fn colliding_hashes_chain_and_unchain() {
        let mut arena = Arena::new(4096).unwrap();
        let mut index = Index::with_bucket_count(1024);
        let a = put(&mut arena, 0, b"alpha");
        let b = put(&mut arena, 128, b"beta");
        let c = put(&mut arena, 256, b"gamma");
        // All three share one hash, hence one bucket.
        for r in [a, b, c] {
            index.insert(&mut arena, r, 42);
        }
        assert_eq!(index.find(&arena, b"alpha", 42), a);
        assert_eq!(index.find(&arena, b"beta", 42), b);
        assert_eq!(index.find(&arena, b"gamma", 42), c);
        assert!(index.find(&arena, b"delta", 42).is_nil());
        assert!(index.find(&arena, b"alpha", 43).is_nil());
        index.remove(&mut arena, b, 42); // middle of the chain
        assert!(index.find(&arena, b"beta", 42).is_nil());
        assert_eq!(index.find(&arena, b"alpha", 42), a);
        index.remove(&mut arena, c, 42); // head of the chain
        assert_eq!(index.find(&arena, b"alpha", 42), a);
        index.remove(&mut arena, a, 42);
        assert!(index.find(&arena, b"alpha", 42).is_nil());
    }

    #[test]
    fn same_bucket_different_hash() {
        let mut arena = Arena::new(4096).unwrap();
        let mut index = Index::with_bucket_count(1024);
        let a = put(&mut arena, 0, b"k");
        index.insert(&mut arena, a, 5);
        let b = put(&mut arena, 64, b"k2");
        index.insert(&mut arena, b, 5 + 1024);
        assert_eq!(index.find(&arena, b"k", 5), a);
        assert_eq!(index.find(&arena, b"k2", 5 + 1024), b);
    }

    #[test]
    #[should_panic(expected = "is not in bucket")]
    fn removing_an_absent_item_panics() {
        let mut arena = Arena::new(4096).unwrap();
        let mut index = Index::with_bucket_count(1024);
        let a = put(&mut arena, 0, b"a");
        let b = put(&mut arena, 64, b"b");
        index.insert(&mut arena, a, 1);
        index.remove(&mut arena, b, 1);
    }

    #[test]
    fn sizing_follows_the_memory_limit() {
        assert_eq!(
            Index::for_memory_limit(0).memory_bytes(),
            BUCKET_COUNT_MIN * 4
        );
        let mib64 = Index::for_memory_limit(64 << 20);
        assert_eq!(mib64.memory_bytes(), (64 << 20) / BYTES_PER_BUCKET * 4);
    }
}
