//! The whale curve (cumulative profit by customer rank), aggregated to a bounded number
//! of points, and the choice of the customers shown in detail.

use std::cmp::Ordering;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The most points a whale curve keeps, whatever the number of customers.
pub const MAX_POINTS: usize = 500;

/// A whale curve: cumulative profit after the `rank` most profitable customers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whale {
    /// Customers on the curve.
    pub customers: u64,
    /// Points `(rank, cumulative profit)`, by rank, from `(0, 0)` to
    /// `(customers, total)`; at most [`MAX_POINTS`] + 2 (the peak is always one).
    pub points: Vec<(u64, Decimal)>,
    /// The peak: the rank where cumulative profit is highest (the first such rank) and
    /// that profit.
    pub peak: (u64, Decimal),
    /// The total: every customer's profit.
    pub total: Decimal,
}

/// Builds the whale curve of `profits` (one per customer, any order): sorted most
/// profitable first, summed exactly, and sampled at about `max_points` evenly spaced
/// ranks plus the peak. The last point is the exact total.
///
/// Profits that all fit in an `i64` at their largest scale (money to the cent does, up to
/// ±92 trillion) are sorted as integers (a radix sort) and summed as integers; others as
/// decimals. Both give the same numbers.
pub fn whale_curve(profits: &[Decimal], max_points: usize) -> Whale {
    if let Some(w) = integer_curve(profits, max_points) {
        return w;
    }
    let mut sorted = profits.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    curve(sorted.into_iter(), max_points, Some).unwrap_or_default()
}

/// [`whale_curve`] over integers, if every profit fits in an `i64` at the largest scale
/// (and every sum then fits a decimal).
fn integer_curve(profits: &[Decimal], max_points: usize) -> Option<Whale> {
    let scale = profits.iter().map(Decimal::scale).max().unwrap_or(0);
    let mut keys = profits
        .iter()
        .map(|d| {
            let v = 10i128
                .checked_pow(scale - d.scale())
                .and_then(|f| d.mantissa().checked_mul(f))?;
            // Flipped sign bit: unsigned order is signed order.
            i64::try_from(v).ok().map(|v| (v as u64) ^ (1 << 63))
        })
        .collect::<Option<Vec<u64>>>()?;
    radix_sort(&mut keys);
    // i128 sums of fewer than 2^63 values below 2^63 in size cannot overflow.
    let values = keys
        .into_iter()
        .rev()
        .map(|k| i128::from((k ^ (1 << 63)) as i64));
    curve(values, max_points, |v| {
        Decimal::try_from_i128_with_scale(v, scale).ok()
    })
}

