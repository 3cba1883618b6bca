//! ringcache's storage engine: one single-threaded store per shard.
//!
//! CONTRACT (owned by the lead; the engine helper fills in the bodies and may add
//! modules, private fields and documentation, but changes to the public signatures below
//! must be agreed with the lead because `net` codes against them).
//!
//! Goals: memcached 1.6 storage semantics (set/add/replace/append/prepend/cas, touch,
//! delete, incr/decr, flush_all, expiry) plus what the meta protocol needs (stale items,
//! recache "win" tokens, last-access time, fetched bit), inside one memory arena mapped with
//! `memmap2` and addressed by offsets, with `memory_limit_bytes` as a hard limit; more items
//! per megabyte than memcached (a 26-byte header, `item.rs`; 8-byte size classes,
//! `slab.rs`), S3-FIFO eviction per size class (`evict.rs`), proactive expiry and memory
//! that follows the sizes in use ([`Store::maintain`], `reclaim.rs`, `reassign.rs`).
//! Non-goals: I/O, threads, locking, clocks (time is passed in as a [`Clock`]).

pub mod numeric;
pub mod ttl;

mod arena;
mod arith;
mod delete;
mod evict;
mod expiry;
mod flush;
mod get;
mod hash;
mod index;
mod item;
mod lifecycle;
mod maintain;
mod reassign;
mod reclaim;
mod set;
mod slab;

pub use expiry::{ExpiryAtStep, ExpiryStep, ExpirySteps, EXPIRY_STEPS_MAX};
pub use item::{ITEM_LAYOUT_VERSION, KEY_LEN_MAX};
pub use ttl::{Clock, RelTime};

/// Engine configuration, fixed at start-up.
#[derive(Clone, Debug)]
pub struct Config {
    /// Hard limit on item memory (memcached `-m`, in bytes).
    pub memory_limit_bytes: usize,
    /// Largest item accepted (memcached `-I`), header + key + value.
    pub item_size_max_bytes: usize,
    /// `true`: evict when full (default). `false`: memcached `-M`, refuse with OutOfMemory.
    pub evict_when_full: bool,
    /// `false`: memcached `-C`, CAS values are all 0 and `cas` commands never match.
    pub cas_enabled: bool,
    /// First CAS value this store hands out and the step between two (so that several shards
    /// can hand out disjoint CAS values: shard i of n uses first = i + 1, step = n).
    pub cas_first: u64,
    pub cas_step: u64,
}

/// Set-up errors, each telling the operator what to change.
#[derive(Debug)]
pub enum ConfigError {
    /// The memory limit is too small to hold even one page of each used size class.
    MemoryLimitTooSmall {
        memory_limit_bytes: usize,
        minimum_bytes: usize,
    },
    /// `item_size_max_bytes` is outside what the slab allocator supports.
    ItemSizeMaxOutOfRange {
        item_size_max_bytes: usize,
        supported_max_bytes: usize,
    },
    /// Mapping the arena failed.
    Map(std::io::Error),
}

/// A read-only view of a stored item, valid until the next `&mut` call on the store.
#[derive(Clone, Copy, Debug)]
pub struct ItemView<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub flags: u32,
    pub cas: u64,
    /// When the item expires, in [`RelTime`]; 0 = never.
    pub expiry: RelTime,
    /// When the item was last fetched or stored, in [`RelTime`].
    pub last_access: RelTime,
    /// The item had been fetched before this access (meta `h`).
    pub fetched_before: bool,
    /// The item was marked stale by a meta invalidation (`md I`, `ms I`).
    pub stale: bool,
    /// A client already holds the recache token for this item (meta `Z`).
    pub win_token_sent: bool,
    /// The key was given in base64 when the item was stored (meta `b`): meta replies echo it
    /// base64-encoded (memcached `ITEM_KEY_BINARY`).
    pub key_binary: bool,
    /// Slab class the item lives in (meta debug `cls=`).
    pub slab_class: u8,
    /// Bytes the item occupies in its slab chunk (header + key + value), meta debug `size=`.
    pub total_size_bytes: usize,
}

