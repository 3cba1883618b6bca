//! The item header: what every stored item (and every free chunk) starts with.
//!
//! Layout version [`ITEM_LAYOUT_VERSION`]; all integers little-endian; a chunk starts on an
//! 8-byte boundary so `cas` is naturally aligned.
//!
//! ```text
//!  byte  0        8         12        16        20       24          28        32         36  37  38  39  40
//!        +--------+---------+---------+---------+--------+-----------+---------+----------+---+---+---+---+-----+-------+
//!        |  cas   |hash_next|lru_prev |lru_next | expiry |last_access|  flags  |value_len |kl |cls|bit|mgc| key | value |
//!        |  u64   |  u32    |  u32    |  u32    |  u32   |   u32     |  u32    |   u32    |u8 |u8 |u8 |u8 |     |       |
//!        +--------+---------+---------+---------+--------+-----------+---------+----------+---+---+---+---+-----+-------+
//!         8 bytes  4         4         4         4        4           4         4          1   1   1   1  = 40 bytes header
//!
//!  cas          CAS unique (0 when CAS is disabled)
//!  hash_next    next item in the same index bucket ([`ItemRef`], NIL = end); when the chunk
//!               is free: the next free chunk of its class (NIL = end)
//!  lru_prev/next  neighbours in the slab class's LRU list (NIL = end); when the chunk is free,
//!               lru_prev is the previous free chunk of its class (NIL = list head), so that
//!               `reassign.rs` can take any free chunk out of the free list in O(1)
//!  expiry       RelTime at which the item expires, 0 = never
//!  last_access  RelTime of the last store or fetch (memcached `it->time`)
//!  flags        client flags
//!  value_len    value length in bytes (no trailing CRLF is stored)
//!  kl           key length in bytes, 0..=250
//!  cls          slab class of the chunk
//!  bit          ITEM_LINKED | ITEM_FETCHED | ITEM_STALE | ITEM_TOKEN_SENT | ITEM_KEY_BINARY
//!  mgc          magic: ITEM_MAGIC for an item (reserved or linked), FREE_MAGIC for a free chunk,
//!               anything else for memory that holds no chunk (never carved, or a page being
//!               moved to another class)
//! ```
//!
//! Version history: 1 = first layout; 2 = free chunks are doubly linked (lru_prev);
//! 3 = bit ITEM_KEY_BINARY (the key was given in base64).
//!
//! Overhead per item: 40 bytes of header plus the chunk's rounding slack, plus the index
//! (see `index.rs`). Invariant: header + key + value never exceeds the chunk size of `cls`.

use crate::arena::{Arena, ItemRef};

/// Bumped whenever a byte of the layout above changes meaning.
pub const ITEM_LAYOUT_VERSION: u32 = 3;

pub(crate) const HEADER_SIZE_BYTES: usize = 40;
/// Longest key memcached accepts.
pub const KEY_LEN_MAX: usize = 250;

pub(crate) mod field {
    pub(crate) const CAS: usize = 0;
    pub(crate) const HASH_NEXT: usize = 8;
    pub(crate) const LRU_PREV: usize = 12;
    pub(crate) const LRU_NEXT: usize = 16;
    pub(crate) const EXPIRY: usize = 20;
    pub(crate) const LAST_ACCESS: usize = 24;
    pub(crate) const CLIENT_FLAGS: usize = 28;
    pub(crate) const VALUE_LEN: usize = 32;
    pub(crate) const KEY_LEN: usize = 36;
    pub(crate) const SLAB_CLASS: usize = 37;
    pub(crate) const BITS: usize = 38;
    pub(crate) const MAGIC: usize = 39;
}

const _: () = assert!(field::MAGIC + 1 == HEADER_SIZE_BYTES);
const _: () = assert!(HEADER_SIZE_BYTES % 8 == 0);
const _: () = assert!(field::CAS % 8 == 0);
const _: () = assert!(KEY_LEN_MAX <= u8::MAX as usize);

/// The item is in the index and its class's LRU.
pub(crate) const ITEM_LINKED: u8 = 1 << 0;
/// The item has been fetched since it was stored.
pub(crate) const ITEM_FETCHED: u8 = 1 << 1;
/// The item was invalidated by meta `I`; it is served with `X`.
pub(crate) const ITEM_STALE: u8 = 1 << 2;
/// A client holds the recache token for this item.
pub(crate) const ITEM_TOKEN_SENT: u8 = 1 << 3;
/// The key was given in base64 (meta `b`) when the item was stored: meta replies echo it so.
pub(crate) const ITEM_KEY_BINARY: u8 = 1 << 4;
const ITEM_BITS_ALL: u8 =
    ITEM_LINKED | ITEM_FETCHED | ITEM_STALE | ITEM_TOKEN_SENT | ITEM_KEY_BINARY;

pub(crate) const ITEM_MAGIC: u8 = 0xC5;
pub(crate) const FREE_MAGIC: u8 = 0xF5;

