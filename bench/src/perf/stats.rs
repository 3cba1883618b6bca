//! Median and range over repeats, and ringcache/memcached ratios.
//!
//! Each repeat measures memcached and ringcache back to back, so a repeat gives one paired
//! ratio; the reported ratio is the median of those paired ratios (drift on a shared machine
//! cancels within a pair), not the ratio of the two medians.

/// The median and range of a set of measurements.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

impl Summary {
    /// `None` for no values; NaN values are a programmer error.
    pub fn of(values: &[f64]) -> Option<Summary> {
        if values.is_empty() {
            return None;
        }
        assert!(values.iter().all(|v| !v.is_nan()), "NaN in {values:?}");
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        let count = sorted.len();
        let median = if count % 2 == 1 {
            sorted[count / 2]
        } else {
            (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
        };
        let summary = Summary {
            median,
            min: sorted[0],
            max: sorted[count - 1],
            count,
        };
        assert!(summary.min <= summary.median && summary.median <= summary.max);
        Some(summary)
    }
}

/// `ringcache / memcached`; `None` when memcached's figure is 0 or either is missing.
pub fn ratio(ringcache: Option<f64>, memcached: Option<f64>) -> Option<f64> {
    match (ringcache, memcached) {
        (Some(r), Some(m)) if m != 0.0 => Some(r / m),
        _ => None,
    }
}

/// The paired ratios of the repeats both servers completed (`pairs`: per repeat,
/// `(ringcache, memcached)`).
pub fn paired_ratios(pairs: &[(Option<f64>, Option<f64>)]) -> Vec<f64> {
    pairs.iter().filter_map(|&(r, m)| ratio(r, m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (odd.median, odd.min, odd.max, odd.count),
            (2.0, 1.0, 3.0, 3)
        );
        let even = Summary::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(even.median, 2.5);
        assert_eq!(Summary::of(&[5.0]).unwrap().median, 5.0);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn ratio_is_ringcache_over_memcached() {
        assert_eq!(ratio(Some(3.0), Some(6.0)), Some(0.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
        assert_eq!(ratio(Some(1.0), None), None);
    }

    #[test]
    fn paired_ratios_skip_incomplete_pairs_and_are_not_the_ratio_of_medians() {
        let pairs = [
            (Some(2.0), Some(4.0)),
            (Some(9.0), Some(10.0)),
            (None, Some(3.0)),
            (Some(6.0), Some(8.0)),
        ];
        let ratios = paired_ratios(&pairs);
        assert_eq!(ratios, vec![0.5, 0.9, 0.75]);
        assert_eq!(Summary::of(&ratios).unwrap().median, 0.75);
        // The ratio of the medians (6 / 8) happens to agree here; it need not:
        let drifting = [
            (Some(1.0), Some(2.0)),
            (Some(10.0), Some(11.0)),
            (Some(4.0), Some(100.0)),
        ];
        let paired = Summary::of(&paired_ratios(&drifting)).unwrap().median;
        assert_eq!(paired, 0.5);
        assert_ne!(paired, 4.0 / 11.0);
    }
}
