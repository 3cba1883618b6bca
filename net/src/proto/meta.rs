//! Meta commands (`mg ms md ma me mn`): key, flags and their checks, following memcached
//! 1.6.18's `_meta_flag_preparse` and the per-command checks around it.
//!
//! Flags are single characters, some with a token glued on (`T30`, `Oopaque`). Each flag may
//! appear once. The accepted set is memcached 1.6.18's: `b c f h k l q s t u v C D F I J L M
//! N O P R T`; any other flag is `CLIENT_ERROR invalid flag` (md/ma: `invalid or duplicate
//! flag`), reported as soon as the walk reaches it, before any duplicate after it.
//!
//! An opaque over [`OPAQUE_LEN_MAX`] is rejected here for ms and md; mg and ma find it only
//! while building their reply, after the lookup (see `exec/meta.rs`).

use super::base64;
use super::line::Tokens;
use super::number::{parse_i32, parse_u32, parse_u64};
use super::reply::ProtoError;
use super::request::{reject, Request};
use super::KEY_LEN_MAX;

/// memcached `MFLAG_MAX_OPT_LENGTH`: more tokens than this (command, key, flags and the
/// terminal entry) is "options flags too long".
pub const META_TOKENS_MAX: usize = 20;
/// memcached `MFLAG_MAX_OPAQUE_LENGTH`, counting the `O`.
pub const OPAQUE_LEN_MAX: usize = 32;
/// A base64 key of at most [`KEY_LEN_MAX`] bytes decodes to at most this many.
pub const BINARY_KEY_LEN_MAX: usize = KEY_LEN_MAX / 4 * 3;
/// Flags in one request can never exceed this many.
pub const META_FLAGS_MAX: usize = META_TOKENS_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaCommand {
    Get,
    Set,
    Delete,
    Arith,
    Debug,
}

/// A meta key: the token as sent and, with the `b` flag, its decoded bytes.
#[derive(Clone, Copy, Debug)]
pub struct MetaKey<'a> {
    pub raw: &'a [u8],
    pub binary: bool,
    decoded: [u8; BINARY_KEY_LEN_MAX],
    decoded_len: u8,
}

impl<'a> MetaKey<'a> {
    fn text(raw: &'a [u8]) -> MetaKey<'a> {
        MetaKey {
            raw,
            binary: false,
            decoded: [0; BINARY_KEY_LEN_MAX],
            decoded_len: 0,
        }
    }

    /// Decodes the key in place of the text form; `false` if it is not valid base64.
    fn decode(&mut self) -> bool {
        match base64::decode(self.raw, &mut self.decoded) {
            Some(len) => {
                self.binary = true;
                self.decoded_len = len as u8;
                true
            }
            None => false,
        }
    }

    /// The key as stored.
    pub fn bytes(&self) -> &[u8] {
        if self.binary {
            &self.decoded[..self.decoded_len as usize]
        } else {
            self.raw
        }
    }
}

/// Parsed meta flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaFlags<'a> {
    pub return_cas: bool,
    pub return_flags: bool,
    pub return_hit: bool,
    pub return_key: bool,
    pub return_last_access: bool,
    pub return_size: bool,
    pub return_ttl: bool,
    pub return_value: bool,
    pub no_bump: bool,
    pub quiet: bool,
    /// The whole `O...` token.
    pub opaque: Option<&'a [u8]>,
    pub vivify_exptime: Option<i32>,
    pub ttl_update: Option<i32>,
    pub recache_secs: Option<i32>,
    pub client_flags: u32,
    pub compare_cas: Option<u64>,
    pub mode: Option<u8>,
    pub initial: u64,
    pub delta: Option<u64>,
    pub invalidate: bool,
    /// Flag characters in request order: replies echo return flags in this order.
    pub order: [u8; META_FLAGS_MAX],
    pub order_len: usize,
}

impl MetaFlags<'_> {
    pub fn in_order(&self) -> &[u8] {
        &self.order[..self.order_len]
    }
}

#[derive(Clone, Copy, Debug)]
pub struct MetaRequest<'a> {
    pub command: MetaCommand,
    pub key: MetaKey<'a>,
    pub flags: MetaFlags<'a>,
    /// ms: value bytes that follow the line (without `\r\n`).
    pub value_len: usize,
}

