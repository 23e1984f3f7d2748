//! The rule file format, as written: serde types for `pack.yaml` and the rule files.
//!
//! A rule file holds one rule, or several separated by `---` lines. A rule is a mapping
//! whose kind key names it: `feature: orders_12m`, `segment: lifecycle`,
//! `allocation: marketing_by_channel`, `kpi: channel_roi`, `alert: cac_above_limit`.
//! Unknown keys are errors, so a typo (`wehn:`) is caught with its line and column.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `pack.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackFile {
    /// The pack's name.
    pub name: String,
    /// Its version (a number or a string).
    #[serde(default)]
    pub version: Option<serde_yaml::Value>,
    /// What the pack is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The pack this one extends: `standard`, or a path relative to this pack's folder.
    #[serde(default)]
    pub extends: Option<String>,
    /// Parameters: `name: value` (overriding an inherited one, or a new one with the
    /// value's type) or `name: { type, default, description }`.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
    /// Inherited rules to drop, by name.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A parameter as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParamSpec {
    /// `{ type: int, default: 180, description: ... }`.
    Full(ParamFull),
    /// A bare value.
    Value(serde_yaml::Value),
}

/// The long form of a parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamFull {
    /// `int`, `decimal`, `text`, `bool`, `date` or `list`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The default value.
    pub default: serde_yaml::Value,
    /// What it means.
    #[serde(default)]
    pub description: Option<String>,
}

/// One rule as written: exactly one of the kind keys is set, and the other keys must
/// belong to that kind (checked when the pack is validated).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A feature's name.
    pub feature: Option<String>,
    /// A segment's name.
    pub segment: Option<String>,
    /// An allocation's name.
    pub allocation: Option<String>,
    /// A KPI's name.
    pub kpi: Option<String>,
    /// An alert's name.
    pub alert: Option<String>,
    /// A predictive model's name (`model: clv_model`): its predictions are the customer
    /// columns `p_alive`, `expected_purchases`, `expected_spend` and `clv`.
    pub model: Option<String>,
    /// What the rule is for.
    pub description: Option<String>,

    // Features.
    /// The value type of a scripted feature (`decimal` by default).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Declared features: `sum`, `count`, `min`, `max`, `first`, `last`, `distinct`, `avg`,
    /// `open`.
    pub aggregate: Option<String>,
    /// Declared features: what is aggregated (`amount`, `quantity`, `date`, `document`, a
    /// dimension); `amount` by default.
    pub of: Option<String>,
    /// Declared features: entry kinds counted (all when absent).
    pub kinds: Option<Vec<String>>,
    /// Declared features: dimension filters (`{ channel: 微信广告 }`).
    #[serde(rename = "where")]
    pub filter_dims: Option<BTreeMap<String, String>>,
    /// Declared features: entries dated in the window before the as-of date (`90d`,
    /// `12m`, `2y`).
    pub window: Option<String>,
    /// Declared features over activity counts (not ledger entries): the activity's name
    /// (`service-ticket`); with `aggregate: sum` (of the counts) or `count` (of records).
    pub activity: Option<String>,
    /// Declared `open` features: the entry kinds that settle open items, oldest first.
    pub settled_by: Option<Vec<String>>,
    /// Declared `open` features: the age of the open items counted, in days after their
    /// date (`0-30`, `91+`).
    pub age: Option<String>,
    /// A Rhai expression (scripted features, per-customer KPIs).
    pub expr: Option<String>,
    /// A Rhai script: inline text, or the name of a `.rhai` file of the pack.
    pub script: Option<String>,

    // Segments.
    /// Hit policy: `first` (default), `unique`, `priority`, `collect`.
    pub hit: Option<String>,
    /// Ordered rules.
    pub rules: Option<Vec<SegmentRuleSpec>>,
    /// Quantile scoring.
    pub quantile: Option<QuantileSpec>,
    /// Pareto classes.
    pub pareto: Option<ParetoSpec>,
    /// Recommended actions by label (for quantile and Pareto segments).
    pub actions: Option<BTreeMap<String, String>>,

    // Allocations.
    /// The cost pool.
    pub pool: Option<PoolSpec>,
    /// Which customers receive a share (a Rhai condition; all when absent).
    pub to: Option<String>,
    /// The driver: a per-customer expression; shares are proportional to it.
    pub driver: Option<String>,
    /// Time-driven costing: cost per unit of time (a number or an expression over params).
    pub rate: Option<serde_yaml::Value>,
    /// Time-driven costing: units of time per driver unit.
    pub unit_time: Option<serde_yaml::Value>,
    /// Time-driven costing: the capacity supplied, in units of time.
    pub capacity: Option<serde_yaml::Value>,

    // KPIs.
    /// Group keys: customer columns (`channel`, `region`, a segment) or a period
    /// (`month`, `quarter`, `year`, with one of `channel` / `campaign` / `region` /
    /// `department`); a KPI by period sums ledger entries (`sum(sale)`).
    pub by: Option<Vec<String>>,
    /// `customer` for a per-customer KPI.
    pub per: Option<String>,
    /// The formula: a Rhai expression over aggregates (`sum(net_revenue) / spend()`).
    pub value: Option<String>,
    /// Only customers for which this condition holds are aggregated.
    pub filter: Option<String>,
    /// A curve KPI (the whale curve): customers ranked by this per-customer expression,
    /// highest first, and its cumulative sum by rank.
    pub curve: Option<String>,
    /// A curve KPI: how many points (20: after every 5% of the customers).
    pub points: Option<u32>,
    /// Decimal places of the result.
    pub round: Option<u32>,
    /// Display unit: `money`, `ratio`, `percent`, `count`, `days`.
    pub unit: Option<String>,

    // Models.
    /// The purchase-count model: `bgnbd` (default) or `paretonbd`.
    pub fit: Option<String>,
    /// The spend model: `gammagamma` (refuses data where its mean spend is infinite,
    /// q <= 1), `observed` (each customer's mean repeat spend), or `auto` (default:
    /// Gamma-Gamma when it fits with q > 1, else observed).
    pub spend: Option<String>,
    /// The model's time unit: `day`, `week` (default) or `month`.
    pub time_unit: Option<String>,
    /// The end of the calibration period: a date (`2024-06-30`), or `as-of` (default):
    /// purchases after it are not fitted on.
    pub calibration_end: Option<String>,
    /// How far ahead expected purchases and CLV look: whole months (`12m`, `2y`); `12m`
    /// by default.
    pub horizon: Option<String>,
    /// The discount rate per month of the CLV's cash flows (`0.01`); 0 by default.
    pub monthly_discount: Option<serde_yaml::Value>,

    // Alerts.
    /// The KPI an alert watches.
    #[serde(rename = "on")]
    pub on_kpi: Option<String>,
    /// Levels from thresholds, checked from the first: the first that holds wins.
    pub levels: Option<Vec<LevelSpec>>,
    /// A per-customer condition.
    pub when: Option<String>,
    /// The level of a per-customer alert.
    pub level: Option<String>,
}

