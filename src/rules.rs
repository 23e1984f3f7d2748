//! The rule-pack commands: `run`, `check`, `functions`.
//!
//! Which pack runs: `--pack DIR` when given, else the project's `pack` folder when it
//! holds a `pack.yaml`, else the standard pack alone. `extends: standard` resolves to the
//! standard pack compiled into this binary (from rules/standard).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use ledgerlens_rules::{
    AlertRow, KpiValue, Level, Outcome, Pack, PackSource, Program, Resolver, Value,
};
use serde_json::{json, Map};

use crate::app::{data_as_of, Context};
use crate::output::{Format, Listing};

include!(concat!(env!("OUT_DIR"), "/standard_pack.rs"));

/// Resolves `extends: standard` to the embedded standard pack.
pub struct Builtin;

impl Resolver for Builtin {
    fn named(&self, name: &str) -> Option<PackSource> {
        (name == "standard").then(standard)
    }
}

/// The standard pack, as embedded.
pub fn standard() -> PackSource {
    PackSource::from_files("standard", STANDARD_PACK.iter().copied())
}

/// The pack folder a command uses (`None`: the standard pack alone).
fn pack_dir(ctx: Option<&Context>, pack: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = pack {
        return Some(p.to_path_buf());
    }
    let (dir, config) = ctx?.project.as_ref()?;
    let p = dir.join(&config.pack);
    p.join("pack.yaml").is_file().then_some(p)
}

/// Loads and compiles the pack a command uses.
pub fn load(ctx: Option<&Context>, pack: Option<&Path>) -> anyhow::Result<Program> {
    Ok(load_fingerprinted(ctx, pack)?.0)
}

/// A hash of everything a pack says, after its `extends` chain is merged: parameters
/// (with the values that override the base pack's), rules as written with their files
/// and positions, and scripts. Two packs with equal fingerprints compute the same
/// results from the same data (with the same build of ledgerlens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

/// [`load`], with the pack's [`Fingerprint`].
pub fn load_fingerprinted(
    ctx: Option<&Context>,
    pack: Option<&Path>,
) -> anyhow::Result<(Program, Fingerprint)> {
    let source = match pack_dir(ctx, pack) {
        Some(dir) => PackSource::read_dir(&dir)?,
        None => standard(),
    };
    let pack = Pack::load(source, &Builtin)?;
    // The merged pack's every field (maps are sorted, YAML mappings keep their order),
    // including each rule file's text.
    let fingerprint = Fingerprint(*blake3::hash(format!("{pack:?}").as_bytes()).as_bytes());
    let program = Program::compile(&pack, &ledgerlens_pipeline::input_schema())?;
    Ok((program, fingerprint))
}

/// `check`: loads, validates, compiles and dry-runs every rule.
pub fn check(
    out: &mut dyn Write,
    ctx: Option<&Context>,
    pack: Option<&Path>,
) -> anyhow::Result<()> {
    let program = load(ctx, pack)?;
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for r in &program.rules {
        *kinds.entry(r.kind.key()).or_default() += 1;
    }
    let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    writeln!(
        out,
        "pack {} version {} ({}): {} rules OK ({})",
        program.name,
        program.version,
        program.chain.join(" <- "),
        program.rules.len(),
        counts.join(", ")
    )?;
    Ok(())
}

/// `functions`: the host functions scripts may call, and the sandbox's limits.
pub fn functions(out: &mut dyn Write, format: Format) -> anyhow::Result<()> {
    let (_, docs) = ledgerlens_rules::sandbox::engine();
    Listing::of(&["group", "signature", "description", "example"], &docs)?.write(out, format)?;
    if format == Format::Table {
        use ledgerlens_rules::sandbox as s;
        writeln!(
            out,
            "\nevery value a rule reads is a variable: built-in features, master fields, and the names of features, segments and per-customer KPIs; parameters are `params.NAME`"
        )?;
        writeln!(
            out,
            "limits per evaluation: {} operations, call depth {}, expression depth {}, strings {} bytes, arrays {} items, maps {} entries; no file, module, clock or print access",
            s::MAX_OPERATIONS,
            s::MAX_CALL_LEVELS,
            s::MAX_EXPR_DEPTH.0,
            s::MAX_STRING_SIZE,
            s::MAX_ARRAY_SIZE,
            s::MAX_MAP_SIZE
        )?;
    }
    Ok(())
}

