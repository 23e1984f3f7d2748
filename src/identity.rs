//! `customers duplicates | merge | unmerge | distinct | decisions`: manual identity
//! decisions on top of the automatic resolution at import.

use std::io::Write;

use clap::Subcommand;
use ledgerlens_store::{Action, Decision, Store};
use serde_json::json;

use crate::output::{Format, Listing};

/// What `customers` does besides listing.
#[derive(Debug, Subcommand)]
pub enum CustomersAction {
    /// List pairs of customers that probably are one, with the evidence, strongest first:
    /// same valid USCC, same mobile, same name, same landline, similar name (then by id).
    /// Merged customers and pairs marked distinct are left out.
    Duplicates {
        /// Show at most N pairs.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Merge customer B into customer A: from now on B's ledger, codes and features read
    /// as A's (A's master fields stay). Recorded as a decision; nothing stored is
    /// rewritten, and later imports of B's codes follow the merge.
    Merge {
        /// The customer that remains.
        a: String,
        /// The customer merged into it.
        b: String,
        #[command(flatten)]
        note: Note,
    },
    /// Undo the manual merge of customer B: it reads as itself again.
    Unmerge {
        /// The merged customer.
        b: String,
        #[command(flatten)]
        note: Note,
    },
    /// Record that customers A and B are different, so `duplicates` stops proposing them.
    Distinct {
        /// One customer.
        a: String,
        /// The other.
        b: String,
        #[command(flatten)]
        note: Note,
    },
    /// List the recorded decisions (merge, unmerge, distinct), in the order they were made.
    Decisions,
}

/// Who, when and why, recorded with a decision (all optional; no clock is read).
#[derive(Debug, clap::Args)]
pub struct Note {
    /// Why (the evidence, a ticket number).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Who decided.
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// When, as you want it recorded (e.g. 2024-05-01).
    #[arg(long, value_name = "DATE")]
    at: Option<String>,
}

impl Note {
    fn parts(&self) -> (String, Option<String>, Option<String>) {
        (
            self.reason.clone().unwrap_or_default(),
            self.by.clone(),
            self.at.clone(),
        )
    }
}

/// One decision as printed: flat, keys sorted.
fn row(d: &Decision) -> serde_json::Value {
    let (action, a, b) = match &d.action {
        Action::Merge { survivor, absorbed } => ("merge", survivor.as_str(), absorbed.as_str()),
        Action::Unmerge { absorbed } => ("unmerge", "", absorbed.as_str()),
        Action::Distinct { a, b } => ("distinct", a.as_str(), b.as_str()),
    };
    json!({"seq": d.seq, "action": action, "a": a, "b": b, "reason": d.reason, "by": d.by, "at": d.at})
}

const DECISION_COLUMNS: [&str; 7] = ["seq", "action", "a", "b", "reason", "by", "at"];

/// Runs a `customers` action.
pub fn run(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    action: &CustomersAction,
) -> anyhow::Result<()> {
    use ledgerlens_pipeline::overlay;
    let decision = match action {
        CustomersAction::Duplicates { limit } => {
            let started = std::time::Instant::now();
            let mut found = ledgerlens_pipeline::duplicates(store)?;
            tracing::info!(pairs = found.len(), elapsed = ?started.elapsed(), "duplicates");
            found.truncate(limit.unwrap_or(usize::MAX));
            return Listing::of(
                &[
                    "strength",
                    "rule",
                    "evidence",
                    "customer",
                    "name",
                    "other",
                    "other_name",
                    "also",
                ],
                &found,
            )?
            .write(out, format);
        }
        CustomersAction::Decisions => {
            let rows = store.decisions()?.iter().map(row).collect();
            return Listing {
                columns: DECISION_COLUMNS.to_vec(),
                rows,
            }
            .write(out, format);
        }
        CustomersAction::Merge { a, b, note } => {
            canonical(store, &[a, b])?;
            let (reason, by, at) = note.parts();
            overlay::merge(store, a, b, reason, by, at)?
        }
        CustomersAction::Unmerge { b, note } => {
            canonical(store, &[b])?;
            let (reason, by, at) = note.parts();
            overlay::unmerge(store, b, reason, by, at)?
        }
        CustomersAction::Distinct { a, b, note } => {
            canonical(store, &[a, b])?;
            let (reason, by, at) = note.parts();
            overlay::distinct(store, a, b, reason, by, at)?
        }
    };
    if format == Format::Table {
        let what = match &decision.action {
            Action::Merge { survivor, absorbed } => {
                format!("merged {absorbed} into {survivor}")
            }
            Action::Unmerge { absorbed } => format!("unmerged {absorbed}"),
            Action::Distinct { a, b } => format!("marked {a} and {b} distinct"),
        };
        writeln!(out, "{what} (decision {})", decision.seq)?;
        return Ok(());
    }
    Listing {
        columns: DECISION_COLUMNS.to_vec(),
        rows: vec![row(&decision)],
    }
    .write(out, format)
}

/// Decisions name canonical customers: a source code that belongs to another customer
/// (linked at import) is refused with that customer's id, rather than as unknown.
fn canonical(store: &ledgerlens_store::Store, ids: &[&String]) -> anyhow::Result<()> {
    for id in ids {
        if store.customer(id)?.is_some() {
            continue;
        }
        if let Ok(owner) = crate::app::find_customer(store, id) {
            anyhow::bail!(
                "'{id}' is a source code of customer '{owner}': decisions take canonical customer ids (`ledgerlens customers` lists them)"
            );
        }
    }
    Ok(())
}
