//! `report`: one self-contained HTML file of a rule run (drawn by `ledgerlens-report`).
//!
//! This module turns the rules engine's outcome into the report crate's plain data:
//! segment sizes with the revenue and profit of their customers, KPI values, alerts,
//! every customer's profit (the whale curve) and the top and bottom customers in detail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use ledgerlens_report as report;
use ledgerlens_rules::{pack::Kind, Column, Keep, Outcome, Program, Table, Value};
use rust_decimal::Decimal;

use crate::app::{data_as_of, Context};

/// The report file written into the project folder when `--out` is not given.
pub const DEFAULT_FILE: &str = "ledgerlens-report.html";

/// Per-customer profit measures, first found wins (the whale curve and the customer
/// lists use it).
const PROFIT_MEASURES: [&str; 2] = ["net_profit", "profit"];

/// The net revenue measure summed per segment label.
const REVENUE_MEASURE: &str = "net_revenue";

/// Columns a report shows besides segments and per-customer KPIs: the measures above and
/// what a customer's detail shows, when the pack has them.
const SHOWN: &[&str] = &[
    "net_profit",
    "profit",
    "net_revenue",
    "gross_margin",
    "orders",
    "recency_days",
    "receivables",
    "refund_rate",
    "channel",
    "region",
];

/// What a large run keeps: the outputs and [`SHOWN`] (each kept column costs memory on
/// large tables: about 50 MB per decimal column at 2.36M customers).
const KEEP: Keep = Keep::OutputsAnd(SHOWN);

/// Up to this many customers, the report keeps every column of the run, so that the
/// listed customers' sections show why they have each segment label (the explain trace);
/// above it, the sections show their labels and values only.
pub const TRACE_LIMIT: u64 = 100_000;

/// What a report's run keeps, for the number of customers in the store: everything (for
/// the traces) up to [`TRACE_LIMIT`], else [`KEEP`].
pub fn keep(store: &ledgerlens_store::Store) -> anyhow::Result<Keep> {
    Ok(if traced(store.stats()?.customers) {
        Keep::All
    } else {
        KEEP
    })
}

fn traced(customers: u64) -> bool {
    customers <= TRACE_LIMIT
}

/// Customers listed at each end (top and bottom by profit).
const LISTED: usize = 20;

/// Options of `report`.
pub struct Options<'a> {
    pub pack: Option<&'a Path>,
    pub as_of: Option<NaiveDate>,
    pub out: Option<&'a Path>,
}

/// Where the report goes by default: the project folder, else the current folder.
pub fn default_path(ctx: &Context) -> PathBuf {
    match &ctx.project {
        Some((dir, _)) => dir.join(DEFAULT_FILE),
        None => PathBuf::from(DEFAULT_FILE),
    }
}

/// `report`: runs the pack and writes the report; returns its path.
pub fn run(ctx: &Context, opts: &Options<'_>) -> anyhow::Result<PathBuf> {
    let program = crate::rules::load(Some(ctx), opts.pack)?;
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::existing())?;
    let as_of = match opts.as_of {
        Some(d) => d,
        None => data_as_of(&store)?,
    };
    let (bar, progress) =
        crate::progress::partitions(format!("running pack {}", program.name), store.partitions());
    let keep = keep(&store)?;
    let ran = ledgerlens_pipeline::run_pack_with_progress(&store, &program, as_of, keep, &progress);
    bar.finish_and_clear();
    let (outcome, _) = ran?;
    let path = opts
        .out
        .map_or_else(|| default_path(ctx), Path::to_path_buf);
    let title = title(ctx);
    write(&path, &store, &program, &outcome, &title)?;
    Ok(path)
}