/// A decoded header (a copy; write it back with [`write_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) cas: u64,
    pub(crate) hash_next: ItemRef,
    pub(crate) lru_prev: ItemRef,
    pub(crate) lru_next: ItemRef,
    pub(crate) expiry: u32,
    pub(crate) last_access: u32,
    pub(crate) client_flags: u32,
    pub(crate) value_len: u32,
    pub(crate) key_len: u8,
    pub(crate) slab_class: u8,
    pub(crate) bits: u8,
}

impl Header {
    pub(crate) fn total_size_bytes(&self) -> usize {
        total_size_bytes(self.key_len as usize, self.value_len as usize)
    }

    pub(crate) fn has(&self, bit: u8) -> bool {
        self.bits & bit != 0
    }
}

/// Bytes an item with these lengths occupies: header + key + value.
pub(crate) fn total_size_bytes(key_len: usize, value_len: usize) -> usize {
    HEADER_SIZE_BYTES + key_len + value_len
}

fn check(header: &Header) {
    assert!(
        header.key_len as usize <= KEY_LEN_MAX,
        "item key_len {}",
        header.key_len
    );
    assert!(
        header.bits & !ITEM_BITS_ALL == 0,
        "item bits {:#x}",
        header.bits
    );
}

/// Writes a whole item header (and the item magic) at `r`.
pub(crate) fn write_header(arena: &mut Arena, r: ItemRef, header: &Header) {
    check(header);
    let base = r.offset_bytes();
    let bytes = arena.bytes_mut(base, HEADER_SIZE_BYTES);
    bytes[field::CAS..field::CAS + 8].copy_from_slice(&header.cas.to_le_bytes());
    let words = [
        (field::HASH_NEXT, header.hash_next.0),
        (field::LRU_PREV, header.lru_prev.0),
        (field::LRU_NEXT, header.lru_next.0),
        (field::EXPIRY, header.expiry),
        (field::LAST_ACCESS, header.last_access),
        (field::CLIENT_FLAGS, header.client_flags),
        (field::VALUE_LEN, header.value_len),
    ];
    for (at, word) in words {
        bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
    }
    bytes[field::KEY_LEN] = header.key_len;
    bytes[field::SLAB_CLASS] = header.slab_class;
    bytes[field::BITS] = header.bits;
    bytes[field::MAGIC] = ITEM_MAGIC;
    debug_assert_eq!(read_header(arena, r), *header);
}

/// Reads the item header at `r`; panics if the chunk does not hold an item.
pub(crate) fn read_header(arena: &Arena, r: ItemRef) -> Header {
    let base = r.offset_bytes();
    let bytes = arena.bytes(base, HEADER_SIZE_BYTES);
    assert_eq!(
        bytes[field::MAGIC],
        ITEM_MAGIC,
        "chunk {} holds no item",
        r.0
    );
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut cas = [0u8; 8];
    cas.copy_from_slice(&bytes[field::CAS..field::CAS + 8]);
    let header = Header {
        cas: u64::from_le_bytes(cas),
        hash_next: ItemRef(word(field::HASH_NEXT)),
        lru_prev: ItemRef(word(field::LRU_PREV)),
        lru_next: ItemRef(word(field::LRU_NEXT)),
        expiry: word(field::EXPIRY),
        last_access: word(field::LAST_ACCESS),
        client_flags: word(field::CLIENT_FLAGS),
        value_len: word(field::VALUE_LEN),
        key_len: bytes[field::KEY_LEN],
        slab_class: bytes[field::SLAB_CLASS],
        bits: bytes[field::BITS],
    };
    check(&header);
    header
}

pub(crate) fn magic(arena: &Arena, r: ItemRef) -> u8 {
    arena.read_u8(r.offset_bytes() + field::MAGIC)
}

/// One `u32` field of the header at `r` (`at` is a [`field`] offset).
#[inline]
pub(crate) fn get_u32(arena: &Arena, r: ItemRef, at: usize) -> u32 {
    debug_assert_eq!(magic(arena, r), ITEM_MAGIC);
    arena.read_u32(r.offset_bytes() + at)
}

#[inline]
pub(crate) fn set_u32(arena: &mut Arena, r: ItemRef, at: usize, value: u32) {
    debug_assert_eq!(magic(arena, r), ITEM_MAGIC);
    arena.write_u32(r.offset_bytes() + at, value);
}

pub(crate) fn key(arena: &Arena, r: ItemRef) -> &[u8] {
    let key_len = arena.read_u8(r.offset_bytes() + field::KEY_LEN) as usize;
    arena.bytes(r.offset_bytes() + HEADER_SIZE_BYTES, key_len)
}

fn value_range(arena: &Arena, r: ItemRef) -> (usize, usize) {
    let base = r.offset_bytes();
    let key_len = arena.read_u8(base + field::KEY_LEN) as usize;
    let value_len = arena.read_u32(base + field::VALUE_LEN) as usize;
    (base + HEADER_SIZE_BYTES + key_len, value_len)
}

/// Byte offset and length of the value of the item at `r`.
pub(crate) fn value_offset_and_len(arena: &Arena, r: ItemRef) -> (usize, usize) {
    value_range(arena, r)
}

