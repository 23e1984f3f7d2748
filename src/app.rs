//! The commands, on top of the library crates.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use chrono::NaiveDate;
use ledgerlens_adapter::{Adapter, SourceOptions};
use ledgerlens_pipeline::{ChartOfAccounts, Ingest, IngestReport, ProjectConfig, CONFIG_FILE};
use ledgerlens_store::{OpenOptions, Store};
use serde::Serialize;
use serde_json::json;

use crate::cli::{Cli, ClvAction, Command};
use crate::output::{self, Format, Listing};

/// The adapters compiled into this build (one Cargo feature each).
pub fn adapters() -> Vec<&'static dyn Adapter> {
    vec![
        #[cfg(feature = "csv")]
        &ledgerlens_csv::CsvAdapter,
        #[cfg(feature = "xlsx")]
        &ledgerlens_xlsx::XlsxAdapter,
        #[cfg(feature = "kingdee")]
        &ledgerlens_kingdee::KingdeeAdapter,
        #[cfg(feature = "yonyou")]
        &ledgerlens_yonyou::YonyouAdapter,
        #[cfg(feature = "jsonl")]
        &ledgerlens_jsonl::JsonlAdapter,
        #[cfg(feature = "exec")]
        &ledgerlens_exec::ExecAdapter,
    ]
}

/// Where a command works: the project (if any) and the database.
pub struct Context {
    pub project: Option<(PathBuf, ProjectConfig)>,
    pub db: PathBuf,
}

impl Context {
    pub fn resolve(cli: &Cli) -> anyhow::Result<Context> {
        Context::at(cli.project.as_deref(), cli.db.as_deref())
    }

    pub fn at(project: Option<&Path>, db: Option<&Path>) -> anyhow::Result<Context> {
        let project = match project {
            Some(dir) => {
                if !dir.is_dir() {
                    bail!("project folder {} does not exist", dir.display());
                }
                Some(dir.to_path_buf())
            }
            None if Path::new(CONFIG_FILE).exists() => Some(PathBuf::from(".")),
            None => None,
        };
        let project = match project {
            Some(dir) => {
                let config = ProjectConfig::load(&dir)?;
                Some((dir, config))
            }
            None => None,
        };
        let db = match (db, &project) {
            (Some(db), _) => db.to_path_buf(),
            (None, Some((dir, config))) => dir.join(&config.database),
            (None, None) => bail!(
                "no {CONFIG_FILE} in the current folder: pass --project DIR (or --db PATH), or create a project with `ledgerlens init DIR`"
            ),
        };
        Ok(Context { project, db })
    }

    fn open(&self, create: bool) -> anyhow::Result<Store> {
        let options = if create {
            OpenOptions::create()
        } else {
            OpenOptions::existing()
        };
        Ok(Store::open(&self.db, &options)?)
    }

    fn project(&self) -> anyhow::Result<&(PathBuf, ProjectConfig)> {
        self.project.as_ref().with_context(|| {
            format!("this command needs a project ({CONFIG_FILE}): pass --project DIR")
        })
    }
}

/// What a command that ran says about its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to report.
    Clean,
    /// Alerts at or above `--fail-on` fired (exit code 1).
    Alerts,
    /// `snapshot --check`: a snapshot differs or is missing (exit code 1).
    Differs,
}

