//! Helpers shared by the integration tests: packs from inline files, tables from values,
//! evaluation, and a guard that turns a hang into a test failure.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledgerlens_model::{Budget, CostPool, Provenance, Spend};
use ledgerlens_rules::{
    Column, Error, Facts, Input, Outcome, Pack, PackSource, Problem, Program, Resolver, Table,
    Type, Value,
};
use rust_decimal::Decimal;

/// A date from `YYYY-MM-DD`.
pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

/// A decimal from its written form.
pub fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal")
}

/// A decimal value.
pub fn vd(s: &str) -> Value {
    Value::Decimal(dec(s))
}

/// A text value.
pub fn vt(s: &str) -> Value {
    Value::Text(s.into())
}

/// A pack source named `label` from inline files.
pub fn source(label: &str, files: &[(&str, &str)]) -> PackSource {
    PackSource::from_files(label, files.iter().copied())
}

/// Loads the pack `p` from inline files (no `extends` by name).
pub fn load(files: &[(&str, &str)]) -> Result<Pack, Error> {
    Pack::load(source("p", files), &())
}

/// A resolver that knows packs by name.
pub struct Named(pub Vec<PackSource>);

impl Resolver for Named {
    fn named(&self, name: &str) -> Option<PackSource> {
        self.0.iter().find(|p| p.label == name).cloned()
    }
}

/// The problems of a failed load or compile; panics when it did not fail with problems.
pub fn problems<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<Problem> {
    match result {
        Err(Error::Pack(problems)) => {
            assert!(!problems.is_empty(), "Error::Pack without problems");
            problems
        }
        other => panic!("expected Error::Pack, got {other:?}"),
    }
}

/// The problems of loading, then compiling against `inputs`, a pack of inline files.
pub fn pack_problems(files: &[(&str, &str)], inputs: &BTreeMap<String, Type>) -> Vec<Problem> {
    problems(load(files).and_then(|pack| Program::compile(&pack, inputs)))
}

/// The one problem with `code`; panics (listing them all) when there is not exactly one.
pub fn the_problem<'a>(problems: &'a [Problem], code: &str) -> &'a Problem {
    let found: Vec<&Problem> = problems.iter().filter(|p| p.code == code).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one problem {code}, got: {:#?}",
        problems
    );
    found[0]
}

/// `file:line:col` of a problem.
pub fn at(p: &Problem) -> String {
    format!("{}:{}:{}", p.file, p.line, p.column)
}

/// Compiles inline files against inputs; panics with the problems.
pub fn compile(files: &[(&str, &str)], inputs: &BTreeMap<String, Type>) -> Program {
    let pack = load(files).unwrap_or_else(|e| panic!("{e}"));
    Program::compile(&pack, inputs).unwrap_or_else(|e| panic!("{e}"))
}

/// An inputs map from names and types.
pub fn inputs(names: &[(&str, Type)]) -> BTreeMap<String, Type> {
    names.iter().map(|(n, t)| (n.to_string(), *t)).collect()
}

/// A table builder: ids, then one column at a time.
pub struct Rows {
    ids: Vec<String>,
    columns: Vec<(String, Type, Vec<Value>)>,
}

impl Rows {
    /// Customers by id, in this row order.
    pub fn new(ids: &[&str]) -> Rows {
        Rows {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            columns: Vec::new(),
        }
    }

    /// Adds a column (one value per customer).
    pub fn col(mut self, name: &str, ty: Type, values: Vec<Value>) -> Rows {
        assert_eq!(values.len(), self.ids.len(), "column {name}");
        self.columns.push((name.to_string(), ty, values));
        self
    }

    /// The table.
    pub fn table(&self) -> Table {
        let mut t = Table::new(&self.ids);
        for (name, ty, values) in &self.columns {
            t.insert(name, Column::from_values(*ty, values.iter().cloned()));
        }
        t
    }

    /// The same customers in another row order: `order[i]` is the old row of new row i.
    pub fn permuted(&self, order: &[usize]) -> Rows {
        Rows {
            ids: order.iter().map(|&i| self.ids[i].clone()).collect(),
            columns: self
                .columns
                .iter()
                .map(|(n, t, v)| (n.clone(), *t, order.iter().map(|&i| v[i].clone()).collect()))
                .collect(),
        }
    }
}

/// Evaluates a program; panics on an error.
pub fn run(program: &Program, table: Table, facts: Facts, as_of: &str) -> Outcome {
    run_with(program, table, facts, Default::default(), as_of)
}

