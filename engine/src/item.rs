//! The item header: what every stored item (and every free chunk) starts with.
//!
//! Layout version [`ITEM_LAYOUT_VERSION`]; all integers little-endian, read and written
//! through byte slices (no alignment needed; chunks start on 8-byte boundaries anyway).
//!
//! ```text
//!  byte 0        8          12        16          20             24  25  26          26|30
//!       +--------+----------+---------+-----------+--------------+---+---+- - - - - -+-----+-------+
//!       |  cas   |hash_next | expiry  |last_access|fq| value_len |kl |bit|client flags| key | value |
//!       |  u64   |  u32     |  u32    |   u32     |2b|  30 bits  |u8 |u8 | u32 if CFL |     |       |
//!       +--------+----------+---------+-----------+--------------+---+---+- - - - - -+-----+-------+
//!        8        4          4         4           4              1   1   0 or 4     = 26 or 30 bytes
//!
//!  cas          CAS unique (0 when CAS is disabled)
//!  hash_next    next item in the same index bucket ([`ItemRef`], NIL = end)
//!  expiry       RelTime at which the item expires, 0 = never
//!  last_access  RelTime of the last store or fetch (memcached `it->time`)
//!  fq           S3-FIFO access frequency, 0..=3 (top 2 bits of the word; see `evict.rs`)
//!  value_len    value length in bytes (no trailing CRLF is stored), < 2^30
//!  kl           key length in bytes, 0..=250 for an item; [`KL_FREE`] marks a free chunk and
//!               [`KL_NONE`] memory that holds no chunk (a page being moved, never carved)
//!  bit          ITEM_LINKED | ITEM_FETCHED | ITEM_STALE | ITEM_TOKEN_SENT | ITEM_KEY_BINARY
//!               | ITEM_CFLAGS | ITEM_SMALL
//!  client flags present only when ITEM_CFLAGS is set (memcached does the same: flags 0,
//!               the common case, cost nothing)
//!
//!  free chunk:  hash_next = next free chunk of the class, expiry word = previous one (NIL at
//!               the head), kl = KL_FREE; nothing else is meaningful
//! ```
//!
//! What is not in the header, and where it went (version 3 had 40 bytes):
//! - the slab class: one byte per page in the page table (`slab.rs`), 1 MiB per entry;
//! - the LRU links (8 bytes): eviction is S3-FIFO over the chunks of a class, walked in
//!   address order by clock hands (`evict.rs`), so no per-item links are needed;
//! - the magic byte: `kl` values above [`KEY_LEN_MAX`] mark free and dead chunks;
//! - client flags when they are 0.
//!
//! Version history: 1 = first layout; 2 = free chunks are doubly linked; 3 = bit
//! ITEM_KEY_BINARY; 4 = compact 26-byte header: no LRU links, class and magic gone,
//! optional client flags, S3-FIFO frequency and small-queue bit.
//!
//! Overhead per item: 26 bytes of header (30 with non-zero client flags) plus the chunk's
//! rounding slack (below 8 bytes for items up to 512 bytes, see `slab.rs`), plus the index
//! (4 bytes per bucket, see `index.rs`). Invariant: header + key + value never exceeds the
//! chunk size of the item's class.

use crate::arena::{Arena, ItemRef};

/// Bumped whenever a byte of the layout above changes meaning.
pub const ITEM_LAYOUT_VERSION: u32 = 4;

/// Fixed part of the header; client flags add [`CLIENT_FLAGS_SIZE_BYTES`] when non-zero.
pub(crate) const HEADER_SIZE_BYTES: usize = 26;
pub(crate) const CLIENT_FLAGS_SIZE_BYTES: usize = 4;
/// Longest key memcached accepts.
pub const KEY_LEN_MAX: usize = 250;
/// Largest value length the header can hold (30 bits).
pub(crate) const VALUE_LEN_MAX: usize = (1 << 30) - 1;
/// Highest S3-FIFO frequency (2 bits).
pub(crate) const FREQ_MAX: u8 = 3;

/// `kl` of a free chunk.
pub(crate) const KL_FREE: u8 = 0xFF;
/// `kl` of memory that holds no chunk.
pub(crate) const KL_NONE: u8 = 0xFE;

pub(crate) mod field {
    pub(crate) const CAS: usize = 0;
    pub(crate) const HASH_NEXT: usize = 8;
    pub(crate) const EXPIRY: usize = 12;
    pub(crate) const LAST_ACCESS: usize = 16;
    pub(crate) const VALUE_LEN: usize = 20;
    pub(crate) const KEY_LEN: usize = 24;
    pub(crate) const BITS: usize = 25;
    pub(crate) const CLIENT_FLAGS: usize = 26;
    /// A free chunk's back link reuses the expiry word.
    pub(crate) const FREE_PREV: usize = 12;
}