/// Runs a command, writing its output to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<Verdict> {
    match &cli.command {
        Command::Run {
            pack,
            as_of,
            out: out_dir,
            fail_on,
        } => {
            let ctx = Context::resolve(cli)?;
            let opts = crate::rules::RunOptions {
                pack: pack.as_deref(),
                as_of: *as_of,
                out_dir: out_dir.as_deref(),
                fail_on: fail_on.as_deref().and_then(ledgerlens_rules::Level::parse),
            };
            let fired = crate::rules::run(out, cli.format, &ctx, &opts)?;
            Ok(if fired {
                Verdict::Alerts
            } else {
                Verdict::Clean
            })
        }
        Command::Check { pack } => {
            // A project is optional: without one, --pack or the standard pack is checked.
            let ctx = match (&cli.project, &cli.db) {
                (None, None) if !Path::new(CONFIG_FILE).exists() => None,
                _ => Some(Context::resolve(cli)?),
            };
            crate::rules::check(out, ctx.as_ref(), pack.as_deref())?;
            Ok(Verdict::Clean)
        }
        Command::Functions => {
            crate::rules::functions(out, cli.format)?;
            Ok(Verdict::Clean)
        }
        Command::Snapshot {
            pack,
            as_of,
            dir,
            check,
        } => {
            let ctx = Context::resolve(cli)?;
            let opts = crate::snapshot::Options {
                pack: pack.as_deref(),
                as_of: *as_of,
                dir: dir.as_deref(),
                check: *check,
            };
            let differs = crate::snapshot::snapshot(out, cli.format, &ctx, &opts)?;
            Ok(if differs {
                Verdict::Differs
            } else {
                Verdict::Clean
            })
        }
        Command::Explain {
            customer,
            rule,
            pack,
            as_of,
        } => {
            let ctx = Context::resolve(cli)?;
            crate::rules::explain(
                out,
                cli.format,
                &ctx,
                customer,
                rule.as_deref(),
                pack.as_deref(),
                *as_of,
            )?;
            Ok(Verdict::Clean)
        }
        _ => {
            other(cli, out)?;
            Ok(Verdict::Clean)
        }
    }
}

fn other(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    match &cli.command {
        Command::Init { dir } => {
            crate::init::init(dir)?;
            writeln!(out, "created project {}", dir.display())?;
            writeln!(out, "next: put exports under {}/data, describe them in {}/{CONFIG_FILE}, then `ledgerlens --project {} ingest`", dir.display(), dir.display(), dir.display())?;
            Ok(())
        }
        Command::Ingest { files, source } => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(true)?;
            let reports = ingest(&ctx, &store, files, source.as_deref())?;
            write_ingest(out, cli.format, &reports)
        }
        Command::Customers {
            as_of,
            limit,
            action,
        } => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            match action {
                Some(action) => crate::identity::run(out, cli.format, &store, action),
                None => customers(out, cli.format, &store, *as_of, *limit),
            }
        }
        Command::Features { as_of } => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            let as_of = match as_of {
                Some(d) => *d,
                None => data_as_of(&store)?,
            };
            output::object(out, cli.format, &portfolio(&store, as_of)?)
        }
        Command::Customer { id, as_of } => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            customer(out, cli.format, &store, id, *as_of)
        }
        Command::Quarantine => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            quarantine(out, cli.format, &store)
        }
        Command::Merges => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            let mut merges = store.merges()?;
            merges
                .sort_by(|a, b| (a.batch, &a.system, &a.code).cmp(&(b.batch, &b.system, &b.code)));
            Listing::of(
                &["batch", "system", "code", "customer", "rule", "evidence"],
                &merges,
            )?
            .write(out, cli.format)
        }
        Command::Imports => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            let imports = store.imports()?;
            Listing::of(
                &[
                    "batch",
                    "file",
                    "source",
                    "encoding",
                    "rows_read",
                    "rows_stored",
                    "rows_quarantined",
                    "entries_stored",
                    "customers_new",
                    "merges",
                ],
                &imports,
            )?
            .write(out, cli.format)
        }
        Command::Stats => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            output::object(out, cli.format, &store.stats()?)
        }
        Command::Clv { action } => {
            let ctx = Context::resolve(cli)?;
            let store = ctx.open(false)?;
            match action {
                ClvAction::Fit {
                    model,
                    calibration_end,
                    unit,
                } => {
                    let end = match calibration_end {
                        Some(d) => *d,
                        None => data_as_of(&store)?,
                    };
                    crate::clv::fit(out, cli.format, &store, *model, end, *unit)
                }
                ClvAction::Score {
                    model,
                    calibration_end,
                    unit,
                    periods,
                    months,
                    discount_rate,
                } => {
                    let end = match calibration_end {
                        Some(d) => *d,
                        None => data_as_of(&store)?,
                    };
                    let horizon = crate::clv::Horizon {
                        periods: *periods,
                        months: *months,
                        monthly_rate: *discount_rate,
                    };
                    crate::clv::score(out, cli.format, &store, *model, end, *unit, &horizon)
                }
                ClvAction::Holdout {
                    model,
                    calibration_end,
                    holdout_end,
                    unit,
                } => {
                    let end = match holdout_end {
                        Some(d) => *d,
                        None => data_as_of(&store)?,
                    };
                    crate::clv::holdout_check(
                        out,
                        cli.format,
                        &store,
                        *model,
                        *calibration_end,
                        end,
                        *unit,
                    )
                }
            }
        }
        Command::Adapters => {
            let rows: Vec<_> = adapters()
                .iter()
                .map(|a| json!({"adapter": a.name(), "description": a.description()}))
                .collect();
            Listing {
                columns: vec!["adapter", "description"],
                rows,
            }
            .write(out, cli.format)
        }
        #[cfg(feature = "xlsx")]
        Command::Sniff { file, sheet, rows } => {
            let found = crate::sniff::sniff(file, sheet.as_deref(), *rows)?;
            crate::sniff::write(out, &found, cli.format)
        }
        #[cfg(not(feature = "xlsx"))]
        Command::Sniff { .. } => bail!("sniff needs the xlsx feature, not in this build"),
        Command::Schema => crate::schema::write(out),
        Command::Demo { out: dir } => crate::demo::run(out, cli.format, dir.as_deref()),
        Command::Report {
            pack,
            as_of,
            out: file,
        } => {
            let ctx = Context::resolve(cli)?;
            let opts = crate::report::Options {
                pack: pack.as_deref(),
                as_of: *as_of,
                out: file.as_deref(),
            };
            let path = crate::report::run(&ctx, &opts)?;
            writeln!(out, "{}", path.display())?;
            Ok(())
        }
        // Dispatched by `run` above, which returns its verdict.
        Command::Snapshot { .. } => {
            bail!("internal error: snapshot is dispatched by app::run")
        }
        // Dispatched by `run` above, which returns their verdict.
        Command::Run { .. }
        | Command::Check { .. }
        | Command::Functions
        | Command::Explain { .. } => {
            bail!("internal error: rule commands are dispatched by app::run")
        }
    }
}