pub(crate) fn value(arena: &Arena, r: ItemRef) -> &[u8] {
    let (at, len) = value_range(arena, r);
    arena.bytes(at, len)
}

pub(crate) fn value_mut(arena: &mut Arena, r: ItemRef) -> &mut [u8] {
    let (at, len) = value_range(arena, r);
    arena.bytes_mut(at, len)
}

/// Marks the chunk at `r` free, between `prev_free` and `next_free` in its class's free list.
pub(crate) fn write_free(
    arena: &mut Arena,
    r: ItemRef,
    slab_class: u8,
    prev_free: ItemRef,
    next_free: ItemRef,
) {
    let base = r.offset_bytes();
    arena.write_u32(base + field::HASH_NEXT, next_free.0);
    arena.write_u32(base + field::LRU_PREV, prev_free.0);
    arena.write_u8(base + field::SLAB_CLASS, slab_class);
    arena.write_u8(base + field::BITS, 0);
    arena.write_u8(base + field::MAGIC, FREE_MAGIC);
}

fn assert_free(arena: &Arena, r: ItemRef) {
    assert_eq!(magic(arena, r), FREE_MAGIC, "chunk {} is not free", r.0);
}

/// The free-list successor of the free chunk at `r`.
pub(crate) fn read_free_next(arena: &Arena, r: ItemRef) -> ItemRef {
    assert_free(arena, r);
    ItemRef(arena.read_u32(r.offset_bytes() + field::HASH_NEXT))
}

/// The free-list predecessor of the free chunk at `r` (NIL at the head).
pub(crate) fn read_free_prev(arena: &Arena, r: ItemRef) -> ItemRef {
    assert_free(arena, r);
    ItemRef(arena.read_u32(r.offset_bytes() + field::LRU_PREV))
}

pub(crate) fn set_free_next(arena: &mut Arena, r: ItemRef, next_free: ItemRef) {
    assert_free(arena, r);
    arena.write_u32(r.offset_bytes() + field::HASH_NEXT, next_free.0);
}

pub(crate) fn set_free_prev(arena: &mut Arena, r: ItemRef, prev_free: ItemRef) {
    assert_free(arena, r);
    arena.write_u32(r.offset_bytes() + field::LRU_PREV, prev_free.0);
}

/// The slab class byte of the chunk at `r` (item or free chunk alike).
pub(crate) fn chunk_class(arena: &Arena, r: ItemRef) -> u8 {
    arena.read_u8(r.offset_bytes() + field::SLAB_CLASS)
}

/// Erases the magic of the chunk at `r`, so that it reads as neither an item nor a free
/// chunk: a stale reference into a page that moved to another class then fails loudly.
pub(crate) fn clear_magic(arena: &mut Arena, r: ItemRef) {
    arena.write_u8(r.offset_bytes() + field::MAGIC, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            cas: u64::MAX - 1,
            hash_next: ItemRef(7),
            lru_prev: ItemRef::NIL,
            lru_next: ItemRef(9),
            expiry: 1234,
            last_access: 99,
            client_flags: u32::MAX,
            value_len: 1 << 20,
            key_len: 250,
            slab_class: 41,
            bits: ITEM_LINKED | ITEM_STALE | ITEM_KEY_BINARY,
        }
    }

    #[test]
    fn header_round_trips() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(64);
        let header = sample();
        write_header(&mut arena, r, &header);
        assert_eq!(read_header(&arena, r), header);
        assert_eq!(get_u32(&arena, r, field::EXPIRY), 1234);
        set_u32(&mut arena, r, field::EXPIRY, 5);
        assert_eq!(read_header(&arena, r).expiry, 5);
        assert_eq!(header.total_size_bytes(), 40 + 250 + (1 << 20));
    }

    #[test]
    fn key_and_value_follow_the_header() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(0);
        let header = Header {
            key_len: 3,
            value_len: 4,
            ..sample()
        };
        write_header(&mut arena, r, &header);
        arena
            .bytes_mut(HEADER_SIZE_BYTES, 3)
            .copy_from_slice(b"key");
        value_mut(&mut arena, r).copy_from_slice(b"vvvv");
        assert_eq!(key(&arena, r), b"key");
        assert_eq!(value(&arena, r), b"vvvv");
    }

    #[test]
    #[should_panic(expected = "holds no item")]
    fn free_chunk_is_not_read_as_item() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(128);
        write_free(&mut arena, r, 3, ItemRef(2), ItemRef::NIL);
        assert_eq!(read_free_next(&arena, r), ItemRef::NIL);
        assert_eq!(read_free_prev(&arena, r), ItemRef(2));
        assert_eq!(chunk_class(&arena, r), 3);
        let _ = read_header(&arena, r);
    }

    #[test]
    #[should_panic(expected = "holds no item")]
    fn zeroed_memory_is_not_an_item() {
        let arena = Arena::new(4096).unwrap();
        let _ = read_header(&arena, ItemRef(0));
    }
}
