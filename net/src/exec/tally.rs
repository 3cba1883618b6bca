//! Counting and timing requests: the command a request counts as, and the bookkeeping that
//! lets `service_time` time it (see there for the definition).

use std::time::Instant;

use super::{Session, ShardCtx, State};
use crate::proto::meta::MetaCommand;
use crate::proto::request::{GetKind, Request, StoreCommand};
use crate::stats::Command;

/// Bookkeeping for the request at the front of the input (commands count, service time).
#[derive(Clone, Copy, Debug)]
pub(super) struct Line {
    command: Command,
    /// Start of the `process` call that first saw the line (see `service_time`).
    started: Option<Instant>,
    /// Holes made on this connection before the line ran.
    holes_made_before: u64,
}

impl Session {
    /// The line at the front of the input has run (first time only: it may run again).
    pub(super) fn line_begun(&mut self, command: Command, ctx: &ShardCtx<'_>) {
        if self.line.is_none() {
            self.line = Some(Line {
                command,
                started: ctx.stats.service.batch_started(),
                holes_made_before: self.holes.as_ref().map_or(0, |h| h.made_count()),
            });
        }
    }

    /// The line at the front of the input is consumed: count its command, and time it now,
    /// or when its value has arrived, or when the replies it waits for are in.
    pub(super) fn line_done(&mut self, ctx: &mut ShardCtx<'_>) {
        let Some(line) = self.line.take() else {
            return;
        };
        if self.proxy {
            return;
        }
        ctx.stats.commands[line.command as usize] += 1;
        if matches!(self.state, State::Receiving(_)) {
            return;
        }
        match &mut self.holes {
            // Its holes are the newest; once the last one leaves the front, all are filled.
            Some(holes) if holes.made_count() > line.holes_made_before && !holes.is_empty() => {
                holes.close_request(line.started)
            }
            _ => ctx.stats.service.completed(line.started),
        }
    }
}

/// What [`ShardStats::commands`](crate::stats::ShardStats::commands) counts a request as.
pub(super) fn command_of(request: &Request<'_>) -> Command {
    match request {
        Request::Get(get) => match get.kind {
            GetKind::Get => Command::Get,
            GetKind::Gets => Command::Gets,
            GetKind::Gat => Command::Gat,
            GetKind::Gats => Command::Gats,
        },
        Request::Store(store) => match store.command {
            StoreCommand::Set => Command::Set,
            StoreCommand::Add => Command::Add,
            StoreCommand::Replace => Command::Replace,
            StoreCommand::Append => Command::Append,
            StoreCommand::Prepend => Command::Prepend,
            StoreCommand::Cas => Command::Cas,
        },
        Request::Delete { .. } => Command::Delete,
        Request::Arith { decr: false, .. } => Command::Incr,
        Request::Arith { decr: true, .. } => Command::Decr,
        Request::Touch { .. } => Command::Touch,
        Request::FlushAll { .. } => Command::FlushAll,
        Request::Verbosity { .. } => Command::Verbosity,
        Request::Version => Command::Version,
        Request::Quit => Command::Quit,
        Request::Stats(_) => Command::Stats,
        Request::Meta(meta) => match meta.command {
            MetaCommand::Get => Command::MetaGet,
            MetaCommand::Set => Command::MetaSet,
            MetaCommand::Delete => Command::MetaDelete,
            MetaCommand::Arith => Command::MetaArith,
            MetaCommand::Debug => Command::MetaDebug,
        },
        Request::MetaNoop => Command::MetaNoop,
        Request::Reject { .. } | Request::Close => Command::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use crate::exec::Session;
    use crate::proto::check::Harness;
    use crate::stats::Command;

    /// One `process` call over `input`, timed as the runtime times it.
    fn run(session: &mut Session, harness: &mut Harness, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ctx = harness.ctx();
        ctx.stats.service.begin_batch();
        let (consumed, _) = session.process(input, &mut out, &mut ctx);
        ctx.stats.service.end_batch();
        assert_eq!(consumed, input.len());
        out
    }

    #[test]
    fn each_request_counts_once_by_command_and_is_timed_once() {
        let mut harness = Harness::new();
        let mut session = Session::new();
        let input = b"set a 0 0 1\r\nx\r\nget a b c\r\nmg a v\r\nbogus\r\nincr a 1\r\n";
        run(&mut session, &mut harness, input);
        let commands = harness.stats.commands;
        for (command, count) in [
            (Command::Set, 1),
            (Command::Get, 1),
            (Command::MetaGet, 1),
            (Command::Invalid, 1),
            (Command::Incr, 1),
            (Command::Delete, 0),
        ] {
            assert_eq!(commands[command as usize], count, "{command:?}");
        }
        assert_eq!(harness.stats.service.count(), 5);
        // Hits and misses count keys, as memcached's: a, b, c, then a again.
        assert_eq!(harness.stats.get_hits, 2);
        assert_eq!(harness.stats.get_misses, 2);
    }

    #[test]
    fn a_value_in_pieces_is_timed_by_the_call_that_completes_it() {
        let mut harness = Harness::new();
        let mut session = Session::new();
        run(&mut session, &mut harness, b"set a 0 0 5\r\nhel");
        assert_eq!(harness.stats.commands[Command::Set as usize], 1);
        assert_eq!(harness.stats.service.count(), 0, "not complete yet");
        let out = run(&mut session, &mut harness, b"lo\r\n");
        assert_eq!(out, b"STORED\r\n");
        assert_eq!(harness.stats.service.count(), 1);
    }

    #[test]
    fn a_proxy_counts_no_command_and_times_nothing() {
        let mut harness = Harness::new();
        let mut session = Session::for_proxy();
        run(&mut session, &mut harness, b"set a 0 0 1\r\nx\r\nget a\r\n");
        assert!(harness.stats.commands.iter().all(|&count| count == 0));
        assert_eq!(harness.stats.service.count(), 0);
        assert_eq!(harness.stats.get_hits, 1, "the owner still counts its keys");
    }
}
