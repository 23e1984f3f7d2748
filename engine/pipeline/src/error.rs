//! The pipeline's error type: why a run cannot go on.

use std::path::PathBuf;

/// Why an ingest or a feature computation cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ledgerlens_store::Error),
    /// The adapter cannot read the file at all.
    #[error(transparent)]
    Adapter(#[from] ledgerlens_adapter::Error),
    /// A file cannot be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The project configuration is missing or wrong.
    #[error("{path}: {message}")]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, with line and column where known.
        message: String,
    },
    /// No configured source matches a file, or the named source does not exist.
    #[error("{0}")]
    Source(String),
    /// The file's structure breaks part-way (an unterminated quote): the rows after the
    /// break cannot be told apart, so the whole file is refused.
    #[error(
        "{0}; the rows after it cannot be read reliably, so nothing of this file was imported"
    )]
    Malformed(ledgerlens_model::Diagnostic),
    /// The rule pack cannot be loaded, compiled or run.
    #[error(transparent)]
    Rules(#[from] ledgerlens_rules::Error),
    /// An identity decision cannot be made (unknown customer, a merge into itself, a
    /// customer merged already, an unmerge of a customer not merged).
    #[error("{0}")]
    Decision(String),
    /// The counts of an import do not add up: a bug, and the import was not committed.
    #[error("internal error: {0} (the import was not committed)")]
    Invariant(String),
}
