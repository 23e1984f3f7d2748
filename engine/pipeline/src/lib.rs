//! The ledgerlens pipeline: ingest, customer features, and rule-pack runs.
//!
//! Ingest runs the stages of DESIGN.md for one file: the source's adapter reads rows,
//! vouchers are validated (they must balance) and mapped through the chart of accounts
//! ([`ChartOfAccounts`]), customer codes are resolved to canonical ids ([`identity`]),
//! and everything is written to the store as one atomic batch. Problems with rows are
//! values ([`Diagnostic`](ledgerlens_model::Diagnostic)) in the [`IngestReport`]:
//! `rows_read == rows_stored + rows_quarantined`, always.
//!
//! [`features`] computes per-customer aggregates natively over the stored ledger;
//! [`run`] evaluates a compiled rule pack over them ([`run_pack`]). Manual identity
//! decisions (merge, unmerge, distinct) are recorded in the store and applied when
//! reading ([`overlay`]); [`duplicates`](mod@duplicates) proposes customers that probably are one.
//!
//! ```no_run
//! use std::path::Path;
//! use ledgerlens_pipeline::{ChartOfAccounts, Ingest, ProjectConfig};
//! use ledgerlens_store::{OpenOptions, Store};
//! # fn adapters() -> Vec<&'static dyn ledgerlens_adapter::Adapter> { vec![] }
//! let project = Path::new("examples/demo-company");
//! let config = ProjectConfig::load(project)?;
//! let store = Store::open(project.join(&config.database), &OpenOptions::create())?;
//! let chart = ChartOfAccounts::new(&config.accounts);
//! let adapters = adapters();
//! let ingest = Ingest { adapters: &adapters, chart: &chart, progress: None, chunk_bytes: None };
//! let source = config.source("crm")?;
//! let report = ingest.file(&store, &project.join("data/crm_customers.csv"), "data/crm_customers.csv", source)?;
//! assert_eq!(report.rows_read, report.rows_stored + report.rows_quarantined);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod accounts;
pub mod config;
pub mod duplicates;
mod error;
pub mod features;
pub mod identity;
mod ingest;
mod model;
pub mod overlay;
pub mod run;
mod vouchers;

pub use accounts::{AccountRule, ChartOfAccounts, Side};
pub use config::{ProjectConfig, CONFIG_FILE};
pub use duplicates::{duplicates, Candidate};
pub use error::Error;
pub use features::{
    customer_features, features_of, map_ledger_features, map_partition_rows, map_partitions,
    merge_by_id, Aggregate, FeatureRun, Features, PartitionRows,
};
pub use ingest::{Ingest, IngestReport, CHUNK_BYTES};
pub use model::purchase_value;
pub use overlay::Overlay;
pub use run::{input_schema, run_pack, run_pack_with_progress, ModelRun, RunReport};

/// Test hook: when the environment variable `LEDGERLENS_CRASH_AT` names this point, the
/// process aborts on the spot (as `kill -9` would), so tests can check that an import
/// interrupted there leaves nothing behind.
pub fn crash_point(point: &str) {
    if std::env::var("LEDGERLENS_CRASH_AT").is_ok_and(|p| p == point) {
        std::process::abort();
    }
}
