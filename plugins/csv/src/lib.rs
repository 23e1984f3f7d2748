//! The ledgerlens adapter for delimited text: comma, tab, semicolon, pipe or running
//! whitespace, in UTF-8 (with or without BOM), GBK or GB18030.
//!
//! [`CsvAdapter`] implements [`Adapter`](ledgerlens_adapter::Adapter) under the name `csv`.
//! The source options say what each row is (`record`) and which column holds which field
//! (`columns`, by header name or 1-based number); everything else is detected when not
//! given: the encoding, the delimiter ([`sniff_delimiter`]) and whether the first row is a
//! header. Each data row becomes a [`Row`](ledgerlens_model::Row), or a
//! [`Diagnostic`](ledgerlens_model::Diagnostic) with a stable code (`adapter.bad_date`,
//! `adapter.bad_amount`, `adapter.short_row`, ...) naming the file, row and column when the
//! row cannot be read. Row numbers are 1-based physical lines of the file.
//!
//! # How a file is read
//!
//! - **Encoding**: `encoding` (`utf-8`, `gbk`, `gb18030`) or detected (UTF-8 when valid,
//!   else GB18030); a UTF-8 BOM is dropped. A file with nothing but whitespace is
//!   `Error::Empty`; bytes invalid in the encoding are `Error::Encoding` naming the line.
//! - **Rows**: `skip_rows` physical lines (blank ones included) are dropped first. Rows
//!   whose cells are all empty are skipped. Quoted cells may hold delimiters, `""` and line
//!   breaks; a row keeps the line it starts on. A quote left open at the end of the file is
//!   an `adapter.malformed` diagnostic rather than a giant cell.
//! - **Delimiter**: `delimiter`, or the most frequent of `,` tab `;` `|` outside quotes in
//!   the first ten lines, else runs of spaces and tabs (leading and trailing ones ignored;
//!   no quoting), as in CDNOW's ` 00001 19970101  1   11.77`.
//! - **Header**: `header: present/absent`, or detected: with columns mapped by name, the
//!   first row is the header and must hold every name (else `Error::UnknownColumn` listing
//!   what it holds); with numbered columns only, it is a header when its first non-empty
//!   date (or amount, or period) cell does not read as one. Names match after trimming.
//! - **Cells** are trimmed; an empty cell is an absent value, which `defaults` fill.
//!   Extra cells are ignored; a row too short for a mapped column is `adapter.short_row`.
//! - **Values**: dates and amounts in the spellings
//!   [`parse_date`](ledgerlens_adapter::parse_date) and
//!   [`parse_amount`](ledgerlens_adapter::parse_amount) accept (`date_format` for others).
//!   A customer cell may hold Kingdee auxiliary items (`部门---D01---销售一部;客户---C0001---名称`):
//!   the 客户 item gives the customer's code and name, 部门 and 项目 fill the department and
//!   project dimensions when those have no column of their own.
//! - **Diagnostics** (severity error, one per row, its first problem): `adapter.bad_date`,
//!   `adapter.bad_amount`, `adapter.bad_number`, `adapter.bad_kind`, `adapter.bad_period`,
//!   `adapter.missing_value`, `adapter.short_row`, `adapter.malformed`. The column is the
//!   header name, or the 1-based number in a file without a header.
//! - **Options** that cannot work (a required field unmapped, a field the record type does
//!   not read, named columns with `header: absent`, a default that does not parse) are
//!   `Error::Options` before the file is read.
//!
//! ```
//! use ledgerlens_adapter::{Adapter, ColumnRef, Field, Input, SourceOptions};
//! use ledgerlens_csv::CsvAdapter;
//! use ledgerlens_model::{EntryKind, Record, RecordType};
//!
//! // CDNOW's layout: whitespace-separated, numbered columns, a header line.
//! let input = Input {
//!     name: "CDNOW_master.txt".to_string(),
//!     bytes: b" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n"
//!         .to_vec(),
//! };
//! let mut options = SourceOptions::new("cdnow", RecordType::Transaction);
//! options.kind = Some(EntryKind::Sale);
//! options.columns.insert(Field::Customer, ColumnRef::Index(1));
//! options.columns.insert(Field::Date, ColumnRef::Index(2));
//! options.columns.insert(Field::Quantity, ColumnRef::Index(3));
//! options.columns.insert(Field::Amount, ColumnRef::Index(4));
//!
//! let rows: Vec<_> = CsvAdapter.read(&input, &options).unwrap().collect();
//! assert_eq!(rows.len(), 1);
//! let row = rows[0].as_ref().unwrap();
//! assert_eq!(row.row, 2);
//! let Record::Transaction(t) = &row.record else { panic!("a transaction") };
//! assert_eq!(t.customer.as_ref().unwrap().code, "00001");
//! assert_eq!(t.date.to_string(), "1997-01-01");
//! assert_eq!(t.amount.to_string(), "11.77");
//! ```
#![deny(missing_docs)]

mod adapter;
mod rows;
mod sniff;

pub use adapter::{text_rows, text_rows_into, CsvAdapter};
pub use sniff::sniff_delimiter;