/// The title: the project folder's name.
pub fn title(ctx: &Context) -> String {
    ctx.project
        .as_ref()
        .and_then(|(dir, _)| {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            dir.file_name().map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// Builds the report of an outcome (run with [`keep`]) and writes it to `path`, whole
/// (a temporary file renamed into place).
pub fn write(
    path: &Path,
    store: &ledgerlens_store::Store,
    program: &Program,
    outcome: &Outcome,
    title: &str,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let data = build(store, program, outcome, title)?;
    tracing::info!(elapsed = ?started.elapsed(), "report data gathered");
    let html = report::render(&data);
    tracing::info!(elapsed = ?started.elapsed(), bytes = html.len(), "report rendered");
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".ledgerlens-report");
    #[cfg(unix)]
    {
        // Readable like any file written with the umask (a temporary file is 0600).
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, html.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn build(
    store: &ledgerlens_store::Store,
    program: &Program,
    outcome: &Outcome,
    title: &str,
) -> anyhow::Result<report::Report> {
    let started = std::time::Instant::now();
    let stats = store.stats()?;
    tracing::debug!(elapsed = ?started.elapsed(), "store stats");
    let table = &outcome.table;
    let measure = PROFIT_MEASURES
        .iter()
        .copied()
        .find(|m| matches!(table.column(m), Some(Column::Decimal(_))));
    let profit_col = measure.and_then(|m| match table.column(m) {
        Some(Column::Decimal(v)) => Some(v.as_slice()),
        _ => None,
    });
    let revenue_col = match table.column(REVENUE_MEASURE) {
        Some(Column::Decimal(v)) => Some(v.as_slice()),
        _ => None,
    };
    let segment_names: Vec<&str> = program
        .customer_columns()
        .filter(|(_, k)| *k == Kind::Segment)
        .map(|(n, _)| n)
        .collect();
    let mut sums = BTreeMap::<(String, String), (Decimal, Decimal)>::new();
    for name in &segment_names {
        if let Some(col) = table.column(name) {
            for (label, s) in label_sums(table, col, revenue_col, profit_col) {
                sums.insert(((*name).to_string(), label), s);
            }
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "revenue and profit per segment label");
    let segments = outcome
        .segments
        .iter()
        .map(|s| {
            let sum = sums.get(&(s.segment.clone(), s.label.clone()));
            report::Segment {
                segment: s.segment.clone(),
                label: s.label.clone(),
                customers: s.customers,
                action: s.action.clone(),
                revenue: revenue_col.and(sum.map(|v| v.0)),
                profit: profit_col.and(sum.map(|v| v.1)),
            }
        })
        .collect();
    let kpis = outcome
        .kpis
        .iter()
        .map(|k| report::Kpi {
            name: k.kpi.clone(),
            group: k.group.clone(),
            value: k.value.as_decimal(),
            text: text(&k.value),
            unit: k.unit.clone(),
        })
        .collect();
    let alerts = outcome
        .alerts
        .iter()
        .map(|a| report::Alert {
            name: a.alert.clone(),
            level: report::Level::parse(a.level.name()).unwrap_or_default(),
            subject: a.subject.clone(),
            value: text(&a.value),
            threshold: a.threshold.clone(),
            kpi: a.kpi.clone(),
        })
        .collect();
    let ids = table.ids();
    let (profits, top, bottom) = match profit_col {
        Some(col) => {
            // Customers with a profit, and their rows in the table.
            let (rows, table_rows): (Vec<(&str, Decimal)>, Vec<usize>) = col
                .iter()
                .zip(ids)
                .enumerate()
                .filter_map(|(row, (p, id))| p.map(|p| ((id.as_str(), p), row)))
                .unzip();
            let (top, bottom) = report::extremes(&rows, LISTED);
            tracing::debug!(elapsed = ?started.elapsed(), "top and bottom customers");
            let overlay = ledgerlens_pipeline::Overlay::load(store)?;
            let traced = traced(stats.customers);
            let mut describe = |i: usize| -> anyhow::Result<report::CustomerDetail> {
                let row = table_rows[i];
                let mut detail = detail(store, &overlay, program, table, row, rows[i].1)?;
                if traced {
                    detail.trace = trace(program, outcome, row);
                }
                Ok(detail)
            };
            let top = top
                .into_iter()
                .map(&mut describe)
                .collect::<Result<_, _>>()?;
            let bottom = bottom
                .into_iter()
                .map(&mut describe)
                .collect::<Result<_, _>>()?;
            tracing::debug!(elapsed = ?started.elapsed(), "customer details");
            (rows.into_iter().map(|(_, p)| p).collect(), top, bottom)
        }
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    Ok(report::Report {
        title: title.to_string(),
        as_of: Some(outcome.as_of),
        pack: report::PackInfo {
            name: program.name.clone(),
            version: program.version.clone(),
            chain: program.chain.clone(),
        },
        imports: report::ImportSummary {
            imports: stats.imports,
            rows_read: stats.rows_read,
            entries: stats.entries,
            quarantined: stats.quarantined,
            first_date: stats.min_date,
        },
        customers: outcome.customers as u64,
        segments,
        kpis,
        alerts,
        profit_measure: measure.unwrap_or_default().to_string(),
        profits,
        top,
        bottom,
    })
}

/// A value as the report prints it (null: empty).
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// The label of a segment value, as the rules engine names it in segment sizes.
fn label(v: Value) -> Vec<String> {
    match v {
        Value::Null => vec!["(none)".into()],
        Value::List(l) if l.is_empty() => vec!["(none)".into()],
        Value::List(l) => l.into_iter().map(|s| s.to_string()).collect(),
        v => vec![v.to_string()],
    }
}

/// Revenue and profit summed per label of one segment column (a customer with several
/// labels counts under each).
fn label_sums(
    table: &Table,
    col: &Column,
    revenue: Option<&[Option<Decimal>]>,
    profit: Option<&[Option<Decimal>]>,
) -> BTreeMap<String, (Decimal, Decimal)> {
    let at = |c: Option<&[Option<Decimal>]>, row: usize| {
        c.and_then(|c| c.get(row).copied().flatten())
            .unwrap_or_default()
    };
    let mut out = BTreeMap::<String, (Decimal, Decimal)>::new();
    match col {
        Column::Text(codes, dict) => {
            let mut by_code = vec![(Decimal::ZERO, Decimal::ZERO); dict.len() + 1];
            for (row, &c) in codes.iter().enumerate() {
                let e = &mut by_code[(c as usize).min(dict.len())];
                e.0 += at(revenue, row);
                e.1 += at(profit, row);
            }
            for (i, s) in by_code.into_iter().enumerate() {
                let name = dict
                    .get(i)
                    .map_or_else(|| "(none)".to_string(), |s| s.to_string());
                let e = out.entry(name).or_default();
                e.0 += s.0;
                e.1 += s.1;
            }
        }
        Column::Int(values) => {
            // Few distinct labels (scores 1-5): a short list beats a map.
            let mut by_value: Vec<(Option<i64>, (Decimal, Decimal))> = Vec::new();
            for (row, v) in values.iter().enumerate() {
                let slot = match by_value.iter().position(|(k, _)| k == v) {
                    Some(p) => p,
                    None => {
                        by_value.push((*v, Default::default()));
                        by_value.len() - 1
                    }
                };
                let e = &mut by_value[slot].1;
                e.0 += at(revenue, row);
                e.1 += at(profit, row);
            }
            for (v, s) in by_value {
                let e = out
                    .entry(v.map_or_else(|| "(none)".to_string(), |i| i.to_string()))
                    .or_default();
                e.0 += s.0;
                e.1 += s.1;
            }
        }
        Column::List(values) => {
            let mut by_label: Vec<(&str, (Decimal, Decimal))> = Vec::new();
            for (row, labels) in values.iter().enumerate() {
                let (r, p) = (at(revenue, row), at(profit, row));
                let names: &mut dyn Iterator<Item = &str> = if labels.is_empty() {
                    &mut std::iter::once("(none)")
                } else {
                    &mut labels.iter().map(|s| s.as_str())
                };
                for name in names {
                    match by_label.iter_mut().find(|(k, _)| *k == name) {
                        Some((_, e)) => {
                            e.0 += r;
                            e.1 += p;
                        }
                        None => by_label.push((name, (r, p))),
                    }
                }
            }
            for (name, s) in by_label {
                let e = out.entry(name.to_string()).or_default();
                e.0 += s.0;
                e.1 += s.1;
            }
        }
        _ => {
            let mut by_value = BTreeMap::<Value, (Decimal, Decimal)>::new();
            for row in 0..table.len() {
                let e = by_value.entry(col.get(row)).or_default();
                e.0 += at(revenue, row);
                e.1 += at(profit, row);
            }
            for (v, s) in by_value {
                for name in label(v) {
                    let e = out.entry(name).or_default();
                    e.0 += s.0;
                    e.1 += s.1;
                }
            }
        }
    }
    out
}

/// One customer's detail: name, segment labels, and every other kept value by name.
fn detail(
    store: &ledgerlens_store::Store,
    overlay: &ledgerlens_pipeline::Overlay,
    program: &Program,
    table: &Table,
    row: usize,
    profit: Decimal,
) -> anyhow::Result<report::CustomerDetail> {
    let id = table.ids()[row].to_string();
    let name = overlay.customer(store, &id)?.and_then(|c| c.name);
    let segments: std::collections::BTreeSet<&str> = program
        .customer_columns()
        .filter(|(_, k)| *k == Kind::Segment)
        .map(|(n, _)| n)
        .collect();
    let outputs: std::collections::BTreeSet<&str> = program
        .customer_columns()
        .filter(|(_, k)| matches!(k, Kind::Segment | Kind::Kpi))
        .map(|(n, _)| n)
        .collect();
    let mut labels = Vec::new();
    let mut values = Vec::new();
    // The outputs and the columns shown, whatever else the run kept. The table's schema
    // still names dropped columns; those have no column.
    let mut columns: Vec<(&str, &Column)> = table
        .schema()
        .filter(|(n, _)| outputs.contains(n) || SHOWN.contains(n))
        .filter_map(|(n, _)| table.column(n).map(|c| (n, c)))
        .collect();
    columns.sort_unstable_by_key(|(n, _)| *n);
    for (n, col) in columns {
        let v = col.get(row);
        if segments.contains(n) {
            labels.push((n.to_string(), label(v).join(", ")));
        } else {
            values.push((n.to_string(), text(&v)));
        }
    }
    Ok(report::CustomerDetail {
        id,
        name,
        profit: Some(profit),
        labels,
        values,
        trace: Vec::new(),
    })
}

/// Why the customer at `row` has each segment label: the segments' explanations (the
/// outcome must keep every column: [`keep`]).
fn trace(program: &Program, outcome: &Outcome, row: usize) -> Vec<report::Trace> {
    program
        .explain(outcome, row, None)
        .into_iter()
        .filter(|e| e.kind == Kind::Segment)
        .map(|e| report::Trace {
            rule: e.rule,
            value: label(e.value).join(", "),
            action: e.action,
            steps: e
                .steps
                .into_iter()
                .map(|s| report::TraceStep {
                    what: s.what,
                    result: s.result,
                    inputs: s
                        .inputs
                        .into_iter()
                        .map(|(k, v)| match v {
                            Value::Null => (k, "null".to_string()),
                            v => (k, text(&v)),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}