/// One rule of a segment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRuleSpec {
    /// The condition (none: always holds; the default label).
    #[serde(default)]
    pub when: Option<String>,
    /// The label given.
    pub label: String,
    /// The recommended action.
    #[serde(default)]
    pub action: Option<String>,
    /// For the `priority` hit policy: higher wins.
    #[serde(default)]
    pub priority: Option<i64>,
}

/// Quantile scoring.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantileSpec {
    /// The value scored: a column name or an expression.
    pub of: String,
    /// Number of buckets (5 for quintiles).
    #[serde(default = "five")]
    pub buckets: u32,
    /// `high` (default): higher values get higher scores; `low`: lower values do (recency).
    #[serde(default)]
    pub better: Option<String>,
}

fn five() -> u32 {
    5
}

/// Pareto classes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParetoSpec {
    /// The value ranked (descending): a column name or an expression.
    pub of: String,
    /// Classes in order; each but the last names the cumulative share it reaches.
    pub classes: Vec<ParetoClassSpec>,
}

/// One Pareto class.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParetoClassSpec {
    /// The label.
    pub label: String,
    /// Upper bound of the cumulative share (0..1), inclusive; absent on the last class.
    #[serde(default)]
    pub upto: Option<serde_yaml::Value>,
}

/// Where an allocation's pool comes from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// Marketing spend (filtered by `channel` / `campaign`; `each: channel` makes one pool
    /// per channel).
    #[serde(default)]
    pub spend: bool,
    /// Cost-pool records of this name.
    #[serde(default)]
    pub cost_pool: Option<String>,
    /// A fixed amount (a number or an expression over params).
    #[serde(default)]
    pub amount: Option<serde_yaml::Value>,
    /// Spend filter.
    #[serde(default)]
    pub channel: Option<String>,
    /// Spend filter.
    #[serde(default)]
    pub campaign: Option<String>,
    /// One pool per key: `channel` or `campaign`; a customer takes from the pool of its
    /// own key (its acquisition channel or campaign).
    #[serde(default)]
    pub each: Option<String>,
}

/// One level of an alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSpec {
    /// `watch`, `review` or `critical`.
    pub level: String,
    /// Fires when the value is above this.
    #[serde(default)]
    pub above: Option<serde_yaml::Value>,
    /// Fires when the value is below this.
    #[serde(default)]
    pub below: Option<serde_yaml::Value>,
    /// Fires when the value is outside `[low, high]`.
    #[serde(default)]
    pub outside: Option<(serde_yaml::Value, serde_yaml::Value)>,
}