/// Options of `run`.
pub struct RunOptions<'a> {
    pub pack: Option<&'a Path>,
    pub as_of: Option<NaiveDate>,
    pub out_dir: Option<&'a Path>,
    pub fail_on: Option<Level>,
}

/// `run`: evaluates the pack; returns whether an alert at or above `fail_on` fired.
pub fn run(
    out: &mut dyn Write,
    format: Format,
    ctx: &Context,
    opts: &RunOptions<'_>,
) -> anyhow::Result<bool> {
    let (program, fingerprint) = load_fingerprinted(Some(ctx), opts.pack)?;
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::existing())?;
    let as_of = match opts.as_of {
        Some(d) => d,
        None => data_as_of(&store)?,
    };
    let (bar, progress) =
        crate::progress::partitions(format!("running pack {}", program.name), store.partitions());
    // What `report` draws is kept too, so that the report of this run need not run again.
    let keep = crate::report::keep(&store)?;
    let ran = ledgerlens_pipeline::run_pack_with_progress(&store, &program, as_of, keep, &progress);
    bar.finish_and_clear();
    let (outcome, _) = ran?;
    if let Some(dir) = opts.out_dir {
        write_dir(dir, &program, &outcome)?;
        write_actions(dir, &store, &program, &outcome)?;
    }
    write(out, format, &program, &outcome)?;
    // The results are out before the digest is gathered.
    out.flush()?;
    crate::report::save_digest(&store, &program, fingerprint, &outcome);
    Ok(opts
        .fail_on
        .is_some_and(|level| outcome.alerts.iter().any(|a| a.level >= level)))
}

/// The table's rows sorted by customer id.
fn id_order(table: &ledgerlens_rules::Table) -> Vec<usize> {
    let mut order: Vec<usize> = (0..table.len()).collect();
    order.sort_unstable_by(|&a, &b| table.ids()[a].cmp(&table.ids()[b]));
    order
}

/// The names of the per-customer results: every segment and per-customer KPI.
fn result_columns(program: &Program) -> Vec<&str> {
    program
        .customer_columns()
        .filter(|(_, kind)| {
            matches!(
                kind,
                ledgerlens_rules::pack::Kind::Segment | ledgerlens_rules::pack::Kind::Kpi
            )
        })
        .map(|(n, _)| n)
        .collect()
}

/// The per-customer results: id, then every segment and per-customer KPI, rows sorted by
/// customer id.
fn customer_rows(program: &Program, outcome: &Outcome) -> (Vec<String>, Vec<serde_json::Value>) {
    let columns = result_columns(program);
    let table = &outcome.table;
    let cols: Vec<_> = columns.iter().map(|c| table.column(c)).collect();
    let rows = id_order(table)
        .into_iter()
        .map(|row| {
            let mut m = Map::new();
            m.insert("id".into(), json!(table.ids()[row].as_str()));
            for (name, col) in columns.iter().zip(&cols) {
                let v = col.map_or(Value::Null, |c| c.get(row));
                m.insert((*name).into(), serde_json::to_value(&v).unwrap_or_default());
            }
            serde_json::Value::Object(m)
        })
        .collect();
    let mut names = vec!["id".to_string()];
    names.extend(columns.iter().map(|s| s.to_string()));
    (names, rows)
}

fn group_object(group: &[(String, String)]) -> serde_json::Value {
    serde_json::Value::Object(group.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn kpi_rows(outcome: &Outcome) -> Vec<serde_json::Value> {
    outcome
        .kpis
        .iter()
        .map(|k| json!({"name": k.kpi, "group": group_object(&k.group), "value": k.value, "unit": k.unit}))
        .collect()
}

fn alert_rows(outcome: &Outcome) -> Vec<serde_json::Value> {
    outcome
        .alerts
        .iter()
        .map(|a| json!({"name": a.alert, "level": a.level, "subject": a.subject, "value": a.value, "threshold": a.threshold, "kpi": a.kpi}))
        .collect()
}

/// The whole result as one object (the JSON and YAML output, and `run.json`).
pub fn document(program: &Program, outcome: &Outcome) -> serde_json::Value {
    let (_, customers) = customer_rows(program, outcome);
    json!({
        "pack": {"name": program.name, "version": program.version, "chain": program.chain},
        "as_of": outcome.as_of,
        "customers": customers,
        "segments": outcome.segments,
        "kpis": kpi_rows(outcome),
        "alerts": alert_rows(outcome),
        "allocations": outcome.allocations,
        "diagnostics": outcome.diagnostics,
        "model": outcome.model,
    })
}

/// A KPI's group as one text: `channel=微信广告, quarter=2025-Q3` (empty: all customers).
fn group_text(group: &[(String, String)]) -> String {
    let keys: Vec<String> = group.iter().map(|(a, b)| format!("{a}={b}")).collect();
    keys.join(", ")
}

/// KPI values as a flat listing: the group as `key=value, ...` in one column.
pub fn kpi_listing<'k>(kpis: impl IntoIterator<Item = &'k KpiValue>) -> Listing<'static> {
    let rows = kpis
        .into_iter()
        .map(|k| json!({"kpi": k.kpi, "group": group_text(&k.group), "value": k.value, "unit": k.unit}))
        .collect();
    Listing {
        columns: vec!["kpi", "group", "value", "unit"],
        rows,
    }
}

