//! Running a compiled rule pack over the stored ledgers.
//!
//! The customer table the rules see has one row per customer of the master (partition
//! by partition, customers sorted by id within a partition), with the built-in features
//! and master fields the pack reads ([`input_schema`]), and one column per declared
//! feature, accumulated natively from the partition's ledger entries. Spend and budgets
//! come from the store's facts.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use ledgerlens_model::Customer;
use ledgerlens_rules::{
    Accumulator, Column, ColumnBuilder, EntryView, Facts, Input, Keep, Outcome, Program, Table,
    Type, Value,
};
use ledgerlens_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::features::{map_partition_rows, FeatureRun, Features, PartitionRows};
use crate::Error;

/// How to read a built-in input column.
#[derive(Clone, Copy)]
enum Get {
    Decimal(fn(&Features) -> Option<Decimal>),
    Int(fn(&Features) -> Option<i64>),
    Date(fn(&Features) -> Option<NaiveDate>),
    MasterText(fn(&Customer) -> Option<&str>),
    MasterDate(fn(&Customer) -> Option<NaiveDate>),
    MasterDecimal(fn(&Customer) -> Option<Decimal>),
    Tags,
}

/// A built-in input column: name and how to read it.
struct Builtin {
    name: &'static str,
    get: Get,
}

impl Builtin {
    fn ty(&self) -> Type {
        match self.get {
            Get::Decimal(_) | Get::MasterDecimal(_) => Type::Decimal,
            Get::Int(_) => Type::Int,
            Get::Date(_) | Get::MasterDate(_) => Type::Date,
            Get::MasterText(_) => Type::Text,
            Get::Tags => Type::List,
        }
    }

    /// The column of a partition's rows.
    fn column(&self, customers: &[Customer], features: &[Features]) -> Column {
        match self.get {
            Get::Decimal(f) => Column::Decimal(features.iter().map(f).collect()),
            Get::Int(f) => Column::Int(features.iter().map(f).collect()),
            Get::Date(f) => Column::Date(features.iter().map(f).collect()),
            Get::MasterDecimal(f) => Column::Decimal(customers.iter().map(f).collect()),
            Get::MasterDate(f) => Column::Date(customers.iter().map(f).collect()),
            Get::MasterText(f) => {
                let mut b = ColumnBuilder::new(Type::Text);
                for c in customers {
                    b.push_text(f(c));
                }
                b.finish()
            }
            Get::Tags => Column::from_values(
                Type::List,
                customers
                    .iter()
                    .map(|c| Value::List(c.tags.iter().map(|t| t.as_str().into()).collect())),
            ),
        }
    }
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "revenue",
        get: Get::Decimal(|f| Some(f.revenue)),
    },
    Builtin {
        name: "refunds",
        get: Get::Decimal(|f| Some(f.refunds)),
    },
    Builtin {
        name: "discounts",
        get: Get::Decimal(|f| Some(f.discounts)),
    },
    Builtin {
        name: "net_revenue",
        get: Get::Decimal(|f| Some(f.net_revenue)),
    },
    Builtin {
        name: "orders",
        get: Get::Int(|f| Some(f.orders as i64)),
    },
    Builtin {
        name: "first_purchase",
        get: Get::Date(|f| f.first_purchase),
    },
    Builtin {
        name: "last_purchase",
        get: Get::Date(|f| f.last_purchase),
    },
    Builtin {
        name: "recency_days",
        get: Get::Int(|f| f.recency_days),
    },
    Builtin {
        name: "tenure_days",
        get: Get::Int(|f| f.tenure_days),
    },
    Builtin {
        name: "avg_order_value",
        get: Get::Decimal(|f| f.avg_order_value),
    },
    Builtin {
        name: "purchase_frequency",
        get: Get::Decimal(|f| f.purchase_frequency),
    },
    Builtin {
        name: "refund_rate",
        get: Get::Decimal(|f| f.refund_rate),
    },
    Builtin {
        name: "receivables",
        get: Get::Decimal(|f| Some(f.receivables)),
    },
    Builtin {
        name: "cogs",
        get: Get::Decimal(|f| Some(f.cogs)),
    },
    Builtin {
        name: "cost_to_serve",
        get: Get::Decimal(|f| Some(f.cost_to_serve)),
    },
    Builtin {
        name: "gross_margin",
        get: Get::Decimal(|f| Some(f.gross_margin)),
    },
    Builtin {
        name: "name",
        get: Get::MasterText(|c| c.name.as_deref()),
    },
    Builtin {
        name: "phone",
        get: Get::MasterText(|c| c.phone.as_deref()),
    },
    Builtin {
        name: "region",
        get: Get::MasterText(|c| c.region.as_deref()),
    },
    Builtin {
        name: "channel",
        get: Get::MasterText(|c| c.channel.as_deref()),
    },
    Builtin {
        name: "first_seen",
        get: Get::MasterDate(|c| c.first_seen),
    },
    Builtin {
        name: "credit_limit",
        get: Get::MasterDecimal(|c| c.credit_limit),
    },
    Builtin {
        name: "tags",
        get: Get::Tags,
    },
];

