//! A worker's io_uring: how it is set up, how operations are queued, and how the loop waits
//! for completions without making the server pay for waking it.
//!
//! Goals: one `io_uring_enter` submits a whole turn's operations; a completion that arrives
//! while the loop is busy or polling costs no wake-up. Non-goal: SQPOLL (it would need a
//! second core per worker).
//!
//! Waiting, in order: submit (which also runs completions' deferred task work if the kernel
//! flagged some); poll the ring for up to `poll_ns` (`--poll-us`, 100 µs by default); sleep
//! in `io_uring_enter` until [`SPIN_NS`] before the end of the wait. A reply that arrives
//! while the loop sleeps must wake it, and that wake-up (an IPI to this core, a VM exit
//! under a hypervisor) is paid on the core that sent the reply: against a local server near
//! saturation, a sleeping generator makes every op dearer for the server it measures.

use std::io;
use std::time::Instant;

use io_uring::{squeue, types, IoUring};
use ringcache_net::runtime::ring_setup;

/// A sleep until an intended send time ends this long before it and the rest is polled: the
/// kernel's wake-up is late by a few microseconds.
pub const SPIN_NS: u64 = 20_000;

/// A ring with room for `entries` operations in flight. One thread submits and reaps:
/// completions' task work runs only when the loop asks for events (DEFER_TASKRUN), and
/// TASKRUN_FLAG tells the loop when there is some. Older kernels refuse the flags with
/// EINVAL: then a plain ring.
pub fn build(entries: u32) -> io::Result<IoUring> {
    match IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .build(entries)
    {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries),
        other => other,
    }
    // The server's explanation: which sysctl, group, seccomp filter or limit refused it.
    .map_err(|e| io::Error::new(e.kind(), ring_setup::explain(&e, 2 * entries)))
}

/// Submits what is queued, then waits up to `wait_ns` for a completion: polling first (up to
/// `poll_ns`), then sleeping in `io_uring_enter` until [`SPIN_NS`] before the end (the
/// caller's next turn polls the rest). Under load, replies follow each other microseconds
/// apart, so polling catches them without sleeping; an idle or stalled server still lets the
/// loop sleep after `poll_ns`. A wait shorter than `poll_ns` (the next intended send time)
/// is polled through entirely.
pub fn submit_and_wait(ring: &mut IoUring, wait_ns: u64, poll_ns: u64) -> io::Result<()> {
    enter_result(ring.submit())?;
    if !ring.completion().is_empty() {
        return Ok(());
    }
    let poll_ns = wait_ns.min(poll_ns);
    let poll_start = Instant::now();
    let mut polled_ns = 0;
    while polled_ns < poll_ns {
        // With DEFER_TASKRUN, a completion's task work waits until this thread asks for
        // events; the kernel sets the TASKRUN flag when there is some.
        if ring.submission().taskrun() {
            enter_result(ring.submit())?;
        }
        if !ring.completion().is_empty() {
            return Ok(());
        }
        std::hint::spin_loop();
        polled_ns = poll_start.elapsed().as_nanos() as u64;
    }
    let sleep_ns = wait_ns.saturating_sub(polled_ns).saturating_sub(SPIN_NS);
    if sleep_ns == 0 {
        return Ok(());
    }
    assert!(sleep_ns < 1_000_000_000, "a wait is shorter than a second");
    let ts = types::Timespec::new().nsec(sleep_ns as u32);
    let args = types::SubmitArgs::new().timespec(&ts);
    enter_result(ring.submitter().submit_with_args(1, &args))
}

/// `io_uring_enter`'s result: a timeout, an interrupted wait or a full completion queue
/// (`EBUSY`, drained by the next reap) are not errors.
fn enter_result(result: io::Result<usize>) -> io::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Queues one operation, submitting first if the submission queue is full.
///
/// # Safety
///
/// Every buffer `entry` points to must stay valid, unmoved and untouched by the caller (a
/// receive buffer) or unchanged (a send buffer) until the operation's last completion is
/// reaped.
pub unsafe fn push(ring: &mut IoUring, entry: &squeue::Entry) {
    loop {
        // SAFETY: the caller keeps the entry's buffers valid until it completes.
        let pushed = unsafe { ring.submission().push(entry) };
        if pushed.is_ok() {
            return;
        }
        ring.submit()
            .expect("io_uring_enter failed while the submission queue was full");
    }
}
