//! Ledger entries: the normalized lines of a customer ledger.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::CustomerId;

/// What a ledger entry records. Amounts are signed in the kind's own direction: a sale of
/// 100 is `+100` of kind `sale`, a refund of 30 is `+30` of kind `return`, and a red-ink
/// reversal of that sale is `-100` of kind `sale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Revenue from a sale (主营/其他业务收入).
    Sale,
    /// A return or refund (退货, 退款).
    Return,
    /// A discount, coupon or rebate (折扣, 优惠券, 返利).
    Discount,
    /// An invoice raised: the receivable grows (应收账款 debit).
    Invoice,
    /// A payment received from the customer: the receivable shrinks (应收账款 credit).
    Payment,
    /// Cost of goods sold (主营业务成本).
    Cogs,
    /// Cost of serving the customer (after-sales, support).
    ServiceCost,
    /// Cost of delivering to the customer.
    LogisticsCost,
    /// A receivable written off as bad debt.
    WriteOff,
    /// Marketing spend booked in the accounts (销售费用-广告/推广).
    MarketingSpend,
    /// Tax collected on a sale (output VAT, 销项税额), kept apart from revenue.
    Tax,
    /// Any other account movement, kept so nothing is lost.
    Other,
}

impl EntryKind {
    /// Every kind, in declaration order.
    pub const ALL: [EntryKind; 12] = [
        EntryKind::Sale,
        EntryKind::Return,
        EntryKind::Discount,
        EntryKind::Invoice,
        EntryKind::Payment,
        EntryKind::Cogs,
        EntryKind::ServiceCost,
        EntryKind::LogisticsCost,
        EntryKind::WriteOff,
        EntryKind::MarketingSpend,
        EntryKind::Tax,
        EntryKind::Other,
    ];

    /// The stable name (`sale`, `service-cost`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Sale => "sale",
            EntryKind::Return => "return",
            EntryKind::Discount => "discount",
            EntryKind::Invoice => "invoice",
            EntryKind::Payment => "payment",
            EntryKind::Cogs => "cogs",
            EntryKind::ServiceCost => "service-cost",
            EntryKind::LogisticsCost => "logistics-cost",
            EntryKind::WriteOff => "write-off",
            EntryKind::MarketingSpend => "marketing-spend",
            EntryKind::Tax => "tax",
            EntryKind::Other => "other",
        }
    }

    /// A compact code for storage; stable forever (append new kinds at the end).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind for a storage code.
    pub fn from_code(code: u8) -> Option<EntryKind> {
        EntryKind::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no entry kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind(pub String);

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown entry kind '{}' (expected one of: {})",
            self.0,
            EntryKind::ALL.map(EntryKind::name).join(", ")
        )
    }
}

impl std::error::Error for UnknownKind {}

impl FromStr for EntryKind {
    type Err = UnknownKind;

    /// Parses a stable name or a common alias, English or Chinese
    /// (`refund`, `退货`, `coupon`, `回款`, `cost-of-goods`, ...). Case-insensitive.
    fn from_str(s: &str) -> Result<EntryKind, UnknownKind> {
        let key = s.trim().to_lowercase().replace('_', "-");
        let kind = match key.as_str() {
            "sale" | "sales" | "order" | "销售" | "收入" => EntryKind::Sale,
            "return" | "refund" | "退货" | "退款" => EntryKind::Return,
            "discount" | "coupon" | "rebate" | "折扣" | "优惠券" | "返利" => {
                EntryKind::Discount
            }
            "invoice" | "发票" | "开票" => EntryKind::Invoice,
            "payment" | "receipt" | "payment-received" | "回款" | "收款" => EntryKind::Payment,
            "cogs" | "cost-of-goods" | "成本" => EntryKind::Cogs,
            "service-cost" | "service" | "服务成本" => EntryKind::ServiceCost,
            "logistics-cost" | "logistics" | "物流成本" | "运费" => EntryKind::LogisticsCost,
            "write-off" | "writeoff" | "bad-debt" | "坏账" => EntryKind::WriteOff,
            "marketing-spend" | "marketing" | "营销费用" => EntryKind::MarketingSpend,
            "tax" | "vat" | "税" | "销项税" => EntryKind::Tax,
            "other" | "其他" => EntryKind::Other,
            _ => return Err(UnknownKind(s.to_string())),
        };
        Ok(kind)
    }
}

/// The analysis dimensions an entry can carry. Empty means unknown.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Dimensions {
    /// Product or SKU.
    pub product: Option<String>,
    /// Sales or acquisition channel.
    pub channel: Option<String>,
    /// Marketing campaign.
    pub campaign: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Department (部门).
    pub department: Option<String>,
    /// Project (项目).
    pub project: Option<String>,
}

/// Where an entry came from: the file and the 1-based row in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// The file, as it was named at import.
    pub file: String,
    /// 1-based row (line) in the file.
    pub row: u64,
}

/// One normalized ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The customer, or `None` for a company-ledger line (bank, inventory, spend...).
    pub customer: Option<CustomerId>,
    /// Booking date.
    pub date: NaiveDate,
    /// What the line records.
    pub kind: EntryKind,
    /// Signed amount in the kind's direction.
    pub amount: Decimal,
    /// ISO currency code (`CNY`).
    pub currency: String,
    /// Quantity, when the source has one.
    pub quantity: Option<Decimal>,
    /// Document reference: order or invoice number, or voucher `记-12`.
    pub document: Option<String>,
    /// Account code, for lines that came from vouchers.
    pub account: Option<String>,
    /// Memo (摘要).
    pub memo: Option<String>,
    /// Analysis dimensions.
    pub dims: Dimensions,
    /// Source file and row.
    pub source: Provenance,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_codes_are_stable() {
        for (i, kind) in EntryKind::ALL.iter().enumerate() {
            assert_eq!(kind.name().parse::<EntryKind>().unwrap(), *kind);
            assert_eq!(usize::from(kind.code()), i);
            assert_eq!(EntryKind::from_code(kind.code()), Some(*kind));
        }
        assert_eq!(EntryKind::from_code(200), None);
        assert_eq!("退款".parse::<EntryKind>().unwrap(), EntryKind::Return);
        assert_eq!(
            "Payment_Received".parse::<EntryKind>().unwrap(),
            EntryKind::Payment
        );
        let err = "gift".parse::<EntryKind>().unwrap_err();
        assert!(err.to_string().contains("unknown entry kind 'gift'"));
    }
}
