//! Running a compiled rule pack over the stored ledgers.
//!
//! The customer table the rules see has one row per customer of the master (partition
//! by partition, customers sorted by id within a partition), with the built-in features
//! and master fields the pack reads ([`input_schema`]), and one column per declared
//! feature, accumulated natively from the partition's ledger entries. Spend and budgets
//! come from the store's facts.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlens_model::Customer;
use ledgerlens_rules::{
    Accumulator, Column, ColumnBuilder, Concat, EntryView, Facts, Input, Keep, ModelFit, Outcome,
    PeriodAccumulator, PeriodState, PeriodTotals, Program, RuleDiagnostic, Table, Type, Value,
    MODEL_OUTPUTS,
};
use ledgerlens_store::{IVec, Store};
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::features::{map_partition_rows, FeatureRun, Features, PartitionRows};
use crate::overlay::Overlay;
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

/// Money, with its cents (a source may write whole yuan: 300 is 300.00).
fn money(mut d: Decimal) -> Decimal {
    if d.scale() < 2 {
        d.rescale(2);
    }
    d
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "revenue",
        get: Get::Decimal(|f| Some(money(f.revenue))),
    },
    Builtin {
        name: "refunds",
        get: Get::Decimal(|f| Some(money(f.refunds))),
    },
    Builtin {
        name: "discounts",
        get: Get::Decimal(|f| Some(money(f.discounts))),
    },
    Builtin {
        name: "net_revenue",
        get: Get::Decimal(|f| Some(money(f.net_revenue))),
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
        get: Get::Decimal(|f| f.avg_order_value.map(money)),
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
        get: Get::Decimal(|f| Some(money(f.receivables))),
    },
    Builtin {
        name: "cogs",
        get: Get::Decimal(|f| Some(money(f.cogs))),
    },
    Builtin {
        name: "cost_to_serve",
        get: Get::Decimal(|f| Some(money(f.cost_to_serve))),
    },
    Builtin {
        name: "gross_margin",
        get: Get::Decimal(|f| Some(money(f.gross_margin))),
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
        name: "campaign",
        get: Get::MasterText(|c| c.campaign.as_deref()),
    },
    Builtin {
        name: "first_seen",
        get: Get::MasterDate(|c| c.first_seen),
    },
    Builtin {
        name: "credit_limit",
        get: Get::MasterDecimal(|c| c.credit_limit.map(money)),
    },
    Builtin {
        name: "tags",
        get: Get::Tags,
    },
];

/// The columns every customer has for rules: the built-in features (see
/// [`Features`]) and the master fields `name`, `phone`, `region`, `channel` and `campaign`
/// (acquisition channel and campaign), `first_seen`, `credit_limit` and `tags`.
///
/// The predictions of the pack's model (`p_alive`, `expected_purchases`,
/// `expected_spend`, `clv`: [`ledgerlens_rules::MODEL_OUTPUTS`]) are columns too, computed
/// when the pack has a `model:` rule (the compiler refuses them otherwise).
pub fn input_schema() -> BTreeMap<String, Type> {
    BUILTINS
        .iter()
        .map(|b| (b.name.to_string(), b.ty()))
        .chain(MODEL_OUTPUTS.iter().map(|n| (n.to_string(), Type::Decimal)))
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
    run_pack_with_progress(store, program, as_of, keep, &|_, _| {})
}