/// How a file is named in provenance: relative to the project when inside it.
fn display_name(project: &Path, file: &Path) -> String {
    let base = project.canonicalize().ok();
    let full = file.canonicalize().ok();
    match (base, full) {
        (Some(b), Some(f)) => match f.strip_prefix(&b) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => file.to_string_lossy().into_owned(),
        },
        _ => file.to_string_lossy().into_owned(),
    }
}

/// Imports files (or every configured source's files) and returns one report per file.
pub fn ingest(
    ctx: &Context,
    store: &Store,
    files: &[PathBuf],
    source: Option<&str>,
) -> anyhow::Result<Vec<IngestReport>> {
    let (project, config) = ctx.project()?;
    // A source without `files` is fetched by its adapter (`exec` runs its command).
    let mut work: Vec<(Option<PathBuf>, &SourceOptions)> = Vec::new();
    if files.is_empty() {
        let sources: Vec<&SourceOptions> = match source {
            Some(name) => vec![config.source(name)?],
            None => config.sources.iter().collect(),
        };
        for s in sources {
            if s.files.is_empty() {
                work.push((None, s));
                continue;
            }
            let found = config.files_of(project, s)?;
            if found.is_empty() {
                tracing::warn!(source = %s.name, "no files match the source's patterns");
            }
            work.extend(found.into_iter().map(|f| (Some(f), s)));
        }
        if work.is_empty() {
            bail!(
                "no files to ingest: name files, or add sources with `files` patterns to {}",
                project.join(CONFIG_FILE).display()
            );
        }
    } else {
        for f in files {
            if !f.exists() {
                bail!("{}: no such file", f.display());
            }
            let s = match source {
                Some(name) => config.source(name)?,
                None => config.source_for(project, f)?,
            };
            work.push((Some(f.clone()), s));
        }
    }
    let adapters = adapters();
    let chart = ChartOfAccounts::new(&config.accounts);
    // The bar counts the files' bytes, file by file (an exec source's output counts none).
    let size = |file: &Option<PathBuf>| {
        file.as_ref()
            .and_then(|f| std::fs::metadata(f).ok())
            .map_or(0, |m| m.len())
    };
    let total = work.iter().map(|(file, _)| size(file)).sum();
    let bar = crate::progress::bar("ingest", total, true);
    let mut reports = Vec::new();
    for (file, source) in work {
        let name = match &file {
            Some(file) => display_name(project, file),
            None => format!("{}:{}", source.adapter, source.name),
        };
        let bytes = size(&file);
        bar.set_message(format!("ingest {name}: reading"));
        // Within a text file the bar moves by rows read (drawn only on a terminal, so the
        // sample is read only then).
        let base = bar.position();
        let per_row = file
            .as_deref()
            .filter(|_| !bar.is_hidden())
            .and_then(crate::progress::bytes_per_row);
        let progress = |rows: u64| {
            bar.set_message(format!("ingest {name}: {rows} rows"));
            if let Some(per_row) = per_row {
                let read = (rows as f64 * per_row) as u64;
                bar.set_position(base + read.min(bytes.saturating_sub(1)));
            }
        };
        let ingest = Ingest {
            adapters: &adapters,
            chart: &chart,
            progress: Some(&progress),
            chunk_bytes: None,
        };
        tracing::info!(file = %name, source = %source.name, "ingest");
        let imported = match &file {
            Some(file) => ingest.file(store, file, &name, source).map(Some),
            None => ingest.fetch(store, project, source),
        };
        let report = match imported {
            Ok(Some(report)) => report,
            Ok(None) => {
                tracing::warn!(source = %source.name, "the source has no `files` patterns");
                continue;
            }
            Err(e) if reports.is_empty() => return Err(e.into()),
            Err(e) => {
                let done: Vec<&str> = reports
                    .iter()
                    .map(|r: &IngestReport| r.file.as_str())
                    .collect();
                return Err(anyhow::Error::new(e).context(format!(
                    "{name} was not imported (the files before it were: {})",
                    done.join(", ")
                )));
            }
        };
        reports.push(report);
        bar.set_position(base + bytes);
    }
    bar.finish_and_clear();
    if reports.is_empty() {
        bail!(
            "no files to ingest: name files, or add sources with `files` patterns to {}",
            project.join(CONFIG_FILE).display()
        );
    }
    Ok(reports)
}

