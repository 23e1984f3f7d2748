//! Declared features: per-customer aggregates over ledger entries, computed natively.
//!
//! ```yaml
//! feature: orders_12m
//! aggregate: distinct      # sum | count | min | max | first | last | distinct | avg
//! of: document             # amount (default) | quantity | date | document | a dimension
//! kinds: [sale]            # entry kinds (all when absent)
//! where: { channel: 微信广告 }
//! window: 12m              # entries in the last 12 months before the as-of date
//! ```
//!
//! The caller (the pipeline) scans each customer's entries and feeds them to an
//! [`Accumulator`]; only entries dated on or before the as-of date count.

use chrono::{Months, NaiveDate};
use ledgerlens_model::EntryKind;
use rust_decimal::Decimal;
use rustc_hash::FxHashSet;

use crate::spec::RuleSpec;
use crate::value::{Type, Value};

/// The dimensions of an entry, in [`EntryView::dims`] order.
pub const DIMENSIONS: [&str; 6] = [
    "product",
    "channel",
    "campaign",
    "region",
    "department",
    "project",
];

/// One ledger entry, as declared features see it.
#[derive(Debug, Clone, Copy)]
pub struct EntryView<'a> {
    /// Booking date.
    pub date: NaiveDate,
    /// Kind.
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Decimal,
    /// Quantity.
    pub quantity: Option<Decimal>,
    /// Document reference.
    pub document: Option<&'a str>,
    /// Dimensions, in [`DIMENSIONS`] order.
    pub dims: [Option<&'a str>; 6],
}

/// The aggregate function of a declared feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Sum.
    Sum,
    /// Number of entries.
    Count,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Value of the earliest entry (by date, then the order entries came in).
    First,
    /// Value of the latest entry.
    Last,
    /// Number of distinct values.
    Distinct,
    /// Mean.
    Avg,
}

/// What a declared feature aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The amount.
    Amount,
    /// The quantity.
    Quantity,
    /// The date.
    Date,
    /// The document reference.
    Document,
    /// A dimension, by index into [`DIMENSIONS`].
    Dimension(usize),
}

/// The time window of a declared feature, before the as-of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last n days (as-of included).
    Days(u32),
    /// The last n calendar months.
    Months(u32),
}

/// A declared feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The function.
    pub func: Func,
    /// The field.
    pub of: Field,
    /// Entry kinds counted (`None`: all).
    pub kinds: Option<Vec<EntryKind>>,
    /// Dimension filters (index, value).
    pub dims: Vec<(usize, String)>,
    /// The window.
    pub window: Option<Window>,
}