const _: () = assert!(field::BITS + 1 == HEADER_SIZE_BYTES);
const _: () = assert!(field::CLIENT_FLAGS == HEADER_SIZE_BYTES);
const _: () = assert!(KEY_LEN_MAX < KL_NONE as usize);
const _: () = assert!(crate::ITEM_SIZE_MAX_SUPPORTED_BYTES <= VALUE_LEN_MAX + 1);

/// The item is in the index and counted by its class's S3-FIFO queues.
pub(crate) const ITEM_LINKED: u8 = 1 << 0;
/// The item has been fetched since it was stored.
pub(crate) const ITEM_FETCHED: u8 = 1 << 1;
/// The item was invalidated by meta `I`; it is served with `X`.
pub(crate) const ITEM_STALE: u8 = 1 << 2;
/// A client holds the recache token for this item.
pub(crate) const ITEM_TOKEN_SENT: u8 = 1 << 3;
/// The key was given in base64 (meta `b`) when the item was stored: meta replies echo it so.
pub(crate) const ITEM_KEY_BINARY: u8 = 1 << 4;
/// Four bytes of client flags follow the fixed header.
pub(crate) const ITEM_CFLAGS: u8 = 1 << 5;
/// The item is in its class's S3-FIFO small queue (else in the main queue).
pub(crate) const ITEM_SMALL: u8 = 1 << 6;
const ITEM_BITS_ALL: u8 = ITEM_LINKED
    | ITEM_FETCHED
    | ITEM_STALE
    | ITEM_TOKEN_SENT
    | ITEM_KEY_BINARY
    | ITEM_CFLAGS
    | ITEM_SMALL;

/// A decoded header (a copy; write it back with [`write_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) cas: u64,
    pub(crate) hash_next: ItemRef,
    pub(crate) expiry: u32,
    pub(crate) last_access: u32,
    pub(crate) client_flags: u32,
    pub(crate) value_len: u32,
    pub(crate) freq: u8,
    pub(crate) key_len: u8,
    pub(crate) bits: u8,
    /// Not stored in the header: filled in from the page table by `Store::header`.
    pub(crate) slab_class: u8,
}

impl Header {
    pub(crate) fn total_size_bytes(&self) -> usize {
        total_size_bytes(
            self.key_len as usize,
            self.value_len as usize,
            self.has(ITEM_CFLAGS),
        )
    }

    pub(crate) fn has(&self, bit: u8) -> bool {
        self.bits & bit != 0
    }
}

/// Bytes an item with these lengths occupies: header + key + value.
pub(crate) fn total_size_bytes(key_len: usize, value_len: usize, has_client_flags: bool) -> usize {
    let flags_size_bytes = if has_client_flags {
        CLIENT_FLAGS_SIZE_BYTES
    } else {
        0
    };
    HEADER_SIZE_BYTES + flags_size_bytes + key_len + value_len
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
    assert!(header.value_len as usize <= VALUE_LEN_MAX);
    assert!(header.freq <= FREQ_MAX);
    assert!(
        header.has(ITEM_CFLAGS) || header.client_flags == 0,
        "client flags without room"
    );
}

/// Writes a whole item header at `r` (the class is not stored).
pub(crate) fn write_header(arena: &mut Arena, r: ItemRef, header: &Header) {
    check(header);
    let base = r.offset_bytes();
    let size_bytes = if header.has(ITEM_CFLAGS) {
        HEADER_SIZE_BYTES + CLIENT_FLAGS_SIZE_BYTES
    } else {
        HEADER_SIZE_BYTES
    };
    let bytes = arena.bytes_mut(base, size_bytes);
    bytes[field::CAS..field::CAS + 8].copy_from_slice(&header.cas.to_le_bytes());
    let len_word = header.value_len | (u32::from(header.freq) << 30);
    let words = [
        (field::HASH_NEXT, header.hash_next.0),
        (field::EXPIRY, header.expiry),
        (field::LAST_ACCESS, header.last_access),
        (field::VALUE_LEN, len_word),
    ];
    for (at, word) in words {
        bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
    }
    if header.has(ITEM_CFLAGS) {
        let at = field::CLIENT_FLAGS;
        bytes[at..at + 4].copy_from_slice(&header.client_flags.to_le_bytes());
    }
    bytes[field::KEY_LEN] = header.key_len;
    bytes[field::BITS] = header.bits;
    debug_assert_eq!(
        read_header(arena, r),
        Header {
            slab_class: 0,
            ..*header
        }
    );
}

