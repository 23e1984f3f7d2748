//! The command line.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::output::Format;

/// ledgerlens: customer ledgers from financial and CRM exports, and the analytics on them.
///
/// Exit codes: 0 success; 1 `run --fail-on LEVEL` and an alert at or above LEVEL fired,
/// or `snapshot --check` found a snapshot that differs or is missing; 2 error (a message
/// on stderr says what and where).
#[derive(Debug, Parser)]
#[command(name = "ledgerlens", version, propagate_version = true)]
pub struct Cli {
    /// Database folder (default: the project's `database`, `.ledgerlens/db`).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Project folder holding ledgerlens.yaml (default: the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,

    /// Output format of listings.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Log what happens on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a project folder: a commented ledgerlens.yaml and an empty client pack.
    Init {
        /// The folder to create (may exist, but must not hold a ledgerlens.yaml).
        dir: PathBuf,
    },
    /// Import files. Each file is one atomic import; the same content twice changes nothing.
    ///
    /// Without FILEs, imports every file of every configured source and runs every `exec`
    /// source's command, in configuration order.
    Ingest {
        /// Files to import.
        files: Vec<PathBuf>,
        /// Read the files as this configured source (default: the source whose `files`
        /// pattern matches each file).
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// List customers with their features, sorted by customer id (or an identity action).
    ///
    /// The actions find probable duplicates, merge two customers, undo a merge, mark two
    /// customers distinct, and list these decisions.
    #[command(args_conflicts_with_subcommands = true)]
    Customers {
        /// Compute features as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        /// Show at most N customers.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// An identity action instead of the listing.
        #[command(subcommand)]
        action: Option<crate::identity::CustomersAction>,
    },
    /// Compute every customer's features and print portfolio totals (and how many
    /// partitions were recomputed or taken from the cache).
    Features {
        /// Compute features as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// Show one customer: master record, codes, merges, features and ledger.
    Customer {
        /// Canonical customer id (as listed by `customers`), or a source code `system:code`.
        id: String,
        /// Compute features as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// List quarantined rows with file, row, column and reason (by batch, then row).
    Quarantine,
    /// List identity merges: source codes linked to an existing customer by USCC, phone or
    /// name, with the evidence (by batch, then system and code).
    Merges,
    /// List imports (by batch).
    Imports,
    /// Store-wide counts.
    Stats,
    /// List the source adapters compiled into this build.
    Adapters,
    /// Tell what a file is and how it would be read: format, encoding, ERP layout, header
    /// row, mapped columns, customer slot, a source entry for ledgerlens.yaml, and a preview
    /// of the first records.
    Sniff {
        /// The file.
        file: PathBuf,
        /// The sheet of a workbook (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// How many records (or rows) to preview.
        #[arg(long, default_value_t = 5)]
        rows: usize,
    },
    /// Customer-lifetime-value models on the stored purchases: fit BG/NBD, Pareto/NBD or
    /// Gamma-Gamma, score every customer, and check a fit against a holdout period.
    Clv {
        /// What to do.
        #[command(subcommand)]
        action: ClvAction,
    },
    /// Evaluate the rule pack over the stored ledgers: segments, KPIs, alerts.
    ///
    /// The pack is --pack DIR, else the project's pack (when it has a pack.yaml), else the
    /// standard pack. Exit code 1 when an alert at or above --fail-on fired.
    Run {
        /// The pack folder (default: the project's, else the standard pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
        /// Evaluate as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        /// Also write the results to this folder: run.json and one CSV per table.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Exit with code 1 when an alert at this level or above fired.
        #[arg(long, value_name = "LEVEL", value_parser = ["watch", "review", "critical"])]
        fail_on: Option<String>,
    },
    /// Load, validate, compile and dry-run every rule of the pack; print every problem
    /// with file:line:col (exit 2 if there is any).
    Check {
        /// The pack folder (default: the project's, else the standard pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
    },
    /// Why a customer got each label and value: the rules that held and did not, the
    /// inputs they saw, and the ledger entries (file, row, document) behind the figures.
    Explain {
        /// Canonical customer id, or a source code `system:code`.
        customer: String,
        /// Explain only this rule.
        #[arg(long, value_name = "NAME")]
        rule: Option<String>,
        /// The pack folder (default: the project's, else the standard pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
        /// Evaluate as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
    },
    /// List the functions rule scripts may call, with examples, and the sandbox's limits.
    Functions,
    /// Write the rule outputs as insta snapshot files (segments, kpis, alerts,
    /// diagnostics, customers), or with --check compare them with the files.
    ///
    /// Without --check the files are written and each is reported created, changed or
    /// unchanged. With --check nothing is overwritten: a snapshot that differs or is
    /// missing gets its new version in NAME.snap.new and a line diff, and the exit code is 1.
    Snapshot {
        /// The pack folder (default: the project's, else the standard pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
        /// Evaluate as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        /// The snapshot folder (default: the project's `snapshots` folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Compare with the files instead of writing them; exit 1 if any differs or is
        /// missing.
        #[arg(long)]
        check: bool,
    },
    /// Print a JSON Schema (draft 2020-12) of pack.yaml and rule files, for editors.
    Schema,
    /// Run the main job on the bundled demo company: init, ingest, features, findings.
    Demo {
        /// Keep the demo project in this folder (default: a temporary folder, removed after).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write one self-contained HTML report of a rule run, with charts; print its path.
    ///
    /// Inline CSS and SVG, no scripts, no network: KPIs with their alerts, segments, the
    /// whale curve, marketing ROI and CAC, budget vs actual, trends, receivables ageing,
    /// alerts, and the top and bottom customers by profit.
    Report {
        /// The pack folder (default: the project's, else the standard pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
        /// Evaluate as of this date (default: the latest entry date in the data).
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        /// The HTML file to write (default: ledgerlens-report.html in the project folder).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `clv` actions.
#[derive(Debug, Subcommand)]
pub enum ClvAction {
    /// Fit a model by maximum likelihood; print its parameters (with standard errors) and
    /// log-likelihood.
    Fit {
        /// The model.
        #[arg(long, value_enum, default_value_t = crate::clv::Model::Bgnbd)]
        model: crate::clv::Model,
        /// The end of the calibration period (default: the latest entry date).
        #[arg(long, value_name = "DATE")]
        calibration_end: Option<NaiveDate>,
        /// The time unit of the rates.
        #[arg(long, value_enum, default_value_t = crate::clv::Unit::Week)]
        unit: crate::clv::Unit,
    },
    /// Score every customer (sorted by id): history as of the calibration end, probability
    /// alive, expected purchases over the next periods, expected spend per purchase
    /// (Gamma-Gamma) and discounted CLV.
    Score {
        /// The purchase-count model.
        #[arg(long, value_enum, default_value_t = crate::clv::Model::Bgnbd)]
        model: crate::clv::Model,
        /// The end of the calibration period (default: the latest entry date).
        #[arg(long, value_name = "DATE")]
        calibration_end: Option<NaiveDate>,
        /// The time unit of the rates and of --periods.
        #[arg(long, value_enum, default_value_t = crate::clv::Unit::Week)]
        unit: crate::clv::Unit,
        /// Expected purchases are counted over this many time units.
        #[arg(long, default_value_t = 52.0)]
        periods: f64,
        /// The CLV horizon in months.
        #[arg(long, default_value_t = 12)]
        months: u32,
        /// The monthly discount rate of the CLV (0.01 = 1% a month).
        #[arg(long, default_value_t = 0.01)]
        discount_rate: f64,
    },
    /// Fit on the calibration period, then compare predicted and actual purchases in the
    /// holdout period that follows, by calibration frequency.
    Holdout {
        /// The purchase-count model.
        #[arg(long, value_enum, default_value_t = crate::clv::Model::Bgnbd)]
        model: crate::clv::Model,
        /// The end of the calibration period.
        #[arg(long, value_name = "DATE")]
        calibration_end: NaiveDate,
        /// The end of the holdout period (default: the latest entry date).
        #[arg(long, value_name = "DATE")]
        holdout_end: Option<NaiveDate>,
        /// The time unit of the rates.
        #[arg(long, value_enum, default_value_t = crate::clv::Unit::Week)]
        unit: crate::clv::Unit,
    },
}
