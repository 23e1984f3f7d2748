//! ledgerlens reports: one self-contained HTML file (inline CSS, hand-written inline SVG
//! charts, no scripts, no network) showing the results of a rule run.
//!
//! The input is plain data, [`Report`]: the caller (the `ledgerlens` binary) fills it
//! from a rule run, so this crate depends on neither the rules engine nor the store.
//! [`render`] draws it; the same report renders the same bytes. [`Report::digest`]
//! reduces a report to what it draws, a [`Digest`] of bounded size that can be stored and
//! drawn again later ([`Digest::render`]) with the same bytes. Large series are
//! aggregated before they are drawn: the whale curve of millions of customers keeps at
//! most [`whale::MAX_POINTS`] points, and a bar chart at most [`MAX_BARS`] bars.
//!
//! ```
//! use ledgerlens_report::{render, Kpi, Report};
//!
//! let report = Report {
//!     title: "星河优选".into(),
//!     kpis: vec![Kpi { name: "dso".into(), text: "54.6".into(), ..Kpi::default() }],
//!     ..Report::default()
//! };
//! let html = render(&report);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("星河优选") && html.contains("54.6"));
//! ```
#![deny(missing_docs)]

pub mod chart;
mod digest;
mod input;
mod render;
pub mod text;
pub mod whale;

pub use digest::{AlertSummary, Digest};
pub use input::{
    Alert, CustomerDetail, ImportSummary, Kpi, Level, PackInfo, Report, Segment, Trace, TraceStep,
};
pub use render::{render, DEVIATION_BAND, MARKETING_KPIS, MAX_ALERT_ROWS, MAX_BARS, PERIOD_KEYS};
pub use text::escape;
pub use whale::{extremes, whale_curve, Whale};
