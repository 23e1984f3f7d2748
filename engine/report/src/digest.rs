//! A report reduced to what it draws ([`Digest`]): bounded whatever the number of
//! customers and alerts, so that it can be kept beside the data and drawn again later
//! without the rule run it came from.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::input::{Alert, CustomerDetail, ImportSummary, Kpi, Level, PackInfo, Report, Segment};
use crate::render::MAX_ALERT_ROWS;
use crate::whale::{whale_curve, Whale, MAX_POINTS};

/// What a report draws, aggregated: the whale curve as at most [`MAX_POINTS`] + 2
/// points instead of every customer's profit, and the alerts as counts, the listed rows
/// and the worst alert on each KPI value instead of every alert judged. Its size depends
/// on the pack (KPI groups, segments) and not on the number of customers.
///
/// [`Report::digest`] builds it; [`Digest::render`] draws it, and [`crate::render`] is
/// the two in turn, so a report drawn from a digest kept earlier has the same bytes as one
/// drawn from its report. Serde data: a caller may store it (the `ledgerlens` binary keeps
/// the last run's in the database) and read it back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The report's title ([`Report::title`]).
    pub title: String,
    /// The data's as-of date.
    pub as_of: Option<NaiveDate>,
    /// The pack that ran.
    pub pack: PackInfo,
    /// What was imported.
    pub imports: ImportSummary,
    /// Customers evaluated.
    pub customers: u64,
    /// Segment sizes, with revenue and profit per label when known.
    pub segments: Vec<Segment>,
    /// KPI values (every one: the report lists them all).
    pub kpis: Vec<Kpi>,
    /// The alerts, summarized.
    pub alerts: AlertSummary,
    /// The per-customer profit measure ([`Report::profit_measure`]).
    pub profit_measure: String,
    /// The whale curve of every customer's profit.
    pub whale: Whale,
    /// The most profitable customers, most profitable first.
    pub top: Vec<CustomerDetail>,
    /// The least profitable customers, least profitable first.
    pub bottom: Vec<CustomerDetail>,
}

/// The alerts of a run as a report shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSummary {
    /// Alerts judged (every level).
    pub judged: u64,
    /// Alerts above `ok`.
    pub fired: u64,
    /// Alerts above `ok` per alert and level, by alert then level.
    pub counts: Vec<(String, Level, u64)>,
    /// The first [`MAX_ALERT_ROWS`] alerts above `ok`: most severe first, then by alert
    /// and subject (ties in the order given).
    pub listed: Vec<Alert>,
    /// The worst alert on each KPI value (the first given among equally severe ones), by
    /// KPI then subject: the colour of its tile or bar.
    pub on_kpis: Vec<Alert>,
}

impl AlertSummary {
    /// Summarizes alerts (in the order a rule run gives them: by alert, then subject).
    pub fn new(alerts: &[Alert]) -> AlertSummary {
        let mut fired: Vec<&Alert> = alerts.iter().filter(|a| a.level > Level::Ok).collect();
        fired.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        let mut counts = BTreeMap::<(&str, Level), u64>::new();
        for a in &fired {
            *counts.entry((a.name.as_str(), a.level)).or_default() += 1;
        }
        let mut on_kpis = BTreeMap::<(&str, &str), &Alert>::new();
        for a in alerts {
            let Some(kpi) = &a.kpi else { continue };
            let e = on_kpis
                .entry((kpi.as_str(), a.subject.as_str()))
                .or_insert(a);
            if a.level > e.level {
                *e = a;
            }
        }
        AlertSummary {
            judged: alerts.len() as u64,
            fired: fired.len() as u64,
            counts: counts
                .into_iter()
                .map(|((name, level), n)| (name.to_string(), level, n))
                .collect(),
            listed: fired.into_iter().take(MAX_ALERT_ROWS).cloned().collect(),
            on_kpis: on_kpis.into_values().cloned().collect(),
        }
    }
}

impl Report {
    /// The report reduced to what it draws (sorts every customer's profit once, for the
    /// whale curve).
    pub fn digest(&self) -> Digest {
        Digest {
            title: self.title.clone(),
            as_of: self.as_of,
            pack: self.pack.clone(),
            imports: self.imports.clone(),
            customers: self.customers,
            segments: self.segments.clone(),
            kpis: self.kpis.clone(),
            alerts: AlertSummary::new(&self.alerts),
            profit_measure: self.profit_measure.clone(),
            whale: whale_curve(&self.profits, MAX_POINTS),
            top: self.top.clone(),
            bottom: self.bottom.clone(),
        }
    }
}

impl Digest {
    /// Draws the report: one self-contained HTML document (see [`crate::render`]).
    pub fn render(&self) -> String {
        crate::render::render_digest(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, level: Level, subject: &str, kpi: Option<&str>) -> Alert {
        Alert {
            name: name.into(),
            level,
            subject: subject.into(),
            value: "1".into(),
            threshold: "> 0".into(),
            kpi: kpi.map(Into::into),
        }
    }

    #[test]
    fn alerts_are_counted_listed_most_severe_first_and_bounded() {
        let mut alerts = vec![
            alert("cac_high", Level::Review, "channel=a", Some("cac")),
            alert("cac_high", Level::Ok, "channel=b", Some("cac")),
            alert("cac_watch", Level::Watch, "channel=a", Some("cac")),
            alert("cac_watch", Level::Critical, "channel=a", Some("cac")),
        ];
        // Many per-customer alerts (no KPI).
        for i in 0..1_000 {
            alerts.push(alert("refund", Level::Watch, &format!("c{i:04}"), None));
        }
        let s = AlertSummary::new(&alerts);
        assert_eq!((s.judged, s.fired), (1_004, 1_003));
        assert_eq!(
            s.counts,
            vec![
                ("cac_high".to_string(), Level::Review, 1),
                ("cac_watch".to_string(), Level::Watch, 1),
                ("cac_watch".to_string(), Level::Critical, 1),
                ("refund".to_string(), Level::Watch, 1_000),
            ]
        );
        assert_eq!(s.listed.len(), MAX_ALERT_ROWS);
        assert_eq!(s.listed[0].level, Level::Critical);
        assert_eq!(s.listed[1].name, "cac_high");
        assert_eq!(s.listed[2].name, "cac_watch");
        assert_eq!(s.listed[3].subject, "c0000");
        // The worst per KPI value, the first among equals.
        assert_eq!(s.on_kpis.len(), 2);
        assert_eq!(
            (s.on_kpis[0].subject.as_str(), s.on_kpis[0].level),
            ("channel=a", Level::Critical)
        );
        assert_eq!(
            (s.on_kpis[1].subject.as_str(), s.on_kpis[1].level),
            ("channel=b", Level::Ok)
        );
    }
}
