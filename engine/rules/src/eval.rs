//! Evaluating a [`Program`] over a customer table: rules in dependency order, each
//! per-customer rule over all customers in parallel (chunks of rows on rayon's threads,
//! each with one Rhai scope that is rewound, never rebuilt, between customers).
//!
//! Problems in the data are values: a division by zero, a missing value where a number is
//! needed, a script error on one customer's data make that value null and are counted in
//! a [`RuleDiagnostic`]. A script that exceeds the sandbox's limits stops the run
//! ([`Error::Rule`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use rayon::prelude::*;
use rhai::{Dynamic, EvalAltResult, ImmutableString, Scope};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::compile::{
    AggFunc, AlertDef, CurveKpi, GroupKpi, Hit, Level, Program, RuleBody, Script, SegmentDef,
};
use crate::error::{Error, Problem};
use crate::facts::{period_of, Facts, GroupKeys, BUDGET_KEYS, PERIOD_KEYS, SPEND_KEYS};
use crate::native::{Bound, Chunk, Failure, Vector};
use crate::pack::Kind;
use crate::sandbox::{self, Frame};
use crate::value::{Column, ColumnBuilder, Table, Type, Value};

const CHUNK: usize = 4096;

/// What a run found, every list sorted by its documented key.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The pack's name.
    pub pack: String,
    /// Its version.
    pub version: String,
    /// The as-of date of the run.
    pub as_of: NaiveDate,
    /// Customers evaluated.
    pub customers: usize,
    /// Segment sizes, by segment then label (as the label sorts).
    pub segments: Vec<SegmentCount>,
    /// KPI values over groups, by KPI then group keys.
    pub kpis: Vec<KpiValue>,
    /// Alerts, by alert then subject.
    pub alerts: Vec<AlertRow>,
    /// Cost allocations, by allocation then pool key.
    pub allocations: Vec<AllocationSummary>,
    /// Problems met while evaluating, by rule then code.
    pub diagnostics: Vec<RuleDiagnostic>,
    /// The pack's predictive model as the caller fitted it, if it has one and the fit
    /// succeeded (a failed fit is a diagnostic of the model rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelFit>,
    /// The customer table with every rule's per-customer value as a column.
    #[serde(skip)]
    pub table: Table,
}

/// A predictive model (a `model:` rule) as fitted for a run: what it was fitted on and
/// its parameters, rounded for display (the predictions use the unrounded values).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFit {
    /// The model rule.
    pub rule: String,
    /// The purchase-count model: `bgnbd` or `paretonbd`.
    pub model: &'static str,
    /// The time unit of the fit: `day`, `week` or `month`.
    pub unit: &'static str,
    /// The last day of purchases fitted on.
    pub calibration_end: NaiveDate,
    /// Customers with a purchase by the calibration end (the ones fitted on and predicted).
    pub customers: u64,
    /// The purchase-count model's parameters by name (r, alpha, a, b; or r, alpha, s,
    /// beta), 4 decimal places.
    pub parameters: BTreeMap<&'static str, Decimal>,
    /// Its log-likelihood, 2 decimal places.
    pub log_likelihood: Decimal,
    /// The spend model used: `gammagamma`, `observed`, or `none` (Gamma-Gamma was asked
    /// for and could not be fitted).
    pub spend_model: &'static str,
    /// Repeat customers the Gamma-Gamma spend model was fitted on (0 when it was not).
    pub spend_customers: u64,
    /// The spend model's parameters by name (p, q, gamma), 4 decimal places; empty when it
    /// could not be fitted.
    pub spend_parameters: BTreeMap<&'static str, Decimal>,
}

/// How many customers got a label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SegmentCount {
    /// The segment.
    pub segment: String,
    /// The label (`(none)`: no rule held).
    pub label: String,
    /// Customers with it.
    pub customers: u64,
    /// The recommended action.
    pub action: Option<String>,
}

/// What one pool of an allocation became.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AllocationSummary {
    /// The allocation rule.
    pub allocation: String,
    /// The pool's key (`channel=微信广告`), or `all`.
    pub pool: String,
    /// The pool's amount (time-driven: the cost of the capacity, when given).
    pub amount: Decimal,
    /// What customers received; with `unallocated`, the pool to the cent.
    pub allocated: Decimal,
    /// What no customer received (no receiving customer, zero drivers, unused capacity).
    pub unallocated: Decimal,
    /// Customers that received a share.
    pub customers: u64,
    /// Time-driven: capacity not used, in units of time.
    pub unused_capacity: Option<Decimal>,
}

/// A KPI's value for one group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KpiValue {
    /// The KPI.
    pub kpi: String,
    /// Group keys and values, in the KPI's `by` order (empty: all customers).
    pub group: Vec<(String, String)>,
    /// The value (null: not defined, see the diagnostics).
    pub value: Value,
    /// Display unit.
    pub unit: Option<String>,
}

/// An alert's level for one subject.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AlertRow {
    /// The alert rule.
    pub alert: String,
    /// Its subject: a group (`channel=微信广告`), `all`, or a customer id.
    pub subject: String,
    /// The level.
    pub level: Level,
    /// The value tested (null for a condition).
    pub value: Value,
    /// The threshold that tripped, or the condition.
    pub threshold: String,
    /// The KPI watched, if any.
    pub kpi: Option<String>,
}

/// A problem met while evaluating a rule, counted over the customers or groups it hit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleDiagnostic {
    /// The rule.
    pub rule: String,
    /// Stable code: `rules.null` (a value could not be computed: division by zero,
    /// missing data), `rules.type` (a value of the wrong type), `rules.unique` (more than
    /// one rule of a `unique` segment held).
    pub code: &'static str,
    /// Where the rule text is (`file:line:col`).
    pub at: String,
    /// The first message.
    pub message: String,
    /// How many customers or groups it happened to.
    pub count: u64,
    /// The first customer or group it happened to.
    pub example: String,
}

/// Which columns an outcome's table keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every input and every rule's value (for explanations).
    All,
    /// Only segments and per-customer KPIs (what `run` reports).
    Outputs,
    /// Segments, per-customer KPIs and these columns, when the table or the pack has
    /// them (what a report shows of its customers).
    OutputsAnd(&'static [&'static str]),
}

/// Inputs of a run besides the program.
#[derive(Debug, Clone)]
pub struct Input {
    /// Customers with the program's input columns (and declared features).
    pub table: Table,
    /// Spend and budgets.
    pub facts: Facts,
    /// The as-of date.
    pub as_of: NaiveDate,
    /// The ledger's totals by period, for the program's [`Program::period_shapes`]
    /// (empty when it has none).
    pub periods: crate::periods::PeriodTotals,
}

impl Program {
    /// Evaluates the program. The table must hold the program's input columns and one
    /// column per declared feature (see [`Program::declared`]).
    pub fn evaluate(&self, input: Input) -> Result<Outcome, Error> {
        self.evaluate_keeping(input, Keep::All)
    }

    /// Evaluates the program, keeping in the outcome's table the columns `keep` says;
    /// with [`Keep::Outputs`] every other column is dropped as soon as no later rule reads
    /// it, which bounds memory on large tables.
    pub fn evaluate_keeping(&self, input: Input, keep: Keep) -> Result<Outcome, Error> {
        // The index of the last rule that reads each name.
        let mut last_use: std::collections::HashMap<&str, usize> = Default::default();
        for (i, r) in self.rules.iter().enumerate() {
            // A rule's own column lives at least until the rule has run (a declared
            // feature's column is in the table from the start).
            last_use.insert(r.name.as_str(), i);
            for d in &r.deps {
                last_use.insert(d.as_str(), i);
            }
        }
        let outputs: std::collections::HashSet<&str> = self
            .customer_columns()
            .filter(|(_, kind)| matches!(kind, Kind::Segment | Kind::Kpi))
            .map(|(n, _)| n)
            .collect();
        let mut run = Run {
            program: self,
            table: input.table,
            facts: Arc::new(input.facts),
            as_of: input.as_of,
            kpis: Vec::new(),
            alerts: Vec::new(),
            diags: Diags::default(),
            segments: Vec::new(),
            allocations: Vec::new(),
            periods: input.periods,
            next_shape: 0,
        };
        let extra: &[&str] = match keep {
            Keep::OutputsAnd(names) => names,
            Keep::All | Keep::Outputs => &[],
        };
        let mut live: Vec<String> = run.table.schema().map(|(n, _)| n.to_string()).collect();
        for (i, rule) in self.rules.iter().enumerate() {
            let started = std::time::Instant::now();
            run.rule(rule)?;
            tracing::debug!(rule = %rule.name, elapsed = ?started.elapsed(), "rule evaluated");
            if keep != Keep::All {
                if rule.ty.is_some() {
                    live.push(rule.name.clone());
                }
                live.retain(|name| {
                    let needed = outputs.contains(name.as_str())
                        || extra.contains(&name.as_str())
                        || last_use.get(name.as_str()).is_some_and(|&l| l > i);
                    if !needed {
                        run.table.drop_column(name);
                    }
                    needed
                });
            }
        }
        let Run {
            table,
            mut kpis,
            mut alerts,
            diags,
            mut segments,
            mut allocations,
            ..
        } = run;
        kpis.sort();
        alerts.sort();
        segments.sort();
        allocations.sort();
        let mut diagnostics: Vec<RuleDiagnostic> = diags.0.into_values().collect();
        diagnostics.sort();
        Ok(Outcome {
            pack: self.name.clone(),
            version: self.version.clone(),
            as_of: input.as_of,
            customers: table.len(),
            segments,
            kpis,
            alerts,
            allocations,
            diagnostics,
            model: None,
            table,
        })
    }

    /// Names of the rules with a per-customer value (features, segments, per-customer
    /// KPIs), in evaluation order, with their kinds.
    pub fn customer_columns(&self) -> impl Iterator<Item = (&str, Kind)> {
        self.rules
            .iter()
            .filter(|r| r.ty.is_some())
            .map(|r| (r.name.as_str(), r.kind))
    }
}