/// The alerts that fired (above `ok`), at most `per_alert` of each rule (in the outcome's
/// order: by alert, then subject), with how many each rule fired in all.
pub fn fired_alerts(
    outcome: &Outcome,
    per_alert: usize,
) -> (Vec<&AlertRow>, std::collections::BTreeMap<&str, usize>) {
    let mut totals = std::collections::BTreeMap::<&str, usize>::new();
    let shown = outcome
        .alerts
        .iter()
        .filter(|a| a.level > Level::Ok)
        .filter(|a| {
            let n = totals.entry(a.alert.as_str()).or_default();
            *n += 1;
            *n <= per_alert
        })
        .collect();
    (shown, totals)
}

/// How many per-customer alerts of one rule the table view shows.
const TABLE_ALERTS_PER_RULE: usize = 20;

fn write(
    out: &mut dyn Write,
    format: Format,
    program: &Program,
    outcome: &Outcome,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &document(program, outcome))?;
            writeln!(out)?;
        }
        Format::Yaml => crate::output::yaml(out, &document(program, outcome))?,
        Format::Csv => {
            let (names, rows) = customer_rows(program, outcome);
            let columns = names.iter().map(String::as_str).collect();
            Listing { columns, rows }.write(out, Format::Csv)?;
        }
        Format::Table => {
            writeln!(
                out,
                "pack {} version {} ({}), as of {}, {} customers",
                program.name,
                program.version,
                program.chain.join(" <- "),
                outcome.as_of,
                outcome.customers
            )?;
            writeln!(out, "\n== segments")?;
            Listing::of(
                &["segment", "label", "customers", "action"],
                &outcome.segments,
            )?
            .write(out, Format::Table)?;
            writeln!(out, "\n== kpis")?;
            kpi_listing(&outcome.kpis).write(out, Format::Table)?;
            if !outcome.allocations.is_empty() {
                writeln!(out, "\n== allocations")?;
                Listing::of(
                    &[
                        "allocation",
                        "pool",
                        "amount",
                        "allocated",
                        "unallocated",
                        "customers",
                        "unused_capacity",
                    ],
                    &outcome.allocations,
                )?
                .write(out, Format::Table)?;
            }
            if let Some(m) = &outcome.model {
                let params = |p: &std::collections::BTreeMap<&str, rust_decimal::Decimal>| {
                    p.iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(out, "\n== model {}", m.rule)?;
                writeln!(
                    out,
                    "{} fitted on {} customers' purchases to {} (unit {}): {}; log-likelihood {}",
                    m.model,
                    m.customers,
                    m.calibration_end,
                    m.unit,
                    params(&m.parameters),
                    m.log_likelihood
                )?;
                match m.spend_model {
                    "gammagamma" => writeln!(
                        out,
                        "spend: gammagamma fitted on {} repeat customers: {}",
                        m.spend_customers,
                        params(&m.spend_parameters)
                    )?,
                    other => writeln!(out, "spend: {other}")?,
                }
            }
            writeln!(out, "\n== alerts (not ok)")?;
            let (shown, totals) = fired_alerts(outcome, TABLE_ALERTS_PER_RULE);
            Listing::of(&["alert", "subject", "level", "value", "threshold"], &shown)?
                .write(out, Format::Table)?;
            for (alert, total) in totals {
                let n = total.saturating_sub(TABLE_ALERTS_PER_RULE);
                if n == 0 {
                    continue;
                }
                writeln!(
                    out,
                    "... and {n} more {alert} alerts (all of them: --format json, or --out DIR)"
                )?;
            }
            if !outcome.diagnostics.is_empty() {
                writeln!(out, "\n== diagnostics")?;
                Listing::of(
                    &["rule", "code", "count", "message", "example", "at"],
                    &outcome.diagnostics,
                )?
                .write(out, Format::Table)?;
            }
        }
    }
    Ok(())
}

