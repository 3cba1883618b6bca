//! Classic text-protocol requests: one command line in, one [`Request`] out, borrowing from
//! the line. The dispatch order, token-count checks and error choices follow memcached
//! 1.6.18's `process_command_ascii` so that malformed input gets the same answer.

use super::line::Tokens;
use super::meta::{self, MetaRequest};
use super::number::{parse_i32, parse_u32, parse_u64};
use super::reply::ProtoError;
use super::KEY_LEN_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetKind {
    Get,
    Gets,
    Gat,
    Gats,
}

impl GetKind {
    pub fn returns_cas(self) -> bool {
        matches!(self, GetKind::Gets | GetKind::Gats)
    }

    pub fn touches(self) -> bool {
        matches!(self, GetKind::Gat | GetKind::Gats)
    }
}

/// get/gets/gat/gats (and the ancient `bget`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GetRequest<'a> {
    pub kind: GetKind,
    /// gat/gats only.
    pub exptime: i64,
    /// The rest of the line, holding the space-separated keys.
    pub keys: &'a [u8],
    /// Where `keys` starts in the command line (to resume a multi-get).
    pub keys_offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCommand {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreRequest<'a> {
    pub command: StoreCommand,
    pub key: &'a [u8],
    pub flags: u32,
    pub exptime: i64,
    pub value_len: usize,
    pub cas: u64,
    pub noreply: bool,
}

#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    Get(GetRequest<'a>),
    Store(StoreRequest<'a>),
    Delete {
        key: &'a [u8],
        noreply: bool,
    },
    Arith {
        key: &'a [u8],
        decr: bool,
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: &'a [u8],
        exptime: i64,
        noreply: bool,
    },
    FlushAll {
        exptime: i64,
        noreply: bool,
    },
    Verbosity {
        level: u32,
        noreply: bool,
    },
    Version,
    Quit,
    Stats(Tokens<'a>),
    Meta(MetaRequest<'a>),
    MetaNoop,
    /// An error reply (suppressed when `noreply`), then skip `swallow_bytes` of input.
    Reject {
        error: ProtoError,
        noreply: bool,
        swallow_bytes: usize,
    },
    /// Close the connection without a reply (an HTTP request line).
    Close,
}

pub(crate) fn reject<'a>(error: ProtoError, noreply: bool) -> Request<'a> {
    Request::Reject {
        error,
        noreply,
        swallow_bytes: 0,
    }
}

fn want<'a>(ok: bool, then: impl FnOnce() -> Request<'a>) -> Request<'a> {
    if ok {
        then()
    } else {
        unknown()
    }
}

fn unknown<'a>() -> Request<'a> {
    reject(ProtoError::UnknownCommand, false)
}

/// Offset of `part` (a sub-slice of `line`) within `line`.
fn offset_in(line: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - line.as_ptr() as usize
}

/// Parses one command line (without its line ending).
pub fn parse(line: &[u8]) -> Request<'_> {
    let tokens = Tokens::new(line);
    let ntokens = tokens.ntokens();
    let command = tokens.get(0);
    if ntokens < 2 || command.len() < 2 {
        return unknown();
    }
    if command[0] == b'm' && command.len() == 2 {
        return match command[1] {
            b'n' => Request::MetaNoop,
            b'g' | b's' | b'd' | b'a' | b'e' => meta::parse(command[1], &tokens),
            _ => unknown(),
        };
    }
    match command {
        b"get" | b"gets" | b"gat" | b"gats" | b"bget" => {
            want(ntokens >= 3, || parse_get(line, &tokens))
        }
        b"set" => want(ntokens == 6 || ntokens == 7, || {
            parse_store(&tokens, StoreCommand::Set)
        }),
        b"add" => want(ntokens == 6 || ntokens == 7, || {
            parse_store(&tokens, StoreCommand::Add)
        }),
        b"append" => want(ntokens == 6 || ntokens == 7, || {
            parse_store(&tokens, StoreCommand::Append)
        }),
        b"replace" => want(ntokens == 6 || ntokens == 7, || {
            parse_store(&tokens, StoreCommand::Replace)
        }),
        b"prepend" => want(ntokens == 6 || ntokens == 7, || {
            parse_store(&tokens, StoreCommand::Prepend)
        }),
        b"cas" => want(ntokens == 7 || ntokens == 8, || {
            parse_store(&tokens, StoreCommand::Cas)
        }),
        b"stats" => Request::Stats(tokens),
        b"shutdown" => reject(ProtoError::ShutdownDisabled, false),
        b"incr" => want(ntokens == 4 || ntokens == 5, || parse_arith(&tokens, false)),
        b"decr" => want(ntokens == 4 || ntokens == 5, || parse_arith(&tokens, true)),
        b"delete" => want((3..=5).contains(&ntokens), || parse_delete(&tokens)),
        b"touch" => want(ntokens == 4 || ntokens == 5, || parse_touch(&tokens)),
        b"flush_all" => want((2..=4).contains(&ntokens), || parse_flush_all(&tokens)),
        b"version" => Request::Version,
        b"quit" => Request::Quit,
        b"verbosity" => want(ntokens == 3 || ntokens == 4, || parse_verbosity(&tokens)),
        _ => {
            // memcached drops a connection that speaks HTTP to it.
            let last = tokens.get(tokens.len() - 1);
            if !matches!(command[0], b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't')
                && last.starts_with(b"HTTP/")
            {
                Request::Close
            } else {
                unknown()
            }
        }
    }
}