#[derive(Default)]
struct Diags(BTreeMap<(String, &'static str), RuleDiagnostic>);

impl Diags {
    fn add(
        &mut self,
        rule: &str,
        at: &str,
        code: &'static str,
        message: &str,
        count: u64,
        example: &str,
    ) {
        if count == 0 {
            return;
        }
        let d = self
            .0
            .entry((rule.to_string(), code))
            .or_insert_with(|| RuleDiagnostic {
                rule: rule.to_string(),
                code,
                at: at.to_string(),
                message: message.to_string(),
                count: 0,
                example: example.to_string(),
            });
        d.count += count;
    }
}

struct Run<'p> {
    program: &'p Program,
    table: Table,
    facts: Arc<Facts>,
    as_of: NaiveDate,
    kpis: Vec<KpiValue>,
    alerts: Vec<AlertRow>,
    diags: Diags,
    segments: Vec<SegmentCount>,
    allocations: Vec<AllocationSummary>,
    periods: crate::periods::PeriodTotals,
    /// Shapes of the ledger's totals by period read so far (the next one's index).
    next_shape: usize,
}

/// The tally of one chunk's evaluation errors.
#[derive(Default)]
struct Tally {
    nulls: u64,
    null_first: Option<(usize, String)>,
    types: u64,
    type_first: Option<(usize, String)>,
    uniques: u64,
    unique_first: Option<(usize, String)>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        fn first(a: &mut Option<(usize, String)>, b: Option<(usize, String)>) {
            if let Some(b) = b {
                if a.as_ref().is_none_or(|a| b.0 < a.0) {
                    *a = Some(b);
                }
            }
        }
        self.nulls += o.nulls;
        self.types += o.types;
        self.uniques += o.uniques;
        first(&mut self.null_first, o.null_first);
        first(&mut self.type_first, o.type_first);
        first(&mut self.unique_first, o.unique_first);
    }

    fn null(&mut self, row: usize, message: String) {
        self.nulls += 1;
        if self.null_first.as_ref().is_none_or(|f| row < f.0) {
            self.null_first = Some((row, message));
        }
    }

    /// A value of the wrong type: what was expected, and what came.
    fn wrong_type(&mut self, row: usize, expected: &str, got: String) {
        self.types += 1;
        if self.type_first.as_ref().is_none_or(|f| row < f.0) {
            self.type_first = Some((row, format!("expected {expected}, got {got}")));
        }
    }
}

/// What evaluating an expression for one customer gave.
enum Got {
    /// A value.
    Value(Value),
    /// No value: an error on this customer's data (division by zero, a null operand).
    Failed(String),
    /// A result of a type rules cannot hold (its type name).
    Odd(String),
}

impl Got {
    /// The type of what came, for a wrong-type diagnostic (`()` for null).
    fn type_name(&self) -> String {
        match self {
            Got::Value(v) => v.type_of().map_or("()", Type::name).to_string(),
            Got::Odd(t) => t.clone(),
            Got::Failed(_) => "an error".to_string(),
        }
    }
}

/// An expression ready to evaluate over the run's table: natively, a chunk of rows at a
/// time, when it has a native form; else (and for the rows the native form leaves to it)
/// in Rhai, row by row.
struct Evaluator<'a> {
    script: &'a Script,
    bound: Option<Bound<'a>>,
}

impl<'a> Evaluator<'a> {
    /// The native values of a chunk of rows (rows without a native form are marked
    /// unsupported: see [`Evaluator::at`]).
    /// With a mask (by row of the range), only the rows it asks for.
    fn chunk(&self, range: Range<usize>, mask: Option<&[bool]>) -> Chunk<'a> {
        match &self.bound {
            Some(b) => b.eval_chunk(range, mask),
            None => Chunk {
                values: Vector::Const(Value::Null, range.len()),
                fails: (0..range.len())
                    .filter(|&i| mask.is_none_or(|m| m[i]))
                    .map(|i| (i, Failure::Unsupported))
                    .collect(),
            },
        }
    }

    /// The value of row `row` of the table, row `i` of `chunk`; in Rhai when the chunk
    /// leaves it there (the thread's frame must be on the table). `Err` is a sandbox
    /// limit, which stops the run.
    fn at(
        &self,
        chunk: &Chunk<'_>,
        i: usize,
        row: usize,
        engine: &rhai::Engine,
        scope: &mut Scope<'static>,
    ) -> Result<Got, Box<EvalAltResult>> {
        match chunk.failure(i) {
            None => Ok(Got::Value(chunk.values.get(i))),
            Some(Failure::Error(m)) => Ok(Got::Failed(m.clone())),
            Some(Failure::Unsupported) => {
                sandbox::set_row(row);
                let base = scope.len();
                let result = engine.eval_ast_with_scope::<Dynamic>(scope, &self.script.ast);
                scope.rewind(base);
                match result {
                    Ok(d) => Ok(match Value::from_dynamic(&d) {
                        Some(v) => Got::Value(v),
                        None => Got::Odd(d.type_name().to_string()),
                    }),
                    Err(e) if fatal(&e) => Err(e),
                    Err(e) => Ok(Got::Failed(e.to_string())),
                }
            }
        }
    }
}

/// Whether a script error must stop the run (a sandbox limit), not just null a value.
fn fatal(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorTerminated(..)
        | EvalAltResult::ErrorTooManyVariables(_) => true,
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => fatal(inner),
        _ => false,
    }
}

