//! The cache-aside step every read workload uses: `get` a batch of keys, then `set` the ones
//! that missed, each with the value [`fill_value`] gives it.
//!
//! Pipelining changes one thing from a strictly sequential client: a key drawn twice in one
//! batch that misses is set twice (both gets go out before either set). Both servers see the
//! same request sequence, so this is the same for each.

use std::io;

use crate::client::{Client, Outcome, BATCH_REQUESTS_MAX};
use crate::keys::{fill_value, value_is_right, Key};

/// Counts of one class of requests (e.g. the Zipf keys, or the scan keys).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub gets: u64,
    pub hits: u64,
    /// Hits whose value was not the one written: a server error, reported, never expected.
    pub wrong_values: u64,
    /// `set`s that were not answered `STORED`.
    pub set_failures: u64,
}

impl Tally {
    pub fn misses(&self) -> u64 {
        self.gets - self.hits
    }

    pub fn add(&mut self, other: &Tally) {
        self.gets += other.gets;
        self.hits += other.hits;
        self.wrong_values += other.wrong_values;
        self.set_failures += other.set_failures;
    }
}

/// Reusable buffers for cache-aside batches of values of one length.
pub struct CacheAside {
    value_len_bytes: usize,
    value: Vec<u8>,
    scratch: Vec<u8>,
    missed: Vec<bool>,
}

impl CacheAside {
    pub fn new(value_len_bytes: usize) -> CacheAside {
        CacheAside {
            value_len_bytes,
            value: vec![0; value_len_bytes],
            scratch: vec![0; value_len_bytes],
            missed: vec![false; BATCH_REQUESTS_MAX],
        }
    }

    /// Runs one batch: `keys[i].1` names the tally (index into `tallies`) request i counts in.
    pub fn run_batch(
        &mut self,
        client: &mut Client,
        keys: &[(Key, usize)],
        tallies: &mut [Tally],
    ) -> io::Result<()> {
        assert!(keys.len() <= BATCH_REQUESTS_MAX);
        assert_eq!(client.queued_count(), 0);
        for (key, _) in keys {
            client.queue_get(key);
        }
        let (missed, scratch, value_len) =
            (&mut self.missed, &mut self.scratch, self.value_len_bytes);
        client.exchange(|i, outcome| {
            let (key, class) = &keys[i];
            let tally = &mut tallies[*class];
            tally.gets += 1;
            missed[i] = match outcome {
                Outcome::Hit(data) => {
                    tally.hits += 1;
                    if !value_is_right(key, data, value_len, scratch) {
                        tally.wrong_values += 1;
                    }
                    false
                }
                _ => true,
            };
        })?;
        for (i, (key, _)) in keys.iter().enumerate() {
            if self.missed[i] {
                fill_value(key, &mut self.value);
                client.queue_set(key, 0, &self.value);
            }
        }
        let mut set_failures = 0;
        client.exchange(|_, outcome| set_failures += u64::from(outcome != Outcome::Stored))?;
        if set_failures > 0 {
            // Which class failed is not tracked per set; charge the first tally (reported).
            tallies[0].set_failures += set_failures;
        }
        Ok(())
    }
}

/// Sets every key of `keys` (value of `value_len_bytes`, expiring after `exptime_secs`, 0 =
/// never) in pipelined batches of `batch_count`; returns the number of failed sets.
pub fn set_all(
    client: &mut Client,
    keys: impl Iterator<Item = Key>,
    value_len_bytes: usize,
    exptime_secs: u32,
    batch_count: usize,
) -> io::Result<u64> {
    assert!(batch_count <= BATCH_REQUESTS_MAX);
    let mut value = vec![0u8; value_len_bytes];
    let mut failures = 0;
    for key in keys {
        fill_value(&key, &mut value);
        client.queue_set(&key, exptime_secs, &value);
        if client.queued_count() == batch_count {
            client.exchange(|_, outcome| failures += u64::from(outcome != Outcome::Stored))?;
        }
    }
    client.exchange(|_, outcome| failures += u64::from(outcome != Outcome::Stored))?;
    Ok(failures)
}

/// Gets every key of `keys` in pipelined batches of `batch_count`, checking each hit's value
/// (written by [`set_all`] with `value_len_bytes`).
pub fn get_all(
    client: &mut Client,
    keys: impl Iterator<Item = Key>,
    value_len_bytes: usize,
    batch_count: usize,
) -> io::Result<Tally> {
    assert!(batch_count <= BATCH_REQUESTS_MAX);
    let mut batch: Vec<Key> = Vec::with_capacity(batch_count);
    let mut scratch = vec![0u8; value_len_bytes];
    let mut tally = Tally::default();
    let mut flush = |client: &mut Client, batch: &mut Vec<Key>| -> io::Result<()> {
        for key in batch.iter() {
            client.queue_get(key);
        }
        client.exchange(|i, outcome| {
            tally.gets += 1;
            if let Outcome::Hit(data) = outcome {
                tally.hits += 1;
                if !value_is_right(&batch[i], data, value_len_bytes, &mut scratch) {
                    tally.wrong_values += 1;
                }
            }
        })?;
        batch.clear();
        Ok(())
    };
    for key in keys {
        batch.push(key);
        if batch.len() == batch_count {
            flush(client, &mut batch)?;
        }
    }
    flush(client, &mut batch)?;
    Ok(tally)
}
