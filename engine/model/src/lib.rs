//! The ledgerlens domain model: pure data, no I/O.
//!
//! Everything else in ledgerlens speaks these types:
//!
//! - [`Record`]: what a source adapter reads from one row of an export (a transaction, an
//!   accounting voucher line, a customer master row, marketing spend, a budget, a cost pool,
//!   an activity count), with the row it came from ([`Row`]).
//! - [`Entry`]: one normalized line of a customer ledger (or of the company ledger when it
//!   names no customer), with a signed [`Decimal`] amount, its [`EntryKind`], dimensions and
//!   provenance.
//! - [`Customer`]: the master record of one canonical customer.
//! - [`Spend`], [`Budget`], [`CostPool`], [`Activity`]: facts that are not ledger lines.
//! - [`Diagnostic`]: a problem with the inputs, as a value with a code, a message and where
//!   it came from (file, row, column).
//! - [`normalize`]: names, phones and unified social credit codes in canonical form.
//!
//! Money is [`rust_decimal::Decimal`] everywhere; there are no floats in this crate.
//!
//! ```
//! use ledgerlens_model::{EntryKind, Period};
//! assert_eq!("refund".parse::<EntryKind>().unwrap(), EntryKind::Return);
//! assert_eq!("2024-Q1".parse::<Period>().unwrap().to_string(), "2024-Q1");
//! ```
#![deny(missing_docs)]

pub mod compact;
mod customer;
mod diagnostic;
mod entry;
mod fact;
pub mod normalize;
mod period;
mod record;

pub use customer::{Customer, CustomerId};
pub use diagnostic::{Diagnostic, Severity};
pub use entry::{Dimensions, Entry, EntryKind, Provenance, UnknownKind};
pub use fact::{Activity, Budget, CostPool, Spend};
pub use period::Period;
pub use record::{
    ActivityRecord, CustomerRecord, Party, Record, RecordType, Row, Transaction, VoucherLine,
};
pub use rust_decimal::Decimal;