impl Run<'_> {
    fn rule(&mut self, rule: &crate::compile::Rule) -> Result<(), Error> {
        let at = format!("{}:{}:{}", rule.span.file, rule.span.line, rule.span.column);
        match &rule.body {
            RuleBody::Declared(_) => {
                if self.table.column(&rule.name).is_none() {
                    return Err(Error::Rule {
                        rule: rule.name.clone(),
                        at,
                        message: "the declared feature was not computed by the caller".into(),
                    });
                }
            }
            RuleBody::Scripted { script, round } => {
                let ty = rule.ty.unwrap_or(Type::Decimal);
                let (column, tally) = self.column(&rule.name, script, ty)?;
                let mut column = column.into_owned();
                if let (Column::Decimal(v), Some(places)) = (&mut column, round) {
                    for d in v.iter_mut().flatten() {
                        *d = round_decimal(*d, *places);
                    }
                }
                self.tallied(&rule.name, &at, tally);
                self.table.insert(&rule.name, column);
            }
            // The caller fitted the model and supplied its predictions as input columns.
            RuleBody::Model(_) => {}
            RuleBody::Segment(def) => self.segment(rule, &at, def)?,
            RuleBody::GroupKpi(k) => self.group_kpi(rule, &at, k)?,
            RuleBody::Curve(c) => self.curve(rule, &at, c)?,
            RuleBody::Alert(a) => self.alert(rule, &at, a)?,
            RuleBody::Allocation(a) => self.allocate(rule, &at, a)?,
        }
        Ok(())
    }

    fn tallied(&mut self, rule: &str, at: &str, t: Tally) {
        let id = |row: usize| {
            self.table
                .ids()
                .get(row)
                .map(|s| s.to_string())
                .unwrap_or_default()
        };
        if let Some((row, m)) = &t.null_first {
            self.diags
                .add(rule, at, "rules.null", m, t.nulls, &id(*row));
        }
        if let Some((row, m)) = &t.type_first {
            self.diags
                .add(rule, at, "rules.type", m, t.types, &id(*row));
        }
        if let Some((row, m)) = &t.unique_first {
            self.diags
                .add(rule, at, "rules.unique", m, t.uniques, &id(*row));
        }
    }

    fn chunks(&self) -> Vec<Range<usize>> {
        let n = self.table.len();
        (0..n.div_ceil(CHUNK))
            .map(|i| i * CHUNK..((i + 1) * CHUNK).min(n))
            .collect()
    }

    /// Runs `f` over every chunk of rows in parallel, with this thread's frame set to the
    /// table and a scope holding the parameters (for the rows evaluated in Rhai); each
    /// chunk makes a state with `init` and folds its rows into it. Returns the chunks'
    /// states in row order.
    fn fold_chunks<S: Send>(
        &self,
        init: impl Fn(usize) -> S + Sync,
        f: impl Fn(
                &mut S,
                &mut Scope<'static>,
                Range<usize>,
                &mut Tally,
            ) -> Result<(), Box<EvalAltResult>>
            + Sync,
    ) -> Result<(Vec<S>, Tally), Box<EvalAltResult>> {
        type Folded<S> = Result<(S, Tally), Box<EvalAltResult>>;
        let results: Vec<Folded<S>> = self
            .chunks()
            .par_iter()
            .map(|range| {
                let previous = sandbox::set_frame(Frame::Row {
                    table: self.table.clone(),
                    row: range.start,
                    as_of: self.as_of,
                });
                let mut scope = Scope::new();
                scope.push_constant("params", self.program.params_map.clone());
                let mut state = init(range.len());
                let mut tally = Tally::default();
                let result = f(&mut state, &mut scope, range.clone(), &mut tally);
                sandbox::set_frame(previous);
                result.map(|_| (state, tally))
            })
            .collect();
        let mut states = Vec::with_capacity(results.len());
        let mut tally = Tally::default();
        for r in results {
            let (state, t) = r?;
            states.push(state);
            tally.merge(t);
        }
        Ok((states, tally))
    }

    fn evaluator<'a>(&'a self, script: &'a Script) -> Evaluator<'a> {
        Evaluator {
            script,
            bound: script
                .native
                .as_ref()
                .and_then(|n| n.bind(&self.table, self.as_of)),
        }
    }

    /// One value of type `ty` per customer from a script; values of other types are
    /// nulls, counted as type errors. A bare column name of that type is borrowed.
    fn column(
        &self,
        rule: &str,
        script: &Script,
        ty: Type,
    ) -> Result<(Cow<'_, Column>, Tally), Error> {
        let engine = &self.program.engine;
        let fast = self
            .table
            .column(script.text.trim())
            .filter(|c| is_name(&script.text) && ty.accepts(c.ty()));
        if let Some(column) = fast {
            // A bare column name: no script needed.
            let column = match column {
                Column::Int(v) if ty == Type::Decimal => Cow::Owned(Column::Decimal(
                    v.iter().map(|x| x.map(Decimal::from)).collect(),
                )),
                c => Cow::Borrowed(c),
            };
            return Ok((column, Tally::default()));
        }
        let ev = self.evaluator(script);
        let (parts, tally) = self
            .fold_chunks(
                |_| Column::new(ty),
                |out, scope, range, tally| {
                    let chunk = ev.chunk(range.clone(), None);
                    if let Some(c) = typed_column(&chunk, ty) {
                        *out = c;
                        return Ok(());
                    }
                    let mut b = ColumnBuilder::new(ty);
                    for (i, row) in range.enumerate() {
                        b.push(match ev.at(&chunk, i, row, engine, scope)? {
                            Got::Value(v) if v.type_of().is_none_or(|t| ty.accepts(t)) => v,
                            Got::Failed(m) => {
                                tally.null(row, m);
                                Value::Null
                            }
                            other => {
                                tally.wrong_type(row, ty.name(), other.type_name());
                                Value::Null
                            }
                        });
                    }
                    *out = b.finish();
                    Ok(())
                },
            )
            .map_err(|e| stopped(rule, &script.span, &e))?;
        Ok((Cow::Owned(Column::concat(ty, parts)), tally))
    }

    /// The type of a script's value for the first customer (`None` when it has none):
    /// how the dry run infers the type of a scripted feature.
    fn first_type(&self, rule: &str, script: &Script) -> Result<Option<Type>, Error> {
        let engine = &self.program.engine;
        let ev = self.evaluator(script);
        let (firsts, _) = self
            .fold_chunks(
                |_| None,
                |out, scope, range, _| {
                    if range.start == 0 && !range.is_empty() {
                        let chunk = ev.chunk(0..1, None);
                        if let Got::Value(v) = ev.at(&chunk, 0, 0, engine, scope)? {
                            *out = v.type_of();
                        }
                    }
                    Ok(())
                },
            )
            .map_err(|e| stopped(rule, &script.span, &e))?;
        Ok(firsts.into_iter().next().flatten())
    }

    fn segment(
        &mut self,
        rule: &crate::compile::Rule,
        at: &str,
        def: &SegmentDef,
    ) -> Result<(), Error> {
        let engine = &self.program.engine;
        let (column, actions): (Column, BTreeMap<String, Option<String>>) = match def {
            SegmentDef::Rules { hit, branches } => {
                let whens: Vec<Option<Evaluator<'_>>> = branches
                    .iter()
                    .map(|b| b.when.as_ref().map(|w| self.evaluator(w)))
                    .collect();
                // Whether a branch's condition holds for a row (its problems counted).
                let holds = |b: &crate::compile::Branch,
                             w: &Evaluator<'_>,
                             c: &Chunk<'_>,
                             i: usize,
                             row: usize,
                             scope: &mut Scope<'static>,
                             tally: &mut Tally|
                 -> Result<bool, Box<EvalAltResult>> {
                    if let (true, Vector::Bool(v)) = (c.fails.is_empty(), &c.values) {
                        if let Some(x) = v[i] {
                            return Ok(x);
                        }
                    }
                    Ok(match w.at(c, i, row, engine, scope)? {
                        Got::Value(Value::Bool(x)) => x,
                        Got::Failed(m) => {
                            tally.null(row, format!("{}: {m}", b.label));
                            false
                        }
                        other => {
                            let t = other.type_name();
                            tally.wrong_type(
                                row,
                                "bool",
                                format!("{t} from the rule giving {}", b.label),
                            );
                            false
                        }
                    })
                };
                let (parts, tally) = self
                    .fold_chunks(Vec::with_capacity, |out, scope, range, tally| {
                        let n = range.len();
                        if *hit == Hit::First {
                            // Branch by branch, each over the rows no earlier one took.
                            let mut picked: Vec<Option<usize>> = vec![None; n];
                            let mut open = vec![true; n];
                            for (k, (b, when)) in branches.iter().zip(&whens).enumerate() {
                                if !open.contains(&true) {
                                    break;
                                }
                                let chunk = when
                                    .as_ref()
                                    .map(|w| (w, w.chunk(range.clone(), Some(&open))));
                                for i in 0..n {
                                    if !open[i] {
                                        continue;
                                    }
                                    let held = match &chunk {
                                        None => true,
                                        Some((w, c)) => {
                                            holds(b, w, c, i, range.start + i, scope, tally)?
                                        }
                                    };
                                    if held {
                                        picked[i] = Some(k);
                                        open[i] = false;
                                    }
                                }
                            }
                            out.extend(picked.into_iter().map(Picked::Branch));
                            return Ok(());
                        }
                        // Every condition over the chunk; a row looks at each in turn.
                        let chunks: Vec<Option<Chunk<'_>>> = whens
                            .iter()
                            .map(|w| w.as_ref().map(|w| w.chunk(range.clone(), None)))
                            .collect();
                        let mut held: Vec<usize> = Vec::new();
                        for (i, row) in range.enumerate() {
                            held.clear();
                            for (k, (b, when)) in branches.iter().zip(&whens).enumerate() {
                                let h = match (when, &chunks[k]) {
                                    (Some(w), Some(c)) => holds(b, w, c, i, row, scope, tally)?,
                                    _ => held.is_empty(),
                                };
                                if h {
                                    held.push(k);
                                }
                            }
                            out.push(match hit {
                                Hit::First => Picked::Branch(held.first().copied()),
                                Hit::Priority => {
                                    Picked::Branch(held.iter().copied().max_by_key(|&i| {
                                        (branches[i].priority, std::cmp::Reverse(i))
                                    }))
                                }
                                Hit::Unique => {
                                    // The default counts only when nothing else held.
                                    if held.len() > 1 {
                                        tally.uniques += 1;
                                        if tally.unique_first.as_ref().is_none_or(|f| row < f.0) {
                                            let names: Vec<&str> = held
                                                .iter()
                                                .map(|&i| branches[i].label.as_str())
                                                .collect();
                                            tally.unique_first = Some((
                                                row,
                                                format!(
                                                    "more than one rule held: {}",
                                                    names.join(", ")
                                                ),
                                            ));
                                        }
                                        Picked::Branch(None)
                                    } else {
                                        Picked::Branch(held.first().copied())
                                    }
                                }
                                Hit::Collect => Picked::Labels(
                                    held.iter().map(|&i| branches[i].label.clone()).collect(),
                                ),
                            });
                        }
                        Ok(())
                    })
                    .map_err(|e| stopped(&rule.name, &rule.span, &e))?;
                let labels: Vec<Picked> = parts.into_iter().flatten().collect();
                self.tallied(&rule.name, at, tally);
                let actions = branches
                    .iter()
                    .map(|b| (b.label.to_string(), b.action.clone()))
                    .collect();
                (label_column(branches, labels), actions)
            }
            SegmentDef::Quantile {
                of,
                buckets,
                low_is_better,
                actions,
            } => {
                let (values, tally) = self.column(&rule.name, of, Type::Decimal)?;
                let scores = quantile_scores(decimals(&values), *buckets, *low_is_better);
                drop(values);
                self.tallied(&rule.name, at, tally);
                let actions = actions
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect();
                (Column::Int(scores), actions)
            }
            SegmentDef::Pareto {
                of,
                classes,
                actions,
            } => {
                let (values, tally) = self.column(&rule.name, of, Type::Decimal)?;
                let labels = pareto_classes(decimals(&values), classes);
                drop(values);
                self.tallied(&rule.name, at, tally);
                let actions = actions
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(v.clone())))
                    .collect();
                (labels, actions)
            }
        };
        // Sizes: counted by dictionary code or by value, named at the end.
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let none = "(none)".to_string();
        match &column {
            Column::Text(codes, dict) => {
                let mut by_code = vec![0u64; dict.len() + 1];
                for &c in codes {
                    by_code[if (c as usize) < dict.len() {
                        c as usize
                    } else {
                        dict.len()
                    }] += 1;
                }
                for (i, n) in by_code.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                    let label = dict.get(i).map_or_else(|| none.clone(), |s| s.to_string());
                    *counts.entry(label).or_default() += n;
                }
            }
            _ => {
                let mut by_value: rustc_hash::FxHashMap<Value, u64> = Default::default();
                for row in 0..self.table.len() {
                    match column.get(row) {
                        Value::List(l) if !l.is_empty() => l
                            .into_iter()
                            .for_each(|s| *by_value.entry(Value::Text(s)).or_default() += 1),
                        Value::List(_) => *by_value.entry(Value::Null).or_default() += 1,
                        v => *by_value.entry(v).or_default() += 1,
                    }
                }
                for (v, n) in by_value {
                    let label = if v == Value::Null {
                        none.clone()
                    } else {
                        v.to_string()
                    };
                    *counts.entry(label).or_default() += n;
                }
            }
        }
        for (label, customers) in counts {
            let action = actions.get(&label).cloned().flatten();
            self.segments.push(SegmentCount {
                segment: rule.name.clone(),
                label,
                customers,
                action,
            });
        }
        self.table.insert(&rule.name, column);
        Ok(())
    }

    fn group_kpi(
        &mut self,
        rule: &crate::compile::Rule,
        at: &str,
        k: &GroupKpi,
    ) -> Result<(), Error> {
        let engine = &self.program.engine;
        // Aggregates per group, over customers.
        let mut groups: BTreeMap<Vec<String>, Vec<Acc>> = BTreeMap::new();
        if !k.by_period {
            let key_columns: Vec<Option<&Column>> =
                k.by.iter().map(|key| self.table.column(key)).collect();
            let filter = k.filter.as_ref().map(|f| self.evaluator(f));
            let args: Vec<Option<Evaluator<'_>>> = k
                .aggregates
                .iter()
                .map(|a| a.arg.as_ref().map(|s| self.evaluator(s)))
                .collect();
            let new_accs = || {
                k.aggregates
                    .iter()
                    .map(|a| Acc::new(a.func))
                    .collect::<Vec<_>>()
            };
            let (chunks, tally) = self
                .fold_chunks(
                    |_| Vec::<(Vec<Value>, Vec<Acc>)>::new(),
                    |groups, scope, range, tally| {
                        let filter_chunk = filter.as_ref().map(|f| f.chunk(range.clone(), None));
                        let arg_chunks: Vec<Option<Chunk<'_>>> = args
                            .iter()
                            .map(|a| a.as_ref().map(|a| a.chunk(range.clone(), None)))
                            .collect();
                        let mut keys = GroupIndex::new(&key_columns, range.clone());
                        for (i, row) in range.enumerate() {
                            if let (Some(f), Some(c)) = (&filter, &filter_chunk) {
                                let keep = match f.at(c, i, row, engine, scope)? {
                                    Got::Value(Value::Bool(b)) => b,
                                    Got::Value(Value::Null) => false,
                                    Got::Failed(m) => {
                                        tally.null(row, m);
                                        false
                                    }
                                    other => {
                                        let t = other.type_name();
                                        tally.wrong_type(
                                            row,
                                            "bool",
                                            format!("{t} from the filter"),
                                        );
                                        false
                                    }
                                };
                                if !keep {
                                    continue;
                                }
                            }
                            let g = keys.group(i, groups, new_accs);
                            for (acc, (arg, chunk)) in
                                groups[g].1.iter_mut().zip(args.iter().zip(&arg_chunks))
                            {
                                let (Some(arg), Some(chunk)) = (arg, chunk) else {
                                    acc.push(Value::Bool(true));
                                    continue;
                                };
                                if chunk.fails.is_empty() {
                                    match &chunk.values {
                                        Vector::Decimal(v) => {
                                            acc.push_decimal(v[i]);
                                            continue;
                                        }
                                        Vector::Int(v) => {
                                            acc.push_decimal(v[i].map(Decimal::from));
                                            continue;
                                        }
                                        _ => {}
                                    }
                                }
                                acc.push(match arg.at(chunk, i, row, engine, scope)? {
                                    Got::Value(v) => v,
                                    Got::Odd(_) => Value::Null,
                                    Got::Failed(m) => {
                                        tally.null(row, m);
                                        Value::Null
                                    }
                                });
                            }
                        }
                        Ok(())
                    },
                )
                .map_err(|e| stopped(&rule.name, &k.formula.span, &e))?;
            self.tallied(&rule.name, at, tally);
            for chunk in chunks {
                for (key, accs) in chunk {
                    let key: Vec<String> = key
                        .into_iter()
                        .map(|v| {
                            if v == Value::Null {
                                "(none)".to_string()
                            } else {
                                v.to_string()
                            }
                        })
                        .collect();
                    match groups.get_mut(&key) {
                        Some(total) => total.iter_mut().zip(accs).for_each(|(t, a)| t.merge(a)),
                        None => {
                            groups.insert(key, accs);
                        }
                    }
                }
            }
            // Channels and campaigns (and campaigns per channel) with spend but no
            // customers are groups too.
            if !k.by.is_empty() && k.by.iter().all(|key| SPEND_KEYS.contains(&key.as_str())) {
                for s in &self.facts.spend {
                    let key: Option<Vec<String>> =
                        k.by.iter()
                            .map(|key| match key.as_str() {
                                "channel" => Some(s.channel.clone()),
                                _ => s.campaign.clone(),
                            })
                            .collect();
                    if let Some(key) = key {
                        groups.entry(key).or_insert_with(|| {
                            k.aggregates.iter().map(|a| Acc::new(a.func)).collect()
                        });
                    }
                }
            }
            if k.by.is_empty() {
                groups
                    .entry(Vec::new())
                    .or_insert_with(|| k.aggregates.iter().map(|a| Acc::new(a.func)).collect());
            }
        } else {
            let new_accs = || k.aggregates.iter().map(|a| Acc::new(a.func)).collect();
            for key in fact_groups(&k.by, &self.facts) {
                groups.insert(key, new_accs());
            }
            if let Some(shape) = &k.shape {
                // The ledger's sums by period (and customer key): groups of their own,
                // and the values of the formula's sum(x).
                let index = self.next_shape;
                self.next_shape += 1;
                let sums = self.periods.0.get(index).cloned().unwrap_or_default();
                let key_of = |period: &str, value: Option<&str>| -> Vec<String> {
                    k.by.iter()
                        .map(|b| {
                            if *b == shape.period {
                                period.to_string()
                            } else {
                                value.unwrap_or("(none)").to_string()
                            }
                        })
                        .collect()
                };
                for (period, value) in sums.keys() {
                    groups
                        .entry(key_of(period, value.as_deref()))
                        .or_insert_with(new_accs);
                }
                let at = k.by.iter().position(|b| *b == shape.period).unwrap_or(0);
                for (key, accs) in groups.iter_mut() {
                    let period = key.get(at).map(String::as_str).unwrap_or("");
                    let value = key
                        .iter()
                        .enumerate()
                        .find(|(i, _)| *i != at)
                        .map(|(_, v)| v.as_str())
                        .filter(|v| *v != "(none)");
                    for (a, acc) in k.aggregates.iter().zip(accs.iter_mut()) {
                        if let Some(m) = a.measure {
                            let total = sums
                                .get(&(period.to_string(), value.map(str::to_string)))
                                .and_then(|v| v.get(m).copied())
                                .unwrap_or(Decimal::ZERO);
                            acc.push(Value::Decimal(total));
                        }
                    }
                }
            }
        }
        // The formula per group.
        let mut scope = Scope::new();
        scope.push_constant("params", self.program.params_map.clone());
        let base = scope.len();
        let mut nulls = 0;
        let mut first: Option<(String, String)> = None;
        let mut error: Option<String> = None;
        for (key, accs) in groups {
            let keys = GroupKeys(k.by.iter().cloned().zip(key.iter().cloned()).collect());
            let mut vars: Vec<(ImmutableString, Dynamic)> = k
                .aggregates
                .iter()
                .zip(accs)
                .map(|(a, acc)| (a.var.clone(), acc.finish().to_dynamic()))
                .collect();
            for (name, value) in &keys.0 {
                vars.push((
                    name.as_str().into(),
                    Dynamic::from(ImmutableString::from(value.as_str())),
                ));
            }
            let previous = sandbox::set_frame(Frame::Group {
                vars,
                keys: keys.clone(),
                facts: self.facts.clone(),
                as_of: self.as_of,
            });
            let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &k.formula.ast);
            sandbox::set_frame(previous);
            scope.rewind(base);
            let value = match result {
                Ok(d) => match Value::from_dynamic(&d) {
                    Some(v @ (Value::Null | Value::Int(_) | Value::Decimal(_))) => v,
                    _ => {
                        self.diags.add(
                            &rule.name,
                            at,
                            "rules.type",
                            &format!("expected a number, got {}", d.type_name()),
                            1,
                            &subject(&keys),
                        );
                        Value::Null
                    }
                },
                Err(e) if fatal(&e) => return Err(stopped(&rule.name, &k.formula.span, &e)),
                Err(e) => {
                    let message = e.to_string();
                    error = Some(if null_operand(&message) {
                        // `budget() - x` without a budget: say so, not Rhai's signature.
                        format!("a value the formula needs is missing (no budget, or no customer with the value): {message}")
                    } else {
                        message
                    });
                    Value::Null
                }
            };
            if value == Value::Null {
                nulls += 1;
                if first.is_none() {
                    let why = error
                        .take()
                        .unwrap_or_else(|| "the formula gave no value (missing data)".into());
                    first = Some((subject(&keys), why));
                }
            }
            self.kpis.push(KpiValue {
                kpi: rule.name.clone(),
                group: keys.0,
                value: unit_value(round_value(value, k.round), k.unit.as_deref()),
                unit: k.unit.clone(),
            });
        }
        if let Some((example, message)) = first {
            self.diags
                .add(&rule.name, at, "rules.null", &message, nulls, &example);
        }
        Ok(())
    }

    /// A curve KPI: `top=<share of customers>` rows with the cumulative value after that
    /// share of the ranked customers, and one `peak=<share>` row with the curve's highest
    /// cumulative value and where it is reached.
    fn curve(&mut self, rule: &crate::compile::Rule, at: &str, c: &CurveKpi) -> Result<(), Error> {
        let (values, tally) = self.column(&rule.name, &c.of, Type::Decimal)?;
        let values = values.into_owned();
        self.tallied(&rule.name, at, tally);
        let keep: Vec<bool> = match &c.filter {
            Some(f) => {
                let (v, tally) = self.column(&rule.name, f, Type::Bool)?;
                let keep = match &*v {
                    Column::Bool(v) => v.iter().map(|b| *b == Some(true)).collect(),
                    _ => vec![false; values.len()],
                };
                drop(v);
                self.tallied(&rule.name, at, tally);
                keep
            }
            None => vec![true; values.len()],
        };
        let values = decimals(&values);
        // Ranked by value, largest first (see `ranked`). The order of equal values does
        // not matter: the cumulative value after any rank is the same whichever of them
        // come first.
        let ranked: Vec<(Decimal, usize)> = ranked(values)
            .into_iter()
            .rev()
            .map(row_of)
            .filter(|&row| keep[row])
            .map(|row| (values[row].unwrap_or_default(), row))
            .collect();
        let n = ranked.len();
        let push = |kpis: &mut Vec<KpiValue>, key: &str, share: String, value: Decimal| {
            kpis.push(KpiValue {
                kpi: rule.name.clone(),
                group: vec![(key.to_string(), share)],
                value: unit_value(
                    round_value(Value::Decimal(value), c.round),
                    c.unit.as_deref(),
                ),
                unit: c.unit.clone(),
            })
        };
        if n == 0 {
            self.diags.add(
                &rule.name,
                at,
                "rules.null",
                "no customer to rank: the curve is empty",
                1,
                "",
            );
            return Ok(());
        }
        let share = |rank: usize, places: u32| {
            let s = (Decimal::from(rank) / Decimal::from(n))
                .round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
            format!("{s:.*}", places as usize)
        };
        let points = c.points as usize;
        let mut next = 1;
        let mut cumulative = Decimal::ZERO;
        let mut peak = (Decimal::ZERO, 0);
        for (i, (v, _)) in ranked.iter().enumerate() {
            cumulative += *v;
            let rank = i + 1;
            if cumulative > peak.0 || rank == 1 {
                peak = (cumulative, rank);
            }
            // The point k/points is reached after ceil(n * k / points) customers.
            while next <= points && rank == (n * next).div_ceil(points) {
                // Rounded, then padded: `{:.2}` alone truncates (2/3 would be 0.66).
                let share = (Decimal::from(next) / Decimal::from(points))
                    .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                let label = format!("{share:.2}");
                push(&mut self.kpis, "top", label, cumulative);
                next += 1;
            }
        }
        push(&mut self.kpis, "peak", share(peak.1, 4), peak.0);
        Ok(())
    }

    fn allocate(
        &mut self,
        rule: &crate::compile::Rule,
        at: &str,
        a: &crate::compile::AllocationDef,
    ) -> Result<(), Error> {
        use crate::compile::PoolSource;
        let n = self.table.len();
        // Who receives, and their drivers (1 when there is no driver).
        let receives: Vec<bool> = match &a.to {
            Some(to) => {
                let (v, tally) = self.column(&rule.name, to, Type::Bool)?;
                let receives = match &*v {
                    Column::Bool(v) => v.iter().map(|b| *b == Some(true)).collect(),
                    _ => vec![false; n],
                };
                drop(v);
                self.tallied(&rule.name, at, tally);
                receives
            }
            None => vec![true; n],
        };
        let drivers: Vec<Decimal> = match &a.driver {
            Some(d) => {
                let (v, tally) = self.column(&rule.name, d, Type::Decimal)?;
                let mut negative = 0;
                let out = decimals(&v)
                    .iter()
                    .map(|v| match *v {
                        Some(x) if x < Decimal::ZERO => {
                            negative += 1;
                            Decimal::ZERO
                        }
                        Some(x) => x,
                        None => Decimal::ZERO,
                    })
                    .collect();
                drop(v);
                self.tallied(&rule.name, at, tally);
                let example = String::new();
                self.diags.add(
                    &rule.name,
                    at,
                    "rules.allocation",
                    "a negative driver counts as 0",
                    negative,
                    &example,
                );
                out
            }
            None => vec![Decimal::ONE; n],
        };
        // Money with its cents: a customer who takes nothing takes 0.00.
        let mut shares = vec![Decimal::new(0, 2); n];
        let key_column = a.each.as_ref().and_then(|k| self.table.column(k));
        // The pools by key: amount, and the rows that take from it.
        let mut pools: BTreeMap<String, (Decimal, Vec<usize>)> = BTreeMap::new();
        match &a.pool {
            PoolSource::Spend { channel, campaign } => {
                for s in &self.facts.spend {
                    if channel.as_ref().is_some_and(|c| *c != s.channel)
                        || campaign
                            .as_ref()
                            .is_some_and(|c| s.campaign.as_ref() != Some(c))
                        || s.date > self.as_of
                    {
                        continue;
                    }
                    let key = match a.each.as_deref() {
                        Some("channel") => format!("channel={}", s.channel),
                        Some(_) => {
                            format!("campaign={}", s.campaign.as_deref().unwrap_or("(none)"))
                        }
                        None => "all".to_string(),
                    };
                    pools.entry(key).or_default().0 += s.amount;
                }
            }
            PoolSource::CostPool(name) => {
                let records: Vec<Decimal> = self
                    .facts
                    .cost_pools
                    .iter()
                    .filter(|p| &p.pool == name && p.period.start() <= self.as_of)
                    .map(|p| p.amount)
                    .collect();
                if records.is_empty() {
                    self.diags.add(
                        &rule.name,
                        at,
                        "rules.allocation",
                        "no cost-pool records of this name up to the as-of date: nothing to allocate",
                        1,
                        &format!("pool={name}"),
                    );
                }
                pools.insert("all".into(), (records.into_iter().sum(), Vec::new()));
            }
            PoolSource::Amount(x) => {
                pools.insert("all".into(), (*x, Vec::new()));
            }
        }
        // A customer's key value names its pool (`微信广告` -> `channel=微信广告`): the
        // names are made once per pool, not once per customer.
        let pool_of: rustc_hash::FxHashMap<Value, String> = match &a.each {
            Some(k) => pools
                .keys()
                .filter_map(|name| {
                    let value = name.strip_prefix(k.as_str())?.strip_prefix('=')?;
                    Some((Value::Text(value.into()), name.clone()))
                })
                .collect(),
            None => Default::default(),
        };
        for row in (0..n).filter(|&r| receives[r]) {
            let pool = match (&a.each, key_column) {
                (Some(_), Some(c)) => pool_of.get(&c.get(row)).and_then(|k| pools.get_mut(k)),
                (Some(_), None) => None,
                (None, _) => pools.get_mut("all"),
            };
            if let Some(p) = pool {
                p.1.push(row);
            }
        }
        let ids = self.table.ids();
        for (key, (amount, mut rows)) in pools {
            // Cents left over go to the largest remainders, ties to the smaller customer
            // id: the result does not depend on row order.
            rows.sort_by(|&x, &y| ids[x].cmp(&ids[y]));
            let mut summary = AllocationSummary {
                allocation: rule.name.clone(),
                pool: key,
                amount,
                allocated: Decimal::ZERO,
                unallocated: amount,
                customers: 0,
                unused_capacity: None,
            };
            match a.time {
                Some((rate, unit_time, capacity)) => {
                    // Time-driven: a customer costs rate x unit time x driver; the pool is
                    // the capacity's cost when a capacity is given.
                    let mut used = Decimal::ZERO;
                    for &r in &rows {
                        let time = unit_time * drivers[r];
                        used += time;
                        shares[r] = (rate * time)
                            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                        summary.allocated += shares[r];
                        summary.customers += u64::from(!shares[r].is_zero());
                    }
                    if let Some(c) = capacity {
                        summary.amount = (rate * c)
                            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
                        summary.unused_capacity = Some(c - used);
                        if used > c {
                            let pool = summary.pool.clone();
                            self.diags.add(
                                &rule.name,
                                at,
                                "rules.allocation",
                                "the activity uses more time than the capacity",
                                1,
                                &pool,
                            );
                        }
                    }
                    summary.unallocated = summary.amount - summary.allocated;
                }
                None => {
                    let total: Decimal = rows.iter().map(|&r| drivers[r]).sum();
                    if total.is_zero() && amount.is_zero() {
                        // Nothing to spread, and nobody to spread it to.
                    } else if total.is_zero() {
                        let pool = summary.pool.clone();
                        self.diags.add(
                            &rule.name,
                            at,
                            "rules.allocation",
                            "no customer with a positive driver takes from this pool",
                            1,
                            &pool,
                        );
                    } else {
                        let parts =
                            largest_remainder(amount, rows.iter().map(|&r| drivers[r]), total);
                        for (&r, part) in rows.iter().zip(parts) {
                            shares[r] = part;
                            summary.allocated += part;
                            summary.customers += u64::from(!part.is_zero());
                        }
                        summary.unallocated = amount - summary.allocated;
                    }
                }
            }
            summary.amount = crate::value::money(summary.amount);
            summary.allocated = crate::value::money(summary.allocated);
            summary.unallocated = crate::value::money(summary.unallocated);
            self.allocations.push(summary);
        }
        let column = Column::from_values(Type::Decimal, shares.into_iter().map(Value::Decimal));
        self.table.insert(&rule.name, column);
        Ok(())
    }

    fn alert(&mut self, rule: &crate::compile::Rule, at: &str, a: &AlertDef) -> Result<(), Error> {
        match a {
            AlertDef::Thresholds { kpi, levels } => {
                let level_of = |v: Decimal| {
                    levels
                        .iter()
                        .find(|(_, t)| t.trips(v))
                        .map_or((Level::Ok, describe_ok(levels)), |(l, t)| {
                            (*l, t.describe())
                        })
                };
                let group_values: Vec<KpiValue> = self
                    .kpis
                    .iter()
                    .filter(|v| &v.kpi == kpi)
                    .cloned()
                    .collect();
                if !group_values.is_empty() || self.table.column(kpi).is_none() {
                    for v in group_values {
                        let Some(x) = v.value.as_decimal() else {
                            continue;
                        };
                        let (level, threshold) = level_of(x);
                        self.alerts.push(AlertRow {
                            alert: rule.name.clone(),
                            subject: subject(&GroupKeys(v.group.clone())),
                            level,
                            value: v.value.clone(),
                            threshold,
                            kpi: Some(kpi.clone()),
                        });
                    }
                } else if let Some(column) = self.table.column(kpi) {
                    for row in 0..self.table.len() {
                        let value = column.get(row);
                        let Some(x) = value.as_decimal() else {
                            continue;
                        };
                        let (level, threshold) = level_of(x);
                        if level > Level::Ok {
                            self.alerts.push(AlertRow {
                                alert: rule.name.clone(),
                                subject: self.table.ids()[row].to_string(),
                                level,
                                value,
                                threshold,
                                kpi: Some(kpi.clone()),
                            });
                        }
                    }
                }
            }
            AlertDef::Condition { when, level } => {
                let (values, tally) = self.column(&rule.name, when, Type::Bool)?;
                let held: Vec<usize> = match &*values {
                    Column::Bool(v) => (0..v.len()).filter(|&r| v[r] == Some(true)).collect(),
                    _ => Vec::new(),
                };
                drop(values);
                self.tallied(&rule.name, at, tally);
                for row in held {
                    self.alerts.push(AlertRow {
                        alert: rule.name.clone(),
                        subject: self.table.ids()[row].to_string(),
                        level: *level,
                        value: Value::Null,
                        threshold: when.text.trim().to_string(),
                        kpi: None,
                    });
                }
            }
        }
        Ok(())
    }
}