fn parse_get<'a>(line: &'a [u8], tokens: &Tokens<'a>) -> Request<'a> {
    let (kind, exptime, first_key) = match tokens.get(0) {
        b"gets" => (GetKind::Gets, 0, 1),
        b"gat" | b"gats" => {
            let Some(exptime) = parse_i32(tokens.get(1)) else {
                return reject(ProtoError::InvalidExptime, false);
            };
            let kind = if tokens.get(0) == b"gat" {
                GetKind::Gat
            } else {
                GetKind::Gats
            };
            (kind, i64::from(exptime), 2)
        }
        _ => (GetKind::Get, 0, 1),
    };
    let keys_offset = if first_key < tokens.len() {
        offset_in(line, tokens.get(first_key))
    } else {
        line.len()
    };
    Request::Get(GetRequest {
        kind,
        exptime,
        keys: &line[keys_offset..],
        keys_offset,
    })
}

fn parse_store<'a>(tokens: &Tokens<'a>, command: StoreCommand) -> Request<'a> {
    let noreply = tokens.last_is_noreply();
    let key = tokens.get(1);
    if key.len() > KEY_LEN_MAX {
        return reject(ProtoError::BadFormat, noreply);
    }
    let (Some(flags), Some(exptime), Some(value_len)) = (
        parse_u32(tokens.get(2)),
        parse_i32(tokens.get(3)),
        parse_i32(tokens.get(4)),
    ) else {
        return reject(ProtoError::BadFormat, noreply);
    };
    let mut cas = 0;
    if command == StoreCommand::Cas {
        match parse_u64(tokens.get(5)) {
            Some(v) => cas = v,
            None => return reject(ProtoError::BadFormat, noreply),
        }
    }
    if !(0..=i32::MAX - 2).contains(&value_len) {
        return reject(ProtoError::BadFormat, noreply);
    }
    Request::Store(StoreRequest {
        command,
        key,
        flags,
        exptime: i64::from(exptime),
        value_len: value_len as usize,
        cas,
        noreply,
    })
}

fn parse_arith<'a>(tokens: &Tokens<'a>, decr: bool) -> Request<'a> {
    let noreply = tokens.last_is_noreply();
    let key = tokens.get(1);
    if key.len() > KEY_LEN_MAX {
        return reject(ProtoError::BadFormat, noreply);
    }
    match parse_u64(tokens.get(2)) {
        Some(delta) => Request::Arith {
            key,
            decr,
            delta,
            noreply,
        },
        None => reject(ProtoError::InvalidDelta, noreply),
    }
}

fn parse_delete<'a>(tokens: &Tokens<'a>) -> Request<'a> {
    let ntokens = tokens.ntokens();
    let mut noreply = false;
    if ntokens > 3 {
        let hold_is_zero = tokens.get(2) == b"0";
        noreply = tokens.last_is_noreply();
        let valid = (ntokens == 4 && (hold_is_zero || noreply))
            || (ntokens == 5 && hold_is_zero && noreply);
        if !valid {
            return reject(ProtoError::BadDeleteFormat, noreply);
        }
    }
    let key = tokens.get(1);
    if key.len() > KEY_LEN_MAX {
        return reject(ProtoError::BadFormat, noreply);
    }
    Request::Delete { key, noreply }
}

fn parse_touch<'a>(tokens: &Tokens<'a>) -> Request<'a> {
    let noreply = tokens.last_is_noreply();
    let key = tokens.get(1);
    if key.len() > KEY_LEN_MAX {
        return reject(ProtoError::BadFormat, noreply);
    }
    match parse_i32(tokens.get(2)) {
        Some(exptime) => Request::Touch {
            key,
            exptime: i64::from(exptime),
            noreply,
        },
        None => reject(ProtoError::InvalidExptime, noreply),
    }
}

fn parse_flush_all<'a>(tokens: &Tokens<'a>) -> Request<'a> {
    let noreply = tokens.last_is_noreply();
    let mut exptime = 0;
    if tokens.ntokens() != if noreply { 3 } else { 2 } {
        match parse_i32(tokens.get(1)) {
            Some(v) => exptime = v,
            None => return reject(ProtoError::InvalidExptime, noreply),
        }
    }
    Request::FlushAll {
        exptime: i64::from(exptime),
        noreply,
    }
}

fn parse_verbosity<'a>(tokens: &Tokens<'a>) -> Request<'a> {
    let noreply = tokens.last_is_noreply();
    match parse_u32(tokens.get(1)) {
        Some(level) => Request::Verbosity { level, noreply },
        None => reject(ProtoError::BadFormat, noreply),
    }
}
