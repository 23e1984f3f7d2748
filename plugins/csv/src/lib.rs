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
mod auxiliary;
mod build;
mod plan;
mod rows;
mod sniff;
mod value;

pub use adapter::CsvAdapter;
pub use sniff::sniff_delimiter;