/// The groups of a chunk's rows by the values of a KPI's key columns: text keys (up to
/// two) by their dictionary codes, other keys by value.
struct GroupIndex<'c> {
    columns: &'c [Option<&'c Column>],
    start: usize,
    /// Whether every key is a text column (or missing: null), at most two of them.
    by_code: bool,
    codes: rustc_hash::FxHashMap<u64, usize>,
    values: rustc_hash::FxHashMap<Vec<Value>, usize>,
}

impl<'c> GroupIndex<'c> {
    fn new(columns: &'c [Option<&'c Column>], range: Range<usize>) -> GroupIndex<'c> {
        GroupIndex {
            columns,
            start: range.start,
            by_code: columns.len() <= 2
                && columns
                    .iter()
                    .all(|c| c.is_none_or(|c| matches!(c, Column::Text(..)))),
            codes: Default::default(),
            values: Default::default(),
        }
    }

    /// The index into `groups` of the group of chunk row `i` (added when new).
    fn group(
        &mut self,
        i: usize,
        groups: &mut Vec<(Vec<Value>, Vec<Acc>)>,
        new: impl Fn() -> Vec<Acc>,
    ) -> usize {
        let row = self.start + i;
        let key_values = |columns: &[Option<&Column>]| -> Vec<Value> {
            columns
                .iter()
                .map(|c| c.map_or(Value::Null, |c| c.get(row)))
                .collect()
        };
        if self.by_code {
            let mut code = 0u64;
            for c in self.columns {
                let c = match c {
                    Some(Column::Text(v, _)) => v[row],
                    _ => crate::value::NO_TEXT,
                };
                code = (code << 32) | u64::from(c);
            }
            return *self.codes.entry(code).or_insert_with(|| {
                groups.push((key_values(self.columns), new()));
                groups.len() - 1
            });
        }
        let key = key_values(self.columns);
        match self.values.get(&key) {
            Some(&g) => g,
            None => {
                groups.push((key.clone(), new()));
                self.values.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        }
    }
}

