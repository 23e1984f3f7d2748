//! A customer's purchase history as the models see it, and customers grouped by history.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::Error;

/// One customer's calibration-period history: (x, t_x, T) in the literature's notation,
/// times in one unit (weeks unless chosen otherwise, see [`TimeUnit`](crate::TimeUnit)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// x: the number of repeat purchases (purchase events after the first).
    pub frequency: u32,
    /// t_x: the time from the first purchase to the last one (0 when x = 0).
    pub recency: f64,
    /// T: the time from the first purchase to the end of the calibration period.
    pub age: f64,
}

impl History {
    /// A history, unchecked (see [`History::check`]).
    pub fn new(frequency: u32, recency: f64, age: f64) -> Self {
        Self {
            frequency,
            recency,
            age,
        }
    }

    /// Checks that 0 <= t_x <= T, both finite, and t_x = 0 when x = 0.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |reason| Error::BadHistory {
            frequency: self.frequency,
            recency: self.recency,
            age: self.age,
            reason,
        };
        if !self.recency.is_finite() || !self.age.is_finite() {
            return Err(bad("t_x and T must be finite"));
        }
        if self.recency < 0.0 || self.age < self.recency {
            return Err(bad("0 <= t_x <= T must hold"));
        }
        if self.frequency == 0 && self.recency != 0.0 {
            return Err(bad("t_x must be 0 when x = 0"));
        }
        Ok(())
    }
}

/// Customers who share one history, with their number as a weight: the likelihood of a
/// history is computed once per pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pattern {
    /// The shared history.
    pub history: History,
    /// How many customers have it (> 0; need not be whole).
    pub count: f64,
}

/// Groups histories into patterns (identical x, t_x and T), sorted by x, then t_x, then T.
/// Fails on a history that [`History::check`] rejects.
pub fn group(histories: impl IntoIterator<Item = History>) -> Result<Vec<Pattern>, Error> {
    let mut counts: HashMap<(u32, u64, u64), f64, BuildHasherDefault<KeyHasher>> =
        HashMap::default();
    for h in histories {
        h.check()?;
        // +0.0 and -0.0 are one key.
        let key = (
            h.frequency,
            (h.recency + 0.0).to_bits(),
            (h.age + 0.0).to_bits(),
        );
        *counts.entry(key).or_insert(0.0) += 1.0;
    }
    let mut patterns: Vec<Pattern> = counts
        .into_iter()
        .map(|((x, tx, t), count)| Pattern {
            history: History::new(x, f64::from_bits(tx), f64::from_bits(t)),
            count,
        })
        .collect();
    sort(&mut patterns);
    Ok(patterns)
}

/// A fast multiplicative hasher for the integer keys of [`group`] (the keys are not chosen
/// by an adversary, and the output is sorted, so neither DoS resistance nor iteration order
/// matters; the default SipHash took half the time of grouping 10M customers).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Sorts patterns by x, then t_x, then T.
pub(crate) fn sort(patterns: &mut [Pattern]) {
    patterns.sort_by(|p, q| {
        let (a, b) = (p.history, q.history);
        a.frequency
            .cmp(&b.frequency)
            .then(a.recency.total_cmp(&b.recency))
            .then(a.age.total_cmp(&b.age))
    });
}

/// Checks patterns for a fit and returns them sorted by x with their total weight.
pub(crate) fn prepare(
    model: &'static str,
    patterns: &[Pattern],
) -> Result<(Vec<Pattern>, f64), Error> {
    let mut total = 0.0;
    for p in patterns {
        p.history.check()?;
        if !(p.count > 0.0 && p.count.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "pattern count",
                value: p.count,
                reason: "must be a finite number > 0",
            });
        }
        total += p.count;
    }
    if patterns.is_empty() {
        return Err(Error::NoCustomers { model });
    }
    let mut sorted = patterns.to_vec();
    if !sorted
        .windows(2)
        .all(|w| w[0].history.frequency <= w[1].history.frequency)
    {
        sort(&mut sorted);
    }
    Ok((sorted, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_identical_histories() {
        let hs = [
            History::new(1, 2.0, 5.0),
            History::new(0, 0.0, 5.0),
            History::new(1, 2.0, 5.0),
            History::new(0, -0.0, 5.0),
            History::new(0, 0.0, 4.0),
        ];
        let p = group(hs).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].history, History::new(0, 0.0, 4.0));
        assert_eq!(p[1].count, 2.0);
        assert_eq!(p[2].count, 2.0);
        assert!(group([History::new(0, 1.0, 5.0)]).is_err());
        assert!(group([History::new(2, 6.0, 5.0)]).is_err());
        assert!(group([History::new(2, f64::NAN, 5.0)]).is_err());
    }
}
