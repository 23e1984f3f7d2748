//! The ledgerlens adapter for JSON Lines: one record per line, as a JSON object whose keys
//! are the field names of the csv adapter's `columns:` mapping.
//!
//! [`JsonlAdapter`] implements [`Adapter`](ledgerlens_adapter::Adapter) under the name
//! `jsonl`; [`records`] is the same reader over any bytes (the `exec` adapter reads a
//! program's output with it), and [`sniff`] tells JSON Lines from its first line.
//!
//! # The record protocol
//!
//! - One JSON object per line; blank lines are skipped. Row numbers are 1-based physical
//!   lines.
//! - The `record` key names the record type (`transaction`, `voucher-line`, `customer`,
//!   `spend`, `budget`, `cost-pool`, `activity`); without it, the source's `record:`.
//!   One file may mix record types.
//! - Every other key is a field name of that record type, exactly as in the csv adapter's
//!   `columns:` (`date`, `amount`, `kind`, `customer`, `customer_name`, `voucher`,
//!   `voucher_word`, `voucher_number`, `account`, `debit`, `credit`, `code`, `name`,
//!   `phone`, `uscc`, `channel`, `period`, `pool`, `activity`, `count`, ...). The source's
//!   `columns:` may rename keys (`columns: { amount: 金额 }` reads the key `金额` as the
//!   amount); a customer source's `attributes: [key, ...]` keeps those extra keys.
//! - Values are strings or numbers (read from their literal text, so `0.1` is exactly
//!   `0.1`: money never goes through a float), `null` for an absent value, and for `tags`
//!   also a list of strings. Strings are read like csv cells: dates and amounts in every
//!   spelling [`parse_date`](ledgerlens_adapter::parse_date) and
//!   [`parse_amount`](ledgerlens_adapter::parse_amount) accept. `defaults:`, `kind:`,
//!   `kinds:`, `currency:` and `date_format:` work as for csv.
//! - A line that cannot be read is a diagnostic for its row, never a panic:
//!   `adapter.bad_json` (not JSON), `adapter.not_object` (JSON, but not an object),
//!   `adapter.bad_record` (an unknown `record`), `adapter.unknown_field` (a key the record
//!   type does not read), `adapter.duplicate_field`, `adapter.bad_type` (a boolean, object
//!   or list where a value belongs), and the csv adapter's value diagnostics
//!   (`adapter.bad_date`, `adapter.bad_amount`, `adapter.missing_value`, ...). The column
//!   of a diagnostic is the key.
//! - Encoding as for the other adapters: `encoding:` or detected (UTF-8 with or without
//!   BOM, else GB18030, a superset of GBK).
//!
//! ```
//! use ledgerlens_adapter::{Adapter, Input, SourceOptions};
//! use ledgerlens_jsonl::JsonlAdapter;
//! use ledgerlens_model::{EntryKind, Record, RecordType};
//!
//! let input = Input {
//!     name: "orders.jsonl".to_string(),
//!     bytes: br#"{"date": "2024-03-01", "customer": "C001", "kind": "sale", "amount": 0.1}
//! {"record": "customer", "code": "C001", "name": "ACME", "phone": "13800138000"}
//! "#
//!     .to_vec(),
//! };
//! let options = SourceOptions::new("shop", RecordType::Transaction);
//! let rows: Vec<_> = JsonlAdapter.read(&input, &options).unwrap().collect();
//! let Ok(row) = &rows[0] else { panic!("a record") };
//! let Record::Transaction(t) = &row.record else { panic!("a transaction") };
//! assert_eq!((t.kind, t.amount.to_string()), (EntryKind::Sale, "0.1".to_string()));
//! let Ok(row) = &rows[1] else { panic!("a record") };
//! assert!(matches!(&row.record, Record::Customer(c) if c.party.code == "C001"));
//! ```
#![deny(missing_docs)]

mod object;
mod reader;

pub use reader::{records, sniff, JsonlAdapter, Records, Sniffed};