/// Evaluates a program with the ledger's totals by period; panics on an error.
pub fn run_with(
    program: &Program,
    table: Table,
    facts: Facts,
    periods: ledgerlens_rules::PeriodTotals,
    as_of: &str,
) -> Outcome {
    program
        .evaluate(Input {
            table,
            facts,
            periods,
            as_of: d(as_of),
        })
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A per-customer column of an outcome, by customer id.
pub fn by_id(outcome: &Outcome, column: &str) -> BTreeMap<String, Value> {
    let c = outcome
        .table
        .column(column)
        .unwrap_or_else(|| panic!("no column {column}"));
    outcome
        .table
        .ids()
        .iter()
        .enumerate()
        .map(|(row, id)| (id.to_string(), c.get(row)))
        .collect()
}

/// One customer's value in a column.
pub fn value_of(outcome: &Outcome, column: &str, id: &str) -> Value {
    let row = outcome
        .table
        .row_of(id)
        .unwrap_or_else(|| panic!("no customer {id}"));
    outcome
        .table
        .column(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .get(row)
}

/// A KPI's values as `group -> value` (`group` written `k=v, k=v`, or `all`).
pub fn kpi(outcome: &Outcome, name: &str) -> BTreeMap<String, Value> {
    outcome
        .kpis
        .iter()
        .filter(|k| k.kpi == name)
        .map(|k| {
            let group = if k.group.is_empty() {
                "all".to_string()
            } else {
                k.group
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (group, k.value.clone())
        })
        .collect()
}

/// A segment's sizes as `label -> customers`.
pub fn sizes(outcome: &Outcome, segment: &str) -> BTreeMap<String, u64> {
    outcome
        .segments
        .iter()
        .filter(|s| s.segment == segment)
        .map(|s| (s.label.clone(), s.customers))
        .collect()
}

/// An alert's rows as `subject -> (level, value, threshold)`.
pub fn alerts(outcome: &Outcome, alert: &str) -> BTreeMap<String, (String, String, String)> {
    outcome
        .alerts
        .iter()
        .filter(|a| a.alert == alert)
        .map(|a| {
            (
                a.subject.clone(),
                (
                    a.level.name().to_string(),
                    a.value.to_string(),
                    a.threshold.clone(),
                ),
            )
        })
        .collect()
}

/// Spend of a channel on a date.
pub fn spend(date: &str, channel: &str, amount: &str) -> Spend {
    Spend {
        date: d(date),
        channel: channel.into(),
        campaign: None,
        amount: dec(amount),
        currency: "CNY".into(),
        source: Provenance::default(),
    }
}

/// Spend of a campaign on one of its channels on a date.
pub fn campaign_spend(date: &str, channel: &str, campaign: &str, amount: &str) -> Spend {
    Spend {
        campaign: Some(campaign.into()),
        ..spend(date, channel, amount)
    }
}

/// A budget of a channel for a period.
pub fn budget(channel: &str, period: &str, amount: &str) -> Budget {
    Budget {
        dimension: "channel".into(),
        key: channel.into(),
        period: period.parse().expect("a period"),
        amount: dec(amount),
        currency: "CNY".into(),
        source: Provenance::default(),
    }
}

/// A budget of a campaign for a period.
pub fn campaign_budget(campaign: &str, period: &str, amount: &str) -> Budget {
    Budget {
        dimension: "campaign".into(),
        ..budget(campaign, period, amount)
    }
}

/// A cost-pool record: the pool `service` or `logistics` cost `amount` in a period.
pub fn cost_pool(pool: &str, period: &str, amount: &str) -> CostPool {
    CostPool {
        pool: pool.into(),
        period: period.parse().expect("a period"),
        amount: dec(amount),
        currency: "CNY".into(),
        source: Provenance::default(),
    }
}

/// Runs `f` on another thread and fails the test if it has not returned within
/// `limit` (a generous bound that catches hangs, not a benchmark). Returns what `f`
/// returned and how long it took. A panic in `f` fails the test with its message.
pub fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let handle = std::thread::spawn(move || {
        let out = f();
        let _ = tx.send(out);
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (out, started.elapsed()),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = handle.join().err().map(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            panic!("the call panicked: {panic:?}")
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the call did not return within {limit:?} (a hang)")
        }
    }
}

/// Ten seconds: the bound for anything that must not hang.
pub const HANG: Duration = Duration::from_secs(10);
