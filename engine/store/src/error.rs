//! The store's error type.

use std::path::PathBuf;

/// Why the store cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process has the database open.
    #[error("database {path} is in use by another process (only one ledgerlens command can use a database at a time)")]
    Locked {
        /// Database folder.
        path: PathBuf,
    },
    /// There is no database at the path, and it was not asked to create one.
    #[error("no database at {path} (run `ledgerlens ingest` to create one, or pass --db PATH)")]
    Missing {
        /// Database folder.
        path: PathBuf,
    },
    /// The database was written by an incompatible version of ledgerlens.
    #[error(
        "database {path} has schema version {found}, this ledgerlens reads version {expected}"
    )]
    Schema {
        /// Database folder.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The database cannot be opened or written (permissions, disk full, not a folder...).
    #[error("database {path}: {error}")]
    Io {
        /// Database folder.
        path: PathBuf,
        /// Underlying error.
        error: std::io::Error,
    },
    /// sled reported an error.
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value cannot be decoded.
    #[error("corrupt {what} in the database: {message}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Another import is already under way in this process.
    #[error("an import is already under way")]
    Busy,
}

impl Error {
    pub(crate) fn corrupt(what: &'static str, message: impl ToString) -> Error {
        Error::Corrupt {
            what,
            message: message.to_string(),
        }
    }
}
