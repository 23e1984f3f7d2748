//! Purchase events summarized per customer as of a calibration end date.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::{Error, History};

/// The unit of time of a summary, and so of the fitted rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeUnit {
    /// One day.
    Day,
    /// Seven days (the literature's unit, and the default).
    #[default]
    Week,
    /// 30.4375 days: a mean Gregorian month (365.25 / 12).
    Month,
}

impl TimeUnit {
    /// The length of the unit in days.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => DAYS_PER_MONTH,
        }
    }
}

/// The days in a month: 365.25 / 12.
pub const DAYS_PER_MONTH: f64 = 30.4375;

/// One purchase line: a customer, a date and a value (a line of an order, an invoice...).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase<K> {
    /// The customer.
    pub customer: K,
    /// The day of the purchase.
    pub date: NaiveDate,
    /// Its value (>= 0; zero is allowed).
    pub value: f64,
}

impl<K> Purchase<K> {
    /// A purchase with a float value.
    pub fn new(customer: K, date: NaiveDate, value: f64) -> Self {
        Self {
            customer,
            date,
            value,
        }
    }

    /// A purchase with a [`Decimal`] value (converted to the nearest float: the models are
    /// statistics, not bookkeeping).
    pub fn from_decimal(customer: K, date: NaiveDate, value: Decimal) -> Self {
        Self::new(customer, date, value.to_f64().unwrap_or(f64::NAN))
    }
}

/// One customer's summary as of the calibration end.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSummary<K> {
    /// The customer.
    pub customer: K,
    /// x, t_x and T.
    pub history: History,
    /// m_x: the mean value of the repeat purchase events (the first excluded); 0 when x = 0.
    pub spend: f64,
    /// The day of the first purchase.
    pub first: NaiveDate,
    /// The day of the last purchase on or before the calibration end.
    pub last: NaiveDate,
}

/// Summarizes purchases as of `calibration_end` (inclusive), in the literature's way:
///
/// - one purchase event is one customer-day: lines of one customer on one day are merged
///   and their values summed;
/// - x = events - 1; t_x = last event - first event; T = `calibration_end` - first event;
///   days divided by [`TimeUnit::days`];
/// - m_x = the mean value of the repeat events (all but the first), 0 when x = 0;
/// - purchases after `calibration_end` are ignored (they are the holdout period), and so
///   are customers whose first purchase is after it.
///
/// The result is sorted by customer. Errors: no purchases, a value that is negative, NaN or
/// infinite, or a calibration end before every purchase.
pub fn summarize<K: Ord + Display>(
    purchases: impl IntoIterator<Item = Purchase<K>>,
    calibration_end: NaiveDate,
    unit: TimeUnit,
) -> Result<Vec<CustomerSummary<K>>, Error> {
    let mut days: BTreeMap<K, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    let mut earliest: Option<NaiveDate> = None;
    for p in purchases {
        if !(p.value.is_finite() && p.value >= 0.0) {
            return Err(Error::BadValue {
                customer: p.customer.to_string(),
                date: p.date,
                value: p.value,
            });
        }
        earliest = Some(earliest.map_or(p.date, |e| e.min(p.date)));
        if p.date <= calibration_end {
            *days
                .entry(p.customer)
                .or_default()
                .entry(p.date)
                .or_insert(0.0) += p.value;
        }
    }
    let Some(first) = earliest else {
        return Err(Error::NoPurchases);
    };
    if days.is_empty() {
        return Err(Error::CalibrationBeforeData {
            end: calibration_end,
            first,
        });
    }
    let per_unit = 1.0 / unit.days();
    let span = |from: NaiveDate, to: NaiveDate| (to - from).num_days() as f64 * per_unit;
    let mut out = Vec::with_capacity(days.len());
    for (customer, events) in days {
        let mut iter = events.iter();
        let Some((&first, _)) = iter.next() else {
            continue;
        };
        let (mut last, mut repeat_sum, mut x) = (first, 0.0, 0u32);
        for (&day, &value) in iter {
            last = day;
            repeat_sum += value;
            x += 1;
        }
        let spend = if x > 0 {
            repeat_sum / f64::from(x)
        } else {
            0.0
        };
        out.push(CustomerSummary {
            customer,
            history: History::new(x, span(first, last), span(first, calibration_end)),
            spend,
            first,
            last,
        });
    }
    Ok(out)
}

