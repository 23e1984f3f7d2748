//! Ledger totals by period, for KPIs grouped by `month`, `quarter` or `year`.
//!
//! In such a KPI, `sum(x)` is a sum over the ledger entries dated in the group's period:
//! `x` is an entry kind (`sale`, `refund`, `cogs`, `service_cost`, ...) or a declared
//! `sum` / `count` feature without a window (whose kinds and `where:` filters apply). A
//! second key, `channel`, `campaign` or `region`, groups the entries by their customer's
//! master field (how the customer was acquired, where it is):
//!
//! ```yaml
//! kpi: gross_margin_by_quarter
//! by: [quarter]
//! value: (sum(sale) - sum(refund) - sum(discount) - sum(cogs)) / (sum(sale) - sum(refund) - sum(discount))
//! ```
//!
//! The caller (the pipeline) feeds every entry to a [`PeriodAccumulator`] with its
//! customer's master fields; only entries dated on or before the as-of date count.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

use crate::declared::{Declared, EntryView, Field, Func};

/// The customer master fields a KPI by period may group by besides the period.
pub const CUSTOMER_KEYS: [&str; 3] = ["channel", "campaign", "region"];

/// One way of grouping entries: a period key, perhaps a customer key, and the measures
/// summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// `month`, `quarter` or `year`.
    pub period: String,
    /// `channel`, `campaign` or `region`, if any.
    pub key: Option<String>,
    /// The measures, by name (an entry kind or a declared feature).
    pub measures: Vec<(String, Declared)>,
}

/// The sums of one shape's measures, by period (`2025-03`, `2025-Q1`, `2025`) and key
/// value (`None`: the customer has no value, or the shape has no key).
pub type Sums = BTreeMap<(String, Option<String>), Vec<Decimal>>;

/// Ledger totals by period, per shape (in the order of [`crate::Program::period_shapes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodTotals(pub Vec<Sums>);

impl PeriodTotals {
    /// The sum of a measure of a shape, for a period and key (0 when nothing was booked).
    pub fn get(&self, shape: usize, period: &str, key: Option<&str>, measure: usize) -> Decimal {
        self.0
            .get(shape)
            .and_then(|s| s.get(&(period.to_string(), key.map(str::to_string))))
            .and_then(|v| v.get(measure).copied())
            .unwrap_or(Decimal::ZERO)
    }
}

/// Accumulates entries into period totals (per shape, per period, per key value).
#[derive(Debug)]
pub struct PeriodAccumulator<'p> {
    shapes: &'p [Shape],
    as_of: NaiveDate,
    /// Key values, interned: 0 is no value.
    keys: FxHashMap<String, u32>,
    /// (shape, period code, key) -> sums of the shape's measures.
    sums: FxHashMap<(u8, u32, u32), Vec<Decimal>>,
}

impl<'p> PeriodAccumulator<'p> {
    /// An accumulator for the shapes of a program as of a date.
    pub fn new(shapes: &'p [Shape], as_of: NaiveDate) -> PeriodAccumulator<'p> {
        PeriodAccumulator {
            shapes,
            as_of,
            keys: FxHashMap::default(),
            sums: FxHashMap::default(),
        }
    }

    /// Whether there is anything to accumulate.
    pub fn is_empty(&self) -> bool {
        self.shapes.is_empty()
    }

    /// Feeds one entry; `field` gives its customer's master fields by name.
    pub fn push<'c>(&mut self, e: &EntryView<'_>, field: impl Fn(&str) -> Option<&'c str>) {
        if e.date > self.as_of {
            return;
        }
        for (i, shape) in self.shapes.iter().enumerate() {
            let key = shape
                .key
                .as_deref()
                .and_then(&field)
                .map_or(0, |v| self.intern(v));
            let mut sums: Option<&mut Vec<Decimal>> = None;
            for (m, (_, d)) in shape.measures.iter().enumerate() {
                if !d.matches(e) {
                    continue;
                }
                let value = match (d.func, d.of) {
                    (Func::Count, _) => Decimal::ONE,
                    (_, Field::Quantity) => e.quantity.unwrap_or_default(),
                    _ => e.amount,
                };
                if sums.is_none() {
                    sums = Some(
                        self.sums
                            .entry((i as u8, period_code(&shape.period, e.date), key))
                            .or_insert_with(|| vec![Decimal::ZERO; shape.measures.len()]),
                    );
                }
                if let Some(sums) = sums.as_mut() {
                    sums[m] += value;
                }
            }
        }
    }

