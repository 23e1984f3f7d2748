//! Running a compiled rule pack over the stored ledgers.
//!
//! The customer table the rules see has one row per customer of the master (partition
//! by partition, customers sorted by id within a partition), with the built-in features
//! and master fields the pack reads ([`input_schema`]), and one column per declared
//! feature, accumulated natively from the partition's ledger entries. Spend and budgets
//! come from the store's facts.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlens_model::Customer;
use ledgerlens_rules::{
    Accumulator, Column, ColumnBuilder, EntryView, Facts, Input, Keep, Outcome, PeriodAccumulator,
    PeriodTotals, Program, Table, Type, Value,
};
use ledgerlens_store::Store;
use serde::Serialize;

use crate::features::{map_partitions, FeatureRun, Features};
use crate::Error;

/// A built-in input column: name, type, what it is, and how to read it.
struct Builtin {
    name: &'static str,
    ty: Type,
    get: fn(&Customer, &Features) -> Value,
}

/// Money, with its cents (a source may write whole yuan: 300 is 300.00).
fn dec(mut d: rust_decimal::Decimal) -> Value {
    if d.scale() < 2 {
        d.rescale(2);
    }
    Value::Decimal(d)
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    v.map_or(Value::Null, f)
}

fn text(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, |s| Value::Text(s.into()))
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "revenue",
        ty: Type::Decimal,
        get: |_, f| dec(f.revenue),
    },
    Builtin {
        name: "refunds",
        ty: Type::Decimal,
        get: |_, f| dec(f.refunds),
    },
    Builtin {
        name: "discounts",
        ty: Type::Decimal,
        get: |_, f| dec(f.discounts),
    },
    Builtin {
        name: "net_revenue",
        ty: Type::Decimal,
        get: |_, f| dec(f.net_revenue),
    },
    Builtin {
        name: "orders",
        ty: Type::Int,
        get: |_, f| Value::Int(f.orders as i64),
    },
    Builtin {
        name: "first_purchase",
        ty: Type::Date,
        get: |_, f| opt(f.first_purchase, Value::Date),
    },
    Builtin {
        name: "last_purchase",
        ty: Type::Date,
        get: |_, f| opt(f.last_purchase, Value::Date),
    },
    Builtin {
        name: "recency_days",
        ty: Type::Int,
        get: |_, f| opt(f.recency_days, Value::Int),
    },
    Builtin {
        name: "tenure_days",
        ty: Type::Int,
        get: |_, f| opt(f.tenure_days, Value::Int),
    },
    Builtin {
        name: "avg_order_value",
        ty: Type::Decimal,
        get: |_, f| opt(f.avg_order_value, dec),
    },
    Builtin {
        name: "purchase_frequency",
        ty: Type::Decimal,
        get: |_, f| opt(f.purchase_frequency, Value::Decimal),
    },
    Builtin {
        name: "refund_rate",
        ty: Type::Decimal,
        get: |_, f| opt(f.refund_rate, Value::Decimal),
    },
    Builtin {
        name: "receivables",
        ty: Type::Decimal,
        get: |_, f| dec(f.receivables),
    },
    Builtin {
        name: "cogs",
        ty: Type::Decimal,
        get: |_, f| dec(f.cogs),
    },
    Builtin {
        name: "cost_to_serve",
        ty: Type::Decimal,
        get: |_, f| dec(f.cost_to_serve),
    },
    Builtin {
        name: "gross_margin",
        ty: Type::Decimal,
        get: |_, f| dec(f.gross_margin),
    },
    Builtin {
        name: "name",
        ty: Type::Text,
        get: |c, _| text(&c.name),
    },
    Builtin {
        name: "phone",
        ty: Type::Text,
        get: |c, _| text(&c.phone),
    },
    Builtin {
        name: "region",
        ty: Type::Text,
        get: |c, _| text(&c.region),
    },
    Builtin {
        name: "channel",
        ty: Type::Text,
        get: |c, _| text(&c.channel),
    },
    Builtin {
        name: "campaign",
        ty: Type::Text,
        get: |c, _| text(&c.campaign),
    },
    Builtin {
        name: "first_seen",
        ty: Type::Date,
        get: |c, _| opt(c.first_seen, Value::Date),
    },
    Builtin {
        name: "credit_limit",
        ty: Type::Decimal,
        get: |c, _| opt(c.credit_limit, dec),
    },
    Builtin {
        name: "tags",
        ty: Type::List,
        get: |c, _| Value::List(c.tags.iter().map(|t| t.as_str().into()).collect()),
    },
];

/// The columns every customer has for rules: the built-in features (see
/// [`Features`]) and the master fields `name`, `phone`, `region`, `channel` and `campaign`
/// (acquisition channel and campaign), `first_seen`, `credit_limit` and `tags`.
pub fn input_schema() -> BTreeMap<String, Type> {
    BUILTINS
        .iter()
        .map(|b| (b.name.to_string(), b.ty))
        .collect()
}

/// What a run did besides its outcome.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RunReport {
    /// How the features were computed.
    pub features: FeatureRun,
}

