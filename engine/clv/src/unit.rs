//! Fitting in weeks whatever the time unit: the models are equivariant under a change of
//! unit, and the optimizer, which starts from every parameter at 1, converges reliably on
//! times of the literature's scale (in days BG/NBD may not converge from there, and
//! Pareto/NBD needs far longer hypergeometric series).

use crate::history::{History, Pattern};
use crate::optimize::{Fit, FitOptions};
use crate::summary::TimeUnit;
use crate::{BgNbd, Error, ParetoNbd};

/// A purchase-count model with time-scale parameters (α, and β for Pareto/NBD: rates of
/// gamma distributions of rates per unit of time): measured in another unit they scale,
/// and its shape parameters do not.
pub trait TimeScaled: Sized {
    /// The model with times measured in a unit `factor` times smaller than its own (from
    /// weeks to days `factor` = 7, to months 7 / 30.4375): the time-scale parameters
    /// multiplied by `factor` (> 0).
    fn in_unit_of(&self, factor: f64) -> Self;
}

impl TimeScaled for BgNbd {
    fn in_unit_of(&self, factor: f64) -> Self {
        Self {
            alpha: self.alpha * factor,
            ..*self
        }
    }
}

impl TimeScaled for ParetoNbd {
    fn in_unit_of(&self, factor: f64) -> Self {
        Self {
            alpha: self.alpha * factor,
            beta: self.beta * factor,
            ..*self
        }
    }
}

impl<P: TimeScaled> Fit<P> {
    /// The fit with times measured in a unit `factor` times smaller (see [`TimeScaled`]),
    /// given `repeats`, the repeat purchases of the fitted customers (Σ x): the standard
    /// errors scale with their parameters, and each repeat purchase's density in time is
    /// divided by `factor`, so the log-likelihood falls by Σ x ln `factor`.
    pub fn in_unit_of(self, factor: f64, repeats: f64) -> Fit<P> {
        Fit {
            params: self.params.in_unit_of(factor),
            std_errors: self.std_errors.map(|e| e.in_unit_of(factor)),
            log_likelihood: self.log_likelihood - factor.ln() * repeats,
            ..self
        }
    }
}

/// Fits `fit` on the patterns, whose times are in `unit`, converted to weeks, and gives
/// the fit in `unit`.
fn in_weeks<P: TimeScaled>(
    patterns: &[Pattern],
    unit: TimeUnit,
    fit: impl FnOnce(&[Pattern]) -> Result<Fit<P>, Error>,
) -> Result<Fit<P>, Error> {
    let factor = TimeUnit::Week.days() / unit.days();
    let weekly: Vec<Pattern> = patterns
        .iter()
        .map(|p| Pattern {
            history: History::new(
                p.history.frequency,
                p.history.recency / factor,
                p.history.age / factor,
            ),
            count: p.count,
        })
        .collect();
    let repeats = patterns
        .iter()
        .map(|p| f64::from(p.history.frequency) * p.count)
        .sum();
    let shift = factor.ln() * repeats;
    match fit(&weekly) {
        Ok(f) => Ok(f.in_unit_of(factor, repeats)),
        // The likelihood reached, in the unit too.
        Err(Error::NotConverged {
            model,
            iterations,
            gradient,
            log_likelihood,
        }) => Err(Error::NotConverged {
            model,
            iterations,
            gradient,
            log_likelihood: log_likelihood - shift,
        }),
        Err(e) => Err(e),
    }
}

impl BgNbd {
    /// [`BgNbd::fit`] on patterns whose times are in `unit`, fitted in weeks and given in
    /// `unit` (the same maximum, found reliably whatever the unit).
    pub fn fit_in(
        patterns: &[Pattern],
        unit: TimeUnit,
        options: &FitOptions,
    ) -> Result<Fit<BgNbd>, Error> {
        in_weeks(patterns, unit, |p| BgNbd::fit(p, options))
    }
}

impl ParetoNbd {
    /// [`ParetoNbd::fit`] on patterns whose times are in `unit`, fitted in weeks and given
    /// in `unit`.
    pub fn fit_in(
        patterns: &[Pattern],
        unit: TimeUnit,
        options: &FitOptions,
    ) -> Result<Fit<ParetoNbd>, Error> {
        in_weeks(patterns, unit, |p| ParetoNbd::fit(p, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pareto_nbd_ridge_fails_fast() {
        // Few customers drop out visibly: the likelihood rises for ever along s and β
        // growing together (lifetimes tending to one common rate). The fit must say that it
        // did not converge, at once: the steps that no longer change the likelihood are
        // not taken as progress.
        let weeks: Vec<Pattern> = [
            (0, 0.0, 26.0, 610.0),
            (1, 8.0, 26.0, 150.0),
            (2, 20.0, 26.0, 90.0),
            (4, 24.0, 26.0, 40.0),
            (3, 6.0, 20.0, 30.0),
            (6, 25.0, 26.0, 12.0),
        ]
        .iter()
        .map(|&(x, t_x, t, count)| Pattern {
            history: History::new(x, t_x, t),
            count,
        })
        .collect();
        let err = ParetoNbd::fit_in(&weeks, TimeUnit::Week, &FitOptions::default())
            .expect_err("no maximum");
        let Error::NotConverged { iterations, .. } = err else {
            panic!("{err:?}");
        };
        assert!(iterations < 200, "{err:?}");
    }
}
