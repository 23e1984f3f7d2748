//! Tabular sources: rows of text cells (delimited text, spreadsheet sheets, ERP table
//! exports) read through the source's column mapping (`columns:`, `defaults:`, `kind:`,
//! ...), the same way for every tabular adapter.
//!
//! The steps, each its own function so an adapter with a fast row source (the CSV
//! adapter) can drive them itself: [`check`] the options against the record type before
//! reading; decide whether the first row [`is_header`]; [`resolve`] the mapping to cell
//! indices once per file ([`Plan`]); then [`Plan::build`] each row with the record type's
//! [`builder`]. An adapter whose rows come as owned cells (`Vec<String>`) hands them to
//! [`read_rows`], which does all of it.
//!
//! ```
//! use ledgerlens_adapter::{table, ColumnRef, Field, SourceOptions};
//! use ledgerlens_model::{EntryKind, Record, RecordType};
//!
//! let mut options = SourceOptions::new("orders", RecordType::Transaction);
//! options.kind = Some(EntryKind::Sale);
//! options.columns.insert(Field::Date, ColumnRef::Name("日期".into()));
//! options.columns.insert(Field::Amount, ColumnRef::Name("金额".into()));
//! options.columns.insert(Field::Customer, ColumnRef::Name("客户".into()));
//! let rows = vec![
//!     Ok((1, vec!["日期".to_string(), "客户".into(), "金额".into()])),
//!     Ok((2, vec!["2024-03-01".to_string(), "C001".into(), "1,200.50".into()])),
//!     Ok((3, vec!["2024-03-02".to_string(), "C002".into(), "abc".into()])),
//! ];
//! let items: Vec<_> = table::read_rows("orders.xlsx", &options, rows).unwrap().collect();
//! let Ok(first) = &items[0] else { panic!("a record") };
//! let Record::Transaction(t) = &first.record else { panic!("a transaction") };
//! assert_eq!(t.amount.to_string(), "1200.50");
//! let Err(problem) = &items[1] else { panic!("a diagnostic") };
//! assert_eq!(problem.code, "adapter.bad_amount");
//! assert_eq!(problem.row, Some(3));
//! ```

mod auxiliary;
mod build;
mod plan;
mod value;

pub use build::{builder, At, Builder};
pub use plan::{check, fields, is_header, resolve, Plan};
pub use value::trim;

use std::borrow::Cow;

use ledgerlens_model::Diagnostic;

use crate::{Error, Item, SourceOptions};

/// The cells of one row.
pub trait Cells {
    /// How many cells the row has.
    fn width(&self) -> usize;
    /// Cell `i` (0-based), untrimmed; `""` beyond the row.
    fn cell(&self, i: usize) -> &str;
}

impl Cells for [String] {
    fn width(&self) -> usize {
        self.len()
    }

    fn cell(&self, i: usize) -> &str {
        self.get(i).map_or("", String::as_str)
    }
}

impl Cells for Vec<String> {
    fn width(&self) -> usize {
        self.len()
    }

    fn cell(&self, i: usize) -> &str {
        self.get(i).map_or("", String::as_str)
    }
}

/// A row of owned cells with its 1-based row number, or why a row could not be split
/// into cells.
pub type RowCells = Result<(u64, Vec<String>), Diagnostic>;

/// Reads rows of owned cells through the source's mapping: checks the options, takes the
/// first row as the header when it is one ([`is_header`]), and yields one record or
/// diagnostic per later row (a row source's own diagnostics pass through in place). Rows
/// whose cells are all blank are skipped. `Err` when the options cannot work or a mapped
/// column is not in the header.
pub fn read_rows<'a, I>(
    file: impl Into<Cow<'a, str>>,
    options: impl Into<Cow<'a, SourceOptions>>,
    rows: I,
) -> Result<impl Iterator<Item = Item> + 'a, Error>
where
    I: IntoIterator<Item = RowCells>,
    I::IntoIter: 'a,
{
    let mut rows = rows.into_iter().fuse();
    read_rows_into(file, options, move |cells: &mut Vec<String>| {
        Some(rows.next()?.map(|(line, row)| {
            *cells = row;
            line
        }))
    })
}

/// A row source that fills one reused row of cells (so a row's cells are not allocated
/// anew): `Some(Ok(line))` with the row's cells in the vector, `Some(Err(diagnostic))`
/// for a row that could not be split into cells, `None` at the end.
pub type NextRow<'a> =
    Box<dyn FnMut(&mut Vec<String>) -> Option<Result<u64, Diagnostic>> + Send + 'a>;

/// [`read_rows`] over a row source that fills one reused row of cells ([`NextRow`]).
/// The source is not called again after it gave `None`.
pub fn read_rows_into<'a, S>(
    file: impl Into<Cow<'a, str>>,
    options: impl Into<Cow<'a, SourceOptions>>,
    mut next: S,
) -> Result<impl Iterator<Item = Item> + 'a, Error>
where
    S: FnMut(&mut Vec<String>) -> Option<Result<u64, Diagnostic>> + 'a,
{
    let (file, options) = (file.into(), options.into());
    check(&options)?;
    let blank = |cells: &[String]| cells.iter().all(|c| c.trim().is_empty());
    let mut cells = Vec::new();
    let mut leading = Vec::new();
    let mut first = None;
    let mut done = false;
    while first.is_none() {
        match next(&mut cells) {
            None => {
                done = true;
                break;
            }
            Some(Err(diagnostic)) => leading.push(Err(diagnostic)),
            Some(Ok(line)) if !blank(&cells) => first = Some(line),
            Some(Ok(_)) => {}
        }
    }
    let mut data = None;
    let header = match first {
        Some(line) => {
            let trimmed: Vec<String> = cells.iter().map(|c| trim(c).to_string()).collect();
            if is_header(&options, &file, line, &trimmed)? {
                Some((line, trimmed))
            } else {
                data = Some(line);
                None
            }
        }
        None => None,
    };
    let record = options.record;
    let plan = resolve(file, options, header)?;
    let build = builder::<Vec<String>>(record);
    let mut leading = leading.into_iter();
    Ok(std::iter::from_fn(move || {
        if let Some(diagnostic) = leading.next() {
            return Some(diagnostic);
        }
        loop {
            let line = match data.take() {
                Some(line) => line,
                None if done => return None,
                None => match next(&mut cells) {
                    None => {
                        done = true;
                        return None;
                    }
                    Some(Err(diagnostic)) => return Some(Err(diagnostic)),
                    Some(Ok(line)) => line,
                },
            };
            if blank(&cells) {
                continue;
            }
            if let Some(item) = plan.build(line, &cells, build) {
                return Some(item);
            }
        }
    }))
}