impl Declared {
    /// Reads a declared feature from its rule.
    pub fn parse(s: &RuleSpec) -> Result<Declared, String> {
        let func = match s.aggregate.as_deref().unwrap_or("") {
            "sum" => Func::Sum,
            "count" => Func::Count,
            "min" => Func::Min,
            "max" => Func::Max,
            "first" => Func::First,
            "last" => Func::Last,
            "distinct" => Func::Distinct,
            "avg" => Func::Avg,
            other => {
                return Err(format!(
                    "unknown aggregate {other:?} (sum, count, min, max, first, last, distinct, avg)"
                ))
            }
        };
        let of = match s.of.as_deref().unwrap_or("amount") {
            "amount" => Field::Amount,
            "quantity" => Field::Quantity,
            "date" => Field::Date,
            "document" => Field::Document,
            d => match DIMENSIONS.iter().position(|x| *x == d) {
                Some(i) => Field::Dimension(i),
                None => {
                    return Err(format!(
                        "of: {d:?}: amount, quantity, date, document or a dimension ({})",
                        DIMENSIONS.join(", ")
                    ))
                }
            },
        };
        let text_like = matches!(of, Field::Document | Field::Dimension(_));
        if text_like && matches!(func, Func::Sum | Func::Avg | Func::Min | Func::Max) {
            return Err(format!(
                "{:?} of a text field: use count, distinct, first or last",
                func
            )
            .to_lowercase());
        }
        if of == Field::Date && matches!(func, Func::Sum | Func::Avg) {
            return Err("dates cannot be summed or averaged: use min, max, first, last".into());
        }
        let kinds = match &s.kinds {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|k| k.parse::<EntryKind>().map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let mut dims = Vec::new();
        for (k, v) in s.filter_dims.iter().flatten() {
            let i = DIMENSIONS.iter().position(|x| x == k).ok_or_else(|| {
                format!(
                    "where: {k:?} is not a dimension ({})",
                    DIMENSIONS.join(", ")
                )
            })?;
            dims.push((i, v.clone()));
        }
        let window = s.window.as_deref().map(parse_window).transpose()?;
        Ok(Declared {
            func,
            of,
            kinds,
            dims,
            window,
        })
    }

    /// The type of the feature's values.
    pub fn ty(&self) -> Type {
        match (self.func, self.of) {
            (Func::Count | Func::Distinct, _) => Type::Int,
            (_, Field::Date) => Type::Date,
            (_, Field::Document | Field::Dimension(_)) => Type::Text,
            _ => Type::Decimal,
        }
    }

    /// The first date inside the window, for an as-of date.
    pub fn window_start(&self, as_of: NaiveDate) -> Option<NaiveDate> {
        match self.window? {
            Window::Days(n) => as_of.checked_sub_days(chrono::Days::new(u64::from(n) - 1)),
            Window::Months(n) => as_of
                .checked_sub_months(Months::new(n))
                .and_then(|d| d.succ_opt()),
        }
    }
}

fn parse_window(s: &str) -> Result<Window, String> {
    let s = s.trim();
    let bad = || format!("window: {s:?}: write a number of days, months or years (90d, 12m, 2y)");
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u32 = num.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    match unit.trim() {
        "d" | "days" => Ok(Window::Days(n)),
        "m" | "months" => Ok(Window::Months(n)),
        "y" | "years" => Ok(Window::Months(n.checked_mul(12).ok_or_else(bad)?)),
        _ => Err(bad()),
    }
}

#[derive(Debug, Clone, Default)]
struct State {
    sum: Decimal,
    count: i64,
    best: Option<(NaiveDate, Value)>,
    /// Distinct texts; a text is copied only the first time it is seen.
    texts: Option<FxHashSet<String>>,
    /// Distinct other values.
    values: Option<FxHashSet<Value>>,
}

/// Accumulates one declared feature over the entries of a set of customers (rows).
#[derive(Debug)]
pub struct Accumulator<'a> {
    spec: &'a Declared,
    from: Option<NaiveDate>,
    as_of: NaiveDate,
    states: Vec<State>,
}

