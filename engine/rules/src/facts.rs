//! Facts that are not ledger lines (marketing spend, budgets), as KPI formulas see them.

use chrono::NaiveDate;
use ledgerlens_model::{Budget, CostPool, Period, Spend};
use rust_decimal::Decimal;

/// Spend and budgets for a run.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Marketing spend.
    pub spend: Vec<Spend>,
    /// Budgets.
    pub budgets: Vec<Budget>,
    /// Cost pools.
    pub cost_pools: Vec<CostPool>,
}

/// The keys of one KPI group (`channel = 微信广告`, `quarter = 2025-Q1`), in the KPI's
/// `by` order.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKeys(pub Vec<(String, String)>);

/// Group keys that name a period.
pub const PERIOD_KEYS: [&str; 3] = ["month", "quarter", "year"];
/// Group keys that spend rows carry.
pub const SPEND_KEYS: [&str; 2] = ["channel", "campaign"];
/// Group keys that budgets can be set for (budget dimensions).
pub const BUDGET_KEYS: [&str; 4] = ["channel", "campaign", "department", "region"];

impl GroupKeys {
    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// These keys with one set (or replaced).
    pub fn with(&self, key: &str, value: &str) -> GroupKeys {
        let mut keys = self.clone();
        match keys.0.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = value.to_string(),
            None => keys.0.push((key.to_string(), value.to_string())),
        }
        keys
    }

    /// The period key, parsed.
    pub fn period(&self) -> Option<Period> {
        PERIOD_KEYS
            .iter()
            .find_map(|k| self.get(k))
            .and_then(|v| v.parse().ok())
    }

    fn date_in(&self, date: NaiveDate) -> bool {
        self.period().is_none_or(|p| p.contains(date))
    }
}

/// The period a date falls in, for a period key.
pub fn period_of(key: &str, date: NaiveDate) -> Option<String> {
    use chrono::Datelike;
    Some(match key {
        "month" => format!("{}-{:02}", date.year(), date.month()),
        "quarter" => format!("{}-Q{}", date.year(), date.month0() / 3 + 1),
        "year" => date.year().to_string(),
        _ => return None,
    })
}

impl Facts {
    /// Spend matching the keys: channel and campaign equal, date within the period.
    pub fn spend(&self, keys: &GroupKeys) -> Decimal {
        let channel = keys.get("channel");
        let campaign = keys.get("campaign");
        self.spend
            .iter()
            .filter(|s| channel.is_none_or(|c| s.channel == c))
            .filter(|s| campaign.is_none_or(|c| s.campaign.as_deref() == Some(c)))
            .filter(|s| keys.date_in(s.date))
            .map(|s| s.amount)
            .sum()
    }

    /// The budget for the group: budgets of the dimension the keys name (the first of
    /// channel, campaign, department, region), whose period lies within the group's
    /// period (all periods when the group has none). `None` when no budget matches.
    pub fn budget(&self, keys: &GroupKeys) -> Option<Decimal> {
        let (dimension, key) = BUDGET_KEYS
            .iter()
            .find_map(|d| keys.get(d).map(|v| (*d, v)))?;
        let period = keys.period();
        let mut found = None;
        for b in &self.budgets {
            if b.dimension != dimension || b.key != key {
                continue;
            }
            if let Some(p) = period {
                if !(p.contains(b.period.start()) && span(b.period) <= span(p)) {
                    continue;
                }
            }
            *found.get_or_insert(Decimal::ZERO) += b.amount;
        }
        found
    }
}

/// How long a period is, in order: month < quarter < year.
fn span(p: Period) -> u8 {
    match p {
        Period::Month(..) => 0,
        Period::Quarter(..) => 1,
        Period::Year(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerlens_model::Provenance;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn facts() -> Facts {
        let spend = |date: &str, channel: &str, amount: i64| Spend {
            date: d(date),
            channel: channel.into(),
            campaign: None,
            amount: amount.into(),
            currency: "CNY".into(),
            source: Provenance::default(),
        };
        let budget = |key: &str, period: &str, amount: i64| Budget {
            dimension: "channel".into(),
            key: key.into(),
            period: period.parse().expect("period"),
            amount: amount.into(),
            currency: "CNY".into(),
            source: Provenance::default(),
        };
        Facts {
            spend: vec![
                spend("2025-01-10", "微信广告", 100),
                spend("2025-04-10", "微信广告", 50),
                spend("2025-01-11", "展会活动", 7),
            ],
            budgets: vec![
                budget("微信广告", "2025-Q1", 90),
                budget("微信广告", "2025-Q2", 60),
            ],
            cost_pools: Vec::new(),
        }
    }

    #[test]
    fn spend_and_budget_match_keys_and_periods() {
        let f = facts();
        let q1 = GroupKeys(vec![
            ("channel".into(), "微信广告".into()),
            ("quarter".into(), "2025-Q1".into()),
        ]);
        assert_eq!(f.spend(&q1), Decimal::from(100));
        assert_eq!(f.budget(&q1), Some(Decimal::from(90)));
        let year = GroupKeys(vec![
            ("channel".into(), "微信广告".into()),
            ("year".into(), "2025".into()),
        ]);
        assert_eq!(f.spend(&year), Decimal::from(150));
        assert_eq!(f.budget(&year), Some(Decimal::from(150)));
        assert_eq!(f.spend(&GroupKeys::default()), Decimal::from(157));
        let none = GroupKeys(vec![("channel".into(), "展会活动".into())]);
        assert_eq!(f.budget(&none), None);
    }
}