/// `run --out DIR`: the result as run.json, and one CSV and one Parquet file per table.
fn write_dir(dir: &Path, program: &Program, outcome: &Outcome) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = |name: &str| -> anyhow::Result<std::fs::File> {
        let path = dir.join(name);
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))
    };
    serde_json::to_writer_pretty(
        std::io::BufWriter::new(file("run.json")?),
        &document(program, outcome),
    )?;
    let (names, rows) = customer_rows(program, outcome);
    let columns = names.iter().map(String::as_str).collect();
    Listing { columns, rows }.write(
        &mut std::io::BufWriter::new(file("customers.csv")?),
        Format::Csv,
    )?;
    Listing::of(
        &["segment", "label", "customers", "action"],
        &outcome.segments,
    )?
    .write(&mut file("segments.csv")?, Format::Csv)?;
    kpi_listing(&outcome.kpis).write(&mut file("kpis.csv")?, Format::Csv)?;
    Listing::of(
        &["alert", "subject", "level", "value", "threshold", "kpi"],
        &outcome.alerts,
    )?
    .write(&mut file("alerts.csv")?, Format::Csv)?;
    Listing::of(
        &["rule", "code", "count", "message", "example", "at"],
        &outcome.diagnostics,
    )?
    .write(&mut file("diagnostics.csv")?, Format::Csv)?;
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for (name, columns) in parquet_tables(program, outcome) {
        bytes += crate::export::write(&dir.join(format!("{name}.parquet")), &columns)?;
    }
    tracing::debug!(
        "parquet: result tables written in {:.0?} ({bytes} bytes)",
        started.elapsed()
    );
    Ok(())
}

/// The result tables as typed columns for Parquet, named like the CSV files (plus
/// `allocations`), with the CSV files' columns and row order.
fn parquet_tables(
    program: &Program,
    outcome: &Outcome,
) -> Vec<(&'static str, Vec<crate::export::Column>)> {
    use crate::export::Column;
    let table = &outcome.table;
    let order = id_order(table);
    let mut customers = vec![Column::texts(
        "id",
        order.iter().map(|&r| Some(table.ids()[r].as_str())),
    )];
    for name in result_columns(program) {
        let column = table.column(name);
        customers.push(Column::values(
            name,
            column.map(|c| c.ty()),
            order
                .iter()
                .map(|&r| column.map_or(Value::Null, |c| c.get(r))),
        ));
    }
    let segments = &outcome.segments;
    let kpis = &outcome.kpis;
    let alerts = &outcome.alerts;
    let allocations = &outcome.allocations;
    let diagnostics = &outcome.diagnostics;
    vec![
        ("customers", customers),
        (
            "segments",
            vec![
                Column::texts("segment", segments.iter().map(|s| Some(&s.segment))),
                Column::texts("label", segments.iter().map(|s| Some(&s.label))),
                Column::counts("customers", segments.iter().map(|s| s.customers)),
                Column::texts("action", segments.iter().map(|s| s.action.as_ref())),
            ],
        ),
        (
            "kpis",
            vec![
                Column::texts("kpi", kpis.iter().map(|k| Some(&k.kpi))),
                Column::texts("group", kpis.iter().map(|k| Some(group_text(&k.group)))),
                Column::values("value", None, kpis.iter().map(|k| k.value.clone())),
                Column::texts("unit", kpis.iter().map(|k| k.unit.as_ref())),
            ],
        ),
        (
            "alerts",
            vec![
                Column::texts("alert", alerts.iter().map(|a| Some(&a.alert))),
                Column::texts("subject", alerts.iter().map(|a| Some(&a.subject))),
                Column::texts("level", alerts.iter().map(|a| Some(a.level.name()))),
                Column::values("value", None, alerts.iter().map(|a| a.value.clone())),
                Column::texts("threshold", alerts.iter().map(|a| Some(&a.threshold))),
                Column::texts("kpi", alerts.iter().map(|a| a.kpi.as_ref())),
            ],
        ),
        (
            "allocations",
            vec![
                Column::texts(
                    "allocation",
                    allocations.iter().map(|a| Some(&a.allocation)),
                ),
                Column::texts("pool", allocations.iter().map(|a| Some(&a.pool))),
                Column::decimals("amount", allocations.iter().map(|a| Some(a.amount))),
                Column::decimals("allocated", allocations.iter().map(|a| Some(a.allocated))),
                Column::decimals(
                    "unallocated",
                    allocations.iter().map(|a| Some(a.unallocated)),
                ),
                Column::counts("customers", allocations.iter().map(|a| a.customers)),
                Column::decimals(
                    "unused_capacity",
                    allocations.iter().map(|a| a.unused_capacity),
                ),
            ],
        ),
        (
            "diagnostics",
            vec![
                Column::texts("rule", diagnostics.iter().map(|d| Some(&d.rule))),
                Column::texts("code", diagnostics.iter().map(|d| Some(d.code))),
                Column::counts("count", diagnostics.iter().map(|d| d.count)),
                Column::texts("message", diagnostics.iter().map(|d| Some(&d.message))),
                Column::texts("example", diagnostics.iter().map(|d| Some(&d.example))),
                Column::texts("at", diagnostics.iter().map(|d| Some(&d.at))),
            ],
        ),
    ]
}

