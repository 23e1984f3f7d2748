//! ledgerlens rule packs: YAML rules with Rhai expressions, compiled once and evaluated
//! over customer tables. This is the only crate that touches Rhai.
//!
//! The stages, as for any compiler:
//!
//! 1. [`Pack::load`] reads a pack folder ([`PackSource`]) and the packs it `extends`, and
//!    merges them: parameters, rules and scripts of the same name are overridden.
//! 2. [`Program::compile`] validates the merged pack against the input columns the caller
//!    provides (built-in features and master fields): every expression compiled once to a
//!    Rhai AST in the [`sandbox`], references resolved, rules ordered by dependency (a cycle
//!    is an error), output types fixed by a dry run. Problems come back all at once, each
//!    with file, line and column ([`Problem`]).
//! 3. [`Program::evaluate`] runs the rules over a [`Table`] of customers and the [`Facts`]
//!    (spend, budgets) and returns an [`Outcome`]: segment sizes, KPI values, alerts and
//!    diagnostics, each sorted by a documented key, and the table with every rule's
//!    per-customer value.
//!
//! [`Program::explain`] traces why one customer got each label and value.
//!
//! Declared features (sums, counts, ... over ledger entries) are computed natively by the
//! caller with an [`Accumulator`], since only the caller reads the ledger.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ledgerlens_rules::{Column, Facts, Input, Pack, PackSource, Program, Table, Type, Value};
//!
//! let source = PackSource::from_files("demo", [
//!     ("pack.yaml", "name: demo\nparams:\n  big: 1000\n"),
//!     ("tiers.yaml", "segment: tier\nrules:\n  - when: revenue >= params.big\n    label: key-account\n  - label: ordinary\n"),
//! ]);
//! let pack = Pack::load(source, &())?;
//! let inputs = BTreeMap::from([("revenue".to_string(), Type::Decimal)]);
//! let program = Program::compile(&pack, &inputs)?;
//!
//! let mut table = Table::new(["c1", "c2"]);
//! table.insert("revenue", Column::from_values(Type::Decimal, [Value::Int(5000), Value::Int(10)]));
//! let as_of = "2025-12-31".parse().unwrap();
//! let outcome = program.evaluate(Input { table, facts: Facts::default(), as_of, periods: Default::default() })?;
//! assert_eq!(outcome.table.column("tier").unwrap().get(0).to_string(), "key-account");
//! # Ok::<(), ledgerlens_rules::Error>(())
//! ```
#![deny(missing_docs)]

pub mod compile;
pub mod declared;
mod error;
mod eval;
mod explain;
pub mod facts;
mod native;
pub mod pack;
pub mod periods;
pub mod sandbox;
pub mod spec;
mod value;

pub use compile::{
    CountModel, Level, ModelDef, ModelUnit, Program, Rule, RuleBody, SpendModel, MODEL_OUTPUTS,
};
pub use declared::{Accumulator, Declared, EntryView};
pub use error::{Error, Problem, Span};
pub use eval::{AlertRow, Input, Keep, KpiValue, ModelFit, Outcome, RuleDiagnostic, SegmentCount};
pub use explain::{Explanation, Step};
pub use facts::Facts;
pub use pack::{Pack, PackSource, Resolver};
pub use periods::{PeriodAccumulator, PeriodState, PeriodTotals};
pub use sandbox::FunctionDoc;
pub use value::{Column, ColumnBuilder, Concat, Table, Type, Value};
