//! The memcached text protocol codec: request parsing for the server, reply encoding helpers,
//! and a client-side response parser (shared with the load generator and the tests).
//!
//! Goals: memcached 1.6.18's classic and meta text protocol, answered byte for byte as
//! memcached answers it, including its error lines and its handling of malformed input.
//! Non-goals: the binary protocol, SASL, the proxy.
//!
//! Invariants:
//! - Parsers never allocate; everything they return borrows the input (`&[u8]`), except a
//!   base64-decoded meta key, which lives in a fixed array inside [`meta::MetaKey`].
//! - Every limit is a named constant: [`KEY_LEN_MAX`], [`line::LINE_LEN_MAX_BYTES`],
//!   [`line::GET_LINE_LEN_MAX_BYTES`], [`line::TOKENS_MAX`], [`meta::META_TOKENS_MAX`],
//!   [`meta::OPAQUE_LEN_MAX`].
//! - A request is framed by [`line::frame`], parsed by [`request::parse`]; the value block of
//!   a storage command is not part of the request: the executor streams it into the store.
//!
//! ```text
//!   input bytes ──frame──> line ──parse──> Request<'line> ──exec──> reply bytes
//!                  │                          │ Store: value_len bytes + "\r\n" follow,
//!                  └ TooLong: close           └ streamed by exec/storage.rs
//! ```

pub mod base64;
#[doc(hidden)]
pub mod check;
pub mod client;
pub mod line;
pub mod meta;
pub mod number;
pub mod peek;
pub mod reply;
pub mod request;
pub mod response;

pub use line::{frame, Frame};
pub use reply::ProtoError;
pub use request::{parse, Request};

/// memcached `KEY_MAX_LENGTH`.
pub const KEY_LEN_MAX: usize = 250;
