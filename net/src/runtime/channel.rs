//! Bounded cross-core channels: how one shard hands a request to the shard that owns its key,
//! and how a shard that has nothing to do sleeps without missing a message.
//!
//! # Goals
//! - One single-producer/single-consumer queue per ordered pair of shards, of `slot_count`
//!   fixed-size slots allocated once at start-up; nothing is allocated per message.
//! - Zero copy on the receiving side: [`Receiver::peek`] lends the payload in place until
//!   [`Receiver::pop`]. The sender writes in place too ([`Sender::try_send`]'s `fill`).
//! - The hot path touches a shared cache line only when it must: the producer keeps a cached
//!   copy of the consumer's `head` and re-reads it only when the cached value says "full"; the
//!   consumer does the same with `tail` and "empty".
//! - Wake-ups are batched: a sender publishes per message but checks whether the consumer sleeps
//!   once per loop turn ([`Sender::notify`]); at most one eventfd write per park.
//!
//! # Non-goals
//! - Several producers or consumers on one queue (a shard owns each end: `Send`, `!Sync`).
//! - Messages larger than [`MSG_PAYLOAD_MAX_BYTES`]: the router splits or refuses them.
//! - Blocking sends: a full queue is back-pressure that the caller handles (it stops reading the
//!   connection, and parks with the waiting-for-space protocol below if it has nothing else to do).
//!
//! # Layout (version [`CHANNEL_LAYOUT_VERSION`])
//! ```text
//! Shared (one heap allocation per channel, plus the slot array):
//!   +--------------------+--------------------+----------------------+
//!   | head: AtomicUsize  | tail: AtomicUsize  | producer_waiting     |  one 128-byte line each
//!   | (consumer writes)  | (producer writes)  | (producer sets,      |
//!   |                    |                    |  consumer clears)    |
//!   +--------------------+--------------------+----------------------+
//!   slots: [Slot; slot_count], slot_count a power of two, index = counter & (slot_count - 1)
//!
//! Slot (4096 bytes, 64-byte aligned):
//!   0      1       2     4           8                 12    16                         4096
//!   +------+-------+-----+-----------+-----------------+-----+---------------------------+
//!   | kind | flags | pad | conn_slot | conn_generation | len | payload (len bytes used)  |
//!   +------+-------+-----+-----------+-----------------+-----+---------------------------+
//! ```
//! `head` and `tail` are free-running counters (wrapping `usize`): the queue holds
//! `tail - head` messages, in slots `head .. tail` (mod `slot_count`).
//!
//! # Invariants
//! - `0 <= tail - head <= slot_count`; only the producer stores `tail`, only the consumer `head`.
//! - Slots `head .. tail` belong to the consumer (read-only), all others to the producer. A slot
//!   changes hands only through a Release store of the counter that moves past it, read with
//!   Acquire by the other side: the producer's payload writes happen before the consumer's reads,
//!   and the consumer's reads happen before the producer overwrites the slot.
//! - A slot's `len <= MSG_PAYLOAD_MAX_BYTES` (asserted when written and again when read).
//!
//! # Wake-up protocol
//! Each shard has one [`Parker`]: a `parked` flag plus an eventfd (the shard keeps an io_uring
//! Read armed on it). A shard sleeps when it has nothing to do: no inbound message and no
//! outbound message it could send. Both directions use the same store → SeqCst fence → load
//! pattern (Dekker), so of two threads that each store a flag and then read the other's, at least
//! one sees the other's store.
//!
//! Consumer sleeps, producer wakes it:
//! 1. Consumer: `prepare_park`: `parked = true`, SeqCst fence.
//! 2. Consumer: re-checks every receiver ([`Receiver::is_empty`] reloads `tail`) and every sender
//!    it waits on ([`Sender::has_space`]); if anything is ready, `unpark_self` and carry on.
//! 3. Consumer: otherwise sleeps (the ring waits on the eventfd Read; [`Parker::wait`] elsewhere),
//!    then `unpark_self` (`parked = false`).
//! 4. Producer: publishes messages (`tail` Release store per message).
//! 5. Producer, once per turn, [`Sender::notify`] → [`Parker::unpark`]: SeqCst fence, load
//!    `parked`; if true, `parked.swap(false)` and, if this swap took it from true, write the
//!    eventfd. The swap makes it one write per park even with several producers.
//!
//! Producer waits for space, consumer wakes it:
//! 6. Producer: [`Sender::try_send`] finds the queue full (also after reloading `head`):
//!    `producer_waiting = true`, SeqCst fence, reload `head`. If a slot was freed meanwhile,
//!    clear the flag and send; otherwise return false.
//! 7. Producer: when it parks, its step-2 re-check calls [`Sender::has_space`], which, if still
//!    full, sets `producer_waiting` again exactly as in step 6 (this matters, see below).
//! 8. Consumer: [`Receiver::pop`] stores `head` (Release), SeqCst fence, loads `producer_waiting`;
//!    if true, `producer_waiting.swap(false)` and, if it took it, `producer.unpark()` (step 5).
//!
//! # Why no wake-up is lost
//! - Consumer side: the consumer sleeps only if its re-check (after fence F1 in step 1) saw
//!   `tail` without the producer's last message. The producer's fence F2 (step 5) comes after
//!   that message's `tail` store. SeqCst fences are totally ordered: if F1 precedes F2, the
//!   producer's load of `parked` sees `true` (or a later `false` written by someone who already
//!   wrote the eventfd, or by the consumer itself after it woke); if F2 precedes F1, the
//!   consumer's re-check sees the message. Either way the message is seen or the eventfd is
//!   written. An eventfd write that lands after the consumer chose not to sleep only costs one
//!   spurious wake-up later.
//! - Producer side: the producer sleeps only if its last arm-and-reload (step 7, after its
//!   `parked = true`) saw the queue full. The pop that frees a slot after that reload stores `head`
//!   and then fences; by the same fence argument its load of `producer_waiting` sees that arming
//!   store (or a later one). The only other writer is the consumer's own swap in an earlier pop,
//!   which then read the arming store, synchronises with it, and so sees `parked = true` in its
//!   `unpark` and writes the eventfd. Re-arming in step 7 is what makes this hold: with the flag
//!   set only in step 6, a pop between steps 6 and 7 could consume the flag while the producer was
//!   still awake (its `unpark` finds `parked == false` and writes nothing), and the pop that frees
//!   the slot afterwards would see no flag: a lost wake-up (the loom model catches exactly that).
//!
//! The loom models in `net/tests/loom_channel.rs` check both directions, and both at once.
//! Fences are used rather than SeqCst read-modify-writes because loom models SeqCst RMWs only as
//! AcqRel, but SeqCst fences exactly. Under loom, the `AtomicBool` of `runtime::sync` writes every
//! flag store as a swap: loom 0.7.3 does not order a plain store after another thread's earlier
//! RMW of the same flag, and so reports false lost wake-ups here (details in `runtime::sync`).
//!
//! # Costs
//! A send: one slot write, one Release store; the shared `head` line is read only when the cached
//! copy says full. A turn's `notify`: one SeqCst fence and one load of the consumer's `parked`
//! line. A pop: one Release store, one SeqCst fence, one load of `producer_waiting`.

