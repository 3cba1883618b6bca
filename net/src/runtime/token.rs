//! What a completion is about: the `user_data` of every submission.
//!
//! ```text
//!  63      56 55                 32 31                        0
//! +----------+---------------------+---------------------------+
//! |   op     |  generation (24 b)  |   slot or listener index  |
//! +----------+---------------------+---------------------------+
//! ```
//! The generation makes a completion for a connection slot that has since been closed and
//! reused recognisable as stale.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Timer = 4,
    Close = 5,
    Wake = 6,
    /// The cancel of a connection's receive.
    Cancel = 7,
}

pub const GENERATION_MASK: u32 = (1 << 24) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub op: Op,
    pub generation: u32,
    pub index: u32,
}

impl Token {
    pub fn new(op: Op, generation: u32, index: u32) -> Token {
        Token {
            op,
            generation: generation & GENERATION_MASK,
            index,
        }
    }

    pub fn encode(self) -> u64 {
        (self.op as u64) << 56
            | (u64::from(self.generation & GENERATION_MASK)) << 32
            | u64::from(self.index)
    }

    pub fn decode(user_data: u64) -> Token {
        let op = match (user_data >> 56) as u8 {
            1 => Op::Accept,
            2 => Op::Recv,
            3 => Op::Send,
            4 => Op::Timer,
            5 => Op::Close,
            6 => Op::Wake,
            7 => Op::Cancel,
            other => panic!("completion with unknown op {other}: user_data {user_data:#x}"),
        };
        Token {
            op,
            generation: (user_data >> 32) as u32 & GENERATION_MASK,
            index: user_data as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for op in [
            Op::Accept,
            Op::Recv,
            Op::Send,
            Op::Timer,
            Op::Close,
            Op::Wake,
            Op::Cancel,
        ] {
            let t = Token::new(op, 0xABCDEF, u32::MAX);
            assert_eq!(Token::decode(t.encode()), t);
        }
    }

    #[test]
    fn generation_wraps_at_24_bits() {
        let t = Token::new(Op::Recv, GENERATION_MASK + 2, 7);
        assert_eq!(Token::decode(t.encode()).generation, 1);
    }
}