/// One row of the CRM action list.
#[derive(serde::Serialize)]
struct ActionRow<'a> {
    customer: &'a str,
    name: Option<&'a str>,
    phone: Option<&'a str>,
    channel: Option<&'a str>,
    region: Option<&'a str>,
    segment: &'a str,
    label: &'a str,
    action: &'a str,
}

/// `run --out DIR`'s `actions.csv`, for CRM import: one row per customer and segment label
/// that carries a recommended action, with the customer's contact fields from the master;
/// sorted by customer id, then segment.
fn write_actions(
    dir: &Path,
    store: &ledgerlens_store::Store,
    program: &Program,
    outcome: &Outcome,
) -> anyhow::Result<()> {
    // (segment, label) -> the outcome's own segment, label and action texts.
    let actions: std::collections::BTreeMap<(String, String), (&str, &str, &str)> = outcome
        .segments
        .iter()
        .filter_map(|s| {
            let action = s.action.as_deref()?;
            let key = (s.segment.clone(), s.label.clone());
            Some((key, (s.segment.as_str(), s.label.as_str(), action)))
        })
        .collect();
    let segments: Vec<&str> = program
        .customer_columns()
        .filter(|(_, kind)| matches!(kind, ledgerlens_rules::pack::Kind::Segment))
        .map(|(n, _)| n)
        .filter(|n| actions.keys().any(|(s, _)| s == n))
        .collect();
    let overlay = ledgerlens_pipeline::Overlay::load(store)?;
    let mut master = std::collections::HashMap::new();
    if !segments.is_empty() {
        for p in 0..store.partitions() {
            for c in overlay.customers_in(store, p)? {
                master.insert(c.id.0.clone(), c);
            }
        }
    }
    let table = &outcome.table;
    let mut order: Vec<usize> = (0..table.len()).collect();
    order.sort_unstable_by(|&a, &b| table.ids()[a].cmp(&table.ids()[b]));
    let columns: Vec<_> = segments.iter().map(|s| (*s, table.column(s))).collect();
    let mut rows = Vec::new();
    for row in order {
        let id = table.ids()[row].as_str();
        let c = master.get(id);
        for (segment, column) in &columns {
            let labels: Vec<String> = match column.map(|c| c.get(row)) {
                Some(Value::Text(t)) => vec![t.to_string()],
                Some(Value::List(l)) => l.iter().map(|t| t.to_string()).collect(),
                _ => Vec::new(),
            };
            for label in labels {
                let Some(&(segment, label, action)) = actions.get(&(segment.to_string(), label))
                else {
                    continue;
                };
                rows.push(ActionRow {
                    customer: id,
                    name: c.and_then(|c| c.name.as_deref()),
                    phone: c.and_then(|c| c.phone.as_deref()),
                    channel: c.and_then(|c| c.channel.as_deref()),
                    region: c.and_then(|c| c.region.as_deref()),
                    segment,
                    label,
                    action,
                });
            }
        }
    }
    let path = dir.join("actions.csv");
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    Listing::of(
        &[
            "customer", "name", "phone", "channel", "region", "segment", "label", "action",
        ],
        &rows,
    )?
    .write(&mut std::io::BufWriter::new(file), Format::Csv)?;
    use crate::export::Column;
    crate::export::write(
        &dir.join("actions.parquet"),
        &[
            Column::texts("customer", rows.iter().map(|r| Some(r.customer))),
            Column::texts("name", rows.iter().map(|r| r.name)),
            Column::texts("phone", rows.iter().map(|r| r.phone)),
            Column::texts("channel", rows.iter().map(|r| r.channel)),
            Column::texts("region", rows.iter().map(|r| r.region)),
            Column::texts("segment", rows.iter().map(|r| Some(r.segment))),
            Column::texts("label", rows.iter().map(|r| Some(r.label))),
            Column::texts("action", rows.iter().map(|r| Some(r.action))),
        ],
    )?;
    Ok(())
}

