//! The hot path allocates nothing: once a connection's buffers exist, serving requests
//! (classic and meta, hits and misses, stores with evictions, errors) makes no heap
//! allocation. Checked with a counting global allocator around `Session::process`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ringcache_net::exec::{Session, Step};
use ringcache_net::proto::check::Harness;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (we forward every alloc).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds GlobalAlloc::realloc's contract, which we pass on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `input` through the session in one go, as the runtime would after a receive, into an
/// output buffer with room reserved up front (the runtime keeps its buffers across requests).
fn serve(harness: &mut Harness, session: &mut Session, input: &[u8], out: &mut Vec<u8>) {
    let mut offset = 0;
    loop {
        let (consumed, step) = session.process(&input[offset..], out, &mut harness.ctx());
        offset += consumed;
        match step {
            Step::NeedInput => break,
            Step::OutputFull => out.clear(),
            Step::Close => panic!("session closed on valid input"),
            Step::Blocked => panic!("one shard never waits for another"),
        }
    }
    assert_eq!(offset, input.len(), "all requests consumed");
}

fn workload(round: usize) -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..2000 {
        // Unique keys with values of one size class: each round outgrows the store's memory.
        let key = format!("key:{}", i + round * 2000);
        let value = "v".repeat(1000 + i % 8);
        input.extend_from_slice(
            format!("set {key} {i} 0 {}\r\n{value}\r\n", value.len()).as_bytes(),
        );
        input.extend_from_slice(format!("get {key} missing:{i} {key}\r\n").as_bytes());
        input.extend_from_slice(format!("gets {key}\r\nappend {key} 0 0 3\r\nabc\r\n").as_bytes());
        input.extend_from_slice(
            format!("incr n:{i} 5\r\nset n:{i} 0 0 2\r\n10\r\ndecr n:{i} 3\r\n").as_bytes(),
        );
        input.extend_from_slice(
            format!("mg {key} v f c t s k O{i}\r\nms m:{i} 2 T60 F5\r\nhi\r\n").as_bytes(),
        );
        input.extend_from_slice(
            format!("md m:{i} q\r\nma n:{i} D2\r\nmn\r\ntouch {key} 100\r\n").as_bytes(),
        );
        input.extend_from_slice(
            format!(
                "delete n:{i} noreply\r\nbogus command\r\nget {}\r\n",
                "k".repeat(251)
            )
            .as_bytes(),
        );
    }
    input
}

#[test]
fn serving_requests_allocates_nothing() {
    // A small store, so that the measured rounds also evict.
    let mut harness = Harness::with_memory(4 << 20, 1 << 20);
    let mut session = Session::new();
    let mut out = Vec::with_capacity(1 << 20);
    let inputs: Vec<Vec<u8>> = (0..4).map(workload).collect();
    serve(&mut harness, &mut session, &inputs[0], &mut out);
    out.clear();

    COUNTING.store(true, Ordering::SeqCst);
    for input in &inputs[1..] {
        serve(&mut harness, &mut session, input, &mut out);
        out.clear();
    }
    COUNTING.store(false, Ordering::SeqCst);

    assert!(
        harness.store.stats().evictions > 0,
        "the workload was meant to evict"
    );
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "heap allocations while serving requests"
    );
}
