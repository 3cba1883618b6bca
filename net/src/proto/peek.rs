//! A glance at the first key of a request before it is parsed, for prefetching (see the
//! shard's turn): a hint only, so it may miss keys (it never reads past the first key, nor
//! base64 meta keys) but never makes up one the parser would not see.

use super::KEY_LEN_MAX;

/// Commands whose first argument is a key.
const KEYED_COMMANDS: [&[u8]; 16] = [
    b"get", b"gets", b"set", b"add", b"replace", b"append", b"prepend", b"cas", b"incr", b"decr",
    b"delete", b"touch", b"mg", b"ms", b"md", b"ma",
];
/// The longest of [`KEYED_COMMANDS`], plus its space.
const COMMAND_LEN_MAX_BYTES: usize = 8;

/// The first key of the request at the start of `input`, if its command names one and the
/// key is whole (followed by a space or the line's end).
pub fn first_key(input: &[u8]) -> Option<&[u8]> {
    let head = &input[..input.len().min(COMMAND_LEN_MAX_BYTES)];
    let space = head.iter().position(|&b| b == b' ')?;
    if !KEYED_COMMANDS.contains(&&input[..space]) {
        return None;
    }
    let rest = &input[space + 1..];
    let window = &rest[..rest.len().min(KEY_LEN_MAX + 1)];
    let end = window
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))?;
    (end > 0).then_some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_key_of_keyed_commands() {
        assert_eq!(first_key(b"get foo\r\n"), Some(&b"foo"[..]));
        assert_eq!(first_key(b"gets a b c\r\n"), Some(&b"a"[..]));
        assert_eq!(first_key(b"set k 0 0 5\r\nhello\r\n"), Some(&b"k"[..]));
        assert_eq!(first_key(b"mg key v\r\n"), Some(&b"key"[..]));
        assert_eq!(first_key(b"delete x\n"), Some(&b"x"[..]));
    }

    #[test]
    fn gives_nothing_when_unsure() {
        assert_eq!(first_key(b"stats\r\n"), None);
        assert_eq!(
            first_key(b"gat 10 foo\r\n"),
            None,
            "gat's first argument is a time"
        );
        assert_eq!(first_key(b"get fo"), None, "key not whole yet");
        assert_eq!(first_key(b"get  foo\r\n"), None);
        assert_eq!(first_key(b"getfoo bar\r\n"), None);
        assert_eq!(first_key(b""), None);
        let long = [b"get ".as_slice(), &[b'a'; KEY_LEN_MAX + 1], b"\r\n"].concat();
        assert_eq!(first_key(&long), None, "longer than any key");
    }
}