/// [`run_pack`], calling `progress(done, total)` as each partition of the customer table
/// is built (from any thread; the rules' evaluation follows the last one).
pub fn run_pack_with_progress(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
    keep: Keep,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Outcome, RunReport), Error> {
    let started = std::time::Instant::now();
    let (table, periods, features, model) = customer_table(store, program, as_of, progress)?;
    tracing::info!(customers = table.len(), elapsed = ?started.elapsed(), "customer table built");
    let mut facts = store.facts()?;
    // As of a date: spend up to it, budgets and cost pools of periods begun by then.
    facts.spend.retain(|s| s.date <= as_of);
    facts.budgets.retain(|b| b.period.start() <= as_of);
    facts.cost_pools.retain(|p| p.period.start() <= as_of);
    let mut outcome = program.evaluate_keeping(
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
    if let Some(model) = model {
        outcome.model = model.fit;
        outcome.diagnostics.extend(model.diagnostics);
        outcome.diagnostics.sort();
    }
    Ok((outcome, RunReport { features }))
}

/// The pack's model as fitted for a run: the fit, and its problems as diagnostics of the
/// model rule.
pub struct ModelRun {
    /// The fit, if the purchase-count model could be fitted.
    pub fit: Option<ModelFit>,
    /// What went wrong (a fit that failed, histories it could not predict).
    pub diagnostics: Vec<RuleDiagnostic>,
}

/// One partition's slice of the table, and its ledger's totals by period: computed, or
/// as cached (still encoded; decoded column by column into the table, so that no
/// partition's columns are held decoded beside the table's).
struct Part {
    rows: usize,
    ids: Ids,
    columns: Vec<Cell>,
    periods: PeriodState,
}

/// A partition's customer ids.
enum Ids {
    Built(Vec<String>),
    /// A `Vec<&str>`, encoded.
    Cached(IVec),
}

impl Ids {
    /// The ids (none if the encoded form does not decode; it was checked when read).
    fn list(&self) -> Vec<&str> {
        match self {
            Ids::Built(ids) => ids.iter().map(String::as_str).collect(),
            Ids::Cached(bytes) => postcard::from_bytes(bytes).unwrap_or_default(),
        }
    }
}

/// A partition's column.
enum Cell {
    Built(Column),
    /// A [`Stored`] column, encoded.
    Cached(IVec),
}

/// The cache of a partition's slice of the customer table (cache tree key `table.v1`).
const TABLE_CACHE: &str = "table.v1";

/// The version of how the cached columns are computed, part of the cache key: a change
/// to how a built-in column is read (e.g. money with its cents) must bump it.
const TABLE_FORMAT: u32 = 4;

/// A partition's slice of the table and its totals by period, as cached: valid for its
/// `key`, a stable hash of what it was computed from (the input columns, declared
/// features and period shapes, the activity counts they read, the as-of date, the
/// partition's ledger stamp and its encoded customer master). The ids (a `Vec<&str>`)
/// and each column (a [`Stored`]) are encoded on their own, so that a reader can
/// decode one column of every partition at a time.
#[derive(Serialize, Deserialize)]
struct CachedPart<'a> {
    key: u64,
    #[serde(borrow)]
    ids: &'a [u8],
    #[serde(borrow)]
    columns: Vec<&'a [u8]>,
    periods: PeriodState,
}