    /// The number of a key value (from 1; the text is copied the first time only).
    fn intern(&mut self, value: &str) -> u32 {
        if let Some(k) = self.keys.get(value) {
            return *k;
        }
        let k = self.keys.len() as u32 + 1;
        self.keys.insert(value.to_string(), k);
        k
    }

    /// Adds another accumulator's sums (of the same shapes).
    pub fn merge(&mut self, other: PeriodAccumulator<'_>) {
        let names: FxHashMap<u32, String> = other.keys.into_iter().map(|(s, k)| (k, s)).collect();
        for ((shape, period, key), sums) in other.sums {
            let key = names.get(&key).map_or(0, |v| self.intern(v));
            let mine = self
                .sums
                .entry((shape, period, key))
                .or_insert_with(|| vec![Decimal::ZERO; sums.len()]);
            for (a, b) in mine.iter_mut().zip(sums) {
                *a += b;
            }
        }
    }

    /// The totals.
    pub fn finish(self) -> PeriodTotals {
        let names: FxHashMap<u32, String> = self.keys.into_iter().map(|(s, k)| (k, s)).collect();
        let mut out: Vec<Sums> = vec![Sums::new(); self.shapes.len()];
        for ((shape, period, key), sums) in self.sums {
            let s = usize::from(shape);
            let period = period_text(&self.shapes[s].period, period);
            out[s].insert((period, names.get(&key).cloned()), sums);
        }
        PeriodTotals(out)
    }
}

/// A period as a number that sorts and groups like it: 202503, 20251 (2025-Q1), 2025.
fn period_code(key: &str, d: NaiveDate) -> u32 {
    let year = d.year().max(0) as u32;
    match key {
        "month" => year * 100 + d.month(),
        "quarter" => year * 10 + d.month0() / 3 + 1,
        _ => year,
    }
}

fn period_text(key: &str, code: u32) -> String {
    match key {
        "month" => format!("{}-{:02}", code / 100, code % 100),
        "quarter" => format!("{}-Q{}", code / 10, code % 10),
        _ => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerlens_model::EntryKind;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn kind(k: EntryKind) -> Declared {
        Declared::of_kind(k)
    }

    #[test]
    fn entries_are_summed_by_period_and_customer_key() {
        let shapes = vec![
            Shape {
                period: "quarter".into(),
                key: None,
                measures: vec![
                    ("sale".into(), kind(EntryKind::Sale)),
                    ("refund".into(), kind(EntryKind::Return)),
                ],
            },
            Shape {
                period: "month".into(),
                key: Some("channel".into()),
                measures: vec![("sale".into(), kind(EntryKind::Sale))],
            },
        ];
        let entry = |date: &str, kind, amount: i64| EntryView {
            date: d(date),
            kind,
            amount: amount.into(),
            quantity: None,
            document: None,
            dims: [None; 6],
        };
        let mut a = PeriodAccumulator::new(&shapes, d("2025-12-31"));
        let mut b = PeriodAccumulator::new(&shapes, d("2025-12-31"));
        let wechat = |k: &str| (k == "channel").then_some("微信广告");
        let none = |_: &str| None;
        a.push(&entry("2025-01-05", EntryKind::Sale, 100), wechat);
        a.push(&entry("2025-02-05", EntryKind::Return, 30), wechat);
        b.push(&entry("2025-03-31", EntryKind::Sale, 50), none);
        b.push(&entry("2025-04-01", EntryKind::Sale, 7), wechat);
        b.push(&entry("2026-01-01", EntryKind::Sale, 999), wechat); // after the as-of date
        a.merge(b);
        let t = a.finish();
        assert_eq!(t.get(0, "2025-Q1", None, 0), Decimal::from(150));
        assert_eq!(t.get(0, "2025-Q1", None, 1), Decimal::from(30));
        assert_eq!(t.get(0, "2025-Q2", None, 0), Decimal::from(7));
        assert_eq!(t.get(1, "2025-01", Some("微信广告"), 0), Decimal::from(100));
        assert_eq!(t.get(1, "2025-03", None, 0), Decimal::from(50));
        assert_eq!(t.get(1, "2026-01", Some("微信广告"), 0), Decimal::ZERO);
        assert_eq!(t.0[1].len(), 3, "{:?}", t.0[1]);
    }
}