use std::cell::Cell;

use super::sync::{fence, Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
#[cfg(loom)]
use super::sync::{Condvar, Mutex};

/// Bumped whenever the slot or header layout changes.
pub const CHANNEL_LAYOUT_VERSION: u32 = 1;
/// Bytes one slot takes, header included.
pub const SLOT_SIZE_BYTES: usize = 4096;
/// Bytes of the header at the start of each slot.
pub const MSG_HEADER_SIZE_BYTES: usize = 16;
/// Payload bytes one message can carry.
pub const MSG_PAYLOAD_MAX_BYTES: usize = SLOT_SIZE_BYTES - MSG_HEADER_SIZE_BYTES;
/// Most slots one channel may have (16 MiB of slots at 4 KiB each).
pub const CHANNEL_SLOT_COUNT_MAX: usize = 4096;

/// What a message is about; copied into and out of the slot's first 16 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgHeader {
    pub kind: u8,
    pub flags: u8,
    pub conn_slot: u32,
    pub conn_generation: u32,
    /// Payload length in bytes; `try_send` sets it from what `fill` returns.
    pub len: u32,
}

const _: () = assert!(std::mem::size_of::<MsgHeader>() == MSG_HEADER_SIZE_BYTES);

#[repr(C, align(64))]
struct SlotData {
    header: MsgHeader,
    payload: [u8; MSG_PAYLOAD_MAX_BYTES],
}

