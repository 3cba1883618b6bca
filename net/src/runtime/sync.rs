//! The synchronisation primitives cross-thread structures are written against, so that the same
//! code runs on real threads and under the loom model checker.
//!
//! Under `--cfg loom` these are loom's types, which explore every interleaving and memory-order
//! outcome a model allows; otherwise they are the std types (zero cost). Code that shares memory
//! between shards (the cross-core [`channel`](super::channel)) imports from here, never from
//! `std::sync` directly.
//!
//! `UnsafeCell` differs between the two: loom's hands out raw pointers only inside a closure
//! (`with` / `with_mut`) so it can check every access against the happens-before order. The std
//! stand-in below has the same API and compiles to a plain pointer access.

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// `std::cell::UnsafeCell` with loom's closure-based API.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading; the caller's protocol rules out concurrent writes.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing; the caller's protocol rules out any concurrent access.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