#[derive(Serialize)]
pub struct IngestSummary<'a> {
    rows_read: u64,
    rows_stored: u64,
    rows_quarantined: u64,
    entries_stored: u64,
    facts_stored: u64,
    customer_rows: u64,
    customers_new: u64,
    merges: u64,
    already_imported: bool,
    files: &'a [IngestReport],
}

pub fn summarize(reports: &[IngestReport]) -> IngestSummary<'_> {
    let sum = |f: fn(&IngestReport) -> u64| reports.iter().map(f).sum();
    IngestSummary {
        rows_read: sum(|r| r.rows_read),
        rows_stored: sum(|r| r.rows_stored),
        rows_quarantined: sum(|r| r.rows_quarantined),
        entries_stored: sum(|r| r.entries_stored),
        facts_stored: sum(|r| r.facts_stored),
        customer_rows: sum(|r| r.customer_rows),
        customers_new: sum(|r| r.customers_new),
        merges: sum(|r| r.merges),
        already_imported: !reports.is_empty() && reports.iter().all(|r| r.already_imported),
        files: reports,
    }
}

/// Prints ingest reports: per file counts, then warnings and quarantined rows.
pub fn write_ingest(
    out: &mut dyn Write,
    format: Format,
    reports: &[IngestReport],
) -> anyhow::Result<()> {
    let summary = summarize(reports);
    if matches!(format, Format::Json | Format::Yaml) {
        // Through a Value, so keys come sorted like every object ledgerlens prints.
        return output::object(out, format, &summary);
    }
    let mut listing = Listing::of(
        &[
            "file",
            "source",
            "encoding",
            "rows_read",
            "rows_stored",
            "rows_quarantined",
            "entries_stored",
            "customers_new",
            "merges",
            "already_imported",
        ],
        reports,
    )?;
    if format == Format::Csv {
        return listing.write(out, format);
    }
    listing.rows.push(json!({
        "file": "total",
        "rows_read": summary.rows_read,
        "rows_stored": summary.rows_stored,
        "rows_quarantined": summary.rows_quarantined,
        "entries_stored": summary.entries_stored,
        "customers_new": summary.customers_new,
        "merges": summary.merges,
    }));
    listing.write(out, format)?;
    writeln!(
        out,
        "\nrows read {} = rows stored {} + rows quarantined {}",
        summary.rows_read, summary.rows_stored, summary.rows_quarantined
    )?;
    for r in reports {
        for d in r.warnings.iter() {
            writeln!(out, "warning: {d}")?;
        }
    }
    let quarantined: Vec<_> = reports.iter().flat_map(|r| r.quarantined.iter()).collect();
    if !quarantined.is_empty() {
        writeln!(out, "\nquarantined ({}):", quarantined.len())?;
        for d in quarantined {
            writeln!(out, "  {d}")?;
        }
    }
    Ok(())
}

