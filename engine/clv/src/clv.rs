//! Discounted customer lifetime value from a transaction model and a spend.

use crate::summary::DAYS_PER_MONTH;
use crate::{BgNbd, Error, History, ParetoNbd, TimeUnit};

/// A model of purchase counts that predicts a customer's future purchases.
pub trait TransactionModel {
    /// The model's name, for errors and reports.
    fn name(&self) -> &'static str;
    /// P(alive | x, t_x, T).
    fn p_alive(&self, history: &History) -> Result<f64, Error>;
    /// E[Y(t) | x, t_x, T]: the expected purchases in the next `t` time units.
    fn expected_purchases(&self, t: f64, history: &History) -> Result<f64, Error>;
}

impl TransactionModel for BgNbd {
    fn name(&self) -> &'static str {
        "BG/NBD"
    }
    fn p_alive(&self, history: &History) -> Result<f64, Error> {
        BgNbd::p_alive(self, history)
    }
    fn expected_purchases(&self, t: f64, history: &History) -> Result<f64, Error> {
        BgNbd::expected_purchases(self, t, history)
    }
}

impl TransactionModel for ParetoNbd {
    fn name(&self) -> &'static str {
        "Pareto/NBD"
    }
    fn p_alive(&self, history: &History) -> Result<f64, Error> {
        ParetoNbd::p_alive(self, history)
    }
    fn expected_purchases(&self, t: f64, history: &History) -> Result<f64, Error> {
        ParetoNbd::expected_purchases(self, t, history)
    }
}

/// How future value is discounted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Discounting {
    /// The horizon in months (of 30.4375 days).
    pub months: u32,
    /// The discount rate per month (e.g. 0.01), > -1.
    pub monthly_rate: f64,
    /// The time unit the transaction model was fitted in.
    pub unit: TimeUnit,
}

/// Discounted CLV over `discounting.months` months (the formula of the Python package
/// `lifetimes`):
///
/// CLV = Σ_{k=1..H} spend · (E[Y(k m)] - E[Y((k-1) m)]) / (1 + d)^k
///
/// where E[Y(t)] is the model's expected purchases in the next t time units, m is one month
/// in the model's time unit (30.4375 days / the unit's days; `lifetimes` uses 4.345 weeks,
/// this 4.348) and d the monthly discount rate. `spend` is the expected value of a purchase,
/// usually [`GammaGamma::conditional_expected_spend`](crate::GammaGamma::conditional_expected_spend).
pub fn clv(
    model: &impl TransactionModel,
    history: &History,
    spend: f64,
    discounting: &Discounting,
) -> Result<f64, Error> {
    if !(spend >= 0.0 && spend.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "spend",
            value: spend,
            reason: "the expected spend must be finite and >= 0",
        });
    }
    let d = discounting.monthly_rate;
    if !(d > -1.0 && d.is_finite()) {
        return Err(Error::InvalidArgument {
            name: "monthly discount rate",
            value: d,
            reason: "must be finite and > -1",
        });
    }
    let month = DAYS_PER_MONTH / discounting.unit.days();
    let (mut total, mut previous, mut factor) = (0.0, 0.0, 1.0);
    for k in 1..=discounting.months {
        let expected = model.expected_purchases(f64::from(k) * month, history)?;
        factor /= 1.0 + d;
        total += spend * (expected - previous) * factor;
        previous = expected;
    }
    if total.is_finite() {
        Ok(total)
    } else {
        Err(Error::NotFinitePrediction {
            model: model.name(),
            what: "CLV",
            frequency: history.frequency,
            recency: history.recency,
            age: history.age,
        })
    }
}
