//! Several shards pinned to one CPU, driven by one thread.
//!
//! With more shards than CPUs (`-t 4` under `taskset -c 0,1`, say), a thread per shard would
//! make the shards of one CPU take turns through the scheduler: every request handed to a
//! co-located shard would wake its thread, and the CPU would switch threads to answer it.
//! Instead one thread owns all the shards of its CPU and turns each in order; a request for a
//! co-located shard waits in its channel only until that shard's turn in the same loop pass,
//! with no wake-up and no context switch. Each shard keeps its own store, ring, listeners and
//! connections, exactly as a shard alone on its CPU.
//!
//! Waiting: the thread has one eventfd, `signal`. Each ring signals it when a completion
//! becomes ready (`IORING_REGISTER_EVENTFD`; with `DEFER_TASKRUN` the kernel signals as soon
//! as the work is queued, before an `io_uring_enter` runs it), and it is the shards' parker
//! eventfd too, so another thread handing one of them a message, or asking it to stop or
//! drain, writes it directly. (An io_uring Read armed on a parker eventfd of its own, as a
//! lone shard has, does not serve here: on Linux 6.18 the completion of that Read, queued
//! from inside the other thread's eventfd write, left the registered eventfd unsignalled
//! until the ring's next timer tick, a second later; the test
//! `a_shard_sharing_a_thread_is_woken_at_once_from_another_thread` catches it.)
//!
//! When every shard may sleep (each has announced it, see `channel`), the thread empties
//! the eventfd, has every shard look once more (a message whose signal it just emptied was
//! published before that signal), submits each shard's pending work (which runs its deferred
//! completions too) and, if still no shard has a completion ready, blocks in `poll` on the
//! eventfd. Anything after the emptying signals it again, so no wake-up is lost.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::shard::Shard;

/// Serves `shards` (all pinned to this thread's CPU, their wakers made with
/// `Waker::sharing(signal)`) until every one has stopped. `signal` is non-blocking.
pub fn run(shards: &mut [Shard], signal: &OwnedFd) -> io::Result<()> {
    assert!(
        shards.len() > 1,
        "a lone shard runs its own loop (Shard::run)"
    );
    for shard in shards.iter_mut() {
        shard.signal_completions_to(signal.as_raw_fd())?;
        shard.start_in_group();
    }
    while !shards.iter().all(Shard::finished) {
        if all_may_sleep(shards) {
            drain_eventfd(signal);
            if all_may_sleep(shards) {
                let mut ready = false;
                for shard in shards.iter_mut().filter(|shard| !shard.finished()) {
                    ready |= shard.submit_pending()?;
                }
                if !ready {
                    wait_readable(signal)?;
                }
            }
        }
        // Every shard awake before any turns: a co-located shard handed work in this pass is
        // then reached by its own turn, not signalled through the eventfd.
        for shard in shards.iter() {
            shard.awake();
        }
        for shard in shards.iter_mut().filter(|shard| !shard.finished()) {
            shard.turn(0)?;
        }
    }
    Ok(())
}

/// Every live shard announces its sleep and finds no work; `all` stops at the first shard
/// with work, so the ones after it announce nothing.
fn all_may_sleep(shards: &mut [Shard]) -> bool {
    shards
        .iter_mut()
        .filter(|shard| !shard.finished())
        .all(|shard| shard.may_sleep())
}

/// A non-blocking eventfd for a thread that drives several shards.
pub fn new_signal() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; a non-negative return is a new descriptor.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by eventfd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Resets the eventfd's count (it is non-blocking: an empty one reads EAGAIN).
fn drain_eventfd(fd: &OwnedFd) {
    let mut count: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64 from an eventfd we own.
    let _ = unsafe { libc::read(fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
}

/// Blocks until the eventfd has a non-zero count (a ring signalled), or a signal interrupts.
fn wait_readable(fd: &OwnedFd) -> io::Result<()> {
    let mut poll_fd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, count 1, no timeout.
    let ret = unsafe { libc::poll(&mut poll_fd, 1, -1) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}
