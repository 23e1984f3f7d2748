//! The adapter: decode, find the rows, decide on the header, resolve the mapping, then
//! read row by row.

use ledgerlens_adapter::{
    check, decode, push_gb, Adapter, Delimiter, Error, Input, Item, SourceOptions, Text,
};
use ledgerlens_model::Diagnostic;

use ledgerlens_adapter::table::{self as plan, Builder, NextRow, Plan};

use crate::rows::{Fields, Next, Rows, Whitespace};
use crate::sniff::sniff_bytes;
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
    ) -> Result<Box<dyn Iterator<Item = Item> + Send + 'a>, Error> {
        plan::check(options)?;
        let file = input.name.as_str();
        let mut rows = open(input, options)?;
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
        let plan = plan::resolve(file.into(), options.into(), header)?;
        Ok(Box::new(Records {
            rows,
            plan,
            by_words: plan::builder(options.record),
            by_fields: plan::builder(options.record),
        }))
    }
}

/// Decodes the file and sets up its rows after `skip_rows`, with the delimiter given or
/// detected. GB text split at a comma, tab or semicolon is not decoded whole: its rows
/// are split as bytes and their cells decoded one by one.
fn open<'a>(input: &'a Input, options: &SourceOptions) -> Result<Rows<'a>, Error> {
    let file = input.name.as_str();
    let first_line = u64::try_from(options.skip_rows).map_or(u64::MAX, |n| n.saturating_add(1));
    if let Text::Gb(bytes) = check(file, &input.bytes, options.encoding)? {
        if gb_is_blank(bytes) {
            return Err(Error::Empty {
                file: file.to_string(),
            });
        }
        // GB18030 spells U+FEFF 84 31 95 33.
        let bom = if bytes.starts_with(&[0x84, 0x31, 0x95, 0x33]) {
            4
        } else {
            0
        };
        let start = skip_lines(bytes, bom, options.skip_rows);
        let delimiter = match options.delimiter {
            Delimiter::Auto => sniff_bytes(bytes.get(start..).unwrap_or_default(), true),
            given => given,
        };
        let byte = match delimiter {
            Delimiter::Comma | Delimiter::Auto => Some(b','),
            Delimiter::Tab => Some(b'\t'),
            Delimiter::Semicolon => Some(b';'),
            // `|` can be the second byte of a GBK character; runs of blanks are split on
            // decoded text.
            Delimiter::Pipe | Delimiter::Whitespace => None,
        };
        if let Some(byte) = byte {
            return Ok(Rows::gb(bytes, start, first_line, byte));
        }
    }
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
    let start = skip_lines(text.as_bytes(), bom, options.skip_rows);
    let delimiter = match options.delimiter {
        Delimiter::Auto => sniff_delimiter(text.get(start..).unwrap_or_default()),
        given => given,
    };
    Ok(Rows::new(text, start, first_line, delimiter))
}

/// Whether checked GB text holds nothing but whitespace (and byte-order marks), as its
/// decoded text would say: line by line, decoding only lines with non-ASCII bytes, up to
/// the first line with content.
fn gb_is_blank(bytes: &[u8]) -> bool {
    let mut decoded = String::new();
    bytes.split(|&b| b == b'\n').all(|line| {
        if line.is_ascii() {
            return line.iter().all(u8::is_ascii_whitespace);
        }
        decoded.clear();
        push_gb(line, &mut decoded);
        decoded
            .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
            .is_empty()
    })
}

/// The rows of a delimited-text file as owned, trimmed cells with their 1-based line
/// numbers, for adapters that read a layout of their own from text (ERP exports): the
/// file is decoded (`encoding`), `skip_rows` lines are dropped, the delimiter is
/// `delimiter` or detected, and rows with no content are skipped. A row the `csv` reader
/// cannot read is an `adapter.malformed` diagnostic.
///
/// ```
/// use ledgerlens_adapter::{Input, SourceOptions};
/// use ledgerlens_model::RecordType;
///
/// let input = Input { name: "u8.txt".into(), bytes: "填制凭证,V800\n2025-01-15,记,1\n".into() };
/// let options = SourceOptions::new("u8", RecordType::VoucherLine);
/// let rows: Vec<_> = ledgerlens_csv::text_rows(&input, &options).unwrap().collect();
/// assert_eq!(rows[1].as_ref().unwrap(), &(2, vec!["2025-01-15".to_string(), "记".into(), "1".into()]));
/// ```
pub fn text_rows<'a>(
    input: &'a Input,
    options: &SourceOptions,
) -> Result<impl Iterator<Item = Result<(u64, Vec<String>), Diagnostic>> + 'a, Error> {
    let mut next = text_rows_into(input, options)?;
    Ok(std::iter::from_fn(move || {
        let mut cells = Vec::new();
        Some(next(&mut cells)?.map(|line| (line, cells)))
    }))
}

/// [`text_rows`] as a row source that writes each row's cells over one reused row
/// (`Some(Ok(line))`, the cells in `cells`), so reading a row allocates nothing once the
/// row's strings have grown to fit.
///
/// ```
/// use ledgerlens_adapter::{Input, SourceOptions};
/// use ledgerlens_model::RecordType;
///
/// let input = Input { name: "u8.txt".into(), bytes: "填制凭证,V800\n2025-01-15, 记 ,1\n".into() };
/// let options = SourceOptions::new("u8", RecordType::VoucherLine);
/// let mut next = ledgerlens_csv::text_rows_into(&input, &options).unwrap();
/// let mut cells = Vec::new();
/// assert_eq!(next(&mut cells).unwrap().unwrap(), 1);
/// assert_eq!(next(&mut cells).unwrap().unwrap(), 2);
/// assert_eq!(cells, ["2025-01-15", "记", "1"]);
/// assert!(next(&mut cells).is_none());
/// ```
pub fn text_rows_into<'a>(input: &'a Input, options: &SourceOptions) -> Result<NextRow<'a>, Error> {
    let mut rows = open(input, options)?;
    let file = input.name.clone();
    Ok(Box::new(move |cells: &mut Vec<String>| {
        Some(match rows.advance()? {
            Next::Row(line) => {
                rows.cells_into(cells);
                Ok(line)
            }
            Next::Malformed { line, message, .. } => {
                Err(Diagnostic::error("adapter.malformed", message)
                    .in_file(file.as_str())
                    .at_row(line))
            }
        })
    }))
}

/// The byte offset after the first `n` lines of `text`, starting at `from`.
fn skip_lines(text: &[u8], from: usize, n: usize) -> usize {
    let mut at = from;
    for _ in 0..n {
        match text
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
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
        let bytes = text.as_bytes();
        assert_eq!(skip_lines(bytes, 0, 0), 0);
        assert_eq!(skip_lines(bytes, 0, 2), 9);
        assert_eq!(&text[skip_lines(bytes, 0, 2)..], "h1,h2\n1,2");
        assert_eq!(skip_lines(bytes, 0, 9), text.len());
    }

    #[test]
    fn gb_blank_text_is_told_by_its_characters() {
        let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
        assert!(gb_is_blank(&gb(" \r\n\t\n")));
        assert!(gb_is_blank(&gb("\u{3000}\n\u{feff} \n")));
        assert!(!gb_is_blank(&gb("\u{3000}\n 亅\n")));
        assert!(!gb_is_blank(&gb("\n\n,")));
    }
}
