//! The adapter: decode, find the rows, decide on the header, resolve the mapping, then
//! read row by row.

use ledgerlens_adapter::{decode, Adapter, Delimiter, Error, Input, Item, SourceOptions};
use ledgerlens_model::Diagnostic;

use ledgerlens_adapter::table::{self as plan, Builder, Plan};

use crate::rows::{Fields, Next, Rows, Whitespace};
use crate::sniff_delimiter;

/// The delimited-text adapter (`adapter: csv`): comma, tab, semicolon, pipe or running
/// whitespace; UTF-8 (with or without BOM), GBK or GB18030.
///
/// See the [crate documentation](crate) for an example and what is detected.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvAdapter;

impl Adapter for CsvAdapter {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn description(&self) -> &'static str {
        "delimited text: comma, tab, semicolon, pipe or whitespace; UTF-8, GBK or GB18030"
    }

    fn read<'a>(
        &self,
        input: &'a Input,
        options: &'a SourceOptions,
    ) -> Result<Box<dyn Iterator<Item = Item> + 'a>, Error> {
        plan::check(options)?;
        let file = input.name.as_str();
        let text = decode(file, &input.bytes, options.encoding)?.text;
        if text
            .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .is_empty()
        {
            return Err(Error::Empty {
                file: file.to_string(),
            });
        }
        let bom = if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let start = skip_lines(&text, bom, options.skip_rows);
        let delimiter = match options.delimiter {
            Delimiter::Auto => sniff_delimiter(text.get(start..).unwrap_or_default()),
            given => given,
        };
        let first_line = u64::try_from(options.skip_rows).map_or(u64::MAX, |n| n.saturating_add(1));
        let mut rows = Rows::new(text, start, first_line, delimiter);
        let line = match rows.advance() {
            None => return Ok(Box::new(std::iter::empty())),
            Some(Next::Row(line)) => line,
            Some(Next::Malformed { line, message, .. }) => {
                return Err(Error::Malformed {
                    file: file.to_string(),
                    message: format!("line {line}: {message}"),
                })
            }
        };
        let cells = rows.owned_cells();
        let header = if plan::is_header(options, file, line, &cells)? {
            Some((line, cells))
        } else {
            rows.unread();
            None
        };
        let plan = plan::resolve(file, options, header)?;
        Ok(Box::new(Records {
            rows,
            plan,
            by_words: plan::builder(options.record),
            by_fields: plan::builder(options.record),
        }))
    }
}

/// The byte offset after the first `n` lines of `text`, starting at `from`.
fn skip_lines(text: &str, from: usize, n: usize) -> usize {
    let mut at = from;
    for _ in 0..n {
        match text.get(at..).and_then(|rest| rest.find('\n')) {
            Some(i) => at += i + 1,
            None => return text.len(),
        }
    }
    at
}

/// The data rows of one file.
struct Records<'a> {
    rows: Rows<'a>,
    plan: Plan<'a>,
    by_words: Builder<Whitespace<'a>>,
    by_fields: Builder<Fields>,
}

impl Iterator for Records<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        match &mut self.rows {
            Rows::Whitespace(w) => {
                let line = w.advance()?;
                self.plan.build(line, w, self.by_words)
            }
            Rows::Delimited(d) => match d.advance()? {
                Next::Row(line) => self.plan.build(line, &d.record, self.by_fields),
                Next::Malformed {
                    line,
                    column,
                    message,
                } => {
                    let diagnostic = Diagnostic::error("adapter.malformed", message)
                        .in_file(self.plan.file())
                        .at_row(line);
                    Some(Err(match column {
                        Some(i) => diagnostic.at_column(self.plan.label(i)),
                        None => diagnostic,
                    }))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lines_counts_physical_lines() {
        let text = "title\r\n\r\nh1,h2\n1,2";
        assert_eq!(skip_lines(text, 0, 0), 0);
        assert_eq!(skip_lines(text, 0, 2), 9);
        assert_eq!(&text[skip_lines(text, 0, 2)..], "h1,h2\n1,2");
        assert_eq!(skip_lines(text, 0, 9), text.len());
    }
}