/// Reads the item header at `r` (`slab_class` left 0); panics if the chunk holds no item.
pub(crate) fn read_header(arena: &Arena, r: ItemRef) -> Header {
    let base = r.offset_bytes();
    let bytes = arena.bytes(base, HEADER_SIZE_BYTES);
    let key_len = bytes[field::KEY_LEN];
    assert!(
        key_len as usize <= KEY_LEN_MAX,
        "chunk {} holds no item (kl {key_len:#x})",
        r.0
    );
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut cas = [0u8; 8];
    cas.copy_from_slice(&bytes[field::CAS..field::CAS + 8]);
    let bits = bytes[field::BITS];
    let len_word = word(field::VALUE_LEN);
    let client_flags = if bits & ITEM_CFLAGS != 0 {
        arena.read_u32(base + field::CLIENT_FLAGS)
    } else {
        0
    };
    let header = Header {
        cas: u64::from_le_bytes(cas),
        hash_next: ItemRef(word(field::HASH_NEXT)),
        expiry: word(field::EXPIRY),
        last_access: word(field::LAST_ACCESS),
        client_flags,
        value_len: len_word & VALUE_LEN_MAX as u32,
        freq: (len_word >> 30) as u8,
        key_len,
        bits,
        slab_class: 0,
    };
    check(&header);
    header
}

/// The `kl` byte of the chunk at `r`: a key length for an item, [`KL_FREE`] or [`KL_NONE`].
pub(crate) fn chunk_state(arena: &Arena, r: ItemRef) -> u8 {
    arena.read_u8(r.offset_bytes() + field::KEY_LEN)
}

pub(crate) fn is_item(arena: &Arena, r: ItemRef) -> bool {
    chunk_state(arena, r) as usize <= KEY_LEN_MAX
}

/// One `u32` field of the header at `r` (`at` is a [`field`] offset).
#[inline]
pub(crate) fn get_u32(arena: &Arena, r: ItemRef, at: usize) -> u32 {
    debug_assert!(is_item(arena, r));
    arena.read_u32(r.offset_bytes() + at)
}

#[inline]
pub(crate) fn set_u32(arena: &mut Arena, r: ItemRef, at: usize, value: u32) {
    debug_assert!(is_item(arena, r));
    arena.write_u32(r.offset_bytes() + at, value);
}

fn key_offset(arena: &Arena, base: usize) -> usize {
    if arena.read_u8(base + field::BITS) & ITEM_CFLAGS != 0 {
        base + HEADER_SIZE_BYTES + CLIENT_FLAGS_SIZE_BYTES
    } else {
        base + HEADER_SIZE_BYTES
    }
}

/// Byte offset of the key of the item at `r` (the key follows the header).
pub(crate) fn key_offset_bytes(arena: &Arena, r: ItemRef) -> usize {
    key_offset(arena, r.offset_bytes())
}

pub(crate) fn key(arena: &Arena, r: ItemRef) -> &[u8] {
    let base = r.offset_bytes();
    let key_len = arena.read_u8(base + field::KEY_LEN) as usize;
    debug_assert!(key_len <= KEY_LEN_MAX);
    arena.bytes(key_offset(arena, base), key_len)
}

