//! The records the store keeps besides ledger blocks.

use chrono::NaiveDate;
use ledgerlens_model::{Activity, Budget, CostPool, Diagnostic, Spend};
use serde::{Deserialize, Serialize};

/// The commit record of one import batch: written last, it makes the batch visible.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Batch number (1, 2, ...).
    pub batch: u64,
    /// The file, as named at import.
    pub file: String,
    /// The source (configuration name) it was read as.
    pub source: String,
    /// The adapter that read it.
    pub adapter: String,
    /// BLAKE3 hash of the file's bytes, hex.
    pub hash: String,
    /// The encoding the file was read in.
    pub encoding: String,
    /// When the import was committed, seconds since the Unix epoch.
    pub committed_at: i64,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows stored (as entries, facts or customer records).
    pub rows_stored: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Ledger entries stored.
    pub entries_stored: u64,
    /// Facts stored (spend, budgets, cost pools, activities).
    pub facts_stored: u64,
    /// Customer master rows stored.
    pub customer_rows: u64,
    /// Customers created.
    pub customers_new: u64,
    /// Customer codes matched to an existing customer by attributes (merges).
    pub merges: u64,
    /// Warnings raised (rows kept).
    pub warnings: u64,
    /// Earliest entry date in the batch.
    pub min_date: Option<NaiveDate>,
    /// Latest entry date in the batch.
    pub max_date: Option<NaiveDate>,
    /// Partitions that received a ledger block (sorted).
    pub partitions: Vec<u32>,
}

/// A row that could not be stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The import batch that read it.
    pub batch: u64,
    /// The problem (file, row, column, code, message).
    pub diagnostic: Diagnostic,
}

/// A source code resolved to an existing customer by matching attributes, recorded so it
/// can be listed and explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// The batch that made the link.
    pub batch: u64,
    /// Code system of the source code.
    pub system: String,
    /// The source code.
    pub code: String,
    /// The canonical customer it was linked to.
    pub customer: String,
    /// What matched: `uscc`, `phone` or `name`.
    pub rule: String,
    /// The matching value (normalized).
    pub evidence: String,
}

/// What a consultant decided about two customers' identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// `absorbed` is the same customer as `survivor`: its ledger, codes and features are
    /// read as the survivor's.
    Merge {
        /// The customer that remains.
        survivor: String,
        /// The customer merged into it.
        absorbed: String,
    },
    /// Undoes the manual merge of `absorbed`.
    Unmerge {
        /// The customer that becomes itself again.
        absorbed: String,
    },
    /// The two customers are not the same: duplicate detection stops proposing the pair.
    Distinct {
        /// One customer (the smaller id).
        a: String,
        /// The other customer.
        b: String,
    },
}

/// One recorded identity decision (tree `decisions`, keyed by its sequence number). The
/// content is deterministic: no clock is read; who and when are what the user said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Sequence number (1, 2, ...), in the order decisions were made.
    pub seq: u64,
    /// What was decided.
    pub action: Action,
    /// Why: the evidence or the user's note.
    pub reason: String,
    /// Who decided, when given.
    pub by: Option<String>,
    /// When, as the user wrote it, when given.
    pub at: Option<String>,
}

/// One identity cross-reference: a code in a system resolves to a canonical customer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct XrefRow {
    /// Code system (`crm`, `k3`).
    pub system: String,
    /// Code in that system.
    pub code: String,
    /// Canonical customer id.
    pub customer: String,
}

/// Identity index kind: unified social credit code.
pub const IDENTITY_USCC: u8 = 1;
/// Identity index kind: E.164 phone.
pub const IDENTITY_PHONE: u8 = 2;
/// Identity index kind: name key.
pub const IDENTITY_NAME: u8 = 3;

/// One identity index row: a normalized attribute value points at a canonical customer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexRow {
    /// [`IDENTITY_USCC`], [`IDENTITY_PHONE`] or [`IDENTITY_NAME`].
    pub kind: u8,
    /// The normalized value.
    pub value: String,
    /// Canonical customer id.
    pub customer: String,
}

/// The non-ledger facts of one import batch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Facts {
    /// Marketing spend.
    pub spend: Vec<Spend>,
    /// Budgets.
    pub budgets: Vec<Budget>,
    /// Cost pools.
    pub cost_pools: Vec<CostPool>,
    /// Activity counts.
    pub activities: Vec<Activity>,
}

impl Facts {
    /// Number of facts held.
    pub fn len(&self) -> usize {
        self.spend.len() + self.budgets.len() + self.cost_pools.len() + self.activities.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Store-wide counts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Ledger entries (customer and company ledger).
    pub entries: u64,
    /// Customers in the master.
    pub customers: u64,
    /// Committed imports.
    pub imports: u64,
    /// Quarantined rows.
    pub quarantined: u64,
    /// Facts (spend, budgets, cost pools, activities).
    pub facts: u64,
    /// Rows read over all imports.
    pub rows_read: u64,
    /// Recorded merges.
    pub merges: u64,
    /// Earliest entry date.
    pub min_date: Option<NaiveDate>,
    /// Latest entry date: the data's as-of date.
    pub max_date: Option<NaiveDate>,
    /// Partitions customers are hashed into.
    pub partitions: u32,
}
