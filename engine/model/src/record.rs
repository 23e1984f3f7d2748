//! What adapters read: one record per source row, before identity resolution.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Dimensions, EntryKind, Period};

/// The type of record a source holds; chosen per source in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordType {
    /// Sales, refunds, payments, ... one per row.
    Transaction,
    /// Accounting voucher lines (凭证分录).
    VoucherLine,
    /// Customer master rows (CRM).
    Customer,
    /// Marketing spend.
    Spend,
    /// Budgets.
    Budget,
    /// Cost pools.
    CostPool,
    /// Activity counts per customer.
    Activity,
}

impl RecordType {
    /// Every record type.
    pub const ALL: [RecordType; 7] = [
        RecordType::Transaction,
        RecordType::VoucherLine,
        RecordType::Customer,
        RecordType::Spend,
        RecordType::Budget,
        RecordType::CostPool,
        RecordType::Activity,
    ];

    /// The stable name (`voucher-line`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Transaction => "transaction",
            RecordType::VoucherLine => "voucher-line",
            RecordType::Customer => "customer",
            RecordType::Spend => "spend",
            RecordType::Budget => "budget",
            RecordType::CostPool => "cost-pool",
            RecordType::Activity => "activity",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RecordType {
    type Err = String;

    fn from_str(s: &str) -> Result<RecordType, String> {
        RecordType::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown record type '{s}' (expected one of: {})",
                    RecordType::ALL.map(RecordType::name).join(", ")
                )
            })
    }
}

/// A customer as a source names it: its code in that source, and whatever identifying
/// attributes the row carries. Identity resolution turns it into a canonical id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Party {
    /// The customer's code in the source system.
    pub code: String,
    /// Name, as spelled in the source.
    pub name: Option<String>,
    /// Phone, as written in the source.
    pub phone: Option<String>,
    /// Unified social credit code, as written in the source.
    pub uscc: Option<String>,
}

/// A transaction row: a sale, refund, payment, discount, cost, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The customer, when the row names one.
    pub customer: Option<Party>,
    /// Date.
    pub date: NaiveDate,
    /// Kind.
    pub kind: EntryKind,
    /// Signed amount in the kind's direction.
    pub amount: Decimal,
    /// ISO currency code; the source's default when the row has none.
    pub currency: Option<String>,
    /// Quantity.
    pub quantity: Option<Decimal>,
    /// Document reference (order, invoice number).
    pub document: Option<String>,
    /// Memo.
    pub memo: Option<String>,
    /// Dimensions.
    pub dims: Dimensions,
}

/// One line of an accounting voucher (凭证分录).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherLine {
    /// Voucher date (凭证日期).
    pub date: NaiveDate,
    /// Accounting period (会计年度 + 会计期间) when the export has it; else the date's month.
    pub period: Option<Period>,
    /// Voucher word (凭证字: 记, 收, 付, 转).
    pub word: String,
    /// Voucher number within word and period (凭证号).
    pub number: String,
    /// Line number within the voucher (分录序号).
    pub line: Option<u32>,
    /// Account code (科目代码), e.g. `6001` or `6601.05`.
    pub account: String,
    /// Account name (科目名称).
    pub account_name: Option<String>,
    /// Debit amount (借方).
    pub debit: Decimal,
    /// Credit amount (贷方).
    pub credit: Decimal,
    /// Auxiliary customer (核算项目 客户), when the line has one.
    pub customer: Option<Party>,
    /// Memo (凭证摘要).
    pub memo: Option<String>,
    /// Quantity (数量).
    pub quantity: Option<Decimal>,
    /// Currency (币别代码); the source's default when absent.
    pub currency: Option<String>,
    /// Dimensions carried by the line (department, project, ...).
    pub dims: Dimensions,
}

impl VoucherLine {
    /// The key that groups lines into one voucher: period, word and number.
    pub fn voucher_key(&self) -> (Period, String, String) {
        (
            self.period.unwrap_or_else(|| Period::month_of(self.date)),
            self.word.clone(),
            self.number.clone(),
        )
    }

    /// `记-12` (or just the number when the word is empty).
    pub fn document(&self) -> String {
        if self.word.is_empty() {
            self.number.clone()
        } else {
            format!("{}-{}", self.word, self.number)
        }
    }
}

/// A customer master row (CRM).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// Code and identifying attributes.
    pub party: Party,
    /// Region.
    pub region: Option<String>,
    /// Acquisition channel.
    pub channel: Option<String>,
    /// Acquisition campaign.
    pub campaign: Option<String>,
    /// First-seen or registration date.
    pub first_seen: Option<NaiveDate>,
    /// Credit limit.
    pub credit_limit: Option<Decimal>,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// Other columns the configuration asked to keep.
    pub attributes: BTreeMap<String, String>,
}

/// An activity count row, before identity resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// The customer.
    pub customer: Party,
    /// Activity name.
    pub activity: String,
    /// Date.
    pub date: NaiveDate,
    /// Count.
    pub count: Decimal,
}

/// One record read from a source row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record {
    /// A transaction.
    Transaction(Transaction),
    /// A voucher line.
    VoucherLine(VoucherLine),
    /// A customer master row.
    Customer(CustomerRecord),
    /// Marketing spend (provenance is filled in by the pipeline).
    Spend(crate::Spend),
    /// A budget (provenance is filled in by the pipeline).
    Budget(crate::Budget),
    /// A cost pool (provenance is filled in by the pipeline).
    CostPool(crate::CostPool),
    /// An activity count.
    Activity(ActivityRecord),
}

/// A record and the 1-based row of the file it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// 1-based row (line) in the file.
    pub row: u64,
    /// What the row holds.
    pub record: Record,
}