/// The number of purchase events of each customer in the holdout period
/// (`calibration_end`, `holdout_end`]: one event per customer-day, as in [`summarize`].
/// Customers without a purchase in the period are absent (their count is 0). Compare with
/// a model's expected purchases over the holdout length, (`holdout_end` -
/// `calibration_end`) in the model's [`TimeUnit`].
pub fn holdout<K: Ord>(
    purchases: impl IntoIterator<Item = Purchase<K>>,
    calibration_end: NaiveDate,
    holdout_end: NaiveDate,
) -> Result<BTreeMap<K, u32>, Error> {
    if holdout_end <= calibration_end {
        return Err(Error::BadPeriod {
            calibration_end,
            holdout_end,
        });
    }
    let mut days: BTreeMap<K, BTreeSet<NaiveDate>> = BTreeMap::new();
    for p in purchases {
        if p.date > calibration_end && p.date <= holdout_end {
            days.entry(p.customer).or_default().insert(p.date);
        }
    }
    Ok(days
        .into_iter()
        .map(|(k, d)| (k, u32::try_from(d.len()).unwrap_or(u32::MAX)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn merges_same_day_lines_and_excludes_later_customers() {
        let purchases = vec![
            Purchase::new("a", day("2024-01-01"), 10.0),
            Purchase::new("a", day("2024-01-08"), 5.0),
            Purchase::new("a", day("2024-01-08"), 7.0),
            Purchase::new("a", day("2024-01-15"), 0.0),
            Purchase::new("a", day("2024-03-01"), 99.0), // after the end
            Purchase::new("b", day("2024-01-29"), 3.0),
            Purchase::new("c", day("2024-02-10"), 3.0), // first purchase after the end
        ];
        let s = summarize(purchases, day("2024-01-29"), TimeUnit::Week).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].customer, "a");
        assert_eq!(s[0].history, History::new(2, 2.0, 4.0));
        assert_eq!(s[0].spend, 6.0);
        assert_eq!(s[1].history, History::new(0, 0.0, 0.0));
        assert_eq!(s[1].spend, 0.0);
        let d = summarize(
            vec![
                Purchase::from_decimal(1, day("2024-01-01"), Decimal::new(1050, 2)),
                Purchase::new(1, day("2024-01-31"), 2.0),
            ],
            day("2024-01-31"),
            TimeUnit::Day,
        )
        .unwrap();
        assert_eq!(d[0].history, History::new(1, 30.0, 30.0));
        let m = summarize(
            vec![Purchase::new(1, day("2024-01-01"), 1.0)],
            day("2024-12-31"),
            TimeUnit::Month,
        )
        .unwrap();
        assert!((m[0].history.age - 365.0 / 30.4375).abs() < 1e-12);
    }

    #[test]
    fn holdout_counts_customer_days_after_the_calibration_end() {
        let purchases = vec![
            Purchase::new("a", day("2024-01-01"), 1.0),
            Purchase::new("a", day("2024-02-01"), 1.0),
            Purchase::new("a", day("2024-02-01"), 2.0),
            Purchase::new("a", day("2024-02-03"), 1.0),
            Purchase::new("a", day("2024-04-01"), 1.0), // after the holdout
            Purchase::new("b", day("2024-01-31"), 1.0), // on the calibration end
        ];
        let h = holdout(purchases.clone(), day("2024-01-31"), day("2024-03-31")).unwrap();
        assert_eq!(h.into_iter().collect::<Vec<_>>(), vec![("a", 2)]);
        assert_eq!(
            holdout(purchases, day("2024-01-31"), day("2024-01-31")),
            Err(Error::BadPeriod {
                calibration_end: day("2024-01-31"),
                holdout_end: day("2024-01-31")
            })
        );
    }

    #[test]
    fn refuses_bad_input() {
        let before = summarize(
            vec![Purchase::new(1, day("2024-02-01"), 1.0)],
            day("2024-01-01"),
            TimeUnit::Week,
        );
        assert_eq!(
            before,
            Err(Error::CalibrationBeforeData {
                end: day("2024-01-01"),
                first: day("2024-02-01")
            })
        );
        assert_eq!(
            summarize(
                Vec::<Purchase<u32>>::new(),
                day("2024-01-01"),
                TimeUnit::Week
            ),
            Err(Error::NoPurchases)
        );
        let negative = summarize(
            vec![Purchase::new(7, day("2024-01-01"), -1.0)],
            day("2024-01-01"),
            TimeUnit::Week,
        );
        assert!(matches!(negative, Err(Error::BadValue { ref customer, .. }) if customer == "7"));
        let nan = summarize(
            vec![Purchase::new(7, day("2024-01-01"), f64::NAN)],
            day("2024-01-01"),
            TimeUnit::Week,
        );
        assert!(nan.is_err());
    }
}
