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
pub(crate) use loom::sync::atomic::{fence, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex};
#[cfg(loom)]
pub(crate) use loom_rmw_atomicity::AtomicBool;

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

/// loom 0.7.3 does not enforce RMW atomicity against later plain stores (tokio-rs/loom#254,
/// #389; fix proposed in #391, unreleased), so under loom every `AtomicBool` store is made a swap.
///
/// The bug: loom keeps an atomic's modification order (mo) as a partial order of vector clocks.
/// When thread A's RMW reads store P and writes W, and thread B (sequenced after P, but not yet
/// synchronised with W) then plain-stores X, loom leaves W and X unordered, although in C++/Rust
/// W immediately follows P in mo and so X must follow W. A later load that must return X "or
/// something newer" may then return W. In the channel that is a false lost wake-up: B's
/// `parked.store(true)` (or `producer_waiting.store(true)`) is seen through a SeqCst fence, yet A's
/// load returns the `false` its own earlier `swap` wrote before that store.
///
/// The workaround: `store(v, o)` becomes `swap(v, o')`, where `o'` keeps the release half of `o`
/// and drops SeqCst (loom models a SeqCst store as Release anyway; a SeqCst or Acquire swap would
/// add an acquire edge the real store does not have). Every write of such a flag is then an RMW;
/// loom's RMWs read the mo-maximal store, so its mo stays a chain and correct. Faithfulness: an
/// RMW's write may take any mo position a plain store may, and a Relaxed/Release RMW whose
/// result is dropped adds no happens-before edge of its own; the only difference is that it
/// continues a release sequence, so whoever acquires its value also synchronises with the
/// store it overwrote. For the channel's flags that store is either the owner's own or the one
/// waker's, and the only thread that acquires them is that waker: no edge the models can use.
/// With several wakers per parker (three or more shards) a model would have to re-check this.
#[cfg(loom)]
mod loom_rmw_atomicity {
    use loom::sync::atomic::Ordering;

    #[derive(Debug)]
    pub(crate) struct AtomicBool(loom::sync::atomic::AtomicBool);

    impl AtomicBool {
        pub(crate) fn new(value: bool) -> AtomicBool {
            AtomicBool(loom::sync::atomic::AtomicBool::new(value))
        }

        pub(crate) fn load(&self, order: Ordering) -> bool {
            self.0.load(order)
        }

        /// A store, written as a swap whose result is dropped (see the module doc above).
        pub(crate) fn store(&self, value: bool, order: Ordering) {
            let swap_order = match order {
                Ordering::Relaxed => Ordering::Relaxed,
                Ordering::Release | Ordering::SeqCst => Ordering::Release,
                order => panic!("invalid store ordering {order:?}"),
            };
            self.0.swap(value, swap_order);
        }

        pub(crate) fn swap(&self, value: bool, order: Ordering) -> bool {
            self.0.swap(value, order)
        }
    }
}
