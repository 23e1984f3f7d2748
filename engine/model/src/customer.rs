//! Customers and their canonical ids.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The canonical id of a customer: one per real customer, whatever the source.
///
/// A new customer takes the code it first arrived with (`C0001`); when that id is already
/// taken by a different customer from another code system it becomes `system:code`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(pub String);

impl CustomerId {
    /// Wraps a string as a customer id.
    pub fn new(id: impl Into<String>) -> CustomerId {
        CustomerId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The master record of one canonical customer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// Canonical id.
    pub id: CustomerId,
    /// Display name as the source spelled it (the first non-empty one wins).
    pub name: Option<String>,
    /// Phone in E.164 form (`+8613800138000`).
    pub phone: Option<String>,
    /// Unified social credit code (统一社会信用代码), only if its check character is valid.
    pub uscc: Option<String>,
    /// Region (区域).
    pub region: Option<String>,
    /// Acquisition channel (获客渠道).
    pub channel: Option<String>,
    /// Acquisition campaign (获客活动): the marketing campaign that won the customer.
    pub campaign: Option<String>,
    /// First time the customer was seen: the master record's date, else its first entry.
    #[serde(with = "crate::compact::opt_date")]
    pub first_seen: Option<NaiveDate>,
    /// Credit limit, in the ledger currency.
    #[serde(with = "crate::compact::opt_decimal")]
    pub credit_limit: Option<Decimal>,
    /// Free tags.
    pub tags: BTreeSet<String>,
    /// Free attributes from the source (column name -> value).
    pub attributes: BTreeMap<String, String>,
    /// The source codes that resolve to this customer, as `system:code`, sorted.
    pub codes: BTreeSet<String>,
}