/// What a segment's rules picked for one customer.
enum Picked {
    /// The rule that gave the label (none held: no label).
    Branch(Option<usize>),
    /// The labels of every rule that held (`collect`).
    Labels(Vec<ImmutableString>),
}

/// The segment's column: labels dictionary-encoded straight from the rule indexes.
fn label_column(branches: &[crate::compile::Branch], picked: Vec<Picked>) -> Column {
    let mut dict: Vec<ImmutableString> = Vec::new();
    let code_of: Vec<u32> = branches
        .iter()
        .map(|b| match dict.iter().position(|l| *l == b.label) {
            Some(i) => i as u32,
            None => {
                dict.push(b.label.clone());
                (dict.len() - 1) as u32
            }
        })
        .collect();
    if picked.iter().any(|p| matches!(p, Picked::Labels(_))) {
        return Column::List(
            picked
                .into_iter()
                .map(|p| match p {
                    Picked::Labels(l) => l,
                    Picked::Branch(b) => b
                        .map(|i| vec![branches[i].label.clone()])
                        .unwrap_or_default(),
                })
                .collect(),
        );
    }
    let codes = picked
        .into_iter()
        .map(|p| match p {
            Picked::Branch(Some(i)) => code_of[i],
            _ => crate::value::NO_TEXT,
        })
        .collect();
    Column::Text(codes, dict)
}

