//! Where requests come from: the open-loop schedule of intended send times, the closed loop,
//! or the prefill.
//!
//! Open loop: each thread runs its own arrival process at `rate / threads`, from its own
//! seeded RNG: exponential gaps (Poisson arrivals) or equal gaps. Intended times are kept in
//! `f64` nanoseconds and never rounded into the next gap, so the rate does not drift. The
//! schedule never waits for the server: if the next intended time has passed, the request is
//! produced late and its latency still counts from the intended time.

use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp};

use crate::cli::Arrivals;

pub enum Source {
    /// Intended send times at a fixed mean rate, until `end_ns`.
    Open { next_ns: f64, gap: Gap, end_ns: u64 },
    /// As fast as the connections allow, until `end_ns`.
    Closed { end_ns: u64 },
    /// A set of keys `next, next + step, ...` below `end`.
    Prefill { next: u64, step: u64, end: u64 },
}

pub enum Gap {
    Exponential(Exp<f64>),
    Fixed(f64),
}

impl Gap {
    pub fn new(arrivals: Arrivals, rate_ops_per_sec: f64) -> Gap {
        assert!(rate_ops_per_sec > 0.0);
        match arrivals {
            // Exp's lambda is the rate per ns; its samples are gaps in ns.
            Arrivals::Poisson => {
                Gap::Exponential(Exp::new(rate_ops_per_sec / 1e9).expect("rate > 0"))
            }
            Arrivals::Uniform => Gap::Fixed(1e9 / rate_ops_per_sec),
        }
    }

    fn next_ns(&self, rng: &mut StdRng) -> f64 {
        match self {
            Gap::Exponential(exp) => exp.sample(rng),
            Gap::Fixed(gap_ns) => *gap_ns,
        }
    }
}

/// What [`Source::next`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A request intended at this time (ns since the run's start).
    Request { intended_ns: u64 },
    /// A prefill set of this key.
    Prefill { key: u64 },
    /// Nothing due yet; the next one is due at this time.
    NotYet { due_ns: u64 },
    /// The source is finished.
    Done,
}

impl Source {
    pub fn open(
        arrivals: Arrivals,
        rate_ops_per_sec: f64,
        start_ns: u64,
        end_ns: u64,
        rng: &mut StdRng,
    ) -> Source {
        let gap = Gap::new(arrivals, rate_ops_per_sec);
        // The first arrival is one gap in, so threads do not all fire at the start.
        let next_ns = start_ns as f64 + gap.next_ns(rng);
        Source::Open {
            next_ns,
            gap,
            end_ns,
        }
    }

    pub fn next(&mut self, now_ns: u64, rng: &mut StdRng) -> Next {
        match self {
            Source::Open {
                next_ns,
                gap,
                end_ns,
            } => {
                let due_ns = *next_ns as u64;
                if due_ns >= *end_ns {
                    Next::Done
                } else if due_ns > now_ns {
                    Next::NotYet { due_ns }
                } else {
                    *next_ns += gap.next_ns(rng);
                    Next::Request {
                        intended_ns: due_ns,
                    }
                }
            }
            Source::Closed { end_ns } => {
                if now_ns >= *end_ns {
                    Next::Done
                } else {
                    Next::Request {
                        intended_ns: now_ns,
                    }
                }
            }
            Source::Prefill { next, step, end } => {
                if *next >= *end {
                    Next::Done
                } else {
                    let key = *next;
                    *next += *step;
                    Next::Prefill { key }
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Source::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn count_until(source: &mut Source, now_ns: u64) -> usize {
        let mut rng = StdRng::seed_from_u64(3);
        let mut count = 0;
        while let Next::Request { intended_ns } = source.next(now_ns, &mut rng) {
            assert!(intended_ns <= now_ns);
            count += 1;
        }
        count
    }

    #[test]
    fn open_loop_rates_are_kept() {
        let mut rng = StdRng::seed_from_u64(3);
        for arrivals in [Arrivals::Poisson, Arrivals::Uniform] {
            let mut source = Source::open(arrivals, 10_000.0, 0, u64::MAX, &mut rng);
            // 10 s at 10 000/s: 100 000 requests, Poisson within a few hundred.
            let count = count_until(&mut source, 10_000_000_000);
            assert!((99_000..=101_000).contains(&count), "{arrivals:?}: {count}");
        }
    }

    #[test]
    fn late_requests_keep_their_intended_times() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut source = Source::open(Arrivals::Uniform, 1000.0, 0, 10_000_000_000, &mut rng);
        // The generator looks only at t = 1 s: the 1000 requests of that second come out
        // with intended times 1 ms apart, not all at 1 s.
        let mut times = Vec::new();
        while let Next::Request { intended_ns } = source.next(1_000_000_000, &mut rng) {
            times.push(intended_ns);
        }
        assert_eq!(times.len(), 1000);
        assert_eq!(times[0], 1_000_000);
        assert_eq!(times[999], 1_000_000_000);
    }
}