/// The data's as-of date: the latest entry date in the store.
pub fn data_as_of(store: &Store) -> anyhow::Result<NaiveDate> {
    store
        .stats()?
        .max_date
        .context("the database holds no ledger entries yet; pass --as-of DATE")
}

const CUSTOMER_COLUMNS: [&str; 18] = [
    "customer",
    "name",
    "channel",
    "region",
    "revenue",
    "refunds",
    "net_revenue",
    "orders",
    "first_purchase",
    "last_purchase",
    "recency_days",
    "tenure_days",
    "avg_order_value",
    "purchase_frequency",
    "refund_rate",
    "receivables",
    "gross_margin",
    "cost_to_serve",
];

/// Rows of the customer listing: master fields and features side by side.
/// One row of the customer listing, borrowing from the master record and the features;
/// fields in alphabetical order, as every JSON object ledgerlens prints.
#[derive(Serialize)]
struct CustomerRow<'a> {
    avg_order_value: Option<rust_decimal::Decimal>,
    channel: Option<&'a str>,
    cogs: rust_decimal::Decimal,
    cost_to_serve: rust_decimal::Decimal,
    customer: &'a str,
    discounts: rust_decimal::Decimal,
    first_purchase: Option<NaiveDate>,
    gross_margin: rust_decimal::Decimal,
    last_purchase: Option<NaiveDate>,
    name: Option<&'a str>,
    net_revenue: rust_decimal::Decimal,
    orders: u64,
    purchase_frequency: Option<rust_decimal::Decimal>,
    recency_days: Option<i64>,
    receivables: rust_decimal::Decimal,
    refund_rate: Option<rust_decimal::Decimal>,
    refunds: rust_decimal::Decimal,
    region: Option<&'a str>,
    revenue: rust_decimal::Decimal,
    tenure_days: Option<i64>,
}

impl<'a> CustomerRow<'a> {
    fn new(c: &'a ledgerlens_model::Customer, f: &'a ledgerlens_pipeline::Features) -> Self {
        CustomerRow {
            avg_order_value: f.avg_order_value,
            channel: c.channel.as_deref(),
            cogs: f.cogs,
            cost_to_serve: f.cost_to_serve,
            customer: c.id.as_str(),
            discounts: f.discounts,
            first_purchase: f.first_purchase,
            gross_margin: f.gross_margin,
            last_purchase: f.last_purchase,
            name: c.name.as_deref(),
            net_revenue: f.net_revenue,
            orders: f.orders,
            purchase_frequency: f.purchase_frequency,
            recency_days: f.recency_days,
            receivables: f.receivables,
            refund_rate: f.refund_rate,
            refunds: f.refunds,
            region: c.region.as_deref(),
            revenue: f.revenue,
            tenure_days: f.tenure_days,
        }
    }

    /// The cells of the table and CSV listing, in [`CUSTOMER_COLUMNS`] order.
    fn cells(&self) -> [String; 18] {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let d = |v: Option<rust_decimal::Decimal>| opt(v.map(|d| d.to_string()));
        [
            self.customer.to_string(),
            self.name.unwrap_or_default().to_string(),
            self.channel.unwrap_or_default().to_string(),
            self.region.unwrap_or_default().to_string(),
            self.revenue.to_string(),
            self.refunds.to_string(),
            self.net_revenue.to_string(),
            self.orders.to_string(),
            opt(self.first_purchase.map(|x| x.to_string())),
            opt(self.last_purchase.map(|x| x.to_string())),
            opt(self.recency_days.map(|x| x.to_string())),
            opt(self.tenure_days.map(|x| x.to_string())),
            d(self.avg_order_value),
            d(self.purchase_frequency),
            d(self.refund_rate),
            self.receivables.to_string(),
            self.gross_margin.to_string(),
            self.cost_to_serve.to_string(),
        ]
    }
}