/// Splits `amount` (to the cent) in proportion to `weights` (summing to `total`, not
/// zero): each part is rounded down to the cent, and the cents left over go one each to
/// the largest remainders (ties to the earlier weight). The parts sum to the amount
/// rounded to the cent, exactly.
pub(crate) fn largest_remainder(
    amount: Decimal,
    weights: impl Iterator<Item = Decimal>,
    total: Decimal,
) -> Vec<Decimal> {
    let cents = Decimal::ONE_HUNDRED;
    let amount_cents =
        (amount * cents).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let mut parts: Vec<(Decimal, Decimal)> = weights
        .map(|w| {
            let exact = amount_cents * w / total;
            let floor = exact.floor();
            (floor, exact - floor)
        })
        .collect();
    let given: Decimal = parts.iter().map(|p| p.0).sum();
    // Fewer cents are left than there are parts (each remainder is below one cent).
    let left = usize::try_from(
        rust_decimal::prelude::ToPrimitive::to_i64(&(amount_cents - given)).unwrap_or(0),
    )
    .unwrap_or(0);
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].1.cmp(&parts[a].1).then(a.cmp(&b)));
    for &i in order.iter().take(left) {
        parts[i].0 += Decimal::ONE;
    }
    // In yuan with two places (900000.00, not 900000), as money is written.
    parts
        .into_iter()
        .map(|(c, _)| {
            let mut yuan = c / cents;
            yuan.rescale(2);
            yuan
        })
        .collect()
}

fn describe_ok(levels: &[(Level, crate::compile::Test)]) -> String {
    levels
        .last()
        .map(|(_, t)| format!("not {}", t.describe()))
        .unwrap_or_default()
}