const _: () = assert!(std::mem::size_of::<SlotData>() == SLOT_SIZE_BYTES);

/// Keeps a value on its own cache line pair (the adjacent-line prefetcher of x86 cores pulls
/// lines in 128-byte pairs, so 64 would still let two counters share traffic).
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The sleeping side of the wake-up protocol: one per shard. Production: an eventfd (the shard
/// keeps an io_uring Read armed on [`fd`](Parker::fd)); under loom: a `Mutex<u64>` + `Condvar`
/// standing in for the eventfd's counter (same semantics: a write adds one, a read waits for a
/// non-zero count and takes all of it, and the kernel orders a read after the write it sees, as
/// the mutex does).
pub struct Parker {
    parked: CachePadded<AtomicBool>,
    /// Shared by the shards of one thread (see `Parker::sharing`), else this parker's own.
    #[cfg(not(loom))]
    fd: std::sync::Arc<std::os::fd::OwnedFd>,
    #[cfg(loom)]
    count: Mutex<u64>,
    #[cfg(loom)]
    signalled: Condvar,
}

impl Parker {
    pub fn new() -> std::io::Result<Parker> {
        Ok(Parker {
            parked: CachePadded(AtomicBool::new(false)),
            #[cfg(not(loom))]
            fd: std::sync::Arc::new(new_eventfd()?),
            #[cfg(loom)]
            count: Mutex::new(0),
            #[cfg(loom)]
            signalled: Condvar::new(),
        })
    }

    /// A parker that signals `fd`, an eventfd other parkers may signal too: the shards that
    /// one thread drives share one, which the thread waits on itself (no Read is armed on
    /// it, and [`wait`](Parker::wait) is not for it).
    #[cfg(not(loom))]
    pub fn sharing(fd: std::sync::Arc<std::os::fd::OwnedFd>) -> Parker {
        Parker {
            parked: CachePadded(AtomicBool::new(false)),
            fd,
        }
    }

    /// Under loom there are no eventfds; the shard runtime that shares one is compiled there
    /// but never run.
    #[cfg(loom)]
    pub fn sharing(_fd: std::sync::Arc<std::os::fd::OwnedFd>) -> Parker {
        unreachable!("the shard runtime does not run under loom")
    }

    /// The eventfd to keep a Read armed on; its completion means "look at your receivers".
    #[cfg(not(loom))]
    pub fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&*self.fd)
    }

    /// Under loom there is no eventfd; the shard runtime that asks for one is compiled there
    /// but never run.
    #[cfg(loom)]
    pub fn fd(&self) -> std::os::fd::RawFd {
        unreachable!("the shard runtime does not run under loom")
    }

    /// About to sleep: `parked = true`, then a SeqCst fence. The caller then re-checks its
    /// receivers ([`Receiver::is_empty`]) and any sender it waits on ([`Sender::has_space`]),
    /// and calls [`unpark_self`](Parker::unpark_self) instead of sleeping if there is work.
    pub fn prepare_park(&self) {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Awake again (after the wait returned, or when sleeping turned out unnecessary).
    pub fn unpark_self(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Another thread's side, after publishing: wakes the owner if it is parked. One SeqCst
    /// fence, one load; the eventfd is written at most once per park (`parked.swap(false)`).
    pub fn unpark(&self) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) && self.parked.swap(false, Ordering::SeqCst) {
            self.signal();
        }
    }

    /// Blocks until a wake-up arrives, consuming it (used by loom models, tests and the bench;
    /// a shard waits in its ring instead, and the ring's Read consumes the eventfd count).
    pub fn wait(&self) {
        #[cfg(not(loom))]
        {
            let mut count: u64 = 0;
            loop {
                // SAFETY: reads 8 bytes into a live u64 from an eventfd this Parker owns.
                let ret = unsafe { libc::read(self.fd(), (&mut count as *mut u64).cast(), 8) };
                if ret == 8 {
                    return;
                }
                let err = std::io::Error::last_os_error();
                assert!(
                    err.kind() == std::io::ErrorKind::Interrupted,
                    "eventfd read: {err}"
                );
            }
        }
        #[cfg(loom)]
        {
            let mut count = self.count.lock().unwrap();
            while *count == 0 {
                count = self.signalled.wait(count).unwrap();
            }
            *count = 0;
        }
    }

    fn signal(&self) {
        #[cfg(not(loom))]
        {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to an eventfd this Parker holds; a write only
            // fails when the counter would overflow, which leaves it readable anyway.
            unsafe { libc::write(self.fd(), (&one as *const u64).cast(), 8) };
        }
        #[cfg(loom)]
        {
            *self.count.lock().unwrap() += 1;
            self.signalled.notify_one();
        }
    }
}

