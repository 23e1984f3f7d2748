//! The one error type of this crate.

use chrono::NaiveDate;

/// Why a summary, a fit or a prediction could not be made.
///
/// Nothing in this crate returns a NaN: where a number cannot be computed, one of these
/// says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There were no purchases at all.
    #[error("no purchases to summarize")]
    NoPurchases,
    /// Every purchase is after the calibration end, so no customer is in the calibration
    /// period.
    #[error("calibration end {end} is before all purchases (the first is on {first})")]
    CalibrationBeforeData {
        /// The calibration end asked for.
        end: NaiveDate,
        /// The date of the earliest purchase.
        first: NaiveDate,
    },
    /// A holdout period that ends on or before the calibration end.
    #[error("the holdout end {holdout_end} is not after the calibration end {calibration_end}")]
    BadPeriod {
        /// The calibration end.
        calibration_end: NaiveDate,
        /// The holdout end.
        holdout_end: NaiveDate,
    },
    /// A purchase value is negative, infinite or NaN (net refunds out before summarizing).
    #[error("customer {customer}: purchase value {value} on {date} is not a finite number >= 0")]
    BadValue {
        /// The customer, as displayed.
        customer: String,
        /// The date of the purchase.
        date: NaiveDate,
        /// The value.
        value: f64,
    },
    /// There is nothing to fit.
    #[error("{model}: no customers to fit")]
    NoCustomers {
        /// The model.
        model: &'static str,
    },
    /// A customer history is not one a model can describe.
    #[error("invalid customer history (x = {frequency}, t_x = {recency}, T = {age}): {reason}")]
    BadHistory {
        /// x, the number of repeat purchases.
        frequency: u32,
        /// t_x, the time of the last purchase since the first.
        recency: f64,
        /// T, the time from the first purchase to the calibration end.
        age: f64,
        /// What is wrong.
        reason: &'static str,
    },
    /// Gamma-Gamma is fitted on repeat customers (x > 0) and there are none.
    #[error("Gamma-Gamma: no repeat customers (x > 0) to fit the spend model on")]
    NoRepeatCustomers,
    /// Gamma-Gamma needs a positive mean repeat spend for every customer it is given.
    #[error(
        "Gamma-Gamma: {count} repeat customers have a mean repeat spend that is not a finite \
         number > 0 (the first: x = {frequency}, m_x = {spend}); leave them out of the fit"
    )]
    BadSpend {
        /// How many customers.
        count: usize,
        /// x of the first one.
        frequency: u32,
        /// m_x of the first one.
        spend: f64,
    },
    /// The optimizer stopped without reaching the maximum of the likelihood.
    #[error(
        "{model} fit did not converge in {iterations} iterations \
         (largest gradient component {gradient:.3e}, log-likelihood {log_likelihood})"
    )]
    NotConverged {
        /// The model.
        model: &'static str,
        /// Iterations run.
        iterations: usize,
        /// The largest absolute component of the gradient (per customer, log-parameters).
        gradient: f64,
        /// The log-likelihood where it stopped.
        log_likelihood: f64,
    },
    /// The log-likelihood or its gradient is not a finite number (at the starting point of
    /// a fit, or at the parameters given).
    #[error("{model}: the log-likelihood is not a finite number at these parameters")]
    NotFinite {
        /// The model.
        model: &'static str,
    },
    /// Gamma-Gamma with q <= 1 has an infinite mean spend.
    #[error("Gamma-Gamma: q = {q:.4} <= 1, so the expected spend is infinite")]
    InfiniteSpend {
        /// The fitted q.
        q: f64,
    },
    /// A Gauss hypergeometric series did not converge (|z| too close to 1 or a pole).
    #[error("hypergeometric 2F1({a}, {b}; {c}; {z}) cannot be evaluated: {reason}")]
    Hypergeometric {
        /// a.
        a: f64,
        /// b.
        b: f64,
        /// c.
        c: f64,
        /// z.
        z: f64,
        /// Why.
        reason: &'static str,
    },
    /// An argument is out of its domain.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The domain.
        reason: &'static str,
    },
    /// A prediction came out as a non-finite number (reported instead of returning it).
    #[error(
        "{model}: {what} is not a finite number for x = {frequency}, t_x = {recency}, T = {age}"
    )]
    NotFinitePrediction {
        /// The model.
        model: &'static str,
        /// Which prediction.
        what: &'static str,
        /// x.
        frequency: u32,
        /// t_x.
        recency: f64,
        /// T.
        age: f64,
    },
}

/// Checks that every named parameter is finite and > 0; `reason` names the model's rule.
pub(crate) fn positive(params: &[(&'static str, f64)], reason: &'static str) -> Result<(), Error> {
    for &(name, value) in params {
        if !(value > 0.0 && value.is_finite()) {
            return Err(Error::InvalidArgument {
                name,
                value,
                reason,
            });
        }
    }
    Ok(())
}