/// Whether a script error shows a defect of the rule itself, whatever the data: a
/// function that does not take these types (unless one is null, as a missing value is;
/// functions that do not exist are found at compile time); an unknown name; a wrong type
/// (unless the value is null).
fn rule_defect(message: &str) -> bool {
    if message.contains("Function not found: ") {
        return !null_operand(message);
    }
    // A null where a value of some type is needed is missing data.
    if [
        "Indexer unavailable: ()",
        "Data type incorrect: ()",
        "Output type incorrect: ()",
    ]
    .iter()
    .any(|m| message.contains(m))
    {
        return false;
    }
    [
        // Rhai's messages (rhai/src/types/error.rs) of errors no data can cause.
        "Variable not found",
        "Variable already defined",
        "Forbidden variable",
        "Property not found",
        "Cannot modify",
        "Cannot assign",
        "Non-pure",
        "Indexer unavailable",
        "For loop expects",
        "Data type incorrect",
        "Output type incorrect",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Whether an error message says a function got a null (`()`) argument, as a missing
/// value does: "Function not found: / (decimal, ())". (A call with no arguments,
/// "today ()", is not one.)
fn null_operand(message: &str) -> bool {
    let Some((_, rest)) = message.split_once("Function not found: ") else {
        return false;
    };
    let signature = rest.split(" (line ").next().unwrap_or(rest);
    let Some((_, args)) = signature.split_once(" (") else {
        return false;
    };
    let args = args.strip_suffix(')').unwrap_or(args);
    args.split(", ").any(|t| t == "()")
}

fn is_name(text: &str) -> bool {
    crate::pack::valid_name(text.trim())
}

fn stopped(rule: &str, span: &crate::error::Span, e: &EvalAltResult) -> Error {
    Error::Rule {
        rule: rule.to_string(),
        at: format!("{}:{}:{}", span.file, span.line, span.column),
        message: format!("{e} (the limits are described by `ledgerlens functions`)"),
    }
}

fn subject(keys: &GroupKeys) -> String {
    if keys.0.is_empty() {
        return "all".into();
    }
    keys.0
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A KPI value in its unit: money has its cents (0.00, 300.00).
fn unit_value(v: Value, unit: Option<&str>) -> Value {
    match (v, unit) {
        (Value::Decimal(d), Some("money")) => Value::Decimal(crate::value::money(d)),
        (Value::Int(i), Some("money")) => Value::Decimal(crate::value::money(Decimal::from(i))),
        (v, _) => v,
    }
}

fn round_value(v: Value, places: Option<u32>) -> Value {
    match (v, places) {
        (Value::Decimal(d), Some(p)) => Value::Decimal(round_decimal(d, p)),
        (v, _) => v,
    }
}

/// A decimal rounded to `p` places (half away from zero).
fn round_decimal(d: Decimal, p: u32) -> Decimal {
    let mut d = d.round_dp_with_strategy(p, RoundingStrategy::MidpointAwayFromZero);
    // `round: 2` prints two places (4.00, 1.20); more places print without
    // trailing zeros (0.12, 0.1799); see `Value`'s Display.
    if p <= 2 {
        d.rescale(p);
    } else {
        d = d.normalize();
    }
    d
}

/// Groups of a KPI by period: every (key, period) that spend or budgets have.
fn fact_groups(by: &[String], facts: &Facts) -> Vec<Vec<String>> {
    let mut out: std::collections::BTreeSet<Vec<String>> = Default::default();
    let key_of = |k: &str,
                  channel: Option<&str>,
                  campaign: Option<&str>,
                  date: NaiveDate|
     -> Option<String> {
        if PERIOD_KEYS.contains(&k) {
            return period_of(k, date);
        }
        match k {
            "channel" => channel.map(str::to_string),
            "campaign" => campaign.map(str::to_string),
            _ => None,
        }
    };
    for s in &facts.spend {
        let key: Option<Vec<String>> = by
            .iter()
            .map(|k| key_of(k, Some(&s.channel), s.campaign.as_deref(), s.date))
            .collect();
        if let Some(key) = key {
            out.insert(key);
        }
    }
    for b in &facts.budgets {
        let key: Option<Vec<String>> = by
            .iter()
            .map(|k| {
                if PERIOD_KEYS.contains(&k.as_str()) {
                    // Only budgets set for this granularity name a group.
                    let p = b.period.to_string();
                    let same = match k.as_str() {
                        "month" => p.len() == 7 && !p.contains('Q'),
                        "quarter" => p.contains('Q'),
                        _ => p.len() == 4,
                    };
                    same.then_some(p)
                } else if BUDGET_KEYS.contains(&k.as_str()) && b.dimension == *k {
                    Some(b.key.clone())
                } else {
                    None
                }
            })
            .collect();
        if let Some(key) = key {
            out.insert(key);
        }
    }
    out.into_iter().collect()
}

/// An aggregate's running state over a group.
enum Acc {
    /// The sum, and whether a value / a row (perhaps without a value) was seen: the sum
    /// of no rows is 0, of rows that all lack the value null.
    Sum(Decimal, bool, bool),
    Avg(Decimal, u64),
    Min(Option<Decimal>),
    Max(Option<Decimal>),
    Count(i64),
    Median(Vec<Decimal>),
}

impl Acc {
    fn new(f: AggFunc) -> Acc {
        match f {
            AggFunc::Sum => Acc::Sum(Decimal::ZERO, false, false),
            AggFunc::Avg => Acc::Avg(Decimal::ZERO, 0),
            AggFunc::Min => Acc::Min(None),
            AggFunc::Max => Acc::Max(None),
            AggFunc::Count => Acc::Count(0),
            AggFunc::Median => Acc::Median(Vec::new()),
        }
    }

    fn push(&mut self, v: Value) {
        if let Acc::Count(n) = self {
            if v == Value::Bool(true) {
                *n += 1;
            }
            return;
        }
        self.push_decimal(v.as_decimal());
    }

    /// Pushes a number (`None`: null; a sum notes the row); a count counts only
    /// `true`s, so not this.
    fn push_decimal(&mut self, x: Option<Decimal>) {
        if let Acc::Sum(_, _, rows) = self {
            *rows = true;
        }
        let Some(x) = x else { return };
        match self {
            Acc::Sum(s, any, _) => {
                *s = s.saturating_add(x);
                *any = true;
            }
            Acc::Avg(s, n) => {
                *s = s.saturating_add(x);
                *n += 1;
            }
            Acc::Min(m) => *m = Some(m.map_or(x, |m| m.min(x))),
            Acc::Max(m) => *m = Some(m.map_or(x, |m| m.max(x))),
            Acc::Median(v) => v.push(x),
            Acc::Count(_) => {}
        }
    }

    /// Adds another chunk's state of the same aggregate.
    fn merge(&mut self, other: Acc) {
        match (self, other) {
            (Acc::Sum(s, any, rows), Acc::Sum(t, other_any, other_rows)) => {
                *s = s.saturating_add(t);
                *any |= other_any;
                *rows |= other_rows;
            }
            (Acc::Avg(s, n), Acc::Avg(t, m)) => {
                *s = s.saturating_add(t);
                *n += m;
            }
            (Acc::Min(a), Acc::Min(b)) => {
                *a = match (*a, b) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                }
            }
            (Acc::Max(a), Acc::Max(b)) => {
                *a = match (*a, b) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    (x, y) => x.or(y),
                }
            }
            (Acc::Count(n), Acc::Count(m)) => *n += m,
            (Acc::Median(v), Acc::Median(w)) => v.extend(w),
            _ => {}
        }
    }

    fn finish(self) -> Value {
        match self {
            Acc::Sum(_, false, true) => Value::Null,
            Acc::Sum(s, _, _) => Value::Decimal(s),
            Acc::Avg(_, 0) => Value::Null,
            Acc::Avg(s, n) => Value::Decimal(s / Decimal::from(n)),
            Acc::Min(m) | Acc::Max(m) => m.map_or(Value::Null, Value::Decimal),
            Acc::Count(n) => Value::Int(n),
            Acc::Median(mut v) => {
                if v.is_empty() {
                    return Value::Null;
                }
                v.sort_unstable();
                let m = v.len() / 2;
                Value::Decimal(if v.len() % 2 == 1 {
                    v[m]
                } else {
                    (v[m - 1] + v[m]) / Decimal::TWO
                })
            }
        }
    }
}

/// A decimal column's values (none for a column of another type).
fn decimals(c: &Column) -> &[Option<Decimal>] {
    match c {
        Column::Decimal(v) => v,
        _ => &[],
    }
}

/// A chunk's values as a column of type `ty`, when every row has a native value of that
/// type (or null): no row needs a look of its own.
fn typed_column(chunk: &Chunk<'_>, ty: Type) -> Option<Column> {
    if !chunk.fails.is_empty() {
        return None;
    }
    Some(match (ty, &chunk.values) {
        (Type::Decimal, Vector::Decimal(v)) => Column::Decimal(v.to_vec()),
        (Type::Decimal, Vector::Int(v)) => {
            Column::Decimal(v.iter().map(|x| x.map(Decimal::from)).collect())
        }
        (Type::Int, Vector::Int(v)) => Column::Int(v.to_vec()),
        (Type::Bool, Vector::Bool(v)) => Column::Bool(v.to_vec()),
        (Type::Date, Vector::Date(v)) => Column::Date(v.to_vec()),
        (_, Vector::Const(Value::Null, n)) => {
            let mut c = Column::new(ty);
            c.push_nulls(*n);
            c
        }
        _ => return None,
    })
}

/// The non-null values ranked ascending, each as one `u64`: an integer key that orders
/// as the values do (equal values, equal keys) in the high 32 bits ([`key_of`]), its
/// row in the low 32 ([`row_of`]); equal keys are in row order. Decimals are scaled to
/// their largest scale; the key is the scaled value less the smallest, or, when that
/// does not fit in 32 bits (or the scaling overflows), the value's dense rank. Sorting
/// one `u64` per value is several times faster than sorting `(i128, u32)` pairs.
fn ranked(values: &[Option<Decimal>]) -> Vec<u64> {
    let scale = values
        .iter()
        .flatten()
        .map(Decimal::scale)
        .max()
        .unwrap_or(0);
    let scaled = |d: &Decimal| -> Option<i128> {
        d.mantissa()
            .checked_mul(10i128.checked_pow(scale - d.scale())?)
    };
    let mut bounds: Option<(i128, i128)> = None;
    let mut fits = true;
    for d in values.iter().flatten() {
        let Some(k) = scaled(d) else {
            fits = false;
            break;
        };
        bounds = Some(bounds.map_or((k, k), |(lo, hi)| (lo.min(k), hi.max(k))));
    }
    let narrow = |&(lo, hi): &(i128, i128)| {
        fits && hi
            .checked_sub(lo)
            .is_some_and(|d| d <= i128::from(u32::MAX))
    };
    if let Some((lo, _)) = bounds.filter(narrow) {
        let mut keys: Vec<u64> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let k = scaled(v.as_ref()?)?;
                Some(((k - lo) as u64) << 32 | i as u64)
            })
            .collect();
        keys.par_sort_unstable();
        return keys;
    }
    let mut sorted: Vec<(Decimal, u32)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|d| (d, i as u32)))
        .collect();
    sorted.par_sort_unstable();
    let mut rank = 0u64;
    let mut out = Vec::with_capacity(sorted.len());
    for (j, &(d, i)) in sorted.iter().enumerate() {
        if j > 0 && d != sorted[j - 1].0 {
            rank += 1;
        }
        out.push(rank << 32 | u64::from(i));
    }
    out
}

/// The key of a [`ranked`] entry.
fn key_of(entry: u64) -> u64 {
    entry >> 32
}

/// The row of a [`ranked`] entry.
fn row_of(entry: u64) -> usize {
    (entry & 0xffff_ffff) as usize
}

/// The runs of equal keys of a ranked list, as ranges.
fn ties(ranked: &[u64]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= ranked.len() {
            return None;
        }
        let key = key_of(ranked[start]);
        let end = start + ranked[start..].partition_point(|&r| key_of(r) == key);
        let run = start..end;
        start = end;
        Some(run)
    })
}

/// Quantile scores 1..=buckets, tie-aware: a value's score depends only on how many
/// values are below it (above it when lower is better), never on row order, so equal
/// values get equal scores. Nulls get no score.
pub(crate) fn quantile_scores(
    values: &[Option<Decimal>],
    buckets: u32,
    low_is_better: bool,
) -> Vec<Option<i64>> {
    let ranked = ranked(values);
    let n = ranked.len() as u64;
    let mut out = vec![None; values.len()];
    for run in ties(&ranked) {
        // The score of the tie group: from the number of values strictly worse.
        let worse = if low_is_better {
            n - run.end as u64
        } else {
            run.start as u64
        };
        let score = (worse * u64::from(buckets) / n) as i64 + 1;
        for &entry in &ranked[run] {
            out[row_of(entry)] = Some(score);
        }
    }
    out
}

/// Pareto classes: values ranked descending; a customer's class is the first whose
/// `upto` exceeds the cumulative share of the customers ranked strictly above it (so the
/// customer that crosses a boundary is still inside it, and equal values share a class).
/// Values of zero or less take the last class; nulls none. A text column of the labels.
pub(crate) fn pareto_classes(
    values: &[Option<Decimal>],
    classes: &[(ImmutableString, Option<Decimal>)],
) -> Column {
    let mut dict: Vec<ImmutableString> = Vec::new();
    let code_of: Vec<u32> = classes
        .iter()
        .map(|(label, _)| match dict.iter().position(|l| l == label) {
            Some(i) => i as u32,
            None => {
                dict.push(label.clone());
                (dict.len() - 1) as u32
            }
        })
        .collect();
    let last = match code_of.last() {
        Some(&c) => c,
        None => {
            dict.push(ImmutableString::new());
            0
        }
    };
    let ranked = ranked(values);
    let total: Decimal = values
        .iter()
        .flatten()
        .map(|d| (*d).max(Decimal::ZERO))
        .sum();
    let mut out = vec![crate::value::NO_TEXT; values.len()];
    let mut above = Decimal::ZERO;
    let runs: Vec<Range<usize>> = ties(&ranked).collect();
    for run in runs.into_iter().rev() {
        let value = values[row_of(ranked[run.start])].unwrap_or_default();
        let code = if value <= Decimal::ZERO || total.is_zero() {
            last
        } else {
            let share = above / total;
            classes
                .iter()
                .position(|(_, upto)| upto.is_none_or(|u| share < u))
                .map_or(last, |k| code_of[k])
        };
        for &entry in &ranked[run] {
            out[row_of(entry)] = code;
            above += values[row_of(entry)].unwrap_or_default().max(Decimal::ZERO);
        }
    }
    Column::Text(out, dict)
}

