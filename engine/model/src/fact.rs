//! Facts that are not customer ledger lines: spend, budgets, cost pools, activity counts.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{CustomerId, Period, Provenance};

/// Marketing spend on a channel (and campaign) on a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    /// Date of the spend.
    pub date: NaiveDate,
    /// Channel (微信广告, 抖音达人投放, 展会活动, ...).
    pub channel: String,
    /// Campaign, when known.
    pub campaign: Option<String>,
    /// Amount spent.
    pub amount: Decimal,
    /// ISO currency code.
    pub currency: String,
    /// Source file and row.
    pub source: Provenance,
}

/// A budget for one key of a dimension over a period (channel 微信广告, 2024-Q1, 50000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The dimension budgeted: `channel`, `campaign`, `department`, ...
    pub dimension: String,
    /// The key within the dimension.
    pub key: String,
    /// The period the budget covers.
    pub period: Period,
    /// Budgeted amount.
    pub amount: Decimal,
    /// ISO currency code.
    pub currency: String,
    /// Source file and row.
    pub source: Provenance,
}

/// A pool of indirect cost for a period, to be allocated to customers by a driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostPool {
    /// Pool name (`service`, `logistics`).
    pub pool: String,
    /// The period.
    pub period: Period,
    /// Amount in the pool.
    pub amount: Decimal,
    /// ISO currency code.
    pub currency: String,
    /// Source file and row.
    pub source: Provenance,
}

/// How many times an activity happened for a customer on a date (service tickets,
/// deliveries, visits): the drivers of activity-based costing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Canonical customer.
    pub customer: CustomerId,
    /// Activity name.
    pub activity: String,
    /// Date.
    pub date: NaiveDate,
    /// Count (may be fractional, e.g. hours).
    pub count: Decimal,
    /// Source file and row.
    pub source: Provenance,
}