#[cfg(not(loom))]
fn new_eventfd() -> std::io::Result<std::os::fd::OwnedFd> {
    // SAFETY: plain eventfd(2); the result is checked before use.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is an eventfd we just created and own exclusively.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
}

/// The state both ends share.
struct Shared {
    /// Counter of messages consumed; stored only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Counter of messages published; stored only by the producer.
    tail: CachePadded<AtomicUsize>,
    /// The producer found the queue full and wants `producer` woken by the next pop.
    producer_waiting: CachePadded<AtomicBool>,
    slots: Box<[UnsafeCell<SlotData>]>,
    /// The consuming shard's parker, woken by `Sender::notify`.
    consumer: Arc<Parker>,
    /// The producing shard's parker, woken by `Receiver::pop` when the producer waits.
    producer: Arc<Parker>,
}

// SAFETY: the slots are the only non-Sync part. Each slot is accessed by one side at a time:
// the producer writes only slots outside `head .. tail`, the consumer reads only slots inside
// it, and ownership moves only through Release/Acquire on `tail` and `head` (module invariants).
unsafe impl Sync for Shared {}
// SAFETY: all fields are Send; the slots hold plain bytes.
unsafe impl Send for Shared {}

impl Shared {
    fn slot(&self, counter: usize) -> &UnsafeCell<SlotData> {
        &self.slots[counter & (self.slots.len() - 1)]
    }
}

/// The producing end; owned by the producing shard (`Send`, `!Sync`).
pub struct Sender {
    shared: Arc<Shared>,
    /// Our own `tail` (only we store it).
    tail: usize,
    /// Last `head` we read; the real one is never behind it.
    head_cached: Cell<usize>,
    /// Something was published since the last `notify`.
    unnotified: bool,
}

/// The consuming end; owned by the consuming shard (`Send`, `!Sync`).
pub struct Receiver {
    shared: Arc<Shared>,
    /// Our own `head` (only we store it).
    head: usize,
    /// Last `tail` we read; the real one is never behind it.
    tail_cached: Cell<usize>,
}

