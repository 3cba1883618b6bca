//! io_uring shard runtime (owned by the lead).
