//! `report`: one self-contained HTML file of a rule run (drawn by `ledgerlens-report`).
//!
//! This module turns the rules engine's outcome into the report crate's plain data:
//! segment sizes with the revenue and profit of their customers, KPI values, alerts,
//! every customer's profit (the whale curve) and the top and bottom customers in detail,
//! reduced to what the report draws ([`report::Digest`]).
//!
//! The digest is kept in the database ([`save_digest`], by `run` and `report`) under a
//! key of what it was computed from ([`digest_key`]): `report` on unchanged data, pack and
//! as-of date draws it without running the pack again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use ledgerlens_report as report;
use ledgerlens_rules::{pack::Kind, Column, Keep, Outcome, Program, Table, Value};
use rust_decimal::Decimal;

use crate::app::{data_as_of, Context};
use crate::rules::Fingerprint;

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

/// The name the report's digest is stored under in the database
/// ([`ledgerlens_store::Store::put_result`]).
const DIGEST: &str = "report";

/// The version of the stored digest's layout and of how it is computed: part of its key,
/// so a digest written by another version is never read as current.
const DIGEST_FORMAT: u32 = 1;

/// The key of a report's digest: a hash of what the report is computed from. The build
/// of ledgerlens (its version, and the executable's size and modification time, so a
/// rebuilt binary computes afresh), the pack's [`Fingerprint`] (rules, scripts,
/// parameters and their overrides), the as-of date, and the database's data state
/// (committed imports, identity decisions: [`ledgerlens_store::Store::data_state`]).
/// A digest stored under another key is stale and never drawn.
pub fn digest_key(
    store: &ledgerlens_store::Store,
    pack: Fingerprint,
    as_of: NaiveDate,
) -> anyhow::Result<[u8; 32]> {
    let mut h = blake3::Hasher::new();
    h.update(b"ledgerlens report digest\0");
    h.update(&DIGEST_FORMAT.to_le_bytes());
    h.update(build_id().as_bytes());
    h.update(&pack.0);
    h.update(as_of.to_string().as_bytes());
    let state = store.data_state()?;
    h.update(format!("{state:?}").as_bytes());
    Ok(*h.finalize().as_bytes())
}

/// This build of ledgerlens: its version, and the executable's size and modification
/// time when they can be read.
fn build_id() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .ok()
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{modified}", m.len())
        })
        .unwrap_or_default();
    format!("{}|{exe}", env!("CARGO_PKG_VERSION"))
}

/// Keeps the report's digest of a run (made with [`keep`]) in the database, so that
/// `report` on the same pack, as-of date and data draws it without running the pack. A
/// failure is logged, not returned: the run itself succeeded.
pub fn save_digest(
    store: &ledgerlens_store::Store,
    program: &Program,
    pack: Fingerprint,
    outcome: &Outcome,
) {
    let started = std::time::Instant::now();
    let saved = digest_key(store, pack, outcome.as_of).and_then(|key| {
        let d = digest(store, program, outcome)?;
        store.put_result(DIGEST, &key, &d)?;
        Ok(())
    });
    match saved {
        Ok(()) => tracing::info!(elapsed = ?started.elapsed(), "report digest saved"),
        Err(e) => tracing::warn!("the report digest was not saved: {e:#}"),
    }
}

/// `report`: draws the digest the last `run` or `report` kept when it is current (same
/// build, pack, as-of date and data), else runs the pack and keeps its digest; writes the
/// report and returns its path.
pub fn run(ctx: &Context, opts: &Options<'_>) -> anyhow::Result<PathBuf> {
    let (program, fingerprint) = crate::rules::load_fingerprinted(Some(ctx), opts.pack)?;
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::existing())?;
    let as_of = match opts.as_of {
        Some(d) => d,
        None => data_as_of(&store)?,
    };
    let key = digest_key(&store, fingerprint, as_of)?;
    let kept = store.result::<report::Digest>(DIGEST, &key)?;
    let mut digest = match kept {
        Some(d) => {
            tracing::info!("report drawn from the digest of an earlier run");
            d
        }
        None => {
            let (bar, progress) = crate::progress::partitions(
                format!("running pack {}", program.name),
                store.partitions(),
            );
            let keep = keep(&store)?;
            let ran = ledgerlens_pipeline::run_pack_with_progress(
                &store, &program, as_of, keep, &progress,
            );
            bar.finish_and_clear();
            let (outcome, _) = ran?;
            let d = digest(&store, &program, &outcome)?;
            if let Err(e) = store.put_result(DIGEST, &key, &d) {
                tracing::warn!("the report digest was not saved: {e}");
            }
            d
        }
    };
    let path = opts
        .out
        .map_or_else(|| default_path(ctx), Path::to_path_buf);
    digest.title = title(ctx);
    write_html(&path, &digest)?;
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
    let mut d = digest(store, program, outcome)?;
    d.title = title.to_string();
    write_html(path, &d)
}

