//! Reaping completions: Sends that finished (or must go on), replies received (copied out of
//! the provided buffers, parsed, recorded), connections that failed.

use io_uring::{cqueue, opcode, types};

use super::{ud, Worker};
use crate::conn::Window;
use crate::ring;

/// Completions reaped per loop turn at most (the ring's CQ holds two per connection).
const COMPLETIONS_PER_TURN_MAX: usize = 4096;

impl Worker {
    pub(super) fn reap(&mut self, now_ns: u64) {
        let mut reaped = 0;
        while reaped < COMPLETIONS_PER_TURN_MAX {
            let Some(cqe) = self.ring.completion().next() else {
                break;
            };
            reaped += 1;
            let index = (cqe.user_data() >> 1) as usize;
            let is_send = cqe.user_data() & 1 == 1;
            let result = cqe.result();
            if is_send {
                self.on_send(index, result);
            } else {
                self.on_recv(index, result, cqe.flags(), now_ns);
            }
        }
        if let Some(recv_bufs) = &self.recv_bufs {
            recv_bufs.publish();
        }
    }

    fn on_send(&mut self, index: usize, result: i32) {
        let c = &mut self.conns[index];
        c.send_busy = false;
        if !c.alive {
            return;
        }
        if result == -libc::EAGAIN || result == -libc::EINTR {
            // Send again from where it stopped.
        } else if result <= 0 {
            self.fail(index);
            return;
        } else {
            c.out_sent_bytes += result as usize;
        }
        if c.out_sent_bytes < c.out.len() {
            c.send_busy = true;
            let rest = &c.out[c.out_sent_bytes..];
            let entry = opcode::Send::new(types::Fd(c.fd()), rest.as_ptr(), rest.len() as u32)
                .build()
                .user_data(ud(index, true));
            // SAFETY: `out` is neither touched nor moved while `send_busy` (see `finish`).
            unsafe { ring::push(&mut self.ring, &entry) };
        } else {
            // Requests that queued up behind this Send may go now.
            self.to_send.mark(index);
        }
    }

    fn on_recv(&mut self, index: usize, result: i32, flags: u32, now_ns: u64) {
        let c = &mut self.conns[index];
        // A multishot Recv stays armed while its completions carry MORE.
        if !(self.recv_bufs.is_some() && cqueue::more(flags)) {
            c.recv_busy = false;
            self.to_arm.mark(index);
        }
        // A provided buffer: copy its bytes after the unparsed ones and give it back at once.
        let mut overflow = false;
        if let (Some(recv_bufs), Some(bid)) = (&mut self.recv_bufs, cqueue::buffer_select(flags)) {
            let len = usize::try_from(result).expect("a completion with a buffer has a length");
            if c.alive {
                let end = c.in_end + len;
                // `inbuf` holds the largest reply plus one provided buffer (see run.rs), so
                // only a reply longer than any the generator asked for can overflow it.
                if end <= c.inbuf.len() {
                    c.inbuf[c.in_end..end].copy_from_slice(recv_bufs.filled(bid, len));
                } else {
                    overflow = true;
                }
            }
            recv_bufs.give_back(bid);
        } else {
            assert!(
                result <= 0 || self.recv_bufs.is_none(),
                "multishot Recv data without a buffer"
            );
        }
        if !c.alive {
            return;
        }
        if result == -libc::EAGAIN || result == -libc::EINTR || result == -libc::ENOBUFS {
            return; // armed again next turn
        }
        if result <= 0 || overflow {
            if overflow {
                self.total.errors.protocol += 1;
                self.interval.errors.protocol += 1;
            }
            self.fail(index);
            return;
        }
        c.in_end += result as usize;
        let window = Window {
            measure_from_ns: self.cfg.measure_from_ns,
            validate: self.cfg.validate,
            pattern: &self.cfg.pattern,
        };
        if c.parse_replies(now_ns, &window, &mut self.total, &mut self.interval)
            .is_err()
        {
            self.total.errors.protocol += 1;
            self.interval.errors.protocol += 1;
            self.fail(index);
            return;
        }
        // Answered requests made room in the pipeline: send what waits, or (closed loop)
        // route the next request here.
        self.to_send.mark(index);
        if !self.cfg.source.is_open() {
            self.router
                .made_room(index, &self.conns, self.cfg.pipeline_depth);
        }
    }

    pub(super) fn fail(&mut self, index: usize) {
        let lost = self.conns[index].fail(self.cfg.measure_from_ns);
        self.router.failed(index, &self.conns);
        self.total.errors.connection += lost;
        self.interval.errors.connection += lost;
        // SAFETY of the buffers: a failed connection is never reused, so its buffers are not
        // touched again while an operation may still be in flight; shutting the socket down
        // makes such an operation complete.
        // SAFETY: shutdown on a descriptor this connection owns has no memory effects.
        unsafe { libc::shutdown(self.conns[index].fd(), libc::SHUT_RDWR) };
    }
}
