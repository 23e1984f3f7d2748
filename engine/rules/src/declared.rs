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
//! `open` matches items first in, first out: entries of `kinds` open items (invoices),
//! entries of `settled_by` settle the oldest open ones (payments, write-offs), and the
//! feature is the sum (or, `of: date`, the earliest date) of what is still open, of an
//! `age` in days after the item's date:
//!
//! ```yaml
//! feature: open_31_60
//! aggregate: open
//! kinds: [invoice]
//! settled_by: [payment, write-off]
//! age: 31-60               # 0-30, 31-60, 61-90, 91+
//! ```
//!
//! With `activity: <name>` a feature aggregates the customer's activity counts of that
//! name instead (`sum` of the counts or `count` of the records, in an optional window):
//! the drivers of activity-based costing (service tickets, deliveries).
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
    /// What is still open after first-in-first-out settlement (see the module docs).
    Open,
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
    /// `open`: the kinds that settle open items.
    pub settled_by: Vec<EntryKind>,
    /// `open`: the ages counted, in days (from, to; `None`: no upper bound).
    pub age: (u32, Option<u32>),
    /// Aggregates the activity counts of this name, not ledger entries.
    pub activity: Option<String>,
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
            "open" => Func::Open,
            other => {
                return Err(format!(
                    "unknown aggregate {other:?} (sum, count, min, max, first, last, distinct, avg, open)"
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
        let parse_kinds = |list: &Vec<String>| {
            list.iter()
                .map(|k| k.parse::<EntryKind>().map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()
        };
        let kinds = s.kinds.as_ref().map(parse_kinds).transpose()?;
        let settled_by = s.settled_by.as_ref().map(parse_kinds).transpose()?;
        let age = s.age.as_deref().map(parse_age).transpose()?;
        if func == Func::Open {
            if !matches!(of, Field::Amount | Field::Date) {
                return Err("open items are summed (of: amount) or dated (of: date)".into());
            }
            if kinds.is_none() || settled_by.is_none() {
                return Err(
                    "an open feature names the kinds that open items (kinds: [invoice]) and \
                     those that settle them (settled_by: [payment, write-off])"
                        .into(),
                );
            }
            if s.window.is_some() {
                return Err("an open feature has an age, not a window".into());
            }
            if s.filter_dims.is_some() {
                return Err(
                    "an open feature has no `where:`: payments rarely carry the dimensions of the invoices they settle"
                        .into(),
                );
            }
        } else if settled_by.is_some() || age.is_some() {
            return Err("settled_by and age belong to `aggregate: open`".into());
        }
        if s.activity.is_some() {
            if !matches!(func, Func::Sum | Func::Count) {
                return Err(
                    "an activity feature sums the counts (sum) or counts the records (count)"
                        .into(),
                );
            }
            if s.of.is_some() || s.kinds.is_some() || s.filter_dims.is_some() {
                return Err("an activity feature has no of, kinds or where: it reads activity counts, not ledger entries".into());
            }
        }
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
            settled_by: settled_by.unwrap_or_default(),
            age: age.unwrap_or((0, None)),
            activity: s.activity.clone(),
        })
    }

    /// The sum of the amounts of one entry kind (a measure of a KPI by period).
    pub fn of_kind(kind: EntryKind) -> Declared {
        Declared {
            func: Func::Sum,
            of: Field::Amount,
            kinds: Some(vec![kind]),
            dims: Vec::new(),
            window: None,
            settled_by: Vec::new(),
            age: (0, None),
            activity: None,
        }
    }

    /// Whether an entry is of the feature's kinds and dimensions (dates aside).
    pub fn matches(&self, e: &EntryView<'_>) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&e.kind))
            && self
                .dims
                .iter()
                .all(|(i, v)| e.dims[*i] == Some(v.as_str()))
    }

    /// Whether the feature sums (or counts) entries over all time, so that its sums per
    /// period add up: what a KPI by period can read.
    pub fn is_period_measure(&self) -> bool {
        matches!(self.func, Func::Sum | Func::Count)
            && matches!(self.of, Field::Amount | Field::Quantity)
            && self.window.is_none()
            && self.activity.is_none()
    }

    /// The type of the feature's values.
    pub fn ty(&self) -> Type {
        match (self.func, self.of) {
            (Func::Open, Field::Date) => Type::Date,
            (Func::Open, _) => Type::Decimal,
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

fn parse_age(s: &str) -> Result<(u32, Option<u32>), String> {
    let bad = || format!("age: {s:?}: write a range of days (0-30, 31-60) or a lower bound (91+)");
    let number = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
    let t = s.trim();
    if let Some(from) = t.strip_suffix('+') {
        return Ok((number(from)?, None));
    }
    let (from, to) = t.split_once('-').ok_or_else(bad)?;
    let (from, to) = (number(from)?, number(to)?);
    if from > to {
        return Err(bad());
    }
    Ok((from, Some(to)))
}

pub(crate) fn parse_window(s: &str) -> Result<Window, String> {
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
    /// `open`: the dated amounts, and whether they open an item (else they settle).
    events: Vec<(NaiveDate, Decimal, bool)>,
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
        if spec.activity.is_some() || !self.in_window(e.date) {
            return;
        }
        let opens = spec.kinds.as_ref().is_none_or(|k| k.contains(&e.kind));
        let settles = spec.settled_by.contains(&e.kind);
        if !opens && !settles {
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
        if spec.func == Func::Open {
            state.events.push((e.date, e.amount, opens));
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
            Func::Count | Func::Open => {}
        }
    }

    /// Feeds one activity count of the customer at `row` (ignored unless the feature
    /// reads this activity).
    pub fn push_activity(&mut self, row: usize, activity: &str, date: NaiveDate, count: Decimal) {
        if self.spec.activity.as_deref() != Some(activity) || !self.in_window(date) {
            return;
        }
        if let Some(state) = self.states.get_mut(row) {
            state.sum = state.sum.saturating_add(count);
            state.count += 1;
        }
    }

    fn in_window(&self, date: NaiveDate) -> bool {
        date <= self.as_of && self.from.is_none_or(|f| date >= f)
    }

    /// The feature's values, by row. Sums and counts are 0 for a customer without
    /// matching entries; the others are null.
    pub fn finish(self) -> Vec<Value> {
        let func = self.spec.func;
        let (spec, as_of) = (self.spec, self.as_of);
        // Money has its cents, even when nothing was summed (0.00) or the source wrote
        // whole yuan (300).
        let amounts = spec.of == Field::Amount && spec.activity.is_none();
        self.states
            .into_iter()
            .map(|s| match func {
                Func::Open => open_items(s.events, spec, as_of),
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
            .map(|v| match v {
                Value::Decimal(d) if amounts => Value::Decimal(crate::value::money(d)),
                v => v,
            })
            .collect()
    }
}

/// What is still open of a customer's items after first-in-first-out settlement, within
/// the feature's ages: the sum (0 when nothing is), or the earliest date (null).
///
/// First in, first out, what is open at the end does not depend on when items were
/// settled: the settlements (net of reversals: a bounced payment reopens what it had
/// paid) go to the oldest items first, a prepayment to the next items. So the items, by
/// date, are settled by the net total of the settlements; a credit entered as a negative
/// item counts as a settlement. More reversals than settlements leave everything open.
fn open_items(
    mut events: Vec<(NaiveDate, Decimal, bool)>,
    spec: &Declared,
    as_of: NaiveDate,
) -> Value {
    // Items by date (a stable sort: same-day items in the order they came).
    events.sort_by_key(|&(date, _, _)| date);
    let settled: Decimal = events
        .iter()
        .map(|&(_, a, opens)| match opens {
            true if a.is_sign_negative() => -a, // a credit note
            true => Decimal::ZERO,
            false => a, // a payment, or its reversal (negative)
        })
        .sum();
    let mut left = settled.max(Decimal::ZERO);
    let mut open: Vec<(NaiveDate, Decimal)> = Vec::new();
    for (date, amount, _) in events
        .into_iter()
        .filter(|&(_, a, opens)| opens && a > Decimal::ZERO)
    {
        let taken = left.min(amount);
        left -= taken;
        if amount > taken {
            open.push((date, amount - taken));
        }
    }
    let (from, to) = spec.age;
    let counted = open.into_iter().filter(|(date, _)| {
        let age = (as_of - *date).num_days();
        age >= i64::from(from) && to.is_none_or(|t| age <= i64::from(t))
    });
    if spec.of == Field::Date {
        counted
            .map(|(d, _)| d)
            .min()
            .map_or(Value::Null, Value::Date)
    } else {
        Value::Decimal(counted.map(|(_, a)| a).sum())
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
        assert!(bad("aggregate: open\nkinds: [invoice]").contains("settle"));
        assert!(bad("aggregate: sum\nage: 0-30").contains("aggregate: open"));
        assert!(bad("aggregate: max\nactivity: delivery").contains("activity"));
        assert!(bad("aggregate: sum\nactivity: delivery\nkinds: [sale]").contains("activity"));
        assert!(
            bad("aggregate: open\nkinds: [invoice]\nsettled_by: [payment]\nage: 30-0")
                .contains("age")
        );
        assert!(bad(
            "aggregate: open\nkinds: [invoice]\nsettled_by: [payment]\nage: 0+\nwhere: { channel: x }"
        )
        .contains("where"));
        assert!(
            bad("aggregate: open\nkinds: [invoice]\nsettled_by: [payment]\nwindow: 9m")
                .contains("window")
        );
    }

    #[test]
    fn activity_features_read_activity_counts() {
        let as_of = d("2025-12-31");
        let run = |yaml: &str| {
            let s = spec(yaml);
            let mut acc = Accumulator::new(&s, as_of, 2);
            acc.push(0, &entry("2025-06-01", EntryKind::Sale, 100, "A"));
            acc.push_activity(0, "service-ticket", d("2025-03-01"), Decimal::from(2));
            acc.push_activity(0, "service-ticket", d("2025-11-01"), Decimal::from(3));
            acc.push_activity(0, "delivery", d("2025-11-01"), Decimal::from(7));
            acc.push_activity(1, "service-ticket", d("2026-01-02"), Decimal::from(9));
            acc.finish()
        };
        assert_eq!(
            run("aggregate: sum\nactivity: service-ticket"),
            [Value::Decimal(5.into()), Value::Decimal(0.into())]
        );
        assert_eq!(
            run("aggregate: count\nactivity: service-ticket\nwindow: 3m")[0],
            Value::Int(1)
        );
    }

    #[test]
    fn open_items_are_settled_oldest_first() {
        let as_of = d("2025-12-31");
        // Invoices of 100 (Sep 1), 50 (Oct 15), 80 (Dec 20); payments of 120 (Oct 20)
        // and 10 (Dec 31, before an invoice of the same day would be opened: none).
        let entries = [
            entry("2025-12-20", EntryKind::Invoice, 80, "I3"),
            entry("2025-09-01", EntryKind::Invoice, 100, "I1"),
            entry("2025-10-20", EntryKind::Payment, 120, "P1"),
            entry("2025-10-15", EntryKind::Invoice, 50, "I2"),
            entry("2025-12-31", EntryKind::Payment, 10, "P2"),
            entry("2025-11-01", EntryKind::Sale, 999, "S"),
        ];
        let run = |age: &str, of: &str| {
            let s = spec(&format!(
                "aggregate: open\nof: {of}\nkinds: [invoice]\nsettled_by: [payment]\nage: {age}"
            ));
            let mut acc = Accumulator::new(&s, as_of, 1);
            for e in &entries {
                acc.push(0, e);
            }
            acc.finish().remove(0)
        };
        // I1 is paid; 30 of I2 is left after P1, 20 after P2 settles the oldest first.
        assert_eq!(run("0-30", "amount"), Value::Decimal(80.into()));
        assert_eq!(run("31-90", "amount"), Value::Decimal(20.into()));
        assert_eq!(run("61-90", "amount"), Value::Decimal(20.into()));
        assert_eq!(run("91+", "amount"), Value::Decimal(0.into()));
        assert_eq!(run("0+", "date"), Value::Date(d("2025-10-15")));
        assert_eq!(run("91+", "date"), Value::Null);
        // A bounced payment reopens the invoice it had paid: old, not new.
        let s =
            spec("aggregate: open\nof: date\nkinds: [invoice]\nsettled_by: [payment]\nage: 91+");
        let mut acc = Accumulator::new(&s, as_of, 1);
        acc.push(0, &entry("2025-01-10", EntryKind::Invoice, 1000, "I"));
        acc.push(0, &entry("2025-02-10", EntryKind::Payment, 1000, "P"));
        acc.push(
            0,
            &entry("2025-12-20", EntryKind::Payment, -1000, "P-bounced"),
        );
        assert_eq!(acc.finish(), [Value::Date(d("2025-01-10"))]);
        // A prepayment settles the next invoice.
        let s = spec("aggregate: open\nkinds: [invoice]\nsettled_by: [payment]\nage: 0+");
        let mut acc = Accumulator::new(&s, as_of, 1);
        acc.push(0, &entry("2025-01-01", EntryKind::Payment, 30, "P"));
        acc.push(0, &entry("2025-02-01", EntryKind::Invoice, 100, "I"));
        assert_eq!(acc.finish(), [Value::Decimal(70.into())]);
    }
}
