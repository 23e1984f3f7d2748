//! Why a customer got each label and value: the trace of every per-customer rule for one
//! row of an evaluated table.
//!
//! Explaining re-evaluates the rule's expressions for that one customer over the
//! [`Outcome`]'s table (which holds every rule's value), recording for each step the
//! expression, what it gave, and the inputs it read with their values. Rankings
//! (quantiles, Pareto) are explained by the customer's position among all customers.

use rhai::{Dynamic, Scope};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::compile::{AlertDef, Hit, Program, Rule, RuleBody, Script, SegmentDef};
use crate::declared::{Field, Func, Window, DIMENSIONS};
use crate::eval::Outcome;
use crate::pack::Kind;
use crate::sandbox::{self, Frame};
use crate::value::Value;

/// The trace of one rule for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The rule.
    pub rule: String,
    /// Its kind.
    pub kind: Kind,
    /// Where it is defined (`file:line:col`).
    pub at: String,
    /// The customer's value (a label, a score, an amount; for an alert, whether it fired).
    pub value: Value,
    /// The recommended action of the label, if any.
    pub action: Option<String>,
    /// The steps that led to the value, in evaluation order.
    pub steps: Vec<Step>,
}

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What was evaluated: an expression, or a description of a native computation.
    pub what: String,
    /// What it gave: `held`, `did not hold`, `not evaluated`, a value, or an error.
    pub result: String,
    /// The inputs it read, with their values for this customer (sorted by name).
    pub inputs: Vec<(String, Value)>,
}

impl Program {
    /// Explains every per-customer rule (or only `rule`) for the customer at `row` of an
    /// outcome this program produced. Alerts that watch per-customer conditions are
    /// explained too. Rules come in evaluation order.
    pub fn explain(&self, outcome: &Outcome, row: usize, rule: Option<&str>) -> Vec<Explanation> {
        let previous = sandbox::set_frame(Frame::Row {
            table: outcome.table.clone(),
            row,
            as_of: outcome.as_of,
        });
        let mut out = Vec::new();
        for r in &self.rules {
            if rule.is_some_and(|name| name != r.name) {
                continue;
            }
            // Unasked, a group KPI is told only for the groups the customer counts in
            // (not portfolio totals, not groups its filter keeps it out of).
            let asked = rule.is_some();
            if let Some(e) = self.explain_rule(outcome, row, r) {
                let group = matches!(&r.body, RuleBody::GroupKpi(_));
                let told = match &r.body {
                    RuleBody::GroupKpi(k) => !k.by.is_empty() && e.value != Value::Null,
                    _ => true,
                };
                if asked || !group || told {
                    out.push(e);
                }
            }
        }
        sandbox::set_frame(previous);
        out
    }