/// Evaluates a compiled pack over the stored ledgers as of a date; the outcome's table
/// keeps the columns `keep` says.
pub fn run_pack(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
    keep: Keep,
) -> Result<(Outcome, RunReport), Error> {
    let started = std::time::Instant::now();
    let (table, periods, features) = customer_table(store, program, as_of)?;
    tracing::info!(customers = table.len(), elapsed = ?started.elapsed(), "customer table built");
    let mut facts = store.facts()?;
    // As of a date: spend up to it, budgets and cost pools of periods begun by then.
    facts.spend.retain(|s| s.date <= as_of);
    facts.budgets.retain(|b| b.period.start() <= as_of);
    facts.cost_pools.retain(|p| p.period.start() <= as_of);
    let outcome = program.evaluate_keeping(
        Input {
            table,
            facts: Facts {
                spend: facts.spend,
                budgets: facts.budgets,
                cost_pools: facts.cost_pools,
            },
            as_of,
            periods,
        },
        keep,
    )?;
    Ok((outcome, RunReport { features }))
}

/// One partition's slice of the table, and its ledger's totals by period.
struct Part<'p> {
    ids: Vec<String>,
    columns: Vec<Column>,
    periods: PeriodAccumulator<'p>,
}

/// The customer table for a program (the inputs it reads and its declared features), and
/// the ledger's totals by period its KPIs by period read.
pub fn customer_table(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
) -> Result<(Table, PeriodTotals, FeatureRun), Error> {
    let shapes = program.period_shapes();
    let builtins: Vec<&Builtin> = BUILTINS
        .iter()
        .filter(|b| program.inputs.contains(b.name))
        .collect();
    let declared: Vec<(&str, &ledgerlens_rules::Declared)> = program.declared().collect();
    // Activity counts by customer, for the features that read them.
    let activities = if declared.iter().any(|(_, d)| d.activity.is_some()) {
        store.facts()?.activities
    } else {
        Vec::new()
    };
    let mut activities_of: rustc_hash::FxHashMap<&str, Vec<&ledgerlens_model::Activity>> =
        Default::default();
    for a in &activities {
        activities_of
            .entry(a.customer.as_str())
            .or_default()
            .push(a);
    }
    let (parts, run) = map_partitions(store, as_of, |rows| -> Result<Part, Error> {
        let mut columns: Vec<Column> = builtins
            .iter()
            .map(|b| {
                let mut col = ColumnBuilder::new(b.ty);
                for (c, f) in &rows {
                    col.push((b.get)(c, f));
                }
                col.finish()
            })
            .collect();
        let mut periods = PeriodAccumulator::new(&shapes, as_of);
        if (!declared.is_empty() || !periods.is_empty()) && !rows.is_empty() {
            let mut accs: Vec<Accumulator<'_>> = declared
                .iter()
                .map(|(_, d)| Accumulator::new(d, as_of, rows.len()))
                .collect();
            let partition = store.partition_of(rows[0].0.id.as_str());
            // A block holds its entries grouped by customer: look the row up only when
            // the customer changes (rows are sorted by id: a binary search).
            let mut last: Option<(String, Option<usize>)> = None;
            store.for_each_entry(partition, |customer, e, _| {
                let row = match &last {
                    Some((id, row)) if id == customer => *row,
                    _ => {
                        let row = rows
                            .binary_search_by(|(c, _)| c.id.as_str().cmp(customer))
                            .ok();
                        last = Some((customer.to_string(), row));
                        row
                    }
                };
                let Some(row) = row else {
                    return;
                };
                let view = EntryView {
                    date: e.date,
                    kind: e.kind,
                    amount: e.amount,
                    quantity: e.quantity,
                    document: e.document,
                    dims: e.dims,
                };
                for acc in &mut accs {
                    acc.push(row, &view);
                }
                if !periods.is_empty() {
                    let c = &rows[row].0;
                    periods.push(&view, |key| match key {
                        "channel" => c.channel.as_deref(),
                        "campaign" => c.campaign.as_deref(),
                        "region" => c.region.as_deref(),
                        _ => None,
                    });
                }
            })?;
            for (row, (c, _)) in rows.iter().enumerate() {
                for a in activities_of.get(c.id.as_str()).into_iter().flatten() {
                    for acc in &mut accs {
                        acc.push_activity(row, &a.activity, a.date, a.count);
                    }
                }
            }
            for ((_, d), acc) in declared.iter().zip(accs) {
                columns.push(Column::from_values(d.ty(), acc.finish()));
            }
        } else {
            for (_, d) in &declared {
                columns.push(Column::from_values(
                    d.ty(),
                    rows.iter().map(|_| Value::Null),
                ));
            }
        }
        Ok(Part {
            ids: rows.iter().map(|(c, _)| c.id.0.clone()).collect(),
            columns,
            periods,
        })
    })?;
    let mut periods = PeriodAccumulator::new(&shapes, as_of);
    let mut ids = Vec::new();
    let width = builtins.len() + declared.len();
    let mut per_column: Vec<Vec<Column>> = (0..width).map(|_| Vec::new()).collect();
    for part in parts {
        let part = part?;
        ids.extend(part.ids);
        periods.merge(part.periods);
        for (i, c) in part.columns.into_iter().enumerate() {
            per_column[i].push(c);
        }
    }
    let mut table = Table::new(ids);
    let names_types = builtins
        .iter()
        .map(|b| (b.name, b.ty))
        .chain(declared.iter().map(|(n, d)| (*n, d.ty())));
    for ((name, ty), parts) in names_types.zip(per_column) {
        table.insert(name, Column::concat(ty, parts));
    }
    Ok((table, periods.finish(), run))
}
