//! The ledgerlens adapter contract: what a source-format plugin implements.
//!
//! An adapter reads one source format (CSV, an ERP export, ...) and yields one
//! [`Item`] per data row: either a [`Row`] (a [`Record`](ledgerlens_model::Record) and the
//! row it came from) or a [`Diagnostic`] saying why that row cannot be read. It knows the
//! format and nothing else: no storage, no identity, no rules. Problems that stop the whole
//! file from being read (an undecodable encoding, a mapped column missing from the header)
//! are an [`Error`].
//!
//! Most sources are files. A source can also produce its input itself (the `exec`
//! adapter runs a program and reads its output): such an adapter overrides
//! [`Adapter::fetch`], and the pipeline calls it for sources without `files`.
//!
//! The shared pieces every adapter needs live here too: the per-source [`SourceOptions`]
//! from the project configuration, text decoding ([`decode`]) and value parsing
//! ([`parse_date`], [`parse_amount`]).
//!
//! ```
//! use ledgerlens_adapter::{parse_amount, parse_date};
//! assert_eq!(parse_amount("(¥1,234.50)").unwrap().unwrap().to_string(), "-1234.50");
//! assert_eq!(parse_date("2024年3月1日").unwrap().to_string(), "2024-03-01");
//! ```
#![deny(missing_docs)]

mod decode;
mod error;
mod options;
mod parse;
pub mod table;

pub use decode::{check, decode, push_gb, push_gb_marked, Decoded, Encoding, Text};
pub use error::Error;
pub use options::{ColumnRef, Delimiter, Field, Header, SourceOptions};
pub use parse::{parse_amount, parse_date, parse_date_with, parse_decimal, MAX_YEAR, MIN_YEAR};

use std::path::Path;

use ledgerlens_model::{Diagnostic, Row};

/// What an adapter yields per data row.
pub type Item = Result<Row, Diagnostic>;

/// One file to read: its name (for messages and provenance) and its bytes.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file name as the user gave it.
    pub name: String,
    /// The raw bytes.
    pub bytes: Vec<u8>,
}

/// A source-format plugin.
pub trait Adapter: Send + Sync {
    /// The stable name used in the configuration (`adapter: csv`).
    fn name(&self) -> &'static str;

    /// One line for `ledgerlens adapters`.
    fn description(&self) -> &'static str;

    /// Reads a whole file. Rows come in file order; each is a record or a diagnostic.
    ///
    /// Returns `Err` only when nothing in the file can be read.
    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error>;

    /// Produces the input of a source that has no `files` (a program's output, say), for
    /// [`read`](Adapter::read) to read like a file. `project` is the project folder. The
    /// input's name is how it is named in provenance (`exec:<source>`), and its content
    /// hash tells a repeated import, as for files.
    ///
    /// `Ok(None)`, the default, means the adapter reads files only.
    fn fetch(&self, options: &SourceOptions, project: &Path) -> Result<Option<Input>, Error> {
        let _ = (options, project);
        Ok(None)
    }
}
