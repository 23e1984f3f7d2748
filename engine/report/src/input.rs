//! What a report is made of: plain serde data, filled by the caller from a rule run.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Everything a report shows. The caller fills it from a rule run (the `ledgerlens`
/// binary converts the rules engine's outcome); this crate only draws it.
///
/// Lists are drawn in the order given, except where a section says it sorts: give them
/// sorted (segments by segment then label, KPIs by name then group, alerts by alert then
/// subject, as a rule run returns them) and the output is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The report's title (for example the project folder's name).
    pub title: String,
    /// The data's as-of date: the only date the report prints.
    pub as_of: Option<NaiveDate>,
    /// The pack that ran.
    pub pack: PackInfo,
    /// What was imported.
    pub imports: ImportSummary,
    /// Customers evaluated.
    pub customers: u64,
    /// Segment sizes, with revenue and profit per label when known.
    pub segments: Vec<Segment>,
    /// KPI values.
    pub kpis: Vec<Kpi>,
    /// Alerts (all levels; the report lists those above `ok`).
    pub alerts: Vec<Alert>,
    /// The name of the per-customer profit measure behind [`Report::profits`] and the
    /// customer lists (for example `net_profit`).
    pub profit_measure: String,
    /// Every customer's profit, in any order: the whale curve is drawn from it.
    pub profits: Vec<Decimal>,
    /// The most profitable customers, most profitable first.
    pub top: Vec<CustomerDetail>,
    /// The least profitable customers, least profitable first.
    pub bottom: Vec<CustomerDetail>,
}

/// The pack that ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackInfo {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The `extends` chain, base first.
    pub chain: Vec<String>,
}

/// What the database holds: the import summary of the run header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Committed imports.
    pub imports: u64,
    /// Rows read over all imports.
    pub rows_read: u64,
    /// Ledger entries stored.
    pub entries: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// Earliest entry date.
    pub first_date: Option<NaiveDate>,
}

/// One label of a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The segment (rule name), e.g. `lifecycle`.
    pub segment: String,
    /// The label, e.g. `high-value` or `(none)`.
    pub label: String,
    /// Customers with the label.
    pub customers: u64,
    /// Its recommended action.
    pub action: Option<String>,
    /// Net revenue of its customers, when known.
    pub revenue: Option<Decimal>,
    /// Profit of its customers, when known.
    pub profit: Option<Decimal>,
}

/// One KPI value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kpi {
    /// The KPI's name, e.g. `channel_roi`.
    pub name: String,
    /// Its group, key and value per dimension (empty: overall).
    pub group: Vec<(String, String)>,
    /// The value as a number, when it is one (charts draw these).
    pub value: Option<Decimal>,
    /// The value as printed (`4.00`, `()`, a label).
    pub text: String,
    /// Its unit (`money`, `ratio`, `count`, `days`).
    pub unit: Option<String>,
}

impl Kpi {
    /// The group as an alert names its subject: `channel=微信广告, quarter=2025-Q3`, or
    /// `all` when overall.
    pub fn subject(&self) -> String {
        if self.group.is_empty() {
            return "all".into();
        }
        let parts: Vec<String> = self.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.join(", ")
    }

    /// The group's values, joined by ` · ` (the label of a bar).
    pub fn label(&self) -> String {
        let parts: Vec<&str> = self.group.iter().map(|(_, v)| v.as_str()).collect();
        parts.join(" · ")
    }
}

/// An alert's level, least severe first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Within its thresholds.
    #[default]
    Ok,
    /// Worth watching.
    Watch,
    /// Needs a review.
    Review,
    /// Needs action now.
    Critical,
}

impl Level {
    /// Its name: `ok`, `watch`, `review`, `critical` (also the CSS class).
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Watch => "watch",
            Level::Review => "review",
            Level::Critical => "critical",
        }
    }

    /// The level of a name, as [`Level::name`] writes it.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "ok" => Level::Ok,
            "watch" => Level::Watch,
            "review" => Level::Review,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

/// One alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The alert rule's name.
    pub name: String,
    /// Its level.
    pub level: Level,
    /// Its subject: a group (`channel=微信广告`), `all`, or a customer id.
    pub subject: String,
    /// The value it judged, as printed.
    pub value: String,
    /// The threshold it crossed (or held), as printed (`> 450`).
    pub threshold: String,
    /// The KPI it judged, when it judged one.
    pub kpi: Option<String>,
}

/// One customer shown in detail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetail {
    /// The canonical customer id.
    pub id: String,
    /// Its name, when known.
    pub name: Option<String>,
    /// Its profit (the report's profit measure).
    pub profit: Option<Decimal>,
    /// Its segment labels, segment then label.
    pub labels: Vec<(String, String)>,
    /// Its other values (features, per-customer KPIs), name then value as printed.
    pub values: Vec<(String, String)>,
    /// Why it has each segment label (empty: not traced).
    #[serde(default)]
    pub trace: Vec<Trace>,
}

/// Why a customer has a segment's label: the segment rule's trace, as `ledgerlens
/// explain` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// The segment.
    pub rule: String,
    /// The customer's label, as printed.
    pub value: String,
    /// The recommended action of the label, if any.
    pub action: Option<String>,
    /// The steps that led to it, in evaluation order.
    pub steps: Vec<TraceStep>,
}

/// One step of a [`Trace`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    /// What was evaluated: a rule's condition, or a ranking.
    pub what: String,
    /// What it gave: `held`, `did not hold`, `not evaluated`, a value.
    pub result: String,
    /// The inputs it read with the customer's values, by name.
    pub inputs: Vec<(String, String)>,
}
