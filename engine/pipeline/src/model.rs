//! The pack's predictive model (a `model:` rule): purchase counts (BG/NBD or Pareto/NBD)
//! and spend (Gamma-Gamma) fitted on every customer's purchases, its predictions supplied
//! to the rules as the columns `p_alive`, `expected_purchases`, `expected_spend` and `clv`.
//!
//! The work is split in two so that the customer table's per-partition cache holds the
//! expensive part: each partition summarizes its customers' purchases
//! ([`summarize_partition`]: events, first and last event day, total of the repeat
//! events, exact decimals), and one fit over all partitions' summaries then predicts
//! ([`predict`]). Predictions are statistics (floats) converted to decimals: probabilities
//! and expected purchases to 4 places, spend and CLV to the cent.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlens_clv::{
    clv, group, BgNbd, Discounting, FitOptions, GammaGamma, History, ParetoNbd, TimeUnit,
    TransactionModel, DAYS_PER_MONTH,
};
use ledgerlens_model::EntryKind;
use ledgerlens_rules::{Column, CountModel, ModelDef, ModelFit, ModelUnit, SpendModel};
use rayon::prelude::*;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// The value of a purchase, if the entry is one: a `sale` of a known customer with an
/// amount of zero or more (a free item is a purchase; returns, discounts and red-ink
/// reversals are not). One definition for `clv` and for the pack's model.
pub fn purchase_value(customer: &str, kind: EntryKind, amount: Decimal) -> Option<Decimal> {
    (!customer.is_empty() && kind == EntryKind::Sale && !amount.is_sign_negative())
        .then_some(amount)
}

/// The number of summary columns a partition contributes (see [`summarize_partition`]).
pub(crate) const SUMMARY_COLUMNS: usize = 4;

/// The calibration end a model uses in a run as of `as_of`: its own date, but never after
/// the run's.
pub(crate) fn calibration_end(def: &ModelDef, as_of: NaiveDate) -> NaiveDate {
    def.calibration_end.map_or(as_of, |d| d.min(as_of))
}

/// A partition's purchase summaries, one row per customer (`rows` customers): purchase
/// events (customer-days) up to `end`, the first and last event day, and the total value
/// of the events after the first. `purchases` are (row, day, value) in any order.
pub(crate) fn summarize_partition(
    rows: usize,
    mut purchases: Vec<(u32, NaiveDate, Decimal)>,
    end: NaiveDate,
) -> Vec<Column> {
    purchases.retain(|p| p.1 <= end);
    purchases.sort_unstable_by_key(|p| (p.0, p.1));
    let mut events: Vec<Option<i64>> = vec![None; rows];
    let mut first: Vec<Option<NaiveDate>> = vec![None; rows];
    let mut last: Vec<Option<NaiveDate>> = vec![None; rows];
    let mut repeat: Vec<Option<Decimal>> = vec![None; rows];
    for (row, day, value) in purchases {
        let r = row as usize;
        if r >= rows {
            continue;
        }
        match last[r] {
            None => {
                events[r] = Some(1);
                first[r] = Some(day);
                last[r] = Some(day);
                repeat[r] = Some(Decimal::ZERO);
            }
            Some(l) => {
                if l != day {
                    events[r] = events[r].map(|n| n + 1);
                    last[r] = Some(day);
                }
                // A purchase on the first day belongs to the first event, not a repeat.
                if first[r] != Some(day) {
                    repeat[r] = repeat[r].map(|t| t.saturating_add(value));
                }
            }
        }
    }
    vec![
        Column::Int(events),
        Column::Date(first),
        Column::Date(last),
        Column::Decimal(repeat),
    ]
}