/// How a retrieval touches the item.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetOp {
    /// `false` for a peek (meta debug `me`): no access-time update, no fetched bit, no S3-FIFO access count.
    pub bump: bool,
    /// On a miss, create an empty item (flags 0, no expiry until a [`ExpiryStep::Vivify`]
    /// step) whose creator wins the token (mg `N`).
    pub vivify: bool,
    /// Expiry steps in request order (gat/touch: one `Touch`; mg: `T`, `N`, `R`).
    pub steps: ExpirySteps,
    /// Apply mg's recache rules: a stale item, a vivified one or an `R` step hands out the win
    /// token. Only `mg` sets this (and not when it fails after its lookup, as memcached's does
    /// when its opaque is too long); classic gets, gat/touch and `me` never hand out tokens.
    pub meta_win: bool,
}

impl GetOp {
    /// gat/gats/touch: fetch (bumping) and set a new expiry.
    pub fn touch(exptime: i64) -> GetOp {
        GetOp {
            bump: true,
            steps: ExpirySteps::one(ExpiryStep::Touch(exptime)),
            ..GetOp::default()
        }
    }
}

/// A retrieval result with the meta win/stale outcome.
#[derive(Clone, Copy, Debug)]
pub struct GetHit<'a> {
    pub item: ItemView<'a>,
    /// This client won the right to recache the item (meta `W`).
    pub win: bool,
    /// The item was created by this very request (mg `N` on a miss).
    pub vivified: bool,
    /// The item's expiry after each prefix of `GetOp::steps` (meta `t` at its position).
    pub expiry_at_step: ExpiryAtStep,
}

/// Errors when reserving memory for a new item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// Header + key + value exceeds `item_size_max_bytes` (`SERVER_ERROR object too large for cache`).
    TooLarge,
    /// Nothing could be evicted, or `evict_when_full` is off (`SERVER_ERROR out of memory storing object`).
    /// With eviction on, this means the item's class had nothing to evict and no candidate
    /// page of another class could be moved (each held a reservation or the item being
    /// appended to / incremented); see `reassign.rs`.
    OutOfMemory,
}

/// Memory for an item being received; not yet visible to any lookup and never evicted.
/// Must be given back through [`Store::commit`] or [`Store::abort`].
#[derive(Debug)]
#[must_use = "a reservation holds arena memory until committed or aborted"]
pub struct Reservation {
    pub(crate) offset: u32,
    pub(crate) value_len: u32,
}

