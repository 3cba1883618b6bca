//! Reply lines, each exactly as memcached 1.6.18 sends it.

/// Protocol errors, one per distinct memcached error line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    /// Unknown command or wrong number of tokens.
    UnknownCommand,
    BadFormat,
    BadDeleteFormat,
    InvalidExptime,
    InvalidDelta,
    BadDataChunk,
    NonNumeric,
    TooLarge,
    OutOfMemoryStoring,
    OutOfMemory,
    OutOfMemoryVivify,
    ShutdownDisabled,
    StatsDetailUsage,
    /// `stats cachedump`: ringcache lists no keys (memcached started with `-X`).
    CachedumpNotAllowed,
    // Meta.
    InvalidFlag,
    DuplicateFlag,
    InvalidOrDuplicateFlag,
    BadToken,
    OpaqueTooLong,
    /// mg's wording.
    OptionsFlagsAreTooLong,
    /// ms/md/ma's wording.
    OptionsFlagsTooLong,
    DecodingKey,
    IncorrectMLength,
    InvalidInitial,
    InvalidDeltaValue,
    InvalidMsMode,
    InvalidMaMode,
}

impl ProtoError {
    /// The reply line, including `\r\n`.
    pub fn line(self) -> &'static [u8] {
        match self {
            ProtoError::UnknownCommand => b"ERROR\r\n",
            ProtoError::BadFormat => b"CLIENT_ERROR bad command line format\r\n",
            ProtoError::BadDeleteFormat => {
                b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
            }
            ProtoError::InvalidExptime => b"CLIENT_ERROR invalid exptime argument\r\n",
            ProtoError::InvalidDelta => b"CLIENT_ERROR invalid numeric delta argument\r\n",
            ProtoError::BadDataChunk => b"CLIENT_ERROR bad data chunk\r\n",
            ProtoError::NonNumeric => {
                b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
            }
            ProtoError::TooLarge => b"SERVER_ERROR object too large for cache\r\n",
            ProtoError::OutOfMemoryStoring => b"SERVER_ERROR out of memory storing object\r\n",
            ProtoError::OutOfMemory => b"SERVER_ERROR out of memory\r\n",
            ProtoError::OutOfMemoryVivify => b"SERVER_ERROR Out of memory allocating new item\r\n",
            ProtoError::ShutdownDisabled => b"ERROR: shutdown not enabled\r\n",
            ProtoError::StatsDetailUsage => b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
            ProtoError::CachedumpNotAllowed => b"CLIENT_ERROR stats cachedump not allowed\r\n",
            ProtoError::InvalidFlag => b"CLIENT_ERROR invalid flag\r\n",
            ProtoError::DuplicateFlag => b"CLIENT_ERROR duplicate flag\r\n",
            ProtoError::InvalidOrDuplicateFlag => b"CLIENT_ERROR invalid or duplicate flag\r\n",
            ProtoError::BadToken => b"CLIENT_ERROR bad token in command line format\r\n",
            ProtoError::OpaqueTooLong => b"CLIENT_ERROR opaque token too long\r\n",
            ProtoError::OptionsFlagsAreTooLong => b"CLIENT_ERROR options flags are too long\r\n",
            ProtoError::OptionsFlagsTooLong => b"CLIENT_ERROR options flags too long\r\n",
            ProtoError::DecodingKey => b"CLIENT_ERROR error decoding key\r\n",
            ProtoError::IncorrectMLength => b"CLIENT_ERROR incorrect length for M token\r\n",
            ProtoError::InvalidInitial => b"CLIENT_ERROR invalid numeric initial value\r\n",
            ProtoError::InvalidDeltaValue => b"CLIENT_ERROR invalid numeric delta value\r\n",
            ProtoError::InvalidMsMode => b"CLIENT_ERROR invalid mode for ms M token\r\n",
            ProtoError::InvalidMaMode => b"CLIENT_ERROR invalid mode for ma M token\r\n",
        }
    }
}

pub const STORED: &[u8] = b"STORED\r\n";
pub const NOT_STORED: &[u8] = b"NOT_STORED\r\n";
pub const EXISTS: &[u8] = b"EXISTS\r\n";
pub const NOT_FOUND: &[u8] = b"NOT_FOUND\r\n";
pub const DELETED: &[u8] = b"DELETED\r\n";
pub const TOUCHED: &[u8] = b"TOUCHED\r\n";
pub const END: &[u8] = b"END\r\n";
pub const OK: &[u8] = b"OK\r\n";
pub const RESET: &[u8] = b"RESET\r\n";
pub const CRLF: &[u8] = b"\r\n";
