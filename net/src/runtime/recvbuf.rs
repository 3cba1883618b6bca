//! Provided receive buffers: a ring of fixed-size buffers that the kernel fills, so each
//! connection keeps one multishot Recv armed instead of arming a Recv (and a poll on its
//! socket) again after every message. Shared by the server's shards and the loadgen's
//! workers; each owns one ring.
//!
//! ```text
//!   ring (page-aligned, shared with the kernel), RING_LAYOUT_VERSION 1:
//!     [ Buf { addr u64, len u32, bid u16, resv u16 } ; entries ]   16 bytes each
//!       the `resv` of entry 0 is the tail: the kernel takes buffers from its own head up
//!       to the tail we publish
//!   bufs: [ buffer 0 | buffer 1 | ... ]   entries × buf_bytes; buffer `bid` at bid × buf_bytes
//! ```
//!
//! Invariants: a buffer is either in the ring (the kernel may fill it) or named by exactly one
//! completion being handled, whose bytes are copied out before the buffer is given back;
//! `entries` is a power of two of at most [`ENTRIES_MAX`]; the ring and the buffers outlive
//! every Recv that may select from them (the worker drops its io_uring first, and waits for
//! every Recv to end before that).

use std::alloc::{self, Layout};
use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;

/// Version of the ring layout above (the kernel's `struct io_uring_buf`).
pub const RING_LAYOUT_VERSION: u32 = 1;
/// The kernel accepts at most this many entries in a buffer ring.
pub const ENTRIES_MAX: usize = 32 * 1024;
const PAGE_BYTES: usize = 4096;

/// The kernel's `struct io_uring_buf`.
#[repr(C)]
struct Buf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}
const _: () = assert!(std::mem::size_of::<Buf>() == 16);

pub struct RecvBufs {
    ring: NonNull<Buf>,
    ring_layout: Layout,
    bufs: Box<[u8]>,
    /// Bytes per buffer: one completion carries at most this much.
    buf_bytes: usize,
    entries: u16,
    /// Entries given back so far (wrapping); published to the kernel by [`Self::publish`].
    tail: u16,
}

impl RecvBufs {
    /// `entries` buffers (a power of two, at most [`ENTRIES_MAX`]) of `buf_bytes` each, all
    /// in the ring.
    pub fn new(entries: usize, buf_bytes: usize) -> RecvBufs {
        assert!(entries.is_power_of_two() && entries <= ENTRIES_MAX);
        assert!(buf_bytes > 0 && buf_bytes <= u32::MAX as usize);
        let ring_layout = Layout::from_size_align(entries * std::mem::size_of::<Buf>(), PAGE_BYTES)
            .expect("ring layout");
        // SAFETY: the layout has a non-zero size (entries >= 1).
        let raw = unsafe { alloc::alloc_zeroed(ring_layout) };
        let Some(ring) = NonNull::new(raw.cast::<Buf>()) else {
            alloc::handle_alloc_error(ring_layout);
        };
        let mut recv_bufs = RecvBufs {
            ring,
            ring_layout,
            bufs: vec![0u8; entries * buf_bytes].into_boxed_slice(),
            buf_bytes,
            entries: u16::try_from(entries).expect("at most 32768 entries"),
            tail: 0,
        };
        for bid in 0..entries {
            recv_bufs.give_back(bid as u16);
        }
        recv_bufs.publish();
        recv_bufs
    }

    /// Registers the ring with `submitter`'s io_uring as buffer group `group`.
    ///
    /// # Safety
    ///
    /// `self` must outlive that io_uring, or at least every operation of it that selects a
    /// buffer from `group`: the kernel reads the ring and writes the buffers until then.
    pub unsafe fn register(&self, submitter: &Submitter<'_>, group: u16) -> io::Result<()> {
        // SAFETY: the ring is `entries` valid entries, page-aligned, and lives as long as the
        // caller promised.
        unsafe {
            submitter.register_buf_ring_with_flags(
                self.ring.as_ptr() as u64,
                self.entries,
                group,
                0,
            )
        }
    }

    /// The first `len_bytes` bytes of buffer `bid`, which a completion just named.
    pub fn filled(&self, bid: u16, len_bytes: usize) -> &[u8] {
        assert!(bid < self.entries && len_bytes <= self.buf_bytes);
        let start = usize::from(bid) * self.buf_bytes;
        &self.bufs[start..start + len_bytes]
    }

    /// Puts buffer `bid` back in the ring (visible to the kernel after [`Self::publish`]).
    pub fn give_back(&mut self, bid: u16) {
        assert!(bid < self.entries);
        let index = usize::from(self.tail & (self.entries - 1));
        let addr = self.bufs.as_mut_ptr() as u64 + (usize::from(bid) * self.buf_bytes) as u64;
        // SAFETY: `index` < entries, so the entry is inside the ring. It is past the tail the
        // kernel knows, so the kernel does not read it until `publish`; the fields are written
        // through raw pointers, never a reference, because entry 0's `resv` (the tail) may be
        // read by the kernel at any time and is not touched here.
        unsafe {
            let entry = self.ring.as_ptr().add(index);
            ptr::addr_of_mut!((*entry).addr).write(addr);
            ptr::addr_of_mut!((*entry).len).write(self.buf_bytes as u32);
            ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Hands the buffers given back so far to the kernel.
    pub fn publish(&self) {
        // SAFETY: entry 0's `resv` is the ring's tail, a u16 the kernel reads with acquire
        // ordering; the ring is valid and aligned (page-aligned, so the u16 is aligned too).
        let tail = unsafe { AtomicU16::from_ptr(ptr::addr_of_mut!((*self.ring.as_ptr()).resv)) };
        tail.store(self.tail, Ordering::Release);
    }
}

impl Drop for RecvBufs {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ring.as_ptr().cast(), self.ring_layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_go_round_the_ring() {
        let mut bufs = RecvBufs::new(4, 64);
        assert_eq!(bufs.tail, 4);
        bufs.give_back(2);
        bufs.publish();
        // SAFETY: the test owns the ring and no kernel shares it.
        let entry = unsafe { &*bufs.ring.as_ptr() };
        assert_eq!(entry.bid, 2);
        assert_eq!(entry.resv, 5);
        assert_eq!(bufs.filled(3, 64).len(), 64);
    }
}