/// One bounded single-producer/single-consumer queue of `slot_count` fixed-size slots from one
/// shard to another. `consumer` is the receiving shard's parker (woken by [`Sender::notify`]),
/// `producer` the sending shard's (woken by [`Receiver::pop`] when the sender waits for space).
///
/// Panics unless `slot_count` is a power of two no larger than [`CHANNEL_SLOT_COUNT_MAX`].
pub fn channel(
    slot_count: usize,
    consumer: Arc<Parker>,
    producer: Arc<Parker>,
) -> (Sender, Receiver) {
    assert!(
        slot_count.is_power_of_two() && slot_count <= CHANNEL_SLOT_COUNT_MAX,
        "channel slot_count {slot_count} must be a power of two <= {CHANNEL_SLOT_COUNT_MAX}"
    );
    let slots = (0..slot_count)
        .map(|_| {
            UnsafeCell::new(SlotData {
                header: MsgHeader {
                    kind: 0,
                    flags: 0,
                    conn_slot: 0,
                    conn_generation: 0,
                    len: 0,
                },
                payload: [0; MSG_PAYLOAD_MAX_BYTES],
            })
        })
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        producer_waiting: CachePadded(AtomicBool::new(false)),
        slots,
        consumer,
        producer,
    });
    let sender = Sender {
        shared: Arc::clone(&shared),
        tail: 0,
        head_cached: Cell::new(0),
        unnotified: false,
    };
    let receiver = Receiver {
        shared,
        head: 0,
        tail_cached: Cell::new(0),
    };
    (sender, receiver)
}

impl Sender {
    /// Writes one message in place: if a slot is free, calls `fill` with the slot's payload
    /// buffer (`MSG_PAYLOAD_MAX_BYTES` long), which returns the payload length (stored as
    /// `header.len`), publishes it and returns true. If full: returns false without calling
    /// `fill`, and records that the producer waits, so that the consumer's next `pop` wakes the
    /// producer's parker (protocol step 6).
    pub fn try_send(&mut self, header: MsgHeader, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if !self.has_space() {
            return false;
        }
        let tail = self.tail;
        let slot = self.shared.slot(tail);
        slot.with_mut(|data| {
            // SAFETY: `tail - head < slot_count` (checked by has_space against a `head` read with
            // Acquire), so this slot is outside `head .. tail`: the consumer finished reading it
            // before its Release store of `head`, and will not read it before our `tail` store.
            let data = unsafe { &mut *data };
            let len = fill(&mut data.payload);
            assert!(
                len <= MSG_PAYLOAD_MAX_BYTES,
                "fill returned {len} > {MSG_PAYLOAD_MAX_BYTES} bytes"
            );
            data.header = MsgHeader {
                len: len as u32,
                ..header
            };
        });
        self.tail = tail.wrapping_add(1);
        self.shared.tail.store(self.tail, Ordering::Release);
        self.unnotified = true;
        true
    }

