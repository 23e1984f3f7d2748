//! The ledgerlens `exec` adapter: a source that runs a program and reads the JSON Lines
//! records it prints.
//!
//! [`ExecAdapter`] implements [`Adapter`] under the name
//! `exec`. A source names the program and its arguments as a list (no shell is involved),
//! and may set a `timeout` in seconds (default 300) and `env` variables:
//!
//! ```yaml
//! sources:
//!   - name: shop-api
//!     adapter: exec
//!     command: [python3, scripts/export_orders.py, --since, "2024-01-01"]
//!     timeout: 60
//!     env: { SHOP_REGION: east }
//!     record: transaction
//!     kind: sale
//! ```
//!
//! [`Adapter::fetch`] runs the program in the project
//! folder with stdin closed and returns its standard output as the input named
//! `exec:<source>`; the pipeline imports it like a file (so the same output twice is
//! recognized by its content hash). The output is read with the
//! [`jsonl`](ledgerlens_jsonl) protocol, strictly: a program is code, not an export, so
//! any line that is not a valid record fails the whole source and nothing is imported.
//!
//! Every failure is an [`Error::Command`] naming the
//! source and the command: the program cannot start, exits non-zero, is killed by the
//! timeout, or prints nothing; the last lines of its stderr are quoted.
//!
//! ```
//! # #[cfg(unix)] {
//! use ledgerlens_adapter::{Adapter, SourceOptions};
//! use ledgerlens_exec::ExecAdapter;
//! use ledgerlens_model::RecordType;
//!
//! let mut options = SourceOptions::new("shop", RecordType::Spend);
//! options.adapter = "exec".into();
//! options.command = vec![
//!     "printf".into(),
//!     r#"{"date": "2024-03-01", "channel": "微信", "amount": 300}\n"#.into(),
//! ];
//! let input = ExecAdapter.fetch(&options, std::path::Path::new(".")).unwrap().unwrap();
//! assert_eq!(input.name, "exec:shop");
//! let rows: Vec<_> = ExecAdapter.read(&input, &options).unwrap().collect();
//! assert!(rows[0].is_ok());
//! # }
//! ```
#![deny(missing_docs)]

mod run;

use std::path::Path;

use ledgerlens_adapter::{Adapter, Error, Input, Item, SourceOptions};

pub use run::{run, Output};

/// The `exec` adapter. See the [crate documentation](crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecAdapter;

/// How many lines of a program's stderr an error quotes.
pub const STDERR_LINES: usize = 10;

impl Adapter for ExecAdapter {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn description(&self) -> &'static str {
        "runs a program (command: [prog, arg, ...]) and reads the JSON Lines records it prints"
    }

    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error> {
        let items: Vec<Item> =
            ledgerlens_jsonl::records(&input.name, &input.bytes, options)?.collect();
        if let Some(Err(d)) = items.iter().find(|item| item.is_err()) {
            let at = match (d.row, &d.column) {
                (Some(row), Some(column)) => format!("line {row}, key '{column}': "),
                (Some(row), None) => format!("line {row}: "),
                _ => String::new(),
            };
            return Err(failed(
                options,
                format!(
                    "printed a line that is not a valid record ({at}{}: {}); nothing was imported",
                    d.code, d.message
                ),
            ));
        }
        Ok(Box::new(items.into_iter()))
    }

    fn fetch(&self, options: &SourceOptions, project: &Path) -> Result<Option<Input>, Error> {
        options
            .check_command()
            .map_err(|message| options_error(options, message))?;
        if options.command.is_empty() {
            return Err(options_error(
                options,
                "adapter: exec needs `command: [program, arg, ...]`".to_string(),
            ));
        }
        let timeout = options.timeout.unwrap_or(SourceOptions::DEFAULT_TIMEOUT);
        let output = run(
            &options.command,
            &options.env,
            project,
            std::time::Duration::from_secs(timeout),
        )
        .map_err(|message| failed(options, message))?;
        if output.stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(failed(
                options,
                format!(
                    "printed nothing (one JSON record per line expected){}",
                    stderr_tail(&output.stderr)
                ),
            ));
        }
        Ok(Some(Input {
            name: format!("exec:{}", options.name),
            bytes: output.stdout,
        }))
    }
}

fn options_error(options: &SourceOptions, message: String) -> Error {
    Error::Options {
        source_name: options.name.clone(),
        message,
    }
}

fn failed(options: &SourceOptions, message: String) -> Error {
    Error::Command {
        source_name: options.name.clone(),
        command: options.command.join(" "),
        message,
    }
}

/// `; stderr (last lines): ...` when the program wrote to stderr, else nothing.
pub(crate) fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    format!("; stderr (last lines):\n  {}", tail.join("\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_quotes_the_last_non_blank_lines() {
        assert_eq!(stderr_tail(b""), "");
        assert_eq!(stderr_tail(b"\n  \n"), "");
        let many: String = (1..=15).map(|i| format!("l{i}\n\n")).collect();
        let tail = stderr_tail(many.as_bytes());
        assert!(tail.starts_with("; stderr (last lines):\n  l6\n"), "{tail}");
        assert!(tail.ends_with("l15"), "{tail}");
        assert_eq!(tail.lines().count(), 1 + STDERR_LINES);
    }
}