impl<'a> Accumulator<'a> {
    /// An accumulator for `rows` customers as of a date.
    pub fn new(spec: &'a Declared, as_of: NaiveDate, rows: usize) -> Accumulator<'a> {
        Accumulator {
            spec,
            from: spec.window_start(as_of),
            as_of,
            states: vec![State::default(); rows],
        }
    }

    /// Feeds one entry of the customer at `row`.
    pub fn push(&mut self, row: usize, e: &EntryView<'_>) {
        let spec = self.spec;
        if e.date > self.as_of || self.from.is_some_and(|f| e.date < f) {
            return;
        }
        if spec.kinds.as_ref().is_some_and(|k| !k.contains(&e.kind)) {
            return;
        }
        if spec
            .dims
            .iter()
            .any(|(i, v)| e.dims[*i] != Some(v.as_str()))
        {
            return;
        }
        let Some(state) = self.states.get_mut(row) else {
            return;
        };
        if spec.func == Func::Count {
            state.count += 1;
            return;
        }
        let text = match spec.of {
            Field::Document => e.document,
            Field::Dimension(i) => e.dims[i],
            _ => None,
        };
        if spec.func == Func::Distinct {
            if let Some(t) = text {
                let set = state.texts.get_or_insert_with(FxHashSet::default);
                if !set.contains(t) {
                    set.insert(t.to_string());
                }
                return;
            }
        }
        let value = match spec.of {
            Field::Amount => Value::Decimal(e.amount),
            Field::Quantity => e.quantity.map_or(Value::Null, Value::Decimal),
            Field::Date => Value::Date(e.date),
            Field::Document | Field::Dimension(_) => {
                text.map_or(Value::Null, |d| Value::Text(d.into()))
            }
        };
        if value == Value::Null {
            return;
        }
        match spec.func {
            Func::Sum | Func::Avg => {
                if let Some(x) = value.as_decimal() {
                    state.sum = state.sum.saturating_add(x);
                    state.count += 1;
                }
            }
            Func::Distinct => {
                state
                    .values
                    .get_or_insert_with(FxHashSet::default)
                    .insert(value);
            }
            Func::Min => {
                if state.best.as_ref().is_none_or(|(_, b)| value < *b) {
                    state.best = Some((e.date, value));
                }
            }
            Func::Max => {
                if state.best.as_ref().is_none_or(|(_, b)| value > *b) {
                    state.best = Some((e.date, value));
                }
            }
            Func::First => {
                if state.best.as_ref().is_none_or(|(d, _)| e.date < *d) {
                    state.best = Some((e.date, value));
                }
            }
            Func::Last => {
                if state.best.as_ref().is_none_or(|(d, _)| e.date >= *d) {
                    state.best = Some((e.date, value));
                }
            }
            Func::Count => {}
        }
    }

    /// The feature's values, by row. Sums and counts are 0 for a customer without
    /// matching entries; the others are null.
    pub fn finish(self) -> Vec<Value> {
        let func = self.spec.func;
        self.states
            .into_iter()
            .map(|s| match func {
                Func::Sum => Value::Decimal(s.sum),
                Func::Count => Value::Int(s.count),
                Func::Distinct => Value::Int(
                    (s.texts.map_or(0, |d| d.len()) + s.values.map_or(0, |d| d.len())) as i64,
                ),
                Func::Avg if s.count > 0 => {
                    Value::Decimal((s.sum / Decimal::from(s.count)).round_dp(4))
                }
                Func::Avg => Value::Null,
                _ => s.best.map_or(Value::Null, |(_, v)| v),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Declared {
        let s: RuleSpec = serde_yaml::from_str(yaml).expect("yaml");
        Declared::parse(&s).expect("valid")
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn entry<'a>(date: &str, kind: EntryKind, amount: i64, doc: &'a str) -> EntryView<'a> {
        EntryView {
            date: d(date),
            kind,
            amount: Decimal::from(amount),
            quantity: None,
            document: Some(doc),
            dims: [None, Some("微信广告"), None, None, None, None],
        }
    }

    #[test]
    fn windows_kinds_and_functions() {
        let as_of = d("2025-12-31");
        let entries = [
            entry("2024-12-31", EntryKind::Sale, 100, "A"),
            entry("2025-01-01", EntryKind::Sale, 50, "B"),
            entry("2025-06-01", EntryKind::Sale, 20, "B"),
            entry("2025-06-02", EntryKind::Return, 5, "C"),
            entry("2026-01-01", EntryKind::Sale, 999, "D"),
        ];
        let run = |yaml: &str| {
            let s = spec(yaml);
            let mut acc = Accumulator::new(&s, as_of, 2);
            for e in &entries {
                acc.push(0, e);
            }
            acc.finish()
        };
        assert_eq!(
            run("aggregate: sum\nkinds: [sale]\nwindow: 12m"),
            [Value::Decimal(70.into()), Value::Decimal(0.into())]
        );
        assert_eq!(
            run("aggregate: sum\nkinds: [sale]\nwindow: 365d")[0],
            Value::Decimal(70.into())
        );
        assert_eq!(
            run("aggregate: sum\nkinds: [sale]\nwindow: 366d")[0],
            Value::Decimal(170.into())
        );
        assert_eq!(
            run("aggregate: distinct\nof: document\nkinds: [sale]")[0],
            Value::Int(2)
        );
        assert_eq!(run("aggregate: count")[0], Value::Int(4));
        assert_eq!(
            run("aggregate: last\nof: document")[0],
            Value::Text("C".into())
        );
        assert_eq!(
            run("aggregate: max\nof: date\nkinds: [sale]")[0],
            Value::Date(d("2025-06-01"))
        );
        assert_eq!(
            run("aggregate: count\nwhere: { channel: 抖音达人投放 }")[0],
            Value::Int(0)
        );
        assert_eq!(run("aggregate: avg\nkinds: [sale]")[1], Value::Null);
    }

    #[test]
    fn bad_specs_say_why() {
        let bad = |yaml: &str| {
            let s: RuleSpec = serde_yaml::from_str(yaml).expect("yaml");
            Declared::parse(&s).expect_err("invalid")
        };
        assert!(bad("aggregate: total").contains("unknown aggregate"));
        assert!(bad("aggregate: sum\nof: document").contains("text field"));
        assert!(bad("aggregate: sum\nwindow: 3w").contains("window"));
        assert!(bad("aggregate: sum\nkinds: [sales-ish]").contains("sales-ish"));
    }
}