/// A date, compactly.
#[derive(Serialize, Deserialize)]
struct Day(#[serde(with = "ledgerlens_model::compact::opt_date")] Option<NaiveDate>);

/// A column as cached. Decimals, the most of a table, are packed by hand
/// ([`pack_decimals`]): decoding them through serde value by value took a tenth of a
/// cached run's time.
#[derive(Serialize, Deserialize)]
enum Stored<'a> {
    Bool(Vec<Option<bool>>),
    Int(Vec<Option<i64>>),
    Decimal(#[serde(borrow)] Cow<'a, [u8]>),
    Date(Vec<Day>),
    Text(Vec<u32>, Vec<String>),
    List(Vec<Vec<String>>),
}

impl Stored<'_> {
    fn of(c: &Column) -> Stored<'static> {
        match c {
            Column::Bool(v) => Stored::Bool(v.clone()),
            Column::Int(v) => Stored::Int(v.clone()),
            Column::Decimal(v) => Stored::Decimal(Cow::Owned(pack_decimals(v))),
            Column::Date(v) => Stored::Date(v.iter().map(|d| Day(*d)).collect()),
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

    /// The column of `rows` rows, if the cached form is sound.
    fn column(self, rows: usize) -> Option<Column> {
        let column = match self {
            Stored::Bool(v) => Column::Bool(v),
            Stored::Int(v) => Column::Int(v),
            Stored::Decimal(bytes) => Column::Decimal(unpack_decimals(&bytes, rows)?),
            Stored::Date(v) => Column::Date(v.into_iter().map(|d| d.0).collect()),
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
        };
        (column.len() == rows).then_some(column)
    }
}

/// The scale byte of a null in [`pack_decimals`] (a decimal's scale is at most 28).
const NULL_DECIMAL: u8 = 0xff;

/// Decimals packed: per value its scale (one byte; [`NULL_DECIMAL`] for a null) and,
/// unless null, its mantissa as a zigzag LEB128 varint (cents of everyday amounts take
/// one to four bytes).
fn pack_decimals(values: &[Option<Decimal>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for v in values {
        let Some(d) = v else {
            out.push(NULL_DECIMAL);
            continue;
        };
        out.push(d.scale() as u8);
        let m = d.mantissa();
        let mut z = ((m << 1) ^ (m >> 127)) as u128;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    out
}

/// The decimals of [`pack_decimals`], if the bytes are sound.
fn unpack_decimals(mut bytes: &[u8], rows: usize) -> Option<Vec<Option<Decimal>>> {
    let mut out = Vec::with_capacity(rows);
    while let Some((&scale, rest)) = bytes.split_first() {
        bytes = rest;
        if scale == NULL_DECIMAL {
            out.push(None);
            continue;
        }
        let mut z = 0u128;
        let mut shift = 0;
        loop {
            let (&b, rest) = bytes.split_first()?;
            bytes = rest;
            if shift > 126 {
                return None;
            }
            z |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let m = (z >> 1) as i128 ^ -((z & 1) as i128);
        out.push(Some(
            Decimal::try_from_i128_with_scale(m, u32::from(scale)).ok()?,
        ));
    }
    Some(out)
}

/// A stable 64-bit hash (FNV-1a), for cache keys kept on disk.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The customer table for a program (the inputs it reads and its declared features), and
/// the ledger's totals by period its KPIs by period read. Each partition's share is
/// cached, so that a run over unchanged data reads neither the ledger nor the aggregates
/// nor the master records. `progress(done, total)` is called as each partition's share
/// is read or computed.
///
/// When the pack has a `model:` rule whose predictions a rule reads, each partition also
/// summarizes its customers' purchases (cached with it), and one fit over all of them
/// gives the prediction columns (the crate's `model` module).
pub fn customer_table(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Table, PeriodTotals, FeatureRun, Option<ModelRun>), Error> {
    match build_table(store, program, as_of, true, progress)? {
        Some(built) => Ok(built),
        None => {
            tracing::warn!("a cached table column did not decode: recomputing the table");
            build_table(store, program, as_of, false, progress)?
                .ok_or_else(|| Error::Invariant("a computed table column is unsound".into()))
        }
    }
}

/// What [`customer_table`] gives.
type Built = (Table, PeriodTotals, FeatureRun, Option<ModelRun>);

/// [`customer_table`], reading the cache when `use_cache`; `None` when a cached column
/// turns out unsound (the caller builds again without the cache).
fn build_table(
    store: &Store,
    program: &Program,
    as_of: NaiveDate,
    use_cache: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Option<Built>, Error> {
    let shapes = program.period_shapes();
    let model = program
        .model()
        .filter(|_| MODEL_OUTPUTS.iter().any(|n| program.inputs.contains(*n)));
    let model_end = model.map(|(_, def)| crate::model::calibration_end(def, as_of));
    let summaries = if model.is_some() {
        crate::model::SUMMARY_COLUMNS
    } else {
        0
    };
    let overlay = Overlay::load(store)?;
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
    let width = builtins.len() + declared.len() + summaries;
    let names: Vec<&str> = builtins.iter().map(|b| b.name).collect();
    let what = fnv(
        0xcbf2_9ce4_8422_2325,
        format!(
            "{TABLE_FORMAT}|{as_of}|{names:?}|{declared:?}|{shapes:?}|{activities:?}|{model_end:?}"
        )
        .as_bytes(),
    );
    let key = |partition: u32, stamp: Option<u64>| -> Result<u64, Error> {
        let master = store.customers_bytes(partition)?;
        let key = fnv(what, &stamp.map_or(u64::MAX, |s| s).to_le_bytes());
        Ok(fnv(key, master.as_deref().unwrap_or_default()))
    };
    // Progress: a partition is done when its slice comes from the cache or is computed.
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = store.partitions() as usize;
    let tick = || {
        progress(
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            total,
        )
    };
    // A cached partition is checked (key, width, ids) and kept encoded.
    let cached = |partition: u32, stamp: Option<u64>| -> Result<Option<Part>, Error> {
        if !use_cache {
            return Ok(None);
        }
        let Some((_, bytes)) = store.cached_bytes(TABLE_CACHE, partition)? else {
            return Ok(None);
        };
        let Ok(c) = postcard::from_bytes::<CachedPart<'_>>(&bytes) else {
            return Ok(None);
        };
        if c.key != key(partition, stamp)? || c.columns.len() != width {
            return Ok(None);
        }
        let Ok(ids) = postcard::from_bytes::<Vec<&str>>(c.ids) else {
            return Ok(None);
        };
        // The pieces as slices of the value read (no copy).
        let piece = |p: &[u8]| {
            let at = p.as_ptr() as usize - bytes.as_ptr() as usize;
            bytes.subslice(at, p.len())
        };
        tick();
        Ok(Some(Part {
            rows: ids.len(),
            ids: Ids::Cached(piece(c.ids)),
            columns: c.columns.iter().map(|p| Cell::Cached(piece(p))).collect(),
            periods: c.periods,
        }))
    };
    let (parts, run) = map_partition_rows(store, as_of, cached, |part| -> Result<Part, Error> {
        let mut columns: Vec<Column> = builtins
            .iter()
            .map(|b| b.column(&part.customers, &part.features))
            .collect();
        let scanned = scan_ledger(
            store,
            &overlay,
            &part,
            &declared,
            &shapes,
            &activities_of,
            as_of,
            model_end,
        )?;
        columns.extend(scanned.0);
        let ids: Vec<String> = part.customers.into_iter().map(|c| c.id.0).collect();
        let encode = |what: &str, bytes: postcard::Result<Vec<u8>>| {
            bytes.map_err(|e| Error::Invariant(format!("encoding the table cache's {what}: {e}")))
        };
        let id_bytes = encode("ids", postcard::to_allocvec(&ids))?;
        let column_bytes = columns
            .iter()
            .map(|c| encode("columns", postcard::to_allocvec(&Stored::of(c))))
            .collect::<Result<Vec<Vec<u8>>, Error>>()?;
        let cached = CachedPart {
            key: key(part.partition, part.stamp)?,
            ids: &id_bytes,
            columns: column_bytes.iter().map(Vec::as_slice).collect(),
            periods: scanned.1,
        };
        store.put_cached(TABLE_CACHE, part.partition, 0, &cached)?;
        tick();
        Ok(Part {
            rows: ids.len(),
            ids: Ids::Built(ids),
            columns: columns.into_iter().map(Cell::Built).collect(),
            periods: cached.periods,
        })
    })?;
    let rows: usize = parts.iter().map(|p| p.rows).sum();
    let mut periods = PeriodAccumulator::new(&shapes, as_of);
    let mut id_parts = Vec::with_capacity(parts.len());
    let mut per_column: Vec<Vec<(usize, Cell)>> = (0..width).map(|_| Vec::new()).collect();
    for part in parts {
        periods.merge_state(part.periods);
        for (i, c) in part.columns.into_iter().enumerate() {
            per_column[i].push((part.rows, c));
        }
        id_parts.push(part.ids);
    }
    // The model's purchase summaries come last (see crate::model::summarize_partition).
    let summary_types = [Type::Int, Type::Date, Type::Date, Type::Decimal];
    let types: Vec<(&str, Type)> = builtins
        .iter()
        .map(|b| (b.name, b.ty()))
        .chain(declared.iter().map(|(n, d)| (*n, d.ty())))
        .chain(summary_types.iter().take(summaries).map(|t| ("", *t)))
        .collect();
    // Column by column, on both cores: each partition's piece decoded and appended.
    let (ids, columns) = rayon::join(
        || {
            let mut ids = Vec::with_capacity(rows);
            for part in &id_parts {
                ids.extend(part.list());
            }
            Table::new(ids)
        },
        || -> Option<Vec<Column>> {
            per_column
                .into_par_iter()
                .zip(&types)
                .map(|(cells, &(_, ty))| {
                    let mut out = Concat::new(ty, rows);
                    for (rows, cell) in cells {
                        let column = match cell {
                            Cell::Built(c) => c,
                            Cell::Cached(bytes) => postcard::from_bytes::<Stored>(&bytes)
                                .ok()
                                .and_then(|s| s.column(rows))
                                .filter(|c| c.ty() == ty)?,
                        };
                        out.push(column);
                    }
                    Some(out.finish())
                })
                .collect()
        },
    );
    let (mut table, Some(columns)) = (ids, columns) else {
        return Ok(None);
    };
    if table.len() != rows {
        return Ok(None);
    }
    let mut columns = columns;
    let summary = columns.split_off(width - summaries);
    for ((name, _), column) in types.iter().zip(columns) {
        table.insert(name, column);
    }
    let model = match (model, model_end) {
        (Some((rule, def)), Some(end)) => {
            let started = std::time::Instant::now();
            let predicted = crate::model::predict(rule, def, end, &summary);
            tracing::info!(elapsed = ?started.elapsed(), "model fitted and predicted");
            for (name, column) in MODEL_OUTPUTS.iter().zip(predicted.columns) {
                table.insert(name, column);
            }
            let at = program.rule(rule).map_or_else(String::new, |r| {
                format!("{}:{}:{}", r.span.file, r.span.line, r.span.column)
            });
            let diagnostics = predicted
                .problems
                .into_iter()
                .map(|(code, message, count)| RuleDiagnostic {
                    rule: rule.to_string(),
                    code,
                    at: at.clone(),
                    message,
                    count,
                    example: String::new(),
                })
                .collect();
            Some(ModelRun {
                fit: predicted.fit,
                diagnostics,
            })
        }
        _ => None,
    };
    Ok(Some((table, periods.finish(), run, model)))
}

/// The declared features' columns of a partition and its totals by period, accumulated
/// from its ledger entries (and activity counts).
#[allow(clippy::too_many_arguments)] // one call site; each argument is a different input
fn scan_ledger(
    store: &Store,
    overlay: &Overlay,
    part: &PartitionRows,
    declared: &[(&str, &ledgerlens_rules::Declared)],
    shapes: &[ledgerlens_rules::periods::Shape],
    activities_of: &rustc_hash::FxHashMap<&str, Vec<&ledgerlens_model::Activity>>,
    as_of: NaiveDate,
    model_end: Option<NaiveDate>,
) -> Result<(Vec<Column>, PeriodState), Error> {
    let rows = &part.customers;
    let mut periods = PeriodAccumulator::new(shapes, as_of);
    if (declared.is_empty() && periods.is_empty() && model_end.is_none()) || rows.is_empty() {
        let mut columns: Vec<Column> = declared
            .iter()
            .map(|(_, d)| Column::from_values(d.ty(), rows.iter().map(|_| Value::Null)))
            .collect();
        if let Some(end) = model_end {
            columns.extend(crate::model::summarize_partition(
                rows.len(),
                Vec::new(),
                end,
            ));
        }
        return Ok((columns, periods.state()));
    }
    let mut purchases = Vec::new();
    let mut accs: Vec<Accumulator<'_>> = declared
        .iter()
        .map(|(_, d)| Accumulator::new(d, as_of, rows.len()))
        .collect();
    // A block holds its entries grouped by customer: look the row up only when the
    // customer changes (rows are sorted by id: a binary search).
    let mut last: Option<(String, Option<usize>)> = None;
    overlay.for_each_entry(store, part.partition, |customer, e, _| {
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
        if model_end.is_some() {
            if let Some(value) = crate::model::purchase_value(customer, e.kind, e.amount) {
                purchases.push((row as u32, e.date, value));
            }
        }
        if !periods.is_empty() {
            let c = &rows[row];
            periods.push(&view, |key| match key {
                "channel" => c.channel.as_deref(),
                "campaign" => c.campaign.as_deref(),
                "region" => c.region.as_deref(),
                _ => None,
            });
        }
    })?;
    for (row, c) in rows.iter().enumerate() {
        for a in activities_of.get(c.id.as_str()).into_iter().flatten() {
            for acc in &mut accs {
                acc.push_activity(row, &a.activity, a.date, a.count);
            }
        }
    }
    let mut columns: Vec<Column> = declared
        .iter()
        .zip(accs)
        .map(|((_, d), acc)| Column::from_values(d.ty(), acc.finish()))
        .collect();
    if let Some(end) = model_end {
        columns.extend(crate::model::summarize_partition(
            rows.len(),
            purchases,
            end,
        ));
    }
    Ok((columns, periods.state()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_decimals_round_trip_with_their_scales() {
        let values = vec![
            Some(Decimal::new(30000, 2)),
            None,
            Some(Decimal::new(-1, 0)),
            Some(Decimal::new(12345678, 7)),
            Some(Decimal::MAX),
            Some(Decimal::MIN),
            Some(Decimal::new(0, 3)),
            None,
        ];
        let packed = pack_decimals(&values);
        let back = unpack_decimals(&packed, values.len()).unwrap_or_default();
        assert_eq!(back, values);
        let scales: Vec<Option<u32>> = back.iter().map(|d| d.map(|d| d.scale())).collect();
        assert_eq!(
            scales,
            [
                Some(2),
                None,
                Some(0),
                Some(7),
                Some(0),
                Some(0),
                Some(3),
                None
            ]
        );
        // A truncated value is unsound, not a panic.
        assert_eq!(unpack_decimals(&packed[..packed.len() - 2], 8), None);
    }
}
