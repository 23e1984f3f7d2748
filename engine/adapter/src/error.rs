//! Errors that stop a whole file from being read.

/// A file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not valid in the named (or any detected) encoding.
    #[error("{file}:{line}: not valid {encoding} text (first bad byte at offset {offset}); name the file's encoding with `encoding:` in its source")]
    Encoding {
        /// File name.
        file: String,
        /// Encoding tried.
        encoding: &'static str,
        /// 1-based line of the first bad byte.
        line: u64,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    /// The file has no bytes (or only a byte-order mark and whitespace).
    #[error("{file}: the file is empty")]
    Empty {
        /// File name.
        file: String,
    },
    /// A mapped column is missing from the header row.
    #[error("{file}:{row}: column '{column}' (mapped to {field}) is not in the header; the header has: {found}")]
    UnknownColumn {
        /// File name.
        file: String,
        /// 1-based header row.
        row: u64,
        /// The missing column.
        column: String,
        /// The field it was mapped to.
        field: String,
        /// The header's columns, comma-separated.
        found: String,
    },
    /// The source options do not fit this adapter or record type.
    #[error("source '{source_name}': {message}")]
    Options {
        /// Source name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The file is malformed beyond row level.
    #[error("{file}: {message}")]
    Malformed {
        /// File name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A source's command cannot be run, fails, or prints nothing usable
    /// (`adapter: exec`).
    #[error("source '{source_name}': command `{command}`: {message}")]
    Command {
        /// Source name.
        source_name: String,
        /// The command line, for people (arguments joined by spaces).
        command: String,
        /// What went wrong, with the last lines of the program's stderr when it wrote any.
        message: String,
    },
}