/// The dry run of `check` and of compilation: the program evaluated over one synthetic
/// customer whose inputs all have values, to fix the types of scripted values and to find
/// scripts that fail whatever the data (a wrong type, an unknown function, a runaway loop).
pub(crate) fn dry_run(program: &mut Program, inputs: &BTreeMap<String, Type>) -> Result<(), Error> {
    let as_of = NaiveDate::from_ymd_opt(2000, 1, 31).unwrap_or_default();
    let sample = |t: Type| match t {
        Type::Bool => Value::Bool(false),
        Type::Int => Value::Int(7),
        Type::Decimal => Value::Decimal(Decimal::new(12345, 2)),
        Type::Text => Value::Text("x".into()),
        Type::Date => Value::Date(as_of - chrono::Duration::days(30)),
        Type::List => Value::List(vec!["x".into()]),
    };
    let mut problems = Vec::new();
    let mut table = Table::new(["dry-run"]);
    for (name, ty) in inputs {
        table.insert(name, Column::from_values(*ty, [sample(*ty)]));
    }
    let mut inferred: Vec<(usize, Type)> = Vec::new();
    let mut run = Run {
        program,
        table,
        facts: Arc::new(Facts::default()),
        as_of,
        kpis: Vec::new(),
        alerts: Vec::new(),
        diags: Diags::default(),
        segments: Vec::new(),
        allocations: Vec::new(),
        periods: Default::default(),
        next_shape: 0,
    };
    for (i, rule) in program.rules.iter().enumerate() {
        if let RuleBody::Declared(d) = &rule.body {
            run.table
                .insert(&rule.name, Column::from_values(d.ty(), [sample(d.ty())]));
            continue;
        }
        if let (RuleBody::Scripted { script, .. }, None) = (&rule.body, rule.ty) {
            // Infer the type from the sample customer's value.
            let ty = match run.first_type(&rule.name, script) {
                Ok(ty) => ty,
                Err(Error::Rule { message, .. }) => {
                    problems.push(Problem {
                        file: rule.span.file.clone(),
                        line: rule.span.line,
                        column: rule.span.column,
                        code: "rules.limit",
                        message: format!("{}: {message}", rule.name),
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            match ty {
                // A number is a decimal: a whole number on the sample customer may be a
                // fraction on another (`if x { 1.5 } else { 2 }`).
                Some(Type::Int) => inferred.push((i, Type::Decimal)),
                Some(t) => inferred.push((i, t)),
                None => {
                    problems.push(rule.span.problem(
                        None,
                        "rules.type",
                        format!("{}: the type of its value cannot be inferred (it gave no value on a sample customer); add `type:`", rule.name),
                    ));
                    continue;
                }
            }
            let mut r = rule.clone();
            r.ty = inferred.last().map(|x| x.1);
            if let Err(Error::Rule { message, .. }) = run.rule(&r) {
                problems.push(rule.span.problem(
                    None,
                    "rules.limit",
                    format!("{}: {message}", rule.name),
                ));
            }
            continue;
        }
        if let Err(Error::Rule { message, .. }) = run.rule(rule) {
            problems.push(rule.span.problem(
                None,
                "rules.limit",
                format!("{}: {message}", rule.name),
            ));
        }
    }
    for d in &run.diags.0.values().cloned().collect::<Vec<_>>() {
        // The sample customer's data is made up, and the facts are empty: an error that
        // depends on data (a division by zero, a missing value, an index past the end of
        // a list, text that is not a number) is expected; one that shows a defect of the
        // rule (a function that does not exist or does not take these types, an unknown
        // variable or property, a wrong type) is not.
        let data_dependent = d.code == "rules.null" && !rule_defect(&d.message);
        if matches!(d.code, "rules.unique" | "rules.allocation") || data_dependent {
            continue;
        }
        let rule = program.rules.iter().find(|r| r.name == d.rule);
        let span = rule.map(|r| r.span.clone()).unwrap_or_default();
        problems.push(span.problem(
            None,
            if d.code == "rules.null" {
                "rules.eval"
            } else {
                d.code
            },
            format!("{}: {}", d.rule, d.message),
        ));
    }
    drop(run);
    for (i, t) in inferred {
        program.rules[i].ty = Some(t);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.sort();
        problems.dedup();
        Err(Error::Pack(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(values: &[i64]) -> Vec<Option<Decimal>> {
        values.iter().map(|&v| Some(Decimal::from(v))).collect()
    }

    #[test]
    fn largest_remainder_conserves_the_pool_to_the_cent() {
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        // 100 over three equal drivers: 33.34, 33.33, 33.33 (the first remainder wins ties).
        let parts = largest_remainder(
            d("100"),
            [1, 1, 1].map(Decimal::from).into_iter(),
            Decimal::from(3),
        );
        assert_eq!(parts, [d("33.34"), d("33.33"), d("33.33")]);
        // A deterministic sweep of pools and weights: the parts always sum to the pool.
        let mut seed = 1u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _ in 0..500 {
            let amount = Decimal::new((next() % 10_000_000) as i64, 2);
            let weights: Vec<Decimal> = (0..1 + next() % 40)
                .map(|_| Decimal::new((next() % 1000) as i64, (next() % 3) as u32))
                .collect();
            let total: Decimal = weights.iter().copied().sum();
            if total.is_zero() {
                continue;
            }
            let parts = largest_remainder(amount, weights.iter().copied(), total);
            assert_eq!(
                parts.iter().copied().sum::<Decimal>(),
                amount,
                "{amount} over {weights:?}"
            );
            for (p, w) in parts.iter().zip(&weights) {
                assert!(*p >= Decimal::ZERO && p.scale() <= 2);
                // Each part is within a cent of its exact share.
                assert!((*p - amount * *w / total).abs() < d("0.01"), "{p} for {w}");
            }
        }
    }

    #[test]
    fn null_operands_are_told_from_unknown_functions() {
        assert!(null_operand(
            "Function not found: / (decimal, ()) (line 1, position 11)"
        ));
        assert!(null_operand("Function not found: - ((), i64)"));
        assert!(!null_operand(
            "Function not found: today () (line 1, position 1)"
        ));
        assert!(!null_operand("Function not found: foo (decimal)"));
        assert!(!null_operand("Division by zero"));
    }

    #[test]
    fn wide_values_rank_as_narrow_ones() {
        // Keys wider than 32 bits take the dense-rank path: the same scores.
        let narrow = dec(&[10, 20, 20, 30, 40]);
        let wide = dec(&[-1_000_000_000_000, 20, 20, 30, 4_000_000_000_000]);
        assert_eq!(
            quantile_scores(&narrow, 5, false),
            quantile_scores(&wide, 5, false)
        );
        let mixed = vec![
            Some(Decimal::new(15, 1)),
            None,
            Some(Decimal::new(150, 2)),
            Some(Decimal::new(1, 0)),
        ];
        let r = ranked(&mixed);
        assert_eq!(r.iter().map(|&e| row_of(e)).collect::<Vec<_>>(), [3, 0, 2]);
        assert_eq!(key_of(r[1]), key_of(r[2]));
        assert!(key_of(r[0]) < key_of(r[1]));
    }

    #[test]
    fn quantiles_are_tie_aware_and_order_free() {
        let v = dec(&[10, 20, 20, 30, 40]);
        let s = quantile_scores(&v, 5, false);
        assert_eq!(s, [1, 2, 2, 4, 5].map(Some));
        let mut rev = v.clone();
        rev.reverse();
        let mut s2 = quantile_scores(&rev, 5, false);
        s2.reverse();
        assert_eq!(s, s2);
        let low = quantile_scores(&v, 5, true);
        assert_eq!(low, [5, 3, 3, 2, 1].map(Some));
        assert_eq!(quantile_scores(&[None], 5, false), [None]);
        // Scales differ: 1.5 < 2 < 2.00 == 2 < 10.25; huge values fall back to ranks.
        let mixed = ["2", "1.5", "10.25", "2.00"].map(|s| s.parse::<Decimal>().ok());
        assert_eq!(quantile_scores(&mixed, 4, false), [2, 1, 4, 2].map(Some));
        let huge = [
            Some(Decimal::MAX),
            Some(Decimal::new(1, 28)),
            Some(Decimal::ZERO),
        ];
        assert_eq!(quantile_scores(&huge, 3, false), [3, 2, 1].map(Some));
    }

    #[test]
    fn pareto_classes_by_cumulative_share() {
        let classes: Vec<(ImmutableString, Option<Decimal>)> = vec![
            ("A".into(), Some(Decimal::new(8, 1))),
            ("B".into(), Some(Decimal::new(95, 2))),
            ("C".into(), None),
        ];
        // Total 100: 70 (share above 0) A; 15 (above 70%) A; 10 (above 85%) B; 5 (95%) C; 0 C.
        let v = dec(&[10, 70, 0, 15, 5]);
        let column = pareto_classes(&v, &classes);
        let c: Vec<String> = (0..v.len()).map(|i| column.get(i).to_string()).collect();
        assert_eq!(c, ["B", "A", "C", "A", "C"]);
    }
}