impl Reservation {
    pub fn value_len(&self) -> usize {
        self.value_len as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

/// How to link a reserved item.
#[derive(Clone, Copy, Debug)]
pub struct StoreOp {
    pub mode: StoreMode,
    /// Only store if the current item's CAS equals this (classic `cas`, meta `C`).
    pub compare_cas: Option<u64>,
    /// Meta `I`: if `compare_cas` is older than the item's CAS, store anyway but mark stale.
    pub invalidate: bool,
    /// Meta `E`: use this CAS value for the new item instead of the next one.
    pub explicit_cas: Option<u64>,
    /// Meta `b`: the key was given in base64; the stored item remembers it (a new item made
    /// by append/prepend does not, as in memcached).
    pub key_binary: bool,
}

impl StoreOp {
    /// A plain store in `mode`: no CAS check, no invalidation, a fresh CAS, a text key.
    pub fn new(mode: StoreMode) -> StoreOp {
        StoreOp {
            mode,
            compare_cas: None,
            invalidate: false,
            explicit_cas: None,
            key_binary: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    Stored { cas: u64 },
    NotStored,
    Exists,
    NotFound,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct DeleteOp {
    pub compare_cas: Option<u64>,
    /// Meta `I`: mark stale (and set this protocol exptime if `Some(t)`) instead of removing.
    pub invalidate: Option<Option<i64>>,
    /// Meta `x`: keep the item but empty its value (and zero its client flags).
    pub remove_value_only: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    Exists,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ArithOp {
    pub decr: bool,
    pub delta: u64,
    pub compare_cas: Option<u64>,
    /// Meta `N`/`J`: on a miss create the item with this initial value (flags 0, no expiry
    /// until a [`ExpiryStep::Vivify`] step).
    pub vivify_initial: Option<u64>,
    /// Meta `T` and `N` in request order (`Recache` steps have no effect here). As in
    /// memcached, they act on the item the update was written to: when the new value no
    /// longer fits and goes into a new item, they reach only the reply, not the store.
    pub steps: ExpirySteps,
    pub explicit_cas: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOutcome {
    /// New value, the item's CAS and stored expiry after the update.
    Done {
        value: u64,
        cas: u64,
        expiry: RelTime,
        /// The item was created by `vivify_initial` (nothing was incremented; memcached
        /// counts neither a hit nor a miss, and meta `q` does not hide the reply).
        created: bool,
        /// The expiry as the reply sees it after each prefix of `ArithOp::steps` (meta `t`).
        expiry_at_step: ExpiryAtStep,
    },
    NotFound,
    /// The stored value is not a decimal number of at most 20 digits.
    NonNumeric,
    /// `compare_cas` did not match.
    Exists,
    /// A new item was needed and could not be allocated.
    OutOfMemory,
}

/// Item-level counters, summed by `net` into `stats` (memcached's names).
#[derive(Clone, Copy, Debug, Default)]
pub struct EngineStats {
    pub curr_items: u64,
    pub total_items: u64,
    /// Bytes used by live items (header + key + value), memcached `bytes`.
    pub bytes: u64,
    /// Live items evicted to make room.
    pub evictions: u64,
    /// Expired or flushed items whose memory was taken back (by any path).
    pub reclaimed: u64,
    /// Reclaimed items that were never fetched.
    pub expired_unfetched: u64,
    /// Evicted items that were never fetched.
    pub evicted_unfetched: u64,
    pub limit_maxbytes: u64,
    /// Pages moved from one slab class to another (memcached `slabs_moved`).
    pub slabs_moved: u64,
    /// Page moves given up because the page held a reservation or the item being updated
    /// (memcached `slab_reassign_busy_items`).
    pub slab_reassign_busy_items: u64,
    /// Page moves done to rebalance memory towards a class evicting younger items (a subset
    /// of `slabs_moved`; memcached's closest is the automover's share of `slabs_moved`).
    pub slab_rebalance_moves: u64,
    /// Chunks the crawler of [`Store::maintain`] looked at (memcached
    /// `crawler_items_checked`).
    pub crawler_items_checked: u64,
    /// Items the crawler reclaimed (memcached `crawler_reclaimed`; also in `reclaimed`).
    pub crawler_reclaimed: u64,
    /// Gets that found an expired item (memcached `get_expired`).
    pub get_expired: u64,
    /// Gets that found a flushed item (memcached `get_flushed`).
    pub get_flushed: u64,
}

/// One slab class, with what memcached prints for it in `stats slabs` and `stats items`
/// (fields that mean nothing here are left out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabClassStats {
    /// Class number (`stats slabs` prefix, meta debug `cls=`).
    pub class: u8,
    pub chunk_size: u64,
    pub chunks_per_page: u64,
    pub total_pages: u64,
    /// Chunks cut from the class's pages so far (`total_chunks`).
    pub total_chunks: u64,
    /// Chunks holding an item or a reservation.
    pub used_chunks: u64,
    /// Chunks in the free list.
    pub free_chunks: u64,
    /// Chunks not cut yet in the class's newest page (`free_chunks_end`).
    pub free_chunks_end: u64,
    /// Linked items (`stats items` `number`).
    pub number: u64,
    /// Of them, items in the S3-FIFO small queue (memcached's closest: `number_hot`).
    pub number_small: u64,
    /// Seconds since the last access of the class's next victim (`age`).
    pub age: u64,
    pub evicted: u64,
    pub evicted_unfetched: u64,
    /// Seconds since the last access of the last evicted item (`evicted_time`).
    pub evicted_time: u64,
    pub expired_unfetched: u64,
    pub reclaimed: u64,
    pub crawler_reclaimed: u64,
    /// Allocations that failed with out of memory (`outofmemory`).
    pub outofmemory: u64,
    /// Items moved from the small queue to the main queue (memcached's closest:
    /// `moves_to_warm`).
    pub moves_to_main: u64,
}

/// Keys one [`Store::prefetch_keys`] call hints at most; it ignores the rest.
pub const PREFETCH_KEYS_MAX: usize = 64;

/// One shard's store.
///
/// ```text
///   Store
///   ├── arena   one anonymous mapping, `page_count` pages          (arena.rs)
///   ├── slabs   size classes, free lists, page table and rings     (slab.rs)
///   │           pages moved between classes when one runs dry or   (reassign.rs)
///   │           another class holds much colder memory
///   ├── policy  S3-FIFO per class: clock hands over the chunks     (evict.rs)
///   ├── ghost   fingerprints of keys evicted from a small queue    (evict.rs)
///   ├── index   power-of-two bucket array, chains through headers  (index.rs)
///   ├── crawl   the expiry crawler's cursor                        (maintain.rs)
///   └── flush state (oldest_live, oldest_cas), CAS sequence, stats
/// ```
///
/// Memory: the arena is at most `memory_limit_bytes` (whole pages). Outside it, fixed at
/// start-up and never grown ([`Store::overhead_memory_bytes`]): the index (4 bytes per
/// 128 bytes of limit, rounded up to a power of two: 32 to 64 KiB per MiB), the ghost
/// (2 bytes per 128 bytes: 16 to 32 KiB per MiB), the page table (13 bytes per page) and the
/// per-class state (a few KiB in all).
///
/// Commands live in one file per family: `get.rs`, `set.rs` (reserve/commit/abort),
/// `delete.rs`, `arith.rs`, `flush.rs`; the item life cycle in `lifecycle.rs`. Nothing on
/// these paths allocates heap memory after [`Store::new`].
pub struct Store {
    config: Config,
    arena: arena::Arena,
    slabs: slab::Slabs,
    policy: evict::Policy,
    ghost: evict::Ghost,
    crawl_state: maintain::Crawl,
    index: index::Index,
    stats: EngineStats,
    /// Next CAS value handed out.
    cas_next: u64,
    /// memcached `settings.oldest_live`: items last stored at or before it are flushed once
    /// it is reached (0 = no flush pending).
    oldest_live: RelTime,
    /// memcached `settings.oldest_cas`: items with a smaller CAS are flushed too (0 = none).
    oldest_cas: u64,
}

/// Smallest `item_size_max_bytes` accepted (memcached `-I` minimum).
pub const ITEM_SIZE_MAX_MIN_BYTES: usize = 1024;
/// Largest `item_size_max_bytes` accepted (memcached `-I` maximum).
pub const ITEM_SIZE_MAX_SUPPORTED_BYTES: usize = 1 << 30;

impl Store {
    pub fn new(config: Config) -> Result<Store, ConfigError> {
        if !(ITEM_SIZE_MAX_MIN_BYTES..=ITEM_SIZE_MAX_SUPPORTED_BYTES)
            .contains(&config.item_size_max_bytes)
        {
            return Err(ConfigError::ItemSizeMaxOutOfRange {
                item_size_max_bytes: config.item_size_max_bytes,
                supported_max_bytes: ITEM_SIZE_MAX_SUPPORTED_BYTES,
            });
        }
        assert!(config.cas_step >= 1, "cas_step must be at least 1");
        let page_size_bytes = slab::page_size_for(config.item_size_max_bytes);
        if config.memory_limit_bytes > arena::ARENA_SIZE_MAX_BYTES {
            return Err(ConfigError::Map(std::io::Error::other(format!(
                "memory limit of {} bytes per shard is above the {} bytes one shard can address: \
                 lower -m or run more shards",
                config.memory_limit_bytes,
                arena::ARENA_SIZE_MAX_BYTES
            ))));
        }
        let page_count = config.memory_limit_bytes / page_size_bytes;
        if page_count == 0 {
            return Err(ConfigError::MemoryLimitTooSmall {
                memory_limit_bytes: config.memory_limit_bytes,
                minimum_bytes: page_size_bytes,
            });
        }
        let arena = arena::Arena::new(page_count * page_size_bytes).map_err(ConfigError::Map)?;
        assert!(arena.size_bytes() <= config.memory_limit_bytes);
        let stats = EngineStats {
            limit_maxbytes: config.memory_limit_bytes as u64,
            ..EngineStats::default()
        };
        Ok(Store {
            slabs: slab::Slabs::new(page_size_bytes, page_count),
            policy: evict::Policy::new(),
            ghost: evict::Ghost::for_memory_limit(config.memory_limit_bytes),
            crawl_state: maintain::Crawl::default(),
            index: index::Index::for_memory_limit(config.memory_limit_bytes),
            arena,
            stats,
            cas_next: config.cas_first,
            oldest_live: 0,
            oldest_cas: 0,
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Memory hints for a batch of lookups about to be made, for its first
    /// [`PREFETCH_KEYS_MAX`] keys: every key's index bucket, then the first item in every
    /// bucket. Each lookup reads a bucket and then an item header, both at random in memory;
    /// hinted this way, the batch's misses overlap instead of following one another. Changes
    /// no result.
    pub fn prefetch_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut hashes = [0u64; PREFETCH_KEYS_MAX];
        let mut count = 0;
        for key in keys.into_iter().take(PREFETCH_KEYS_MAX) {
            hashes[count] = hash::hash_key(key);
            self.index.prefetch_bucket(hashes[count]);
            count += 1;
        }
        for &hash in &hashes[..count] {
            self.index.prefetch_head(&self.arena, hash);
        }
    }

    /// Retrieval for get/gets/gat/gats/touch/mg/me. `None` is a miss (absent, expired or
    /// flushed; expired and flushed items are reclaimed on the way).
    pub fn get(&mut self, key: &[u8], op: &GetOp, clock: &Clock) -> Option<GetHit<'_>> {
        self.get_item(key, op, clock)
    }

    /// Takes memory for an item of `value_len` bytes (evicting if needed and allowed).
    pub fn reserve(
        &mut self,
        key: &[u8],
        flags: u32,
        exptime: i64,
        value_len: usize,
        clock: &Clock,
    ) -> Result<Reservation, ReserveError> {
        self.reserve_item(key, flags, exptime, value_len, clock)
    }

    /// The value bytes of a reservation, to be filled by the caller (including any bytes it
    /// receives later; the reservation stays valid across other store calls).
    pub fn value_mut(&mut self, reservation: &Reservation) -> &mut [u8] {
        self.reservation_value_mut(reservation)
    }

    /// Links a filled reservation according to `op`. The reservation is consumed either way.
    pub fn commit(
        &mut self,
        reservation: Reservation,
        op: &StoreOp,
        clock: &Clock,
    ) -> StoreOutcome {
        self.commit_reservation(reservation, op, clock)
    }

    /// Gives back a reservation that will not be stored (bad data chunk, closed connection).
    pub fn abort(&mut self, reservation: Reservation) {
        self.abort_reservation(reservation)
    }

    pub fn delete(&mut self, key: &[u8], op: &DeleteOp, clock: &Clock) -> DeleteOutcome {
        self.delete_item(key, op, clock)
    }

    /// incr/decr with memcached semantics: 64-bit wraparound on incr, clamp at 0 on decr.
    pub fn arith(&mut self, key: &[u8], op: &ArithOp, clock: &Clock) -> ArithOutcome {
        self.arith_item(key, op, clock)
    }

    /// flush_all: `exptime` 0 = now, otherwise a protocol exptime (relative or absolute) at
    /// which every item stored before it becomes invalid.
    pub fn flush_all(&mut self, exptime: i64, clock: &Clock) {
        self.flush(exptime, clock)
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Arena memory handed to slab classes so far (never above `memory_limit_bytes`).
    pub fn memory_used_bytes(&self) -> usize {
        self.slabs.pages_used_count() * self.slabs.page_size_bytes()
    }

    /// Size of the arena: whole pages within `memory_limit_bytes`.
    pub fn arena_size_bytes(&self) -> usize {
        self.arena.size_bytes()
    }

    pub fn page_size_bytes(&self) -> usize {
        self.slabs.page_size_bytes()
    }

    pub fn page_count(&self) -> usize {
        self.slabs.page_count()
    }

    /// Memory of the hash index (outside the arena), memcached `hash_bytes`.
    pub fn index_memory_bytes(&self) -> usize {
        self.index.memory_bytes()
    }

    /// All memory the store holds outside the arena, fixed at start-up: index, ghost, page
    /// table and the per-class state. Resident memory is at most the arena plus this.
    pub fn overhead_memory_bytes(&self) -> usize {
        self.index.memory_bytes()
            + self.ghost.memory_bytes()
            + self.slabs.table_memory_bytes()
            + std::mem::size_of::<Store>()
    }

    /// Proactive work for the shard's 1-second timer and idle turns: reclaims expired and
    /// flushed items (a crawler over all chunks, resuming where it stopped) and lets the class
    /// that evicted most take a page from a much colder class. Visits at most `budget_items`
    /// chunks (plus one page if a page moves); returns the chunks visited.
    pub fn maintain(&mut self, clock: &Clock, budget_items: usize) -> usize {
        self.maintain_store(clock, budget_items)
    }

    /// The crawler half of [`Store::maintain`] alone, for callers that spread it over many
    /// short calls: visits at most `budget_items` chunks, fewer only once it has gone round
    /// every page.
    pub fn crawl_expired(&mut self, clock: &Clock, budget_items: usize) -> usize {
        self.crawl(clock, budget_items)
    }

    /// The rebalance half of [`Store::maintain`] alone (once per second is its pace).
    pub fn rebalance(&mut self, clock: &Clock) {
        self.rebalance_check(clock);
    }

    /// Per-class figures for `stats slabs` / `stats items`, for classes that own a page or
    /// have evicted or reclaimed anything.
    pub fn slab_class_stats(&self, clock: &Clock) -> impl Iterator<Item = SlabClassStats> + '_ {
        let now = clock.now_rel();
        (0..self.slabs.class_count())
            .map(move |c| self.class_stats(c as u8, now))
            .filter(|s| s.total_pages > 0 || s.evicted > 0 || s.reclaimed > 0 || s.outofmemory > 0)
    }

    fn class_stats(&self, class: u8, now: RelTime) -> SlabClassStats {
        let counters = self.policy.counters(class);
        let chunk_size = self.slabs.chunk_size_bytes(class) as u64;
        let chunks_per_page = self.slabs.chunks_per_page(class) as u64;
        let total_pages = u64::from(self.slabs.class_page_count(class));
        let total_chunks = self.slabs.carved_count(class);
        let free_chunks = self.slabs.free_count(class);
        let age = self
            .coldest_access(class)
            .map_or(0, |(access, _)| now.saturating_sub(access));
        SlabClassStats {
            class,
            chunk_size,
            chunks_per_page,
            total_pages,
            total_chunks,
            used_chunks: total_chunks - free_chunks,
            free_chunks,
            free_chunks_end: (total_pages * chunks_per_page).saturating_sub(total_chunks),
            number: self.policy.item_count(class),
            number_small: self.policy.small_count(class),
            age: u64::from(age),
            evicted: counters.evicted,
            evicted_unfetched: counters.evicted_unfetched,
            evicted_time: u64::from(counters.evicted_time_secs),
            expired_unfetched: counters.expired_unfetched,
            reclaimed: counters.reclaimed,
            crawler_reclaimed: counters.crawler_reclaimed,
            outofmemory: counters.outofmemory,
            moves_to_main: counters.moved_to_main,
        }
    }

    pub fn slab_class_count(&self) -> usize {
        self.slabs.class_count()
    }

    /// Chunk size of a slab class (meta debug, `stats slabs`).
    pub fn slab_chunk_size_bytes(&self, slab_class: u8) -> usize {
        self.slabs.chunk_size_bytes(slab_class)
    }
}
