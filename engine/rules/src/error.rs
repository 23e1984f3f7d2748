//! Problems with a pack (found at load) and errors that stop a run.

use std::fmt;

use serde::Serialize;

/// A problem with a rule pack, found while loading, validating or compiling it: where it
/// is (file, 1-based line and column; 0 when unknown) and what is wrong. Codes are stable
/// (`rules.yaml`, `rules.unknown-name`, `rules.cycle`, ...) so tests and tools can match them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// The file, relative to the pack's folder, prefixed with the pack's name
    /// (`standard/segments/lifecycle.yaml`).
    pub file: String,
    /// 1-based line (0: the whole file).
    pub line: usize,
    /// 1-based column (0: the whole line).
    pub column: usize,
    /// Stable code.
    pub code: &'static str,
    /// What is wrong, and where it matters how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        write!(f, ": {} [{}]", self.message, self.code)
    }
}

/// Where a piece of rule text sits in its file, so that a problem found inside it (a Rhai
/// syntax error at line 1, column 9 of an expression) can name the position in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    /// The file (see [`Problem::file`]).
    pub file: String,
    /// 1-based line of the text's first character.
    pub line: usize,
    /// 1-based column of the text's first character.
    pub column: usize,
}

impl Span {
    /// A problem at this span, shifted by a position inside the text (1-based line and
    /// column as Rhai reports them; `None` for the span itself).
    pub fn problem(
        &self,
        inner: Option<(usize, usize)>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Problem {
        // The lines of a YAML block scalar share its first line's indentation, so a
        // column on any line of the text is shifted like the first's.
        let (line, column) = match inner {
            Some((l, c)) if self.line > 0 => (self.line + l.max(1) - 1, self.column + c.max(1) - 1),
            _ => (self.line, self.column),
        };
        Problem {
            file: self.file.clone(),
            line,
            column,
            code,
            message: message.into(),
        }
    }
}

/// An error that stops loading or running a pack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pack has problems; all that were found, sorted by file and position.
    #[error("{} problem(s) in the rule pack:\n{}", .0.len(), list(.0))]
    Pack(Vec<Problem>),
    /// A pack file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        error: std::io::Error,
    },
    /// A rule failed in a way that stops the run (a script hit its limits).
    #[error("{at}: rule {rule} stopped: {message}")]
    Rule {
        /// The rule.
        rule: String,
        /// Where the rule is (`file:line:col`).
        at: String,
        /// What happened.
        message: String,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_shift_inner_positions() {
        let span = Span {
            file: "p/a.yaml".into(),
            line: 4,
            column: 11,
        };
        let p = span.problem(Some((1, 5)), "rules.x", "bad");
        assert_eq!((p.line, p.column), (4, 15));
        // A block scalar's lines share its first line's indentation.
        let block = Span { column: 3, ..span };
        let p = block.problem(Some((3, 2)), "rules.x", "bad");
        assert_eq!((p.line, p.column), (6, 4));
        assert_eq!(p.to_string(), "p/a.yaml:6:4: bad [rules.x]");
    }
}