    fn explain_rule(&self, outcome: &Outcome, row: usize, r: &Rule) -> Option<Explanation> {
        let at = format!("{}:{}:{}", r.span.file, r.span.line, r.span.column);
        let table = &outcome.table;
        let value = table.column(&r.name).map_or(Value::Null, |c| c.get(row));
        let mut action = None;
        let steps = match &r.body {
            RuleBody::Declared(d) => {
                let func = match d.func {
                    Func::Sum => "sum",
                    Func::Count => "count",
                    Func::Min => "min",
                    Func::Max => "max",
                    Func::First => "first",
                    Func::Last => "last",
                    Func::Distinct => "distinct",
                    Func::Avg => "avg",
                    Func::Open => "open",
                };
                let of = match d.of {
                    Field::Amount => "amount",
                    Field::Quantity => "quantity",
                    Field::Date => "date",
                    Field::Document => "document",
                    Field::Dimension(i) => DIMENSIONS[i],
                };
                let kinds = |k: &[ledgerlens_model::EntryKind]| {
                    k.iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut what = if let Some(activity) = &d.activity {
                    let what = if d.func == Func::Count {
                        "records"
                    } else {
                        "sum of the counts"
                    };
                    format!("{what} of the customer's activity {activity}")
                } else if d.func == Func::Count {
                    "count of the customer's entries".to_string()
                } else if d.func == Func::Open {
                    let age = match d.age {
                        (from, Some(to)) => format!("{from}-{to}"),
                        (from, None) => format!("{from} or more"),
                    };
                    let what = if d.of == Field::Date {
                        "earliest date"
                    } else {
                        "sum"
                    };
                    format!(
                        "{what} of the items of kind {} still open after settling by {} \
                         (oldest first), {age} days old on {}",
                        kinds(d.kinds.as_deref().unwrap_or_default()),
                        kinds(&d.settled_by),
                        outcome.as_of
                    )
                } else {
                    format!("{func} of {of} over the customer's entries")
                };
                if let Some(k) = d.kinds.as_deref().filter(|_| d.func != Func::Open) {
                    what.push_str(&format!(" of kind {}", kinds(k)));
                }
                for (i, v) in &d.dims {
                    what.push_str(&format!(" with {} = {v}", DIMENSIONS[*i]));
                }
                match d.window {
                    Some(Window::Days(n)) => {
                        what.push_str(&format!(", in the {n} days up to {}", outcome.as_of))
                    }
                    Some(Window::Months(n)) => {
                        what.push_str(&format!(", in the {n} months up to {}", outcome.as_of))
                    }
                    None if d.func == Func::Open => {}
                    None => what.push_str(&format!(", up to {}", outcome.as_of)),
                }
                vec![Step {
                    what,
                    result: value.to_string(),
                    inputs: Vec::new(),
                }]
            }
            RuleBody::Scripted { script, .. } => vec![self.step(script, outcome, row)],
            RuleBody::Segment(SegmentDef::Rules { hit, branches }) => {
                let mut steps = Vec::new();
                let mut held_any = false;
                for b in branches {
                    let label = format!("-> {}", b.label);
                    let Some(when) = &b.when else {
                        steps.push(Step {
                            what: format!("(default) {label}"),
                            result: if held_any {
                                "not needed".into()
                            } else {
                                "held".into()
                            },
                            inputs: Vec::new(),
                        });
                        continue;
                    };
                    if held_any && *hit == Hit::First {
                        steps.push(Step {
                            what: format!("{} {label}", when.text.trim()),
                            result: "not evaluated (an earlier rule held)".into(),
                            inputs: Vec::new(),
                        });
                        continue;
                    }
                    let mut step = self.step(when, outcome, row);
                    step.result = match step.result.as_str() {
                        "true" => {
                            held_any = true;
                            "held".into()
                        }
                        "false" => "did not hold".into(),
                        other => other.to_string(),
                    };
                    step.what = format!("{} {label}", step.what);
                    steps.push(step);
                }
                action = branches
                    .iter()
                    .find(|b| Value::Text(b.label.clone()) == value)
                    .and_then(|b| b.action.clone());
                steps.push(Step {
                    what: format!("hit policy {}", hit_name(*hit)),
                    result: value.to_string(),
                    inputs: Vec::new(),
                });
                steps
            }
            RuleBody::Segment(SegmentDef::Quantile {
                of,
                buckets,
                low_is_better,
                actions,
            }) => {
                let mut step = self.step(of, outcome, row);
                let x = Value::from_dynamic(&self.eval_one(of)).and_then(|v| v.as_decimal());
                let (below, equal, n) = self.position(outcome, of, row, x);
                step.result = format!(
                    "{}: {below} of {n} customers have a lower value, {equal} an equal one; {} buckets, {} values score higher",
                    step.result,
                    buckets,
                    if *low_is_better { "lower" } else { "higher" }
                );
                action = actions.get(&value.to_string()).cloned();
                vec![step]
            }
            RuleBody::Segment(SegmentDef::Pareto {
                of,
                classes,
                actions,
            }) => {
                let mut step = self.step(of, outcome, row);
                let x = Value::from_dynamic(&self.eval_one(of)).and_then(|v| v.as_decimal());
                let bounds: Vec<String> = classes
                    .iter()
                    .map(|(l, u)| match u {
                        Some(u) => format!("{l} up to {}", u.normalize()),
                        None => format!("{l} the rest"),
                    })
                    .collect();
                let share = x.map(|x| self.share_above(outcome, of, row, x));
                step.result = format!(
                    "{}; customers ranked above it hold {} of the total; classes: {}",
                    step.result,
                    share.map_or("-".into(), |s| format!(
                        "{}%",
                        (s * Decimal::ONE_HUNDRED).round_dp(2)
                    )),
                    bounds.join(", ")
                );
                action = actions.get(&value.to_string()).cloned();
                vec![step]
            }
            RuleBody::Alert(AlertDef::Condition { when, level }) => {
                let mut step = self.step(when, outcome, row);
                let fired = step.result == "true";
                step.result = if fired {
                    format!("held: a {} alert", level.name())
                } else {
                    "did not hold".into()
                };
                return Some(Explanation {
                    rule: r.name.clone(),
                    kind: r.kind,
                    at,
                    value: Value::Bool(fired),
                    action: None,
                    steps: vec![step],
                });
            }
            RuleBody::Allocation(a) => {
                let mut steps = Vec::new();
                if let Some(to) = &a.to {
                    let mut s = self.step(to, outcome, row);
                    s.what = format!("receives a share: {}", s.what);
                    steps.push(s);
                }
                if let Some(d) = &a.driver {
                    let mut s = self.step(d, outcome, row);
                    s.what = format!("driver: {}", s.what);
                    steps.push(s);
                }
                let own = match &a.each {
                    Some(k) => format!(
                        "{k}={}",
                        table.column(k).map_or(Value::Null, |c| c.get(row))
                    ),
                    None => "all".to_string(),
                };
                let pools: Vec<String> = outcome
                    .allocations
                    .iter()
                    .filter(|p| p.allocation == r.name && p.pool == own)
                    .map(|p| {
                        format!(
                            "{} {} over {} customers",
                            p.pool,
                            p.amount.normalize(),
                            p.customers
                        )
                    })
                    .collect();
                steps.push(Step {
                    what: match a.time {
                        Some((rate, unit, _)) => format!("time-driven: rate {} x unit time {} x driver", rate.normalize(), unit.normalize()),
                        None => format!("pool shared in proportion to the driver, to the cent (largest remainder): {}", pools.join("; ")),
                    },
                    result: value.to_string(),
                    inputs: Vec::new(),
                });
                steps
            }
            RuleBody::GroupKpi(k) if !k.by_period => {
                // The group the customer counts in, and the group's value.
                let mut steps = Vec::new();
                if let Some(f) = &k.filter {
                    let step = self.step(f, outcome, row);
                    let held = step.result == "true";
                    steps.push(Step {
                        result: if held { "held" } else { "did not hold" }.into(),
                        what: format!("filter: {}", step.what),
                        ..step
                    });
                    if !held {
                        return Some(Explanation {
                            rule: r.name.clone(),
                            kind: r.kind,
                            at,
                            value: Value::Null,
                            action: None,
                            steps,
                        });
                    }
                }
                let keys: Vec<(String, String)> =
                    k.by.iter()
                        .map(|key| {
                            let v = table.column(key).map_or(Value::Null, |c| c.get(row));
                            let v = if v == Value::Null {
                                "(none)".to_string()
                            } else {
                                v.to_string()
                            };
                            (key.clone(), v)
                        })
                        .collect();
                let group = outcome
                    .kpis
                    .iter()
                    .find(|v| v.kpi == r.name && v.group == keys);
                let value = group.map_or(Value::Null, |g| g.value.clone());
                let name = if keys.is_empty() {
                    "all customers".to_string()
                } else {
                    keys.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                steps.push(Step {
                    what: format!(
                        "counted in the group {name}: {} over the group's customers",
                        k.formula.text.trim()
                    ),
                    result: value.to_string(),
                    inputs: Vec::new(),
                });
                return Some(Explanation {
                    rule: r.name.clone(),
                    kind: r.kind,
                    at,
                    value,
                    action: None,
                    steps,
                });
            }
            RuleBody::Model(m) => {
                let fit = match m.fit {
                    crate::compile::CountModel::BgNbd => "BG/NBD",
                    crate::compile::CountModel::ParetoNbd => "Pareto/NBD",
                };
                // What the run did (the spend model used, the calibration end), when it
                // fitted the model.
                let fitted = outcome.model.as_ref().filter(|f| f.rule == r.name);
                let spend = match fitted.map(|f| f.spend_model) {
                    Some("gammagamma") => "Gamma-Gamma spend",
                    Some("observed") => "each customer's observed mean repeat spend",
                    _ => "no spend model",
                };
                let end = fitted.map_or_else(
                    || {
                        m.calibration_end
                            .map_or(outcome.as_of, |d| d.min(outcome.as_of))
                    },
                    |f| f.calibration_end,
                );
                let inputs: Vec<(String, Value)> = crate::compile::MODEL_OUTPUTS
                    .iter()
                    .filter_map(|n| table.column(n).map(|c| (n.to_string(), c.get(row))))
                    .collect();
                let predicted = inputs.iter().any(|(_, v)| *v != Value::Null);
                let result = if fitted.is_none() {
                    "not fitted (see the run's diagnostics)".to_string()
                } else if predicted {
                    "predicted".to_string()
                } else {
                    format!(
                        "no prediction: no purchase by {end}, or a history the model could not \
                         predict (see the run's diagnostics)"
                    )
                };
                return Some(Explanation {
                    rule: r.name.clone(),
                    kind: r.kind,
                    at,
                    value: Value::Text(result.as_str().into()),
                    action: None,
                    steps: vec![Step {
                        what: format!(
                            "{fit} purchase counts and {spend}, fitted on every customer's \
                             purchases (customer-days) up to {end}; the next {} months, \
                             discounted {} a month",
                            m.horizon_months, m.monthly_discount
                        ),
                        result,
                        inputs,
                    }],
                });
            }
            RuleBody::GroupKpi(_)
            | RuleBody::Curve(_)
            | RuleBody::Alert(AlertDef::Thresholds { .. }) => return None,
        };
        Some(Explanation {
            rule: r.name.clone(),
            kind: r.kind,
            at,
            value,
            action,
            steps,
        })
    }

    fn eval_one(&self, script: &Script) -> Dynamic {
        let mut scope = Scope::new();
        scope.push_constant("params", self.params_map.clone());
        self.engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
            .unwrap_or(Dynamic::UNIT)
    }

    /// Evaluates a script for the frame's row, with its inputs.
    fn step(&self, script: &Script, outcome: &Outcome, row: usize) -> Step {
        let mut scope = Scope::new();
        scope.push_constant("params", self.params_map.clone());
        let result = match self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
        {
            Ok(d) => Value::from_dynamic(&d).map_or_else(|| d.to_string(), |v| v.to_string()),
            Err(e) => format!("error: {e}"),
        };
        let mut inputs: Vec<(String, Value)> = script
            .reads
            .iter()
            .filter_map(|name| {
                outcome
                    .table
                    .column(name)
                    .map(|c| (name.clone(), c.get(row)))
            })
            .collect();
        for name in params_read(&script.text) {
            if let Some(v) = self.params.get(&name) {
                inputs.push((format!("params.{name}"), v.1.clone()));
            }
        }
        if script.reads.iter().any(|r| r == "as_of") {
            inputs.push(("as_of".into(), Value::Date(outcome.as_of)));
        }
        inputs.sort();
        inputs.dedup();
        Step {
            what: script.text.trim().to_string(),
            result,
            inputs,
        }
    }

    /// How many customers have a value below and equal to `x` for a script.
    fn position(
        &self,
        outcome: &Outcome,
        script: &Script,
        row: usize,
        x: Option<Decimal>,
    ) -> (u64, u64, u64) {
        let Some(x) = x else { return (0, 0, 0) };
        let (mut below, mut equal, mut n) = (0, 0, 0);
        self.for_each_value(outcome, script, row, |v| {
            n += 1;
            if v < x {
                below += 1;
            } else if v == x {
                equal += 1;
            }
        });
        (below, equal, n)
    }

    /// The share of the positive total held by customers with a larger value than `x`.
    fn share_above(&self, outcome: &Outcome, script: &Script, row: usize, x: Decimal) -> Decimal {
        let (mut above, mut total) = (Decimal::ZERO, Decimal::ZERO);
        self.for_each_value(outcome, script, row, |v| {
            let v = v.max(Decimal::ZERO);
            total += v;
            if v > x {
                above += v;
            }
        });
        if total.is_zero() {
            Decimal::ZERO
        } else {
            above / total
        }
    }

    /// Calls `f` with the script's value for every customer (a column read when the
    /// script is a bare column name), then puts the frame back on `row`.
    fn for_each_value(
        &self,
        outcome: &Outcome,
        script: &Script,
        row: usize,
        mut f: impl FnMut(Decimal),
    ) {
        let table = &outcome.table;
        if let Some(c) = table.column(script.text.trim()) {
            (0..table.len())
                .filter_map(|r| c.get(r).as_decimal())
                .for_each(f);
            return;
        }
        for r in 0..table.len() {
            sandbox::set_row(r);
            if let Some(v) =
                Value::from_dynamic(&self.eval_one(script)).and_then(|v| v.as_decimal())
            {
                f(v);
            }
        }
        sandbox::set_row(row);
    }
}

fn hit_name(hit: Hit) -> &'static str {
    match hit {
        Hit::First => "first: the first rule that holds",
        Hit::Unique => "unique: exactly one rule may hold",
        Hit::Priority => "priority: the highest priority among the rules that hold",
        Hit::Collect => "collect: every rule that holds",
    }
}

/// The parameter names an expression reads (`params.churn_days`).
fn params_read(text: &str) -> Vec<String> {
    text.match_indices("params.")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}