fn customers(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    as_of: Option<NaiveDate>,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let as_of = match as_of {
        Some(d) => d,
        None => data_as_of(store)?,
    };
    let (parts, run) = ledgerlens_pipeline::map_partitions(store, as_of, |rows| rows)?;
    tracing::info!(
        cached = run.cached,
        computed = run.computed,
        "feature partitions"
    );
    // Rows are merged in id order and written as they are formatted: millions of
    // customers must not become millions of JSON values (or a second copy) in memory.
    let limit = limit.unwrap_or(usize::MAX);
    let rows = || {
        ledgerlens_pipeline::merge_by_id(&parts)
            .take(limit)
            .map(|(c, f)| CustomerRow::new(c, f))
    };
    match format {
        Format::Json => {
            writeln!(out, "[")?;
            for (i, row) in rows().enumerate() {
                if i > 0 {
                    writeln!(out, ",")?;
                }
                serde_json::to_writer(&mut *out, &row)?;
            }
            writeln!(out, "\n]")?;
        }
        Format::Yaml => {
            for row in rows() {
                crate::output::yaml(out, &[row])?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CUSTOMER_COLUMNS)?;
            for row in rows() {
                w.write_record(row.cells())?;
            }
            w.flush()?;
        }
        Format::Table => {
            let widths = output::widths(&CUSTOMER_COLUMNS, rows().map(|r| r.cells()));
            output::table_streamed(out, &CUSTOMER_COLUMNS, &widths, rows().map(|r| r.cells()))?;
        }
    }
    Ok(())
}

/// The canonical id of a customer given by its id or by a source code `system:code`
/// that was merged into it; a customer merged into another one by a decision resolves
/// to its survivor.
pub fn resolve_customer(store: &Store, id: &str) -> anyhow::Result<String> {
    let overlay = ledgerlens_pipeline::Overlay::load(store)?;
    let found = find_customer(store, id)?;
    Ok(overlay.root_of(&found).to_string())
}

/// The canonical id of a customer, or of the customer a source code `system:code` belongs
/// to (before any manual merge).
pub fn find_customer(store: &Store, id: &str) -> anyhow::Result<String> {
    if store.customer(id)?.is_some() {
        return Ok(id.to_string());
    }
    let (system, code) = id.split_once(':').unwrap_or(("", id));
    let p = store.partition_of_parts(&[system, code]);
    match store
        .xref_in(p)?
        .into_iter()
        .find(|r| r.system == system && r.code == code)
    {
        Some(row) => Ok(row.customer),
        None => bail!("no customer '{id}' (ids are listed by `ledgerlens customers`; they look like system:code)"),
    }
}