/// The columns every customer has for rules: the built-in features (see
/// [`Features`]) and the master fields `name`, `phone`, `region`, `channel` (acquisition
/// channel), `first_seen`, `credit_limit` and `tags`.
pub fn input_schema() -> BTreeMap<String, Type> {
    BUILTINS
        .iter()
        .map(|b| (b.name.to_string(), b.ty()))
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
    let (table, features) = customer_table(store, program, as_of)?;
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
        },
        keep,
    )?;
    Ok((outcome, RunReport { features }))
}

/// One partition's slice of the table.
struct Part {
    ids: Vec<String>,
    columns: Vec<Column>,
}

/// The customer table for a program: the inputs it reads and its declared features.
pub fn customer_table(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
) -> Result<(Table, FeatureRun), Error> {
    let builtins: Vec<&Builtin> = BUILTINS
        .iter()
        .filter(|b| program.inputs.contains(b.name))
        .collect();
    let declared: Vec<(&str, &ledgerlens_rules::Declared)> = program.declared().collect();
    let (parts, run) = map_partition_rows(store, as_of, |part| -> Result<Part, Error> {
        let mut columns: Vec<Column> = builtins
            .iter()
            .map(|b| b.column(&part.customers, &part.features))
            .collect();
        columns.extend(declared_columns(store, &part, &declared, as_of)?);
        Ok(Part {
            ids: part.customers.into_iter().map(|c| c.id.0).collect(),
            columns,
        })
    })?;
    let mut ids = Vec::new();
    let width = builtins.len() + declared.len();
    let mut per_column: Vec<Vec<Column>> = (0..width).map(|_| Vec::new()).collect();
    for part in parts {
        ids.extend(part.ids);
        for (i, c) in part.columns.into_iter().enumerate() {
            per_column[i].push(c);
        }
    }
    let mut table = Table::new(ids);
    let names_types = builtins
        .iter()
        .map(|b| (b.name, b.ty()))
        .chain(declared.iter().map(|(n, d)| (*n, d.ty())));
    for ((name, ty), parts) in names_types.zip(per_column) {
        table.insert(name, Column::concat(ty, parts));
    }
    Ok((table, run))
}

/// The cache of declared features' columns (per partition).
const DECLARED_CACHE: &str = "declared.v1";

/// A partition's declared-feature columns, as cached: valid for the ledger stamp it is
/// stored with and the `key` (the declared features, the as-of date and the partition's
/// customer ids).
#[derive(Serialize, Deserialize)]
struct CachedColumns {
    key: u64,
    columns: Vec<Stored>,
}

/// A column as cached: decimals as their 16-byte form, dates as days from the common era.
#[derive(Serialize, Deserialize)]
enum Stored {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Decimal(Vec<Option<[u8; 16]>>),
    Date(Vec<Option<i32>>),
    Text(Vec<u32>, Vec<String>),
    List(Vec<Vec<String>>),
}