/// memcached's pre-parse: `Err` carries the error line memcached would pick.
fn preparse<'a>(
    flag_tokens: &[&'a [u8]],
    key: &mut MetaKey<'a>,
) -> Result<MetaFlags<'a>, ProtoError> {
    let mut f = MetaFlags::default();
    let mut seen = [false; 128];
    let mut error: Option<ProtoError> = None;
    for &token in flag_tokens {
        let o = token[0];
        if o >= 127 || seen[o as usize] {
            return Err(ProtoError::DuplicateFlag);
        }
        seen[o as usize] = true;
        let arg = &token[1..];
        match o {
            b'b' => {
                if !key.decode() {
                    error = Some(ProtoError::DecodingKey);
                }
            }
            b'N' | b'T' | b'R' => match parse_i32(arg) {
                Some(v) if o == b'N' => f.vivify_exptime = Some(v),
                Some(v) if o == b'T' => f.ttl_update = Some(v),
                Some(v) => f.recache_secs = Some(v),
                None => error = Some(ProtoError::BadToken),
            },
            b'O' => f.opaque = Some(token),
            b'P' | b'L' => {}
            b'k' => f.return_key = true,
            b's' => f.return_size = true,
            b't' => f.return_ttl = true,
            b'c' => f.return_cas = true,
            b'f' => f.return_flags = true,
            b'l' => f.return_last_access = true,
            b'h' => f.return_hit = true,
            b'v' => f.return_value = true,
            b'u' => f.no_bump = true,
            b'q' => f.quiet = true,
            b'F' => match parse_u32(arg) {
                Some(v) => f.client_flags = v,
                // memcached flags the error without choosing a message.
                None => error = Some(error.unwrap_or(ProtoError::BadFormat)),
            },
            b'C' => match parse_u64(arg) {
                Some(v) => f.compare_cas = Some(v),
                None => error = Some(ProtoError::BadToken),
            },
            b'M' => {
                if token.len() != 2 {
                    error = Some(ProtoError::IncorrectMLength);
                } else {
                    f.mode = Some(token[1]);
                }
            }
            b'J' => match parse_u64(arg) {
                Some(v) => f.initial = v,
                None => error = Some(ProtoError::InvalidInitial),
            },
            b'D' => match parse_u64(arg) {
                Some(v) => f.delta = Some(v),
                None => error = Some(ProtoError::InvalidDeltaValue),
            },
            b'I' => f.invalidate = true,
            // `E` (explicit CAS) and `x` (md: drop the value only) arrive with a newer
            // memcached baseline; the engine already supports them.
            _ => return Err(ProtoError::InvalidFlag),
        }
        f.order[f.order_len] = o;
        f.order_len += 1;
    }
    match error {
        Some(e) => Err(e),
        None => Ok(f),
    }
}

/// The opaque token (with its `O`) is longer than memcached accepts.
pub fn opaque_too_long(f: &MetaFlags<'_>) -> bool {
    f.opaque.is_some_and(|o| o.len() > OPAQUE_LEN_MAX)
}

fn forced<'a>(error: ProtoError) -> Request<'a> {
    reject(error, false)
}

/// Parses `m<which> ...` (which is one of `g s d a e`).
pub fn parse<'a>(which: u8, tokens: &Tokens<'a>) -> Request<'a> {
    let ntokens = tokens.ntokens();
    let raw_key = tokens.get(1);
    if which == b'e' {
        return parse_debug(tokens);
    }
    if ntokens < 3 {
        return forced(ProtoError::UnknownCommand);
    }
    if raw_key.len() > KEY_LEN_MAX {
        return forced(ProtoError::BadFormat);
    }
    let mut key = MetaKey::text(raw_key);
    let all = tokens.as_slice();
    match which {
        b'g' => {
            if ntokens > META_TOKENS_MAX {
                return forced(ProtoError::OptionsFlagsAreTooLong);
            }
            let flags = match preparse(&all[2..], &mut key) {
                Ok(f) => f,
                Err(e) => return forced(e),
            };
            Request::Meta(MetaRequest {
                command: MetaCommand::Get,
                key,
                flags,
                value_len: 0,
            })
        }
        b's' => parse_set(tokens, key),
        _ => {
            if ntokens > META_TOKENS_MAX {
                return forced(ProtoError::OptionsFlagsTooLong);
            }
            let flags = match preparse(&all[2..], &mut key) {
                Ok(f) => f,
                Err(_) => return forced(ProtoError::InvalidOrDuplicateFlag),
            };
            let command = if which == b'd' {
                MetaCommand::Delete
            } else {
                MetaCommand::Arith
            };
            if command == MetaCommand::Arith
                && !matches!(flags.mode, None | Some(b'I' | b'+' | b'D' | b'-'))
            {
                return forced(ProtoError::InvalidMaMode);
            }
            if command == MetaCommand::Delete && opaque_too_long(&flags) {
                return forced(ProtoError::OpaqueTooLong);
            }
            Request::Meta(MetaRequest {
                command,
                key,
                flags,
                value_len: 0,
            })
        }
    }
}

fn parse_set<'a>(tokens: &Tokens<'a>, mut key: MetaKey<'a>) -> Request<'a> {
    let ntokens = tokens.ntokens();
    if ntokens == 3 {
        return forced(ProtoError::BadFormat);
    }
    if ntokens > META_TOKENS_MAX {
        return forced(ProtoError::OptionsFlagsTooLong);
    }
    let value_len = match parse_i32(tokens.get(2)) {
        Some(v) if (0..=i32::MAX - 2).contains(&v) => v as usize,
        _ => return forced(ProtoError::BadFormat),
    };
    // From here on memcached swallows the data block after an error.
    let swallow = |error| Request::Reject {
        error,
        noreply: false,
        swallow_bytes: value_len + 2,
    };
    let flags = match preparse(&tokens.as_slice()[3..], &mut key) {
        Ok(f) => f,
        Err(e) => return swallow(e),
    };
    if !matches!(flags.mode, None | Some(b'E' | b'A' | b'P' | b'R' | b'S')) {
        return swallow(ProtoError::InvalidMsMode);
    }
    if opaque_too_long(&flags) {
        return swallow(ProtoError::OpaqueTooLong);
    }
    Request::Meta(MetaRequest {
        command: MetaCommand::Set,
        key,
        flags,
        value_len,
    })
}

fn parse_debug<'a>(tokens: &Tokens<'a>) -> Request<'a> {
    let raw_key = tokens.get(1);
    if tokens.ntokens() < 3 || raw_key.len() > KEY_LEN_MAX {
        return forced(ProtoError::BadFormat);
    }
    let mut key = MetaKey::text(raw_key);
    if tokens.ntokens() >= 4 && tokens.get(2) == b"b" && !key.decode() {
        return forced(ProtoError::BadFormat);
    }
    Request::Meta(MetaRequest {
        command: MetaCommand::Debug,
        key,
        flags: MetaFlags::default(),
        value_len: 0,
    })
}
