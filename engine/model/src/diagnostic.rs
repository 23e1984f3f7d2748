//! Problems with the inputs, as values.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the row was stored.
    Warning,
    /// The row could not be used; it was quarantined.
    Error,
}

/// A problem with the inputs: where it is, a stable code and a message for people.
///
/// Codes are stable strings (`adapter.bad_date`, `validate.unbalanced_voucher`) that users
/// and tests can match on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// Stable code, `stage.what`.
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
    /// File it came from, as given on the command line or in the configuration.
    pub file: Option<String>,
    /// 1-based row (line) in that file.
    pub row: Option<u64>,
    /// Column name (or 1-based number when the file has no header).
    pub column: Option<String>,
}

impl Diagnostic {
    /// An error (the row is quarantined) with a code and a message.
    pub fn error(code: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code: code.to_string(),
            message: message.into(),
            file: None,
            row: None,
            column: None,
        }
    }

    /// A warning (the row is kept) with a code and a message.
    pub fn warning(code: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Sets the file.
    pub fn in_file(mut self, file: impl Into<String>) -> Diagnostic {
        self.file = Some(file.into());
        self
    }

    /// Sets the row.
    pub fn at_row(mut self, row: u64) -> Diagnostic {
        self.row = Some(row);
        self
    }

    /// Sets the column.
    pub fn at_column(mut self, column: impl Into<String>) -> Diagnostic {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `file:row: column 'x': message [code]`, leaving out what is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
            if let Some(row) = self.row {
                write!(f, "{row}:")?;
            }
            f.write_str(" ")?;
        } else if let Some(row) = self.row {
            write!(f, "row {row}: ")?;
        }
        if let Some(column) = &self.column {
            write!(f, "column '{column}': ")?;
        }
        write!(f, "{} [{}]", self.message, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_row_and_column() {
        let d = Diagnostic::error("adapter.bad_date", "cannot read '2024-13-01' as a date")
            .in_file("data/a.csv")
            .at_row(7)
            .at_column("凭证日期");
        assert_eq!(
            d.to_string(),
            "data/a.csv:7: column '凭证日期': cannot read '2024-13-01' as a date [adapter.bad_date]"
        );
        let bare = Diagnostic::warning("x.y", "hm");
        assert_eq!(bare.to_string(), "hm [x.y]");
    }
}