fn value_range(arena: &Arena, r: ItemRef) -> (usize, usize) {
    let base = r.offset_bytes();
    let key_len = arena.read_u8(base + field::KEY_LEN) as usize;
    debug_assert!(key_len <= KEY_LEN_MAX);
    let value_len = (arena.read_u32(base + field::VALUE_LEN) as usize) & VALUE_LEN_MAX;
    (key_offset(arena, base) + key_len, value_len)
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

/// The S3-FIFO frequency of the item at `r`.
#[cfg(test)]
pub(crate) fn freq(arena: &Arena, r: ItemRef) -> u8 {
    (get_u32(arena, r, field::VALUE_LEN) >> 30) as u8
}

#[inline]
pub(crate) fn set_freq(arena: &mut Arena, r: ItemRef, freq: u8) {
    assert!(freq <= FREQ_MAX);
    let word = get_u32(arena, r, field::VALUE_LEN);
    let word = (word & VALUE_LEN_MAX as u32) | (u32::from(freq) << 30);
    set_u32(arena, r, field::VALUE_LEN, word);
}

#[inline]
pub(crate) fn bits(arena: &Arena, r: ItemRef) -> u8 {
    debug_assert!(is_item(arena, r));
    arena.read_u8(r.offset_bytes() + field::BITS)
}

#[inline]
pub(crate) fn set_bits(arena: &mut Arena, r: ItemRef, bits: u8) {
    debug_assert!(is_item(arena, r));
    assert!(bits & !ITEM_BITS_ALL == 0);
    arena.write_u8(r.offset_bytes() + field::BITS, bits);
}

/// Marks the chunk at `r` free, between `prev_free` and `next_free` in its class's free list.
pub(crate) fn write_free(arena: &mut Arena, r: ItemRef, prev_free: ItemRef, next_free: ItemRef) {
    let base = r.offset_bytes();
    arena.write_u32(base + field::HASH_NEXT, next_free.0);
    arena.write_u32(base + field::FREE_PREV, prev_free.0);
    arena.write_u8(base + field::BITS, 0);
    arena.write_u8(base + field::KEY_LEN, KL_FREE);
}

fn assert_free(arena: &Arena, r: ItemRef) {
    assert_eq!(chunk_state(arena, r), KL_FREE, "chunk {} is not free", r.0);
}

/// The free-list successor of the free chunk at `r`.
pub(crate) fn read_free_next(arena: &Arena, r: ItemRef) -> ItemRef {
    assert_free(arena, r);
    ItemRef(arena.read_u32(r.offset_bytes() + field::HASH_NEXT))
}

/// The free-list predecessor of the free chunk at `r` (NIL at the head).
pub(crate) fn read_free_prev(arena: &Arena, r: ItemRef) -> ItemRef {
    assert_free(arena, r);
    ItemRef(arena.read_u32(r.offset_bytes() + field::FREE_PREV))
}

pub(crate) fn set_free_next(arena: &mut Arena, r: ItemRef, next_free: ItemRef) {
    assert_free(arena, r);
    arena.write_u32(r.offset_bytes() + field::HASH_NEXT, next_free.0);
}

pub(crate) fn set_free_prev(arena: &mut Arena, r: ItemRef, prev_free: ItemRef) {
    assert_free(arena, r);
    arena.write_u32(r.offset_bytes() + field::FREE_PREV, prev_free.0);
}

/// Marks the chunk at `r` as holding nothing, so that it reads as neither an item nor a free
/// chunk: a stale reference into a page that moved to another class then fails loudly.
pub(crate) fn clear_chunk(arena: &mut Arena, r: ItemRef) {
    arena.write_u8(r.offset_bytes() + field::KEY_LEN, KL_NONE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            cas: u64::MAX - 1,
            hash_next: ItemRef(7),
            expiry: 1234,
            last_access: 99,
            client_flags: u32::MAX,
            value_len: 1 << 20,
            freq: 2,
            key_len: 250,
            bits: ITEM_LINKED | ITEM_STALE | ITEM_KEY_BINARY | ITEM_CFLAGS,
            slab_class: 0,
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
        assert_eq!(freq(&arena, r), 2);
        set_freq(&mut arena, r, 3);
        assert_eq!(read_header(&arena, r).value_len, 1 << 20);
        assert_eq!(read_header(&arena, r).freq, 3);
        assert_eq!(header.total_size_bytes(), 30 + 250 + (1 << 20));
    }

    #[test]
    fn flags_take_room_only_when_set() {
        assert_eq!(total_size_bytes(12, 64, false), 102);
        assert_eq!(total_size_bytes(12, 64, true), 106);
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(0);
        let header = Header {
            key_len: 3,
            value_len: 4,
            client_flags: 0,
            bits: ITEM_LINKED,
            ..sample()
        };
        write_header(&mut arena, r, &header);
        arena
            .bytes_mut(HEADER_SIZE_BYTES, 3)
            .copy_from_slice(b"key");
        value_mut(&mut arena, r).copy_from_slice(b"vvvv");
        assert_eq!(key(&arena, r), b"key");
        assert_eq!(value(&arena, r), b"vvvv");
        assert_eq!(value_offset_and_len(&arena, r), (29, 4));
    }

    #[test]
    fn key_and_value_follow_the_flags() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(8);
        let header = Header {
            key_len: 3,
            value_len: 4,
            ..sample()
        };
        write_header(&mut arena, r, &header);
        let key_at = key_offset_bytes(&arena, r);
        assert_eq!(key_at, 8 + 30);
        arena.bytes_mut(key_at, 3).copy_from_slice(b"abc");
        value_mut(&mut arena, r).copy_from_slice(b"wxyz");
        assert_eq!(key(&arena, r), b"abc");
        assert_eq!(value(&arena, r), b"wxyz");
        assert_eq!(read_header(&arena, r).client_flags, u32::MAX);
    }

    #[test]
    #[should_panic(expected = "holds no item")]
    fn free_chunk_is_not_read_as_item() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef::from_offset_bytes(128);
        write_free(&mut arena, r, ItemRef(2), ItemRef::NIL);
        assert_eq!(read_free_next(&arena, r), ItemRef::NIL);
        assert_eq!(read_free_prev(&arena, r), ItemRef(2));
        assert!(!is_item(&arena, r));
        let _ = read_header(&arena, r);
    }

    #[test]
    #[should_panic(expected = "holds no item")]
    fn cleared_chunk_is_not_an_item() {
        let mut arena = Arena::new(4096).unwrap();
        let r = ItemRef(0);
        write_header(&mut arena, r, &sample());
        clear_chunk(&mut arena, r);
        let _ = read_header(&arena, r);
    }
}