/// Sorts keys ascending: least significant byte first, skipping the bytes every key
/// shares (money to the cent of one business differs in its low four or five).
fn radix_sort(keys: &mut Vec<u64>) {
    let mut buf = vec![0u64; keys.len()];
    for shift in (0..64).step_by(8) {
        let mut counts = [0usize; 256];
        for k in keys.iter() {
            counts[((k >> shift) & 0xFF) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &k in keys.iter() {
            let b = ((k >> shift) & 0xFF) as usize;
            buf[counts[b]] = k;
            counts[b] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

/// The curve of profits given most profitable first, each converted to a decimal by
/// `decimal` where a point is kept (`None`: a sum does not fit one).
fn curve<T>(
    sorted: impl ExactSizeIterator<Item = T>,
    max_points: usize,
    decimal: impl Fn(T) -> Option<Decimal>,
) -> Option<Whale>
where
    T: Copy + Default + PartialOrd + std::ops::AddAssign,
{
    let n = sorted.len();
    let steps = max_points.max(1).min(n.max(1));
    let mut points = Vec::with_capacity(steps + 2);
    points.push((0, T::default()));
    let mut peak = (0u64, T::default());
    let mut sum = T::default();
    // The next sampled rank: ranks ceil(i * n / steps) for i = 1..=steps.
    let mut i = 1usize;
    let mut peak_pending = false;
    for (k, p) in sorted.enumerate() {
        sum += p;
        let rank = k as u64 + 1;
        if sum > peak.1 {
            peak = (rank, sum);
            peak_pending = true;
        }
        let next = (i * n).div_ceil(steps) as u64;
        if rank == next {
            if peak_pending && peak.0 < rank {
                points.push(peak);
            }
            peak_pending = false;
            points.push((rank, sum));
            i += 1;
        }
    }
    Some(Whale {
        customers: n as u64,
        points: points
            .into_iter()
            .map(|(rank, v)| Some((rank, decimal(v)?)))
            .collect::<Option<_>>()?,
        peak: (peak.0, decimal(peak.1)?),
        total: decimal(sum)?,
    })
}

/// Orders two customers by profit, most profitable first; ties by id.
fn by_profit_desc(a: (&str, Decimal), b: (&str, Decimal)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0))
}

/// The `n` most and the `n` least profitable customers, as indexes into `rows` (id,
/// profit): the top most profitable first, the bottom least profitable first; ties by
/// customer id (smaller first, in both lists). One pass over the rows: most rows cost one
/// comparison with the last of each list.
pub fn extremes(rows: &[(&str, Decimal)], n: usize) -> (Vec<usize>, Vec<usize>) {
    let top_order = |a: usize, b: usize| by_profit_desc(rows[a], rows[b]);
    let bottom_order = |a: usize, b: usize| {
        rows[a]
            .1
            .cmp(&rows[b].1)
            .then_with(|| rows[a].0.cmp(rows[b].0))
    };
    let mut top: Vec<usize> = Vec::with_capacity(n + 1);
    let mut bottom: Vec<usize> = Vec::with_capacity(n + 1);
    if n == 0 {
        return (top, bottom);
    }
    for i in 0..rows.len() {
        for (list, order) in [
            (&mut top, &top_order as &dyn Fn(usize, usize) -> Ordering),
            (&mut bottom, &bottom_order),
        ] {
            if list.len() == n && list.last().is_some_and(|&l| order(i, l) != Ordering::Less) {
                continue;
            }
            let at = list.partition_point(|&l| order(l, i) == Ordering::Less);
            list.insert(at, i);
            list.truncate(n);
        }
    }
    (top, bottom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Decimal {
        Decimal::new(v, 2)
    }

    #[test]
    fn curve_conserves_the_total_and_marks_the_peak() {
        // 10,000 customers, profits from +49.99 down to -50.00.
        let profits: Vec<Decimal> = (0..10_000).map(|i| d(4_999 - i)).collect();
        let w = whale_curve(&profits, 500);
        let total: Decimal = profits.iter().sum();
        assert_eq!(w.total, total);
        assert_eq!(w.points.last(), Some(&(10_000, total)));
        assert_eq!(w.points.first(), Some(&(0, Decimal::ZERO)));
        assert!(w.points.len() <= 502, "{}", w.points.len());
        // The peak: every positive profit summed (ranks 1..=5000, 49.99 down to 0.00).
        let positive: Decimal = profits.iter().filter(|p| **p > Decimal::ZERO).sum();
        assert_eq!(w.peak.1, positive);
        assert_eq!(w.peak.0, 4_999);
        assert!(w.points.contains(&w.peak));
        assert!(w.points.iter().all(|p| p.1 <= w.peak.1));
        assert!(w.points.windows(2).all(|p| p[0].0 < p[1].0));
    }

    #[test]
    fn curve_sorts_mixed_scales_and_huge_values_exactly() {
        let profits = [
            Decimal::new(15, 1),
            Decimal::new(-3, 0),
            Decimal::new(149, 2),
            Decimal::new(1_500, 3),
        ];
        let w = whale_curve(&profits, 10);
        assert_eq!(
            w.points,
            vec![
                (0, d(0)),
                (1, d(150)),
                (2, d(300)),
                (3, d(449)),
                (4, d(149))
            ]
        );
        // The integer and the decimal paths agree.
        let mut seed = 11u64;
        let profits: Vec<Decimal> = (0..5_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Decimal::new((seed >> 40) as i64 - (1 << 23), (seed % 3) as u32)
            })
            .collect();
        let mut sorted = profits.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let by_decimals = curve(sorted.into_iter(), 100, Some).unwrap();
        assert_eq!(integer_curve(&profits, 100), Some(by_decimals.clone()));
        assert_eq!(whale_curve(&profits, 100), by_decimals);
        assert!(by_decimals.points.len() > 100);
        // Too large to scale to 28 places: sorted as decimals.
        let profits = [Decimal::MAX, Decimal::new(1, 28), Decimal::ZERO];
        let w = whale_curve(&profits, 10);
        assert_eq!(w.points[1], (1, Decimal::MAX));
        assert_eq!(w.total, Decimal::MAX);
    }

    #[test]
    fn curve_of_few_or_no_customers() {
        let w = whale_curve(&[], 500);
        assert_eq!(w.points, vec![(0, Decimal::ZERO)]);
        assert_eq!(w.total, Decimal::ZERO);
        let w = whale_curve(&[d(-5), d(10), d(3)], 500);
        assert_eq!(w.points, vec![(0, d(0)), (1, d(10)), (2, d(13)), (3, d(8))]);
        assert_eq!(w.peak, (2, d(13)));
        // All losses: the peak stays at rank 0.
        let w = whale_curve(&[d(-1), d(-2)], 1);
        assert_eq!(w.peak, (0, d(0)));
        assert_eq!(w.points, vec![(0, d(0)), (2, d(-3))]);
    }

    #[test]
    fn extremes_break_ties_by_id() {
        let rows = vec![
            ("c", d(5)),
            ("a", d(5)),
            ("b", d(-1)),
            ("d", d(100)),
            ("e", d(-1)),
        ];
        let (top, bottom) = extremes(&rows, 2);
        assert_eq!(top, vec![3, 1]);
        assert_eq!(bottom, vec![2, 4]);
        let (top, bottom) = extremes(&rows, 10);
        assert_eq!(top, vec![3, 1, 0, 2, 4]);
        assert_eq!(bottom, vec![2, 4, 1, 0, 3]);
        assert_eq!(extremes(&[], 3), (vec![], vec![]));
        assert_eq!(extremes(&rows, 0), (vec![], vec![]));
    }

    #[test]
    fn extremes_agree_with_a_full_sort() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let ids: Vec<String> = (0..2_000)
            .map(|i| format!("c{:04}", (i * 7919) % 2_000))
            .collect();
        // Few distinct profits, so ties are common.
        let rows: Vec<(&str, Decimal)> = ids
            .iter()
            .map(|id| {
                (
                    id.as_str(),
                    Decimal::new((next() % 50) as i64 - 25, (next() % 2) as u32),
                )
            })
            .collect();
        let mut sorted: Vec<usize> = (0..rows.len()).collect();
        sorted.sort_by(|&a, &b| by_profit_desc(rows[a], rows[b]));
        let mut ascending: Vec<usize> = (0..rows.len()).collect();
        ascending.sort_by(|&a, &b| rows[a].1.cmp(&rows[b].1).then(rows[a].0.cmp(rows[b].0)));
        for n in [1, 20, 500] {
            let (top, bottom) = extremes(&rows, n);
            assert_eq!(top, sorted[..n]);
            assert_eq!(bottom, ascending[..n]);
        }
    }
}
