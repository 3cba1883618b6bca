//! Client side: an incremental parser for server responses (the load generator and the
//! tests use it). Call [`parse_response`] on the bytes received so far; it returns the first
//! complete response element and its length, or `Ok(None)` when more bytes are needed.
//! Nothing is allocated: every field borrows the buffer.

use super::line::memchr;
use super::number::parse_u64;

/// Longest response line accepted before the stream is declared malformed.
pub const RESPONSE_LINE_LEN_MAX_BYTES: usize = 8 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaCode {
    /// `HD`: success without a value.
    Hd,
    /// `VA <size>`: success with a value block.
    Va,
    /// `EN`: miss.
    En,
    Nf,
    Ns,
    Ex,
    /// `MN`: the answer to `mn`.
    Mn,
    /// `ME <key> <k=v>...`: the answer to `me`.
    Me,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// One `VALUE` block of a get (the caller collects blocks until [`Response::End`]).
    Value {
        key: &'a [u8],
        flags: u32,
        cas: Option<u64>,
        data: &'a [u8],
    },
    End,
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Ok,
    Reset,
    /// incr/decr result.
    Number(u64),
    Error,
    ClientError(&'a [u8]),
    ServerError(&'a [u8]),
    Stat {
        name: &'a [u8],
        value: &'a [u8],
    },
    Version(&'a [u8]),
    /// Meta reply: `flags` is the rest of the status line (return flags, or for `VA` the
    /// flags after the size), `data` the value block of `VA`.
    Meta {
        code: MetaCode,
        flags: &'a [u8],
        data: Option<&'a [u8]>,
    },
}

/// The stream does not follow the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    UnknownLine,
    BadValueHeader,
    BadDataTerminator,
    LineTooLong,
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match memchr(b' ', s) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// A data block of `len` bytes plus `\r\n` at `buf[start..]`.
fn data_block(
    buf: &[u8],
    start: usize,
    len: usize,
) -> Result<Option<(&[u8], usize)>, ResponseError> {
    let end = start
        .checked_add(len)
        .ok_or(ResponseError::BadValueHeader)?;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ResponseError::BadDataTerminator);
    }
    Ok(Some((&buf[start..end], end + 2)))
}

/// Parses the first response element of `buf`: `(element, bytes it occupies)`.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response<'_>, usize)>, ResponseError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > RESPONSE_LINE_LEN_MAX_BYTES {
            return Err(ResponseError::LineTooLong);
        }
        return Ok(None);
    };
    if nl == 0 || buf[nl - 1] != b'\r' {
        return Err(ResponseError::UnknownLine);
    }
    let line = &buf[..nl - 1];
    let line_len = nl + 1;
    let simple = |r| Ok(Some((r, line_len)));
    match line {
        b"END" => return simple(Response::End),
        b"STORED" => return simple(Response::Stored),
        b"NOT_STORED" => return simple(Response::NotStored),
        b"EXISTS" => return simple(Response::Exists),
        b"NOT_FOUND" => return simple(Response::NotFound),
        b"DELETED" => return simple(Response::Deleted),
        b"TOUCHED" => return simple(Response::Touched),
        b"OK" => return simple(Response::Ok),
        b"RESET" => return simple(Response::Reset),
        b"ERROR" => return simple(Response::Error),
        _ => {}
    }
    let (head, rest) = split_word(line);
    match head {
        b"VALUE" => {
            let (key, rest) = split_word(rest);
            let (flags, rest) = split_word(rest);
            let (len, rest) = split_word(rest);
            let (cas, rest) = split_word(rest);
            let flags = parse_u64(flags).filter(|&f| f <= u64::from(u32::MAX));
            let len = parse_u64(len);
            let cas = if cas.is_empty() {
                Some(None)
            } else {
                parse_u64(cas).map(Some)
            };
            let (Some(flags), Some(len), Some(cas)) = (flags, len, cas) else {
                return Err(ResponseError::BadValueHeader);
            };
            if key.is_empty() || !rest.is_empty() {
                return Err(ResponseError::BadValueHeader);
            }
            Ok(data_block(buf, line_len, len as usize)?.map(|(data, end)| {
                (
                    Response::Value {
                        key,
                        flags: flags as u32,
                        cas,
                        data,
                    },
                    end,
                )
            }))
        }
        // memcached has a few `ERROR <text>` lines (`ERROR: shutdown not enabled`).
        b"ERROR" | b"ERROR:" => simple(Response::Error),
        b"CLIENT_ERROR" => simple(Response::ClientError(rest)),
        b"SERVER_ERROR" => simple(Response::ServerError(rest)),
        b"STAT" => {
            let (name, value) = split_word(rest);
            simple(Response::Stat { name, value })
        }
        b"VERSION" => simple(Response::Version(rest)),
        b"VA" => {
            let (len, flags) = split_word(rest);
            let len = parse_u64(len).ok_or(ResponseError::BadValueHeader)?;
            Ok(data_block(buf, line_len, len as usize)?.map(|(data, end)| {
                (
                    Response::Meta {
                        code: MetaCode::Va,
                        flags,
                        data: Some(data),
                    },
                    end,
                )
            }))
        }
        b"HD" | b"EN" | b"NF" | b"NS" | b"EX" | b"MN" | b"ME" => {
            let code = match head {
                b"HD" => MetaCode::Hd,
                b"EN" => MetaCode::En,
                b"NF" => MetaCode::Nf,
                b"NS" => MetaCode::Ns,
                b"EX" => MetaCode::Ex,
                b"MN" => MetaCode::Mn,
                _ => MetaCode::Me,
            };
            simple(Response::Meta {
                code,
                flags: rest,
                data: None,
            })
        }
        _ => match parse_u64(line) {
            Some(n) if line.iter().all(u8::is_ascii_digit) => simple(Response::Number(n)),
            _ => Err(ResponseError::UnknownLine),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_incrementally() {
        let stream: &[u8] =
            b"VALUE k 5 3 9\r\nabc\r\nEND\r\nSTORED\r\n42\r\nVA 2 f1\r\nhi\r\nEN\r\n\
            CLIENT_ERROR bad data chunk\r\nSTAT pid 1\r\nVERSION 1.6.18\r\nMN\r\n";
        let mut all = Vec::new();
        let mut pos = 0;
        while pos < stream.len() {
            // Every strict prefix of the next element is incomplete.
            let (resp, len) = parse_response(&stream[pos..]).unwrap().unwrap();
            for cut in pos..pos + len {
                assert_eq!(
                    parse_response(&stream[pos..cut]).unwrap(),
                    None,
                    "cut {cut}"
                );
            }
            all.push(resp);
            pos += len;
        }
        assert_eq!(
            all,
            vec![
                Response::Value {
                    key: b"k",
                    flags: 5,
                    cas: Some(9),
                    data: b"abc"
                },
                Response::End,
                Response::Stored,
                Response::Number(42),
                Response::Meta {
                    code: MetaCode::Va,
                    flags: b"f1",
                    data: Some(b"hi")
                },
                Response::Meta {
                    code: MetaCode::En,
                    flags: b"",
                    data: None
                },
                Response::ClientError(b"bad data chunk"),
                Response::Stat {
                    name: b"pid",
                    value: b"1"
                },
                Response::Version(b"1.6.18"),
                Response::Meta {
                    code: MetaCode::Mn,
                    flags: b"",
                    data: None
                },
            ]
        );
    }

    #[test]
    fn malformed_streams_are_errors() {
        assert_eq!(
            parse_response(b"HELLO\r\n"),
            Err(ResponseError::UnknownLine)
        );
        assert_eq!(parse_response(b"END\n"), Err(ResponseError::UnknownLine));
        assert_eq!(
            parse_response(b"VALUE k x 1\r\na\r\n"),
            Err(ResponseError::BadValueHeader)
        );
        assert_eq!(
            parse_response(b"VALUE k 0 1\r\nab\r\n"),
            Err(ResponseError::BadDataTerminator)
        );
    }
}