impl Stored {
    fn of(c: &Column) -> Stored {
        match c {
            Column::Bool(v) => Stored::Bool(v.clone()),
            Column::Int(v) => Stored::Int(v.clone()),
            Column::Decimal(v) => {
                Stored::Decimal(v.iter().map(|d| d.map(|d| d.serialize())).collect())
            }
            Column::Date(v) => {
                Stored::Date(v.iter().map(|d| d.map(|d| d.num_days_from_ce())).collect())
            }
            Column::Text(codes, dict) => {
                Stored::Text(codes.clone(), dict.iter().map(|s| s.to_string()).collect())
            }
            Column::List(v) => Stored::List(
                v.iter()
                    .map(|l| l.iter().map(|s| s.to_string()).collect())
                    .collect(),
            ),
        }
    }

    /// The column, if the cached form is sound.
    fn column(self) -> Option<Column> {
        Some(match self {
            Stored::Bool(v) => Column::Bool(v),
            Stored::Int(v) => Column::Int(v),
            Stored::Decimal(v) => {
                Column::Decimal(v.into_iter().map(|d| d.map(Decimal::deserialize)).collect())
            }
            Stored::Date(v) => Column::Date(
                v.into_iter()
                    .map(|d| match d {
                        None => Some(None),
                        Some(d) => NaiveDate::from_num_days_from_ce_opt(d).map(Some),
                    })
                    .collect::<Option<_>>()?,
            ),
            Stored::Text(codes, dict) => {
                if codes
                    .iter()
                    .any(|&c| c != u32::MAX && c as usize >= dict.len())
                {
                    return None;
                }
                Column::Text(codes, dict.iter().map(|s| s.as_str().into()).collect())
            }
            Stored::List(v) => Column::List(
                v.iter()
                    .map(|l| l.iter().map(|s| s.as_str().into()).collect())
                    .collect(),
            ),
        })
    }
}

/// A stable 64-bit hash (FNV-1a), for cache keys kept on disk.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The declared features' columns of a partition: from the cache when it is current,
/// else accumulated from the partition's ledger entries (and cached).
fn declared_columns(
    store: &Store,
    part: &PartitionRows,
    declared: &[(&str, &ledgerlens_rules::Declared)],
    as_of: NaiveDate,
) -> Result<Vec<Column>, Error> {
    if declared.is_empty() || part.customers.is_empty() {
        return Ok(declared
            .iter()
            .map(|(_, d)| Column::from_values(d.ty(), part.customers.iter().map(|_| Value::Null)))
            .collect());
    }
    let mut key = fnv(
        0xcbf2_9ce4_8422_2325,
        format!("{as_of}|{declared:?}").as_bytes(),
    );
    for c in &part.customers {
        key = fnv(key, c.id.as_str().as_bytes());
        key = fnv(key, &[0]);
    }
    // A partition without entries has nothing to cache: its sums and counts are zero.
    if let Some(stamp) = part.stamp {
        if let Some((cached_stamp, cached)) =
            store.cached::<CachedColumns>(DECLARED_CACHE, part.partition)?
        {
            if cached_stamp == stamp && cached.key == key && cached.columns.len() == declared.len()
            {
                let columns: Option<Vec<Column>> =
                    cached.columns.into_iter().map(Stored::column).collect();
                if let Some(columns) =
                    columns.filter(|c| c.iter().all(|c| c.len() == part.customers.len()))
                {
                    return Ok(columns);
                }
            }
        }
    }
    let rows = &part.customers;
    let mut accs: Vec<Accumulator<'_>> = declared
        .iter()
        .map(|(_, d)| Accumulator::new(d, as_of, rows.len()))
        .collect();
    // A block holds its entries grouped by customer: look the row up only when the
    // customer changes (rows are sorted by id: a binary search).
    let mut last: Option<(String, Option<usize>)> = None;
    store.for_each_entry(part.partition, |customer, e, _| {
        let row = match &last {
            Some((id, row)) if id == customer => *row,
            _ => {
                let row = rows.binary_search_by(|c| c.id.as_str().cmp(customer)).ok();
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
    })?;
    let columns: Vec<Column> = declared
        .iter()
        .zip(accs)
        .map(|((_, d), acc)| Column::from_values(d.ty(), acc.finish()))
        .collect();
    if let Some(stamp) = part.stamp {
        let cached = CachedColumns {
            key,
            columns: columns.iter().map(Stored::of).collect(),
        };
        store.put_cached(DECLARED_CACHE, part.partition, stamp, &cached)?;
    }
    Ok(columns)
}