/// One ledger entry behind an explanation.
#[derive(serde::Serialize)]
struct SourceEntry {
    date: NaiveDate,
    kind: String,
    amount: String,
    document: Option<String>,
    account: Option<String>,
    memo: Option<String>,
    file: String,
    row: u64,
}

/// `explain`: runs the pack, then traces one customer's rules and lists the entries
/// behind the figures (by date, then file and row).
pub fn explain(
    out: &mut dyn Write,
    format: Format,
    ctx: &Context,
    customer: &str,
    rule: Option<&str>,
    pack: Option<&Path>,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let program = load(Some(ctx), pack)?;
    if let Some(r) = rule {
        if program.rule(r).is_none() {
            anyhow::bail!("no rule named {r} in pack {}", program.name);
        }
    }
    let store = ledgerlens_store::Store::open(&ctx.db, &ledgerlens_store::OpenOptions::existing())?;
    let id = crate::app::resolve_customer(&store, customer)?;
    let as_of = match as_of {
        Some(d) => d,
        None => data_as_of(&store)?,
    };
    let (outcome, _) =
        ledgerlens_pipeline::run_pack(&store, &program, as_of, ledgerlens_rules::Keep::All)?;
    let row = outcome
        .table
        .row_of(&id)
        .with_context(|| format!("customer {id} is not in the evaluated table"))?;
    let explanations = program.explain(&outcome, row, rule);
    let mut entries = Vec::new();
    let overlay = ledgerlens_pipeline::Overlay::load(&store)?;
    overlay.for_each_entry_of(&store, &id, |e, file| {
        if e.date <= as_of {
            entries.push(SourceEntry {
                date: e.date,
                kind: e.kind.to_string(),
                amount: e.amount.to_string(),
                document: e.document.map(str::to_string),
                account: e.account.map(str::to_string),
                memo: e.memo.map(str::to_string),
                file: file.to_string(),
                row: e.row,
            });
        }
    })?;
    entries.sort_by(|a, b| (a.date, &a.file, a.row).cmp(&(b.date, &b.file, b.row)));
    if matches!(format, Format::Json | Format::Yaml) {
        let v = json!({
            "customer": id,
            "as_of": as_of,
            "pack": {"name": program.name, "version": program.version},
            "explanations": explanations,
            "entries": entries,
        });
        return crate::output::object(out, format, &v);
    }
    writeln!(
        out,
        "customer {id}, as of {as_of}, pack {} version {}",
        program.name, program.version
    )?;
    for e in &explanations {
        write!(
            out,
            "\n{} ({}, {}) = {}",
            e.rule,
            e.kind.key(),
            e.at,
            e.value
        )?;
        if let Some(a) = &e.action {
            write!(out, "  [action: {a}]")?;
        }
        writeln!(out)?;
        for s in &e.steps {
            writeln!(
                out,
                "  {}\n      => {}",
                s.what.replace('\n', "\n         "),
                s.result
            )?;
            if !s.inputs.is_empty() {
                let inputs: Vec<String> =
                    s.inputs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                writeln!(out, "      inputs: {}", inputs.join(", "))?;
            }
        }
    }
    writeln!(
        out,
        "\n== ledger entries behind the figures ({})",
        entries.len()
    )?;
    Listing::of(
        &[
            "date", "kind", "amount", "document", "account", "memo", "file", "row",
        ],
        &entries,
    )?
    .write(out, Format::Table)
}
