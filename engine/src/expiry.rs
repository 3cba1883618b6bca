//! Expiry steps of one request, applied in the order the client gave them.
//!
//! memcached 1.6.18's mg and ma walk their flags once, in request order, and act on the item
//! at each flag's position: `T` sets the expiry, `N` sets it on an item this request created
//! (which starts with no expiry), `R` compares the expiry as it is at that point, and `t`
//! reports it as it is at that point. [`ExpirySteps`] carries `T`/`N`/`R` in that order;
//! [`replay`] computes the expiry after every prefix of the steps, so that the network layer
//! can print `t` at its position without knowing how the engine applies them.
//!
//! Invariant: at most [`EXPIRY_STEPS_MAX`] steps (each flag may appear once).

use crate::ttl::{Clock, RelTime};

/// The most steps one request carries: `T`, `N` and `R`, each at most once.
pub const EXPIRY_STEPS_MAX: usize = 3;

/// One expiry-related step; the `i64`s are protocol exptimes (as memcached's `realtime()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryStep {
    /// Set the expiry (mg/ma `T`, gat, touch).
    Touch(i64),
    /// Set the expiry if this request created the item, which then wins the token (mg/ma `N`).
    Vivify(i64),
    /// Win the token if none was sent yet, the item was not just created, and its expiry at
    /// this point is set and earlier than this exptime (mg `R`). No effect in arith.
    Recache(i64),
}

/// Steps in request order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpirySteps {
    steps: [Option<ExpiryStep>; EXPIRY_STEPS_MAX],
    len: u8,
}

impl ExpirySteps {
    /// A single step (gat, touch).
    pub fn one(step: ExpiryStep) -> ExpirySteps {
        let mut steps = ExpirySteps::default();
        steps.push(step);
        steps
    }

    /// Appends a step; panics past [`EXPIRY_STEPS_MAX`] (a caller bug: flags are unique).
    pub fn push(&mut self, step: ExpiryStep) {
        let at = self.len as usize;
        assert!(
            at < EXPIRY_STEPS_MAX,
            "more than {EXPIRY_STEPS_MAX} expiry steps"
        );
        self.steps[at] = Some(step);
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps only the first `len` steps (a request that fails part-way through its flags).
    pub fn truncate(&mut self, len: usize) {
        while self.len() > len {
            self.len -= 1;
            self.steps[self.len as usize] = None;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = ExpiryStep> + '_ {
        self.steps[..self.len()]
            .iter()
            .map(|s| s.expect("steps are dense"))
    }
}

/// The expiry after each prefix of the steps: `at_step[i]` is the expiry after the first `i`
/// steps, `at_step[steps.len()]` the final one; entries past the end repeat the final one.
pub type ExpiryAtStep = [RelTime; EXPIRY_STEPS_MAX + 1];

/// What replaying the steps on one item gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Replay {
    pub(crate) at_step: ExpiryAtStep,
    /// A `Vivify` step on a created item, or a winning `Recache` step.
    pub(crate) win: bool,
}

impl Replay {
    pub(crate) fn final_expiry(&self) -> RelTime {
        self.at_step[EXPIRY_STEPS_MAX]
    }
}

/// Replays `steps` on an item whose expiry is `start` (0 for an item this request created).
pub(crate) fn replay(
    steps: &ExpirySteps,
    start: RelTime,
    created: bool,
    token_sent: bool,
    clock: &Clock,
) -> Replay {
    assert!(
        !created || start == 0,
        "a created item starts without expiry"
    );
    let mut at_step = [start; EXPIRY_STEPS_MAX + 1];
    let mut expiry = start;
    let mut win = false;
    for (i, step) in steps.iter().enumerate() {
        match step {
            ExpiryStep::Touch(exptime) => expiry = clock.expiry_of(exptime),
            ExpiryStep::Vivify(exptime) => {
                if created {
                    expiry = clock.expiry_of(exptime);
                    win = true;
                }
            }
            // memcached compares with `realtime(R)`, the same conversion as an exptime.
            ExpiryStep::Recache(exptime) => {
                if !token_sent && !created && expiry != 0 && expiry < clock.expiry_of(exptime) {
                    win = true;
                }
            }
        }
        at_step[i + 1..].fill(expiry);
    }
    Replay { at_step, win }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_700_000_000;

    fn steps(list: &[ExpiryStep]) -> ExpirySteps {
        let mut s = ExpirySteps::default();
        for &step in list {
            s.push(step);
        }
        s
    }

    #[test]
    fn steps_apply_in_order() {
        let clock = Clock::new(START);
        let now = clock.now_rel();
        let r = replay(
            &steps(&[ExpiryStep::Vivify(30), ExpiryStep::Touch(100)]),
            0,
            true,
            false,
            &clock,
        );
        assert_eq!(r.at_step, [0, now + 30, now + 100, now + 100]);
        assert!(r.win);
        let r = replay(
            &steps(&[ExpiryStep::Touch(100), ExpiryStep::Vivify(30)]),
            0,
            true,
            false,
            &clock,
        );
        assert_eq!(r.final_expiry(), now + 30);
    }

    #[test]
    fn vivify_does_nothing_to_an_existing_item() {
        let clock = Clock::new(START);
        let r = replay(&steps(&[ExpiryStep::Vivify(30)]), 0, false, false, &clock);
        assert_eq!(r.at_step, [0; 4]);
        assert!(!r.win);
    }

    #[test]
    fn recache_compares_the_expiry_at_its_position() {
        let clock = Clock::new(START);
        let now = clock.now_rel();
        // No expiry yet at R: no win, even though T then sets one below R.
        let later = steps(&[ExpiryStep::Recache(5000), ExpiryStep::Touch(1000)]);
        assert!(!replay(&later, 0, false, false, &clock).win);
        let earlier = steps(&[ExpiryStep::Touch(1000), ExpiryStep::Recache(5000)]);
        assert!(replay(&earlier, 0, false, false, &clock).win);
        assert!(!replay(&earlier, 0, false, true, &clock).win);
        // A created item never wins through R.
        let created = steps(&[ExpiryStep::Recache(5000)]);
        assert!(!replay(&created, 0, true, false, &clock).win);
        let r = replay(&created, now + 10, false, false, &clock);
        assert!(r.win);
        // R of 0 or negative never wins.
        for r in [0, -1] {
            let s = steps(&[ExpiryStep::Recache(r)]);
            assert!(!replay(&s, now + 10, false, false, &clock).win);
        }
    }

    #[test]
    fn truncate_drops_later_steps() {
        let mut s = steps(&[ExpiryStep::Touch(1), ExpiryStep::Recache(2)]);
        s.truncate(1);
        assert_eq!(s, ExpirySteps::one(ExpiryStep::Touch(1)));
        assert_eq!(s.len(), 1);
    }

    #[test]
    #[should_panic(expected = "more than 3 expiry steps")]
    fn a_fourth_step_is_a_bug() {
        steps(&[ExpiryStep::Touch(1); 4]);
    }
}