    /// Whether a slot is free. When none is, records that the producer waits for space (protocol
    /// step 7), so this is the right re-check after [`Parker::prepare_park`].
    pub fn has_space(&self) -> bool {
        let capacity = self.shared.slots.len();
        if self.tail.wrapping_sub(self.head_cached.get()) < capacity {
            return true;
        }
        self.head_cached
            .set(self.shared.head.load(Ordering::Acquire));
        if self.tail.wrapping_sub(self.head_cached.get()) < capacity {
            return true;
        }
        self.shared.producer_waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.head_cached
            .set(self.shared.head.load(Ordering::Acquire));
        let used = self.tail.wrapping_sub(self.head_cached.get());
        assert!(
            used <= capacity,
            "channel holds {used} messages in {capacity} slots"
        );
        if used < capacity {
            // Freed meanwhile: no wake-up needed. A pop that already took the flag only causes
            // one spurious wake-up.
            self.shared.producer_waiting.store(false, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Call once per loop turn after sending: wakes the consumer if anything was sent since the
    /// last call and the consumer is parked (one fence and one load per turn, not per message).
    pub fn notify(&mut self) {
        if self.unnotified {
            self.unnotified = false;
            self.shared.consumer.unpark();
        }
    }
}

impl Receiver {
    /// The oldest message, borrowed in place (zero copy) until [`pop`](Receiver::pop).
    pub fn peek(&self) -> Option<(MsgHeader, &[u8])> {
        self.peek_at(0)
    }

    /// The message `index` places behind the oldest ([`peek`](Receiver::peek)'s is 0),
    /// borrowed in place the same way; `None` if fewer are waiting.
    pub fn peek_at(&self, index: usize) -> Option<(MsgHeader, &[u8])> {
        if index >= self.tail_cached.get().wrapping_sub(self.head) {
            self.tail_cached
                .set(self.shared.tail.load(Ordering::Acquire));
            if index >= self.tail_cached.get().wrapping_sub(self.head) {
                return None;
            }
        }
        let slot = self.shared.slot(self.head.wrapping_add(index));
        Some(slot.with(|data| {
            // SAFETY: `head + index < tail` as read with Acquire, so the producer's writes to
            // this slot happen before this read, and it will not write the slot again until
            // our Release stores of `head` move past it in `pop`, which needs `&mut self` and
            // so ends this borrow first.
            let data: &SlotData = unsafe { &*data };
            let len = data.header.len as usize;
            assert!(
                len <= MSG_PAYLOAD_MAX_BYTES,
                "slot holds a {len}-byte payload"
            );
            (data.header, &data.payload[..len])
        }))
    }

    /// Frees the oldest slot; if the producer was waiting for space, wakes it (protocol step 8).
    /// Panics on an empty channel.
    pub fn pop(&mut self) {
        assert!(!self.is_empty(), "pop on an empty channel");
        self.head = self.head.wrapping_add(1);
        self.shared.head.store(self.head, Ordering::Release);
        fence(Ordering::SeqCst);
        let waiting = &self.shared.producer_waiting;
        if waiting.load(Ordering::Relaxed) && waiting.swap(false, Ordering::SeqCst) {
            self.shared.producer.unpark();
        }
    }

    /// Whether no message is waiting; reloads `tail` when the cached copy says empty, so it is
    /// the right re-check after [`Parker::prepare_park`].
    pub fn is_empty(&self) -> bool {
        if self.head != self.tail_cached.get() {
            return false;
        }
        self.tail_cached
            .set(self.shared.tail.load(Ordering::Acquire));
        self.head == self.tail_cached.get()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::thread;
    use std::time::{Duration, Instant};

    fn header(kind: u8) -> MsgHeader {
        MsgHeader {
            kind,
            flags: 0,
            conn_slot: 7,
            conn_generation: 3,
            len: 0,
        }
    }

    fn pair(slot_count: usize) -> (Sender, Receiver) {
        let consumer = Arc::new(Parker::new().unwrap());
        let producer = Arc::new(Parker::new().unwrap());
        channel(slot_count, consumer, producer)
    }

    fn send_u64(tx: &mut Sender, value: u64) -> bool {
        tx.try_send(header(1), |buf| {
            buf[..8].copy_from_slice(&value.to_le_bytes());
            8
        })
    }

    fn recv_u64(rx: &mut Receiver) -> Option<u64> {
        let value = rx.peek().map(|(h, payload)| {
            assert_eq!(h.len, 8);
            u64::from_le_bytes(payload.try_into().unwrap())
        })?;
        rx.pop();
        Some(value)
    }

    #[test]
    fn channel_is_fifo() {
        let (mut tx, mut rx) = pair(8);
        for i in 0..5 {
            assert!(send_u64(&mut tx, i));
        }
        for i in 0..5 {
            assert_eq!(recv_u64(&mut rx), Some(i));
        }
        assert_eq!(recv_u64(&mut rx), None);
    }

    #[test]
    fn channel_full_and_empty() {
        let (mut tx, mut rx) = pair(4);
        assert!(rx.is_empty() && rx.peek().is_none() && tx.has_space());
        for i in 0..4 {
            assert!(send_u64(&mut tx, i));
        }
        assert!(!tx.has_space() && !rx.is_empty());
        assert!(!send_u64(&mut tx, 99));
        assert_eq!(recv_u64(&mut rx), Some(0));
        assert!(tx.has_space());
        assert!(send_u64(&mut tx, 4));
        for i in 1..5 {
            assert_eq!(recv_u64(&mut rx), Some(i));
        }
        assert!(rx.is_empty());
    }

    #[test]
    fn peek_at_lends_every_waiting_message_in_order_across_the_wrap() {
        let (mut tx, mut rx) = pair(4);
        let value_at = |rx: &Receiver, index: usize| {
            rx.peek_at(index)
                .map(|(_, payload)| u64::from_le_bytes(payload.try_into().unwrap()))
        };
        // Move head and tail past the end of the slot array first.
        for i in 0..3 {
            assert!(send_u64(&mut tx, i));
            assert_eq!(recv_u64(&mut rx), Some(i));
        }
        for i in 10..14 {
            assert!(send_u64(&mut tx, i));
        }
        let waiting: Vec<Option<u64>> = (0..5).map(|index| value_at(&rx, index)).collect();
        assert_eq!(waiting, [Some(10), Some(11), Some(12), Some(13), None]);
        assert_eq!(recv_u64(&mut rx), Some(10));
        assert_eq!(
            (value_at(&rx, 0), value_at(&rx, 2), value_at(&rx, 3)),
            (Some(11), Some(13), None)
        );
        // A message sent after the last look is seen by the next one.
        assert!(send_u64(&mut tx, 14));
        assert_eq!(value_at(&rx, 3), Some(14));
    }

    #[test]
    fn channel_fill_not_called_when_full() {
        let (mut tx, _rx) = pair(1);
        assert!(send_u64(&mut tx, 1));
        let mut called = false;
        assert!(!tx.try_send(header(2), |_| {
            called = true;
            0
        }));
        assert!(!called);
    }

    #[test]
    fn channel_wraps_around_many_times() {
        let (mut tx, mut rx) = pair(2);
        let mut next_expected = 0;
        for i in 0..1000u64 {
            assert!(send_u64(&mut tx, i));
            if i % 2 == 1 {
                assert!(!send_u64(&mut tx, 9999));
                assert_eq!(recv_u64(&mut rx), Some(next_expected));
                assert_eq!(recv_u64(&mut rx), Some(next_expected + 1));
                next_expected += 2;
            }
        }
        assert!(rx.is_empty());
    }

    #[test]
    fn channel_carries_empty_and_max_payloads_and_the_header() {
        let (mut tx, mut rx) = pair(2);
        let sent = MsgHeader {
            kind: 9,
            flags: 0xa5,
            conn_slot: u32::MAX,
            conn_generation: 42,
            len: 1234,
        };
        assert!(tx.try_send(sent, |buf| {
            assert_eq!(buf.len(), MSG_PAYLOAD_MAX_BYTES);
            0
        }));
        assert!(tx.try_send(sent, |buf| {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = i as u8;
            }
            MSG_PAYLOAD_MAX_BYTES
        }));
        let (h, payload) = rx.peek().unwrap();
        assert_eq!(h, MsgHeader { len: 0, ..sent });
        assert!(payload.is_empty());
        rx.pop();
        let (h, payload) = rx.peek().unwrap();
        assert_eq!(
            h,
            MsgHeader {
                len: MSG_PAYLOAD_MAX_BYTES as u32,
                ..sent
            }
        );
        assert!(payload.iter().enumerate().all(|(i, &b)| b == i as u8));
        rx.pop();
    }

    #[test]
    #[should_panic(expected = "fill returned")]
    fn channel_payload_over_the_max_is_a_programmer_error() {
        let (mut tx, _rx) = pair(1);
        tx.try_send(header(1), |_| MSG_PAYLOAD_MAX_BYTES + 1);
    }

    #[test]
    #[should_panic(expected = "power of two")]
    fn channel_slot_count_must_be_a_power_of_two() {
        pair(3);
    }

    #[test]
    fn channel_unpark_writes_the_eventfd_once_per_park() {
        let parker = Parker::new().unwrap();
        parker.unpark(); // not parked: no write
        parker.prepare_park();
        parker.unpark();
        parker.unpark(); // already taken
        parker.wait(); // returns: one pending count
        parker.unpark_self();
        let mut count: u64 = 0;
        // SAFETY: non-blocking probe of our own eventfd's counter into a live u64.
        let ret = unsafe {
            libc::fcntl(parker.fd(), libc::F_SETFL, libc::O_NONBLOCK);
            libc::read(parker.fd(), (&mut count as *mut u64).cast(), 8)
        };
        assert_eq!(ret, -1, "the counter should be empty after one wait");
    }

    /// One shard's loop: drain inbound, send what fits, notify, park when nothing is possible.
    fn run_shard(mut tx: Sender, mut rx: Receiver, parker: Arc<Parker>, count: u64) -> u64 {
        let (mut sent, mut received, mut sleeps) = (0u64, 0u64, 0u64);
        while sent < count || received < count {
            let mut progressed = false;
            while let Some(value) = recv_u64(&mut rx) {
                assert_eq!(value, received, "out of order");
                received += 1;
                progressed = true;
            }
            while sent < count && send_u64(&mut tx, sent) {
                sent += 1;
                progressed = true;
            }
            tx.notify();
            if progressed || (sent == count && received == count) {
                continue;
            }
            parker.prepare_park();
            if !rx.is_empty() || (sent < count && tx.has_space()) {
                parker.unpark_self();
                continue;
            }
            parker.wait();
            parker.unpark_self();
            sleeps += 1;
        }
        sleeps
    }

    #[test]
    fn channel_two_threads_flood_both_ways_in_order() {
        const MESSAGE_COUNT: u64 = 1_000_000;
        let a = Arc::new(Parker::new().unwrap());
        let b = Arc::new(Parker::new().unwrap());
        let (a_to_b, b_from_a) = channel(4, Arc::clone(&b), Arc::clone(&a));
        let (b_to_a, a_from_b) = channel(4, Arc::clone(&a), Arc::clone(&b));
        let started = Instant::now();
        let pa = Arc::clone(&a);
        let ta = thread::spawn(move || run_shard(a_to_b, a_from_b, pa, MESSAGE_COUNT));
        let tb = thread::spawn(move || run_shard(b_to_a, b_from_a, b, MESSAGE_COUNT));
        let (sleeps_a, sleeps_b) = (ta.join().unwrap(), tb.join().unwrap());
        let elapsed = started.elapsed();
        eprintln!("2 x {MESSAGE_COUNT} messages in {elapsed:?}; sleeps {sleeps_a} + {sleeps_b}");
        assert!(
            elapsed < Duration::from_secs(120),
            "too slow: a wake-up is probably lost"
        );
    }

    #[test]
    fn channel_one_way_producer_waits_for_space() {
        const MESSAGE_COUNT: u64 = 1_000_000;
        let consumer = Arc::new(Parker::new().unwrap());
        let producer = Arc::new(Parker::new().unwrap());
        let (mut tx, mut rx) = channel(2, Arc::clone(&consumer), Arc::clone(&producer));
        let sending = thread::spawn(move || {
            let mut sent = 0;
            while sent < MESSAGE_COUNT {
                while sent < MESSAGE_COUNT && send_u64(&mut tx, sent) {
                    sent += 1;
                }
                tx.notify();
                if sent == MESSAGE_COUNT {
                    break;
                }
                producer.prepare_park();
                if tx.has_space() {
                    producer.unpark_self();
                    continue;
                }
                producer.wait();
                producer.unpark_self();
            }
        });
        let mut received = 0;
        while received < MESSAGE_COUNT {
            while let Some(value) = recv_u64(&mut rx) {
                assert_eq!(value, received);
                received += 1;
            }
            if received == MESSAGE_COUNT {
                break;
            }
            consumer.prepare_park();
            if !rx.is_empty() {
                consumer.unpark_self();
                continue;
            }
            consumer.wait();
            consumer.unpark_self();
        }
        sending.join().unwrap();
    }
}