/// Draws a digest and writes it to `path`, whole (a temporary file renamed into place).
fn write_html(path: &Path, digest: &report::Digest) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let html = digest.render();
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

/// What the report of an outcome (run with [`keep`]) draws, without a title: segment
/// sums, the whale curve, the alerts' summary and the top and bottom customers are
/// gathered side by side (rayon), each in one pass over the table.
fn digest(
    store: &ledgerlens_store::Store,
    program: &Program,
    outcome: &Outcome,
) -> anyhow::Result<report::Digest> {
    let started = std::time::Instant::now();
    let stats = store.stats()?;
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
    let ids = table.ids();
    let label_sums_all = || {
        let started = std::time::Instant::now();
        let sums = segment_sums(table, &segment_names, revenue_col, profit_col);
        tracing::debug!(elapsed = ?started.elapsed(), "revenue and profit per segment label");
        sums
    };
    let alert_summary = || {
        let started = std::time::Instant::now();
        let alerts: Vec<report::Alert> = outcome
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
        let summary = report::AlertSummary::new(&alerts);
        tracing::debug!(elapsed = ?started.elapsed(), alerts = alerts.len(), "alerts summarized");
        summary
    };
    // Customers with a profit: the whale curve, and the top and bottom (as rows of the
    // table, with their profit).
    let whale = || {
        let started = std::time::Instant::now();
        let profits: Vec<Decimal> = profit_col
            .map(|c| c.iter().filter_map(|p| *p).collect())
            .unwrap_or_default();
        let whale = report::whale_curve(&profits, report::whale::MAX_POINTS);
        tracing::debug!(elapsed = ?started.elapsed(), "whale curve");
        whale
    };
    type Listed = Vec<(usize, Decimal)>;
    let extremes = || -> (Listed, Listed) {
        let started = std::time::Instant::now();
        let Some(col) = profit_col else {
            return (Vec::new(), Vec::new());
        };
        let mut rows: Vec<(&str, Decimal)> = Vec::with_capacity(col.len());
        let mut table_rows: Vec<usize> = Vec::with_capacity(col.len());
        for (row, (p, id)) in col.iter().zip(ids).enumerate() {
            if let Some(p) = p {
                rows.push((id.as_str(), *p));
                table_rows.push(row);
            }
        }
        let (top, bottom) = report::extremes(&rows, LISTED);
        let at = |i: usize| (table_rows[i], rows[i].1);
        tracing::debug!(elapsed = ?started.elapsed(), "top and bottom customers");
        (
            top.into_iter().map(at).collect(),
            bottom.into_iter().map(at).collect(),
        )
    };
    let (sums, (alerts, (whale, (top, bottom)))) = rayon::join(label_sums_all, || {
        rayon::join(alert_summary, || rayon::join(whale, extremes))
    });
    tracing::debug!(elapsed = ?started.elapsed(), "segment sums, alerts, whale curve, top and bottom");
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
    let overlay = ledgerlens_pipeline::Overlay::load(store)?;
    let traced = traced(stats.customers);
    let describe = |(row, profit): (usize, Decimal)| -> anyhow::Result<report::CustomerDetail> {
        let mut detail = detail(store, &overlay, program, table, row, profit)?;
        if traced {
            detail.trace = trace(program, outcome, row);
        }
        Ok(detail)
    };
    // Each reads its partition's master records: side by side.
    let (top, bottom) = {
        use rayon::prelude::*;
        let details = |list: Vec<(usize, Decimal)>| {
            list.into_par_iter()
                .map(describe)
                .collect::<anyhow::Result<Vec<_>>>()
        };
        (details(top)?, details(bottom)?)
    };
    tracing::info!(elapsed = ?started.elapsed(), "report data gathered");
    Ok(report::Digest {
        title: String::new(),
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
        whale,
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
/// labels counts under each); `at(row)` gives the row's revenue and profit.
fn label_sums<T>(
    table: &Table,
    col: &Column,
    at: impl Fn(usize) -> (T, T),
) -> BTreeMap<String, (T, T)>
where
    T: Copy + Default + std::ops::AddAssign,
{
    let mut out = BTreeMap::<String, (T, T)>::new();
    match col {
        Column::Text(codes, dict) => {
            let mut by_code = vec![(T::default(), T::default()); dict.len() + 1];
            for (row, &c) in codes.iter().enumerate() {
                let e = &mut by_code[(c as usize).min(dict.len())];
                let (r, p) = at(row);
                e.0 += r;
                e.1 += p;
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
            let mut by_value: Vec<(Option<i64>, (T, T))> = Vec::new();
            for (row, v) in values.iter().enumerate() {
                let slot = match by_value.iter().position(|(k, _)| k == v) {
                    Some(p) => p,
                    None => {
                        by_value.push((*v, Default::default()));
                        by_value.len() - 1
                    }
                };
                let e = &mut by_value[slot].1;
                let (r, p) = at(row);
                e.0 += r;
                e.1 += p;
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
            let mut by_label: Vec<(&str, (T, T))> = Vec::new();
            for (row, labels) in values.iter().enumerate() {
                let (r, p) = at(row);
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
            let mut by_value = BTreeMap::<Value, (T, T)>::new();
            for row in 0..table.len() {
                let e = by_value.entry(col.get(row)).or_default();
                let (r, p) = at(row);
                e.0 += r;
                e.1 += p;
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

/// A decimal column as integers at its largest scale (nulls as zero), so that sums are
/// integer additions (in `i128`: no sum of fewer than 2^64 values overflows): `None`
/// unless every value fits in an `i64` there (money to the cent does, up to ±92
/// trillion).
struct Scaled {
    scale: u32,
    values: Vec<i64>,
}

impl Scaled {
    fn of(col: Option<&[Option<Decimal>]>) -> Option<Scaled> {
        let Some(col) = col else {
            return Some(Scaled {
                scale: 0,
                values: Vec::new(),
            });
        };
        let scale = col.iter().flatten().map(Decimal::scale).max().unwrap_or(0);
        let mut values = Vec::with_capacity(col.len());
        for d in col {
            let v = match d {
                None => 0,
                Some(d) if d.scale() == scale => i64::try_from(d.mantissa()).ok()?,
                Some(d) => 10i128
                    .checked_pow(scale - d.scale())
                    .and_then(|f| d.mantissa().checked_mul(f))
                    .and_then(|v| i64::try_from(v).ok())?,
            };
            values.push(v);
        }
        Some(Scaled { scale, values })
    }

    /// The value of a row (zero: null, or no column).
    fn at(&self, row: usize) -> i128 {
        i128::from(self.values.get(row).copied().unwrap_or(0))
    }

    /// A sum as a decimal, if it fits one.
    fn decimal(&self, sum: i128) -> Option<Decimal> {
        Decimal::try_from_i128_with_scale(sum, self.scale).ok()
    }
}

/// Revenue and profit summed per label of each segment column, by segment then label:
/// the segments side by side (rayon), as integer sums when the measures allow
/// ([`Scaled`]), else as decimals.
fn segment_sums(
    table: &Table,
    segments: &[&str],
    revenue: Option<&[Option<Decimal>]>,
    profit: Option<&[Option<Decimal>]>,
) -> BTreeMap<(String, String), (Decimal, Decimal)> {
    use rayon::prelude::*;
    let scaled = rayon::join(|| Scaled::of(revenue), || Scaled::of(profit));
    let exact = |col: &Column| {
        let at = |c: Option<&[Option<Decimal>]>, row: usize| {
            c.and_then(|c| c.get(row).copied().flatten())
                .unwrap_or_default()
        };
        label_sums(table, col, |row| (at(revenue, row), at(profit, row)))
    };
    type Sums = BTreeMap<String, (Decimal, Decimal)>;
    let per_segment: Vec<(&str, Sums)> = segments
        .par_iter()
        .filter_map(|name| {
            let col = table.column(name)?;
            let fast = match &scaled {
                (Some(r), Some(p)) => label_sums(table, col, |row| (r.at(row), p.at(row)))
                    .into_iter()
                    .map(|(label, (rs, ps))| Some((label, (r.decimal(rs)?, p.decimal(ps)?))))
                    .collect::<Option<BTreeMap<_, _>>>(),
                _ => None,
            };
            Some((*name, fast.unwrap_or_else(|| exact(col))))
        })
        .collect();
    let mut sums = BTreeMap::new();
    for (name, labels) in per_segment {
        for (label, s) in labels {
            sums.insert((name.to_string(), label), s);
        }
    }
    sums
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
