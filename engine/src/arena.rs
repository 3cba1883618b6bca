//! The memory arena: one anonymous mapping, addressed by offsets, never by pointers.
//!
//! Goals: a single mapping sized once from `memory_limit_bytes`, so that the limit is hard by
//! construction, and offsets (not pointers) everywhere, so that the same layout can later be
//! backed by a file. Non-goals: growing, shrinking, or handing memory back to the OS.
//!
//! ```text
//!   offset 0                                                          size_bytes
//!   +-------------+-------------+-------------+-----+-------------+
//!   |   page 0    |   page 1    |   page 2    | ... | page n-1    |   n = limit / page size
//!   +-------------+-------------+-------------+-----+-------------+
//!    each page is handed to one slab class and cut into that class's chunks
//! ```
//!
//! Invariants: every chunk starts on an 8-byte boundary, so an item is named by an
//! [`ItemRef`], its byte offset divided by 8, which lets a `u32` address 32 GiB.

use memmap2::{Advice, MmapMut};

/// Alignment of every chunk, and the unit of an [`ItemRef`].
pub(crate) const ARENA_ALIGN_BYTES: usize = 8;

/// Largest arena an [`ItemRef`] can address (the last unit is reserved for [`ItemRef::NIL`]).
pub(crate) const ARENA_SIZE_MAX_BYTES: usize = (u32::MAX as usize) * ARENA_ALIGN_BYTES;

/// An item's (or free chunk's) position: byte offset / [`ARENA_ALIGN_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ItemRef(pub(crate) u32);

impl ItemRef {
    /// "No item": the end of a hash chain, a page ring or a free list.
    pub(crate) const NIL: ItemRef = ItemRef(u32::MAX);

    pub(crate) fn from_offset_bytes(offset_bytes: usize) -> ItemRef {
        assert!(
            offset_bytes % ARENA_ALIGN_BYTES == 0,
            "chunk offset {offset_bytes} unaligned"
        );
        assert!(offset_bytes < ARENA_SIZE_MAX_BYTES);
        ItemRef((offset_bytes / ARENA_ALIGN_BYTES) as u32)
    }

    pub(crate) fn is_nil(self) -> bool {
        self == ItemRef::NIL
    }

    pub(crate) fn offset_bytes(self) -> usize {
        debug_assert!(!self.is_nil());
        self.0 as usize * ARENA_ALIGN_BYTES
    }
}

/// Anonymous memory that asks for transparent huge pages: items and index buckets are read
/// at random, and with 4 KiB pages nearly every lookup misses the TLB (twice as dear under a
/// hypervisor's nested paging). Hosts with THP `never` just keep 4 KiB pages.
pub(crate) fn map_huge(size_bytes: usize) -> std::io::Result<MmapMut> {
    let map = MmapMut::map_anon(size_bytes)?;
    // Refused only where THP is compiled out; the memory is usable either way.
    let _ = map.advise(Advice::HugePage);
    Ok(map)
}

/// Asks the CPU to start loading the cache line holding `bytes[0]`, so that a read of it a
/// little later does not wait for memory. A hint: it changes no result.
#[inline]
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(first) = bytes.first() {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetch is a hint that never faults and reads nothing the program sees; the
        // address is that of a live byte (SSE, which it needs, is baseline on x86_64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((first as *const u8).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// The mapped memory. All access is bounds-checked slicing; no raw pointers.
pub(crate) struct Arena {
    map: MmapMut,
}

impl Arena {
    pub(crate) fn new(size_bytes: usize) -> std::io::Result<Arena> {
        assert!(size_bytes > 0 && size_bytes <= ARENA_SIZE_MAX_BYTES);
        assert!(size_bytes % ARENA_ALIGN_BYTES == 0);
        let map = map_huge(size_bytes)?;
        assert_eq!(map.len(), size_bytes);
        Ok(Arena { map })
    }

    pub(crate) fn size_bytes(&self) -> usize {
        self.map.len()
    }

    #[inline]
    pub(crate) fn bytes(&self, offset_bytes: usize, len_bytes: usize) -> &[u8] {
        &self.map[offset_bytes..offset_bytes + len_bytes]
    }

    #[inline]
    pub(crate) fn bytes_mut(&mut self, offset_bytes: usize, len_bytes: usize) -> &mut [u8] {
        &mut self.map[offset_bytes..offset_bytes + len_bytes]
    }

    /// Copies `len_bytes` from `src_bytes` to `dst_bytes` (ranges may overlap).
    pub(crate) fn copy_within(&mut self, src_bytes: usize, len_bytes: usize, dst_bytes: usize) {
        self.map
            .copy_within(src_bytes..src_bytes + len_bytes, dst_bytes);
    }

    /// See [`prefetch`].
    #[inline]
    pub(crate) fn prefetch(&self, offset_bytes: usize) {
        prefetch(&self.map[offset_bytes..offset_bytes + 1]);
    }

    #[inline]
    pub(crate) fn read_u8(&self, offset_bytes: usize) -> u8 {
        self.map[offset_bytes]
    }

    #[inline]
    pub(crate) fn write_u8(&mut self, offset_bytes: usize, value: u8) {
        self.map[offset_bytes] = value;
    }

    #[inline]
    pub(crate) fn read_u32(&self, offset_bytes: usize) -> u32 {
        let mut word = [0u8; 4];
        word.copy_from_slice(&self.map[offset_bytes..offset_bytes + 4]);
        u32::from_le_bytes(word)
    }

    #[inline]
    pub(crate) fn write_u32(&mut self, offset_bytes: usize, value: u32) {
        self.map[offset_bytes..offset_bytes + 4].copy_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_ref_round_trips_offsets() {
        let r = ItemRef::from_offset_bytes(4096);
        assert_eq!(r.0, 512);
        assert_eq!(r.offset_bytes(), 4096);
        assert!(!r.is_nil());
        assert!(ItemRef::NIL.is_nil());
    }

    #[test]
    #[should_panic]
    fn unaligned_offset_is_rejected() {
        let _ = ItemRef::from_offset_bytes(12);
    }

    #[test]
    fn words_round_trip_little_endian() {
        let mut arena = Arena::new(4096).unwrap();
        arena.write_u32(16, 0xdead_beef);
        arena.write_u8(20, 7);
        assert_eq!(arena.read_u32(16), 0xdead_beef);
        assert_eq!(arena.read_u8(20), 7);
        assert_eq!(arena.bytes(16, 1), &[0xef]);
        arena.copy_within(16, 8, 32);
        assert_eq!(arena.read_u32(32), 0xdead_beef);
        assert_eq!(arena.read_u8(36), 7);
    }
}