/// A model's predictions over the whole table, and how it went.
pub(crate) struct Prediction {
    /// `p_alive`, `expected_purchases`, `expected_spend`, `clv` (as
    /// [`ledgerlens_rules::MODEL_OUTPUTS`]).
    pub columns: Vec<Column>,
    /// The fit, when the purchase-count model could be fitted.
    pub fit: Option<ModelFit>,
    /// Problems: (code, message, customers affected).
    pub problems: Vec<(&'static str, String, u64)>,
}

fn unit_of(u: ModelUnit) -> (TimeUnit, &'static str) {
    match u {
        ModelUnit::Day => (TimeUnit::Day, "day"),
        ModelUnit::Week => (TimeUnit::Week, "week"),
        ModelUnit::Month => (TimeUnit::Month, "month"),
    }
}

/// Rounded for display and for the rules: `places` decimal places (half away from zero,
/// of the float scaled by 10^places); `None` for a number that is not finite.
fn decimal(x: f64, places: u32) -> Option<Decimal> {
    let scaled = (x * 10f64.powi(places as i32)).round();
    if scaled.is_finite() && scaled.abs() < 9.0e15 {
        // Exact: an integer below 2^53, as a decimal with `places` places.
        return Some(Decimal::new(scaled as i64, places));
    }
    let mut d = Decimal::from_f64(x)?.round_dp(places);
    d.rescale(places);
    Some(d)
}

/// The purchase-count model, fitted.
enum Counts {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
}

impl Counts {
    fn model(&self) -> &dyn Predict {
        match self {
            Counts::BgNbd(m) => m,
            Counts::ParetoNbd(m) => m,
        }
    }
}

/// One customer's predictions, as floats.
struct Predicted {
    p_alive: f64,
    /// Expected purchases over the horizon.
    expected: f64,
    /// Expected spend per purchase, if the spend model gives one.
    spend: Option<f64>,
    /// The discounted value over the horizon per unit of spend.
    clv_per_spend: f64,
}

/// The spend model as it came out.
enum Spend {
    GammaGamma(ledgerlens_clv::Fit<GammaGamma>),
    Observed,
    None,
}

/// What the predictions need of a transaction model, object-safe.
trait Predict: Sync {
    fn p_alive(&self, h: &History) -> Result<f64, ledgerlens_clv::Error>;
    fn expected(&self, t: f64, h: &History) -> Result<f64, ledgerlens_clv::Error>;
    fn clv_per_spend(&self, h: &History, d: &Discounting) -> Result<f64, ledgerlens_clv::Error>;
}

impl<M: TransactionModel + Sync> Predict for M {
    fn p_alive(&self, h: &History) -> Result<f64, ledgerlens_clv::Error> {
        TransactionModel::p_alive(self, h)
    }
    fn expected(&self, t: f64, h: &History) -> Result<f64, ledgerlens_clv::Error> {
        self.expected_purchases(t, h)
    }
    fn clv_per_spend(&self, h: &History, d: &Discounting) -> Result<f64, ledgerlens_clv::Error> {
        clv(self, h, 1.0, d)
    }
}

/// Fits the model on the summary columns (`events`, `first`, `last`, `repeat` of every
/// customer, as [`summarize_partition`] made them) and predicts for every customer with a
/// purchase by `end`; the others get nulls.
pub(crate) fn predict(
    rule: &str,
    def: &ModelDef,
    end: NaiveDate,
    summary: &[Column],
) -> Prediction {
    let rows = summary.first().map_or(0, Column::len);
    let nulls = || -> Vec<Column> {
        (0..ledgerlens_rules::MODEL_OUTPUTS.len())
            .map(|_| Column::Decimal(vec![None; rows]))
            .collect()
    };
    let (
        [Column::Int(events), Column::Date(first), Column::Date(last), Column::Decimal(repeat)],
        true,
    ) = (summary, summary.iter().all(|c| c.len() == rows))
    else {
        return Prediction {
            columns: nulls(),
            fit: None,
            problems: vec![(
                "model.summary",
                "the purchase summaries are malformed".into(),
                0,
            )],
        };
    };
    // The models are fitted and predict in weeks whatever the rule's unit: both are
    // equivariant under a change of time unit (α and β scale with it; predictions over the
    // same span are unchanged), and the optimizer, starting from every parameter at 1,
    // converges reliably on times of weeks (in days BG/NBD may not converge). Parameters
    // and log-likelihood are reported in the rule's unit (`Fit::in_unit_of`, which
    // `clv fit --unit` uses too).
    let (asked, unit_name) = unit_of(def.unit);
    let unit = TimeUnit::Week;
    let scale = unit.days() / asked.days();
    let per_unit = 1.0 / unit.days();
    // Each customer's history and mean repeat spend, if it bought by the end.
    let histories: Vec<Option<(History, f64)>> = (0..rows)
        .into_par_iter()
        .map(|i| {
            let (Some(n), Some(f), Some(l), Some(total)) =
                (events[i], first[i], last[i], repeat[i])
            else {
                return None;
            };
            let x = u32::try_from(n - 1).ok()?;
            let span = |a: NaiveDate, b: NaiveDate| (b - a).num_days() as f64 * per_unit;
            let mean = if x > 0 {
                total.to_f64()? / f64::from(x)
            } else {
                0.0
            };
            Some((History::new(x, span(f, l), span(f, end)), mean))
        })
        .collect();
    let customers = histories.iter().flatten().count() as u64;
    let repeats: f64 = histories
        .iter()
        .flatten()
        .map(|(h, _)| f64::from(h.frequency))
        .sum();
    let mut problems = Vec::new();
    if !histories.iter().flatten().any(|(h, _)| h.frequency > 0) {
        let why = if customers == 0 {
            format!("no customer bought anything by {end} (the calibration end)")
        } else {
            format!("no customer bought on two days by {end} ({customers} bought once)")
        };
        problems.push((
            "model.fit",
            format!("{why}: the purchase-count model cannot be fitted; its predictions are null"),
            customers,
        ));
        return Prediction {
            columns: nulls(),
            fit: None,
            problems,
        };
    }
    let t0 = std::time::Instant::now();
    let options = FitOptions::default();
    let fitted = group(histories.iter().flatten().map(|(h, _)| *h)).and_then(|patterns| {
        Ok(match def.fit {
            CountModel::BgNbd => {
                let f = BgNbd::fit(&patterns, &options)?;
                let counts = Counts::BgNbd(f.params);
                let f = f.in_unit_of(scale, repeats);
                let p = f.params;
                let params = [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)];
                let identified = f.std_errors.is_some();
                (counts, "bgnbd", params, f.log_likelihood, identified)
            }
            CountModel::ParetoNbd => {
                let f = ParetoNbd::fit(&patterns, &options)?;
                let counts = Counts::ParetoNbd(f.params);
                let f = f.in_unit_of(scale, repeats);
                let p = f.params;
                let params = [("r", p.r), ("alpha", p.alpha), ("s", p.s), ("beta", p.beta)];
                let identified = f.std_errors.is_some();
                (counts, "paretonbd", params, f.log_likelihood, identified)
            }
        })
    });
    let (counts, model_name, params, log_likelihood) = match fitted {
        Ok((counts, name, params, ll, identified)) => {
            if !identified {
                problems.push((
                    "model.identified",
                    "the data do not pin the purchase-count model's parameters down (its \
                     Hessian is not positive definite: too few customers or repeat \
                     purchases); the predictions are uncertain"
                        .into(),
                    customers,
                ));
            }
            (counts, name, params, ll)
        }
        Err(e) => {
            problems.push((
                "model.fit",
                format!(
                    "the purchase-count model could not be fitted: {e}; its predictions are null"
                ),
                customers,
            ));
            return Prediction {
                columns: nulls(),
                fit: None,
                problems,
            };
        }
    };
    let gamma_gamma = || {
        GammaGamma::fit(
            histories
                .iter()
                .flatten()
                .filter(|(h, m)| h.frequency > 0 && *m > 0.0)
                .map(|(h, m)| (h.frequency, *m)),
            &options,
        )
        .and_then(|f| {
            // Refuses q <= 1 (an infinite mean spend) here, once, not per customer.
            f.params.mean_spend()?;
            Ok(f)
        })
    };
    let counts_fitted = t0.elapsed();
    let spend = match def.spend {
        SpendModel::Observed => Spend::Observed,
        SpendModel::GammaGamma | SpendModel::Auto => match gamma_gamma() {
            Ok(f) => Spend::GammaGamma(f),
            Err(e) if def.spend == SpendModel::Auto => {
                problems.push((
                    "model.spend",
                    format!("Gamma-Gamma could not be fitted ({e}); expected_spend is each customer's observed mean repeat spend instead"),
                    customers,
                ));
                Spend::Observed
            }
            Err(e) => {
                problems.push((
                    "model.spend",
                    format!("the Gamma-Gamma spend model could not be fitted: {e}; expected_spend and clv are null"),
                    customers,
                ));
                Spend::None
            }
        },
    };
    // Observed spend of one-time buyers: the mean of every repeat purchase.
    let (repeat_total, repeat_events) =
        histories
            .iter()
            .flatten()
            .fold((0.0, 0.0), |(t, n), (h, m)| {
                let x = f64::from(h.frequency);
                (t + m * x, n + x)
            });
    let population_mean = (repeat_events > 0.0).then(|| repeat_total / repeat_events);
    let spend_fitted = t0.elapsed();
    let model = counts.model();
    let horizon = f64::from(def.horizon_months) * DAYS_PER_MONTH / unit.days();
    let discounting = Discounting {
        months: def.horizon_months,
        monthly_rate: def.monthly_discount.to_f64().unwrap_or(0.0),
        unit,
    };
    // Customers share few histories: predict once per distinct history, in parallel.
    let key = |h: &History| (h.frequency, h.recency.to_bits(), h.age.to_bits());
    let mut index: FxHashMap<(u32, u64, u64), u32> = FxHashMap::default();
    let mut distinct: Vec<History> = Vec::new();
    let slots: Vec<Option<u32>> = histories
        .iter()
        .map(|h| {
            h.as_ref().map(|(h, _)| {
                *index.entry(key(h)).or_insert_with(|| {
                    distinct.push(*h);
                    (distinct.len() - 1) as u32
                })
            })
        })
        .collect();
    let per_history: Vec<Option<(f64, f64, f64)>> = distinct
        .par_iter()
        .map(|h| {
            let p = model.p_alive(h).ok()?;
            let e = model.expected(horizon, h).ok()?;
            let c = model.clv_per_spend(h, &discounting).ok()?;
            Some((p, e, c))
        })
        .collect();
    let values: Vec<Option<Predicted>> = histories
        .par_iter()
        .zip(&slots)
        .map(|(h, slot)| {
            let ((h, mean), slot) = (h.as_ref()?, (*slot)?);
            let (p, e, c) = per_history[slot as usize]?;
            let s = match &spend {
                Spend::GammaGamma(f) => {
                    f.params.conditional_expected_spend(h.frequency, *mean).ok()
                }
                Spend::Observed if h.frequency > 0 => Some(*mean),
                Spend::Observed => population_mean,
                Spend::None => None,
            };
            Some(Predicted {
                p_alive: p,
                expected: e,
                spend: s,
                clv_per_spend: c,
            })
        })
        .collect();
    let failed = values
        .iter()
        .zip(&slots)
        .filter(|(v, slot)| v.is_none() && slot.is_some())
        .count() as u64;
    let column = |f: &(dyn Fn(&Predicted) -> Option<Decimal> + Sync)| {
        Column::Decimal(values.par_iter().map(|v| v.as_ref().and_then(f)).collect())
    };
    let columns = vec![
        column(&|v| decimal(v.p_alive, 4)),
        column(&|v| decimal(v.expected, 4)),
        column(&|v| v.spend.and_then(|s| decimal(s, 2))),
        column(&|v| v.spend.and_then(|s| decimal(s * v.clv_per_spend, 2))),
    ];
    if failed > 0 {
        problems.push((
            "model.prediction",
            "the model could not predict for these customers' histories; their predictions are null".into(),
            failed,
        ));
    }
    tracing::debug!(
        customers,
        histories = distinct.len(),
        counts_fitted = ?counts_fitted,
        spend_fitted = ?spend_fitted,
        predicted = ?t0.elapsed(),
        "model"
    );
    let round = |params: &[(&'static str, f64)]| -> BTreeMap<&'static str, Decimal> {
        params
            .iter()
            .filter_map(|(n, v)| Some((*n, decimal(*v, 4)?)))
            .collect()
    };
    let fit = ModelFit {
        rule: rule.to_string(),
        model: model_name,
        unit: unit_name,
        calibration_end: end,
        customers,
        parameters: round(&params),
        log_likelihood: decimal(log_likelihood, 2).unwrap_or_default(),
        spend_model: match spend {
            Spend::GammaGamma(_) => "gammagamma",
            Spend::Observed => "observed",
            Spend::None => "none",
        },
        spend_customers: match &spend {
            Spend::GammaGamma(f) => f.customers as u64,
            _ => 0,
        },
        spend_parameters: match &spend {
            Spend::GammaGamma(f) => round(&[
                ("p", f.params.p),
                ("q", f.params.q),
                ("gamma", f.params.gamma),
            ]),
            _ => BTreeMap::new(),
        },
    };
    Prediction {
        columns,
        fit: Some(fit),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_time_unit_changes_the_parameters_not_the_predictions() {
        // 400 customers with irregular gaps and lifetimes (a small linear congruential
        // generator, so the data are the same on every run).
        let mut seed = 12345u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut purchases = Vec::new();
        for c in 0..400u32 {
            let mut d = day("2023-01-01") + chrono::Duration::days(next(120) as i64);
            let buys = 1 + next(4) * next(3);
            for _ in 0..buys {
                if d > day("2024-06-30") {
                    break;
                }
                purchases.push((c, d, Decimal::from(5 + next(40))));
                d += chrono::Duration::days(1 + next(150) as i64);
            }
        }
        let end = day("2024-06-30");
        let summary = summarize_partition(400, purchases, end);
        let mut results = Vec::new();
        for unit in [ModelUnit::Day, ModelUnit::Week, ModelUnit::Month] {
            let def = ModelDef {
                fit: CountModel::BgNbd,
                spend: SpendModel::Observed,
                unit,
                calibration_end: None,
                horizon_months: 12,
                monthly_discount: Decimal::ZERO,
            };
            let p = predict("m", &def, end, &summary);
            let fit = p.fit.clone().unwrap_or_else(|| panic!("{:?}", p.problems));
            results.push((fit, p.columns));
        }
        let text =
            |c: &Column| -> Vec<String> { (0..c.len()).map(|i| c.get(i).to_string()).collect() };
        // alpha in days is 7x alpha in weeks; r, a and b do not change.
        let (days, weeks) = (&results[0].0, &results[1].0);
        let ratio = days.parameters["alpha"] / weeks.parameters["alpha"];
        assert!(
            (ratio - Decimal::from(7)).abs() < Decimal::new(1, 2),
            "{days:?} {weeks:?}"
        );
        assert_eq!(days.parameters["r"], weeks.parameters["r"]);
        assert_eq!(days.unit, "day");
        // The same data is less likely per day than per week (finer times).
        assert!(days.log_likelihood < weeks.log_likelihood);
        for other in [&results[0], &results[2]] {
            for (x, y) in other.1.iter().zip(&results[1].1) {
                assert_eq!(text(x), text(y));
            }
        }
    }

    #[test]
    fn a_calibration_end_before_every_purchase_gives_nulls_and_a_reason() {
        let purchases = vec![(0, day("2024-03-01"), Decimal::TEN)];
        let summary = summarize_partition(2, purchases, day("2023-12-31"));
        let def = ModelDef {
            fit: CountModel::ParetoNbd,
            spend: SpendModel::GammaGamma,
            unit: ModelUnit::Day,
            calibration_end: Some(day("2023-12-31")),
            horizon_months: 6,
            monthly_discount: Decimal::ZERO,
        };
        let p = predict("m", &def, day("2023-12-31"), &summary);
        assert!(p.fit.is_none());
        assert_eq!(p.problems.len(), 1);
        assert!(
            p.problems[0]
                .1
                .contains("no customer bought anything by 2023-12-31"),
            "{:?}",
            p.problems
        );
        assert_eq!(p.columns.len(), 4);
        assert!(p
            .columns
            .iter()
            .all(|c| c.len() == 2 && c.get(0) == ledgerlens_rules::Value::Null));
    }

    #[test]
    fn purchases_are_summarized_by_customer_day() {
        let d = |s: &str| Decimal::from_str_exact(s).unwrap();
        let purchases = vec![
            (1, day("2024-03-01"), d("5")),
            (0, day("2024-01-10"), d("10.50")),
            (0, day("2024-01-10"), d("2.00")), // same day: the first event
            (0, day("2024-02-01"), d("7")),
            (0, day("2024-02-01"), d("1")),
            (0, day("2024-03-05"), d("4")),
            (0, day("2024-09-01"), d("100")), // after the end: not counted
        ];
        let cols = summarize_partition(3, purchases, day("2024-06-30"));
        let text =
            |c: &Column| -> Vec<String> { (0..c.len()).map(|i| c.get(i).to_string()).collect() };
        assert_eq!(text(&cols[0]), ["3", "1", "null"]);
        assert_eq!(text(&cols[1]), ["2024-01-10", "2024-03-01", "null"]);
        assert_eq!(text(&cols[2]), ["2024-03-05", "2024-03-01", "null"]);
        // Repeat events: 2024-02-01 (7 + 1) and 2024-03-05 (4).
        assert_eq!(text(&cols[3]), ["12", "0", "null"]);
    }

    #[test]
    fn a_purchase_is_a_non_negative_sale_of_a_known_customer() {
        let ten = Decimal::TEN;
        assert_eq!(purchase_value("c1", EntryKind::Sale, ten), Some(ten));
        assert_eq!(
            purchase_value("c1", EntryKind::Sale, Decimal::ZERO),
            Some(Decimal::ZERO)
        );
        assert_eq!(purchase_value("c1", EntryKind::Sale, -ten), None);
        assert_eq!(purchase_value("c1", EntryKind::Return, ten), None);
        assert_eq!(purchase_value("", EntryKind::Sale, ten), None);
    }

    #[test]
    fn one_time_buyers_only_give_null_predictions_and_a_reason() {
        let n = 50;
        let summary = vec![
            Column::Int(vec![Some(1); n]),
            Column::Date(vec![Some(day("2024-01-01")); n]),
            Column::Date(vec![Some(day("2024-01-01")); n]),
            Column::Decimal(vec![Some(Decimal::ZERO); n]),
        ];
        let def = ModelDef {
            fit: CountModel::BgNbd,
            spend: SpendModel::Auto,
            unit: ModelUnit::Week,
            calibration_end: None,
            horizon_months: 12,
            monthly_discount: Decimal::ZERO,
        };
        let p = predict("m", &def, day("2024-06-30"), &summary);
        assert!(p.fit.is_none(), "{:?}", p.fit);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].0, "model.fit");
        assert!(p
            .columns
            .iter()
            .all(|c| (0..n).all(|i| c.get(i) == ledgerlens_rules::Value::Null)));
    }
}
