//! Time as the engine sees it: memcached's relative clock.
//!
//! Items store times as [`RelTime`], whole seconds since a point just before the server
//! started, like memcached's `rel_time_t`. The shard updates the [`Clock`] once per loop turn;
//! the engine never reads the system clock itself, which keeps it deterministic under test.
//!
//! Protocol exptimes follow memcached 1.6: 0 never expires; up to 30 days is relative to now;
//! above 30 days is an absolute Unix time (one at or before the server start is already
//! expired); a negative exptime is already expired.

/// Seconds since `Clock::process_started_unix_secs` (memcached `rel_time_t`).
pub type RelTime = u32;

/// Exptimes above this many seconds are absolute Unix times (memcached `REALTIME_MAXDELTA`).
pub const REALTIME_MAXDELTA_SECS: i64 = 60 * 60 * 24 * 30;

/// How far before the real start the relative clock begins, so that small relative times
/// (1 = "already expired") never collide with real ones (memcached: ITEM_UPDATE_INTERVAL + 2).
pub const CLOCK_HEAD_START_SECS: i64 = 62;

/// The expiry value that means "already expired".
pub const EXPIRED_AT_START: RelTime = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    process_started_unix_secs: i64,
    now_rel: RelTime,
}

impl Clock {
    /// A clock for a server starting at `now_unix_secs`.
    pub fn new(now_unix_secs: i64) -> Clock {
        Clock {
            process_started_unix_secs: now_unix_secs - CLOCK_HEAD_START_SECS,
            now_rel: CLOCK_HEAD_START_SECS as RelTime,
        }
    }

    /// Moves the clock to `now_unix_secs`; never moves it backwards.
    pub fn set_now_unix(&mut self, now_unix_secs: i64) {
        let rel = (now_unix_secs - self.process_started_unix_secs).clamp(0, RelTime::MAX as i64);
        self.now_rel = self.now_rel.max(rel as RelTime);
    }

    /// Moves the clock forward by `secs` (tests and simulations).
    pub fn advance_secs(&mut self, secs: u32) {
        self.now_rel = self.now_rel.saturating_add(secs);
    }

    pub fn now_rel(&self) -> RelTime {
        self.now_rel
    }

    pub fn now_unix_secs(&self) -> i64 {
        self.process_started_unix_secs + self.now_rel as i64
    }

    pub fn process_started_unix_secs(&self) -> i64 {
        self.process_started_unix_secs
    }

    /// The expiry ([`RelTime`], 0 = never) of a protocol exptime, as memcached's `realtime()`.
    pub fn expiry_of(&self, exptime: i64) -> RelTime {
        if exptime == 0 {
            return 0;
        }
        if exptime < 0 {
            return EXPIRED_AT_START;
        }
        if exptime > REALTIME_MAXDELTA_SECS {
            if exptime <= self.process_started_unix_secs {
                return EXPIRED_AT_START;
            }
            let rel = exptime - self.process_started_unix_secs;
            return rel.min(RelTime::MAX as i64) as RelTime;
        }
        let rel = exptime + self.now_rel as i64;
        rel.min(RelTime::MAX as i64) as RelTime
    }

    /// `true` if an item with this expiry is expired now.
    pub fn is_expired(&self, expiry: RelTime) -> bool {
        expiry != 0 && expiry <= self.now_rel
    }

    /// Seconds left before `expiry`, or -1 for "never" (meta `t` flag).
    pub fn remaining_secs(&self, expiry: RelTime) -> i64 {
        if expiry == 0 {
            return -1;
        }
        (expiry as i64 - self.now_rel as i64).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_700_000_000;

    #[test]
    fn zero_never_expires() {
        let clock = Clock::new(START);
        assert_eq!(clock.expiry_of(0), 0);
        assert!(!clock.is_expired(0));
        assert_eq!(clock.remaining_secs(0), -1);
    }

    #[test]
    fn relative_exptime_expires_after_its_seconds() {
        let mut clock = Clock::new(START);
        let expiry = clock.expiry_of(10);
        assert!(!clock.is_expired(expiry));
        assert_eq!(clock.remaining_secs(expiry), 10);
        clock.advance_secs(9);
        assert!(!clock.is_expired(expiry));
        clock.advance_secs(1);
        assert!(clock.is_expired(expiry));
    }

    #[test]
    fn negative_exptime_is_already_expired() {
        let clock = Clock::new(START);
        assert!(clock.is_expired(clock.expiry_of(-1)));
        assert!(clock.is_expired(clock.expiry_of(i64::MIN)));
    }

    #[test]
    fn absolute_exptime_above_thirty_days() {
        let clock = Clock::new(START);
        let expiry = clock.expiry_of(START + 100);
        assert_eq!(clock.remaining_secs(expiry), 100);
        assert!(clock.is_expired(clock.expiry_of(REALTIME_MAXDELTA_SECS + 1)));
        assert!(clock.is_expired(clock.expiry_of(START - 1000)));
    }

    #[test]
    fn thirty_days_exactly_is_relative() {
        let clock = Clock::new(START);
        let expiry = clock.expiry_of(REALTIME_MAXDELTA_SECS);
        assert_eq!(clock.remaining_secs(expiry), REALTIME_MAXDELTA_SECS);
    }

    #[test]
    fn clock_never_goes_backwards() {
        let mut clock = Clock::new(START);
        clock.set_now_unix(START + 5);
        clock.set_now_unix(START + 1);
        assert_eq!(clock.now_unix_secs(), START + 5);
    }
}