fn customer(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    id: &str,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let resolved = resolve_customer(store, id)?;
    let id = resolved.as_str();
    let overlay = ledgerlens_pipeline::Overlay::load(store)?;
    let Some(c) = overlay.customer(store, id)? else {
        bail!("no customer '{id}' in the master");
    };
    // With no ledger entries at all there is no as-of date to compute features at.
    let as_of = match as_of {
        Some(d) => d,
        None => match store.stats()?.max_date {
            Some(d) => d,
            None => c.first_seen.unwrap_or_default(),
        },
    };
    let features = ledgerlens_pipeline::features_of(store, id, as_of)?;
    let mut entries = Vec::new();
    overlay.for_each_entry_of(store, id, |e, file| {
        entries.push(e.to_entry(Some(id), file));
    })?;
    entries.sort_by(|a, b| (a.date, &a.source).cmp(&(b.date, &b.source)));
    // Customers merged into this one by a decision, and the codes linked at import to
    // it or to them.
    let absorbed = overlay.merged_into_root(id);
    let merges: Vec<_> = store
        .merges()?
        .into_iter()
        .filter(|m| m.customer == id || absorbed.contains(&m.customer.as_str()))
        .collect();
    let merged: Vec<serde_json::Value> = absorbed
        .iter()
        .map(|b| {
            let (into, decision) = overlay.merged_into(b).unwrap_or_default();
            json!({"customer": b, "into": into, "decision": decision})
        })
        .collect();
    if matches!(format, Format::Json | Format::Yaml) {
        let v = json!({
            "customer": c,
            "as_of": as_of,
            "features": features,
            "merges": merges,
            "merged": merged,
            "entries": entries,
        });
        return output::object(out, format, &v);
    }
    if format == Format::Table {
        writeln!(out, "customer {id}")?;
        output::object(out, format, &c)?;
        writeln!(
            out,
            "codes: {}",
            c.codes.iter().cloned().collect::<Vec<_>>().join(", ")
        )?;
        for m in &merges {
            writeln!(
                out,
                "merged: {}:{} by {} ({}) in batch {}",
                m.system, m.code, m.rule, m.evidence, m.batch
            )?;
        }
        for b in &absorbed {
            if let Some((into, seq)) = overlay.merged_into(b) {
                writeln!(out, "merged: customer {b} into {into} by decision {seq}")?;
            }
        }
        writeln!(out, "\nfeatures as of {as_of}")?;
        output::object(out, format, &features)?;
        writeln!(
            out,
            "\nledger ({} entries, by date then source row)",
            entries.len()
        )?;
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            json!({
                "date": e.date, "kind": e.kind, "amount": e.amount, "currency": e.currency,
                "quantity": e.quantity, "document": e.document, "account": e.account,
                "memo": e.memo, "channel": e.dims.channel, "file": e.source.file, "row": e.source.row,
            })
        })
        .collect();
    Listing {
        columns: vec![
            "date", "kind", "amount", "currency", "quantity", "document", "account", "memo",
            "channel", "file", "row",
        ],
        rows,
    }
    .write(out, format)
}

fn quarantine(out: &mut dyn Write, format: Format, store: &Store) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = store
        .quarantine()?
        .into_iter()
        .map(|q| {
            let d = q.diagnostic;
            json!({"batch": q.batch, "file": d.file, "row": d.row, "column": d.column, "code": d.code, "reason": d.message})
        })
        .collect();
    Listing {
        columns: vec!["batch", "file", "row", "column", "code", "reason"],
        rows,
    }
    .write(out, format)
}

/// Portfolio totals over every customer's features.
#[derive(Debug, Default, Serialize)]
pub struct Portfolio {
    pub as_of: Option<NaiveDate>,
    pub customers: u64,
    pub buyers: u64,
    pub orders: u64,
    pub revenue: rust_decimal::Decimal,
    pub refunds: rust_decimal::Decimal,
    pub net_revenue: rust_decimal::Decimal,
    pub receivables: rust_decimal::Decimal,
    pub gross_margin: rust_decimal::Decimal,
    pub partitions_computed: u32,
    pub partitions_cached: u32,
    pub partitions_empty: u32,
}

impl Portfolio {
    /// Adds one customer's features.
    fn absorb(&mut self, f: &ledgerlens_pipeline::Features) {
        self.buyers += u64::from(f.orders > 0);
        self.orders += f.orders;
        self.revenue += f.revenue;
        self.refunds += f.refunds;
        self.net_revenue += f.net_revenue;
        self.receivables += f.receivables;
        self.gross_margin += f.gross_margin;
    }

    /// Adds another partial total.
    fn add(&mut self, o: &Portfolio) {
        self.buyers += o.buyers;
        self.orders += o.orders;
        self.revenue += o.revenue;
        self.refunds += o.refunds;
        self.net_revenue += o.net_revenue;
        self.receivables += o.receivables;
        self.gross_margin += o.gross_margin;
    }
}

pub fn portfolio(store: &Store, as_of: NaiveDate) -> anyhow::Result<Portfolio> {
    let (parts, run) = ledgerlens_pipeline::map_ledger_features(store, as_of, |rows| {
        let mut p = Portfolio::default();
        rows.iter().for_each(|f| p.absorb(f));
        p
    })?;
    let merged = ledgerlens_pipeline::Overlay::load(store)?.merged_count() as u64;
    let mut total = Portfolio {
        as_of: Some(as_of),
        customers: store.stats()?.customers.saturating_sub(merged),
        partitions_computed: run.computed,
        partitions_cached: run.cached,
        partitions_empty: run.empty,
        ..Portfolio::default()
    };
    parts.iter().for_each(|p| total.add(p));
    Ok(total)
}
