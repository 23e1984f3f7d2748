//! The Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV").

use crate::optimize::{maximize, standard_errors};
use crate::special::{digamma, ln_gamma};
use crate::{Error, Fit, FitOptions};

const MODEL: &str = "Gamma-Gamma";

/// Gamma-Gamma parameters: the value of each purchase is Gamma(p, ν) around the customer's
/// mean, and the customers' ν are Gamma(q, γ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    /// p: shape of the purchase-value distribution.
    pub p: f64,
    /// q: shape of the distribution of ν across customers.
    pub q: f64,
    /// γ: rate of the distribution of ν across customers.
    pub gamma: f64,
}

/// Repeat customers with one (x, m_x), as the spend model sees them: ln m_x computed once,
/// and how many customers share it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spender {
    x: u32,
    mean: f64,
    ln_mean: f64,
    count: f64,
}

impl GammaGamma {
    /// Fits the model to customers given as (x, m_x): the number of repeat purchases and
    /// their mean value. Customers with x = 0 are left out (the model is fitted on repeat
    /// customers only); a repeat customer with m_x <= 0 (or not finite) is an error
    /// ([`Error::BadSpend`]), and so is having no repeat customer at all.
    pub fn fit(
        customers: impl IntoIterator<Item = (u32, f64)>,
        options: &FitOptions,
    ) -> Result<Fit<GammaGamma>, Error> {
        let mut spenders = Vec::new();
        let (mut bad, mut first_bad) = (0, None);
        for (x, mean) in customers {
            if x == 0 {
                continue;
            }
            if !(mean > 0.0 && mean.is_finite()) {
                bad += 1;
                first_bad.get_or_insert((x, mean));
                continue;
            }
            spenders.push(Spender {
                x,
                mean,
                ln_mean: mean.ln(),
                count: 1.0,
            });
        }
        if let Some((frequency, spend)) = first_bad {
            return Err(Error::BadSpend {
                count: bad,
                frequency,
                spend,
            });
        }
        if spenders.is_empty() {
            return Err(Error::NoRepeatCustomers);
        }
        let customers = spenders.len() as f64;
        // Customers with the same (x, m_x) are one term with a weight.
        spenders.sort_unstable_by(|a, b| a.x.cmp(&b.x).then(a.mean.total_cmp(&b.mean)));
        spenders.dedup_by(|next, kept| {
            let same = next.x == kept.x && next.mean == kept.mean;
            if same {
                kept.count += next.count;
            }
            same
        });
        let nll =
            |theta: &[f64; 3], grad: &mut [f64; 3]| neg_log_likelihood(theta, &spenders, grad);
        let opt = maximize(MODEL, [0.0; 3], customers, options, nll)?;
        let from = |p: [f64; 3]| GammaGamma {
            p: p[0],
            q: p[1],
            gamma: p[2],
        };
        Ok(Fit {
            params: from(opt.theta.map(f64::exp)),
            std_errors: standard_errors(&opt.theta, nll).map(from),
            log_likelihood: opt.log_likelihood,
            iterations: opt.iterations,
            customers,
        })
    }

    /// The population mean spend per purchase, pγ / (q - 1); an error when q <= 1 (the
    /// mean is infinite).
    pub fn mean_spend(&self) -> Result<f64, Error> {
        self.conditional_expected_spend(0, 0.0)
    }

    /// E[M | x, m_x] = p(γ + x m_x) / (px + q - 1): the expected value of a purchase of a
    /// customer with x repeat purchases of mean value m_x (a weighted mean of the population
    /// mean pγ/(q-1) and m_x; the population mean for x = 0). An error when q <= 1.
    pub fn conditional_expected_spend(&self, x: u32, mean: f64) -> Result<f64, Error> {
        crate::error::positive(
            &[("p", self.p), ("q", self.q), ("gamma", self.gamma)],
            "Gamma-Gamma parameters must be finite and > 0",
        )?;
        if self.q <= 1.0 {
            return Err(Error::InfiniteSpend { q: self.q });
        }
        if !(mean >= 0.0 && mean.is_finite()) {
            return Err(Error::InvalidArgument {
                name: "m_x",
                value: mean,
                reason: "the mean spend must be finite and >= 0",
            });
        }
        let x = f64::from(x);
        let v = self.p * (self.gamma + x * mean) / (self.p * x + self.q - 1.0);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::InvalidArgument {
                name: "m_x",
                value: mean,
                reason: "the expected spend overflows",
            })
        }
    }
}

/// Minus the Gamma-Gamma log-likelihood at θ = ln(p, q, γ) and its gradient by θ:
///
/// ln L = ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln γ + (px-1) ln m_x + px ln x
///        - (px+q) ln(γ + x m_x).
fn neg_log_likelihood(theta: &[f64; 3], spenders: &[Spender], grad: &mut [f64; 3]) -> f64 {
    let [p, q, gamma] = theta.map(f64::exp);
    let (lg_q, dg_q, ln_gamma_) = (ln_gamma(q), digamma(q), gamma.ln());
    let mut current = u32::MAX;
    let (mut c, mut dpx, mut dq) = (0.0, 0.0, 0.0);
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for s in spenders {
        let x = f64::from(s.x);
        if s.x != current {
            current = s.x;
            let px = p * x;
            let ln_x = x.ln();
            let dg_pxq = digamma(px + q);
            c = ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_gamma_ + px * ln_x;
            dpx = x * (dg_pxq - digamma(px) + ln_x);
            dq = dg_pxq - dg_q + ln_gamma_;
        }
        let px = p * x;
        let (ln_m, w) = (s.ln_mean, s.count);
        let denom = gamma + x * s.mean;
        let ln_d = denom.ln();
        ll += w * (c + (px - 1.0) * ln_m - (px + q) * ln_d);
        g[0] += w * (dpx + x * (ln_m - ln_d));
        g[1] += w * (dq - ln_d);
        g[2] += w * (q / gamma - (px + q) / denom);
    }
    for (i, v) in [p, q, gamma].iter().enumerate() {
        grad[i] = -g[i] * v;
    }
    -ll
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let spender = |x, mean: f64, count| Spender {
            x,
            mean,
            ln_mean: mean.ln(),
            count,
        };
        let sp = [
            spender(1, 10.0, 1.0),
            spender(1, 30.0, 2.0),
            spender(4, 12.5, 1.0),
        ];
        let theta = [1.2, 0.9, 2.5];
        let mut g = [0.0; 3];
        neg_log_likelihood(&theta, &sp, &mut g);
        for i in 0..3 {
            let (mut up, mut down) = (theta, theta);
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let num = (neg_log_likelihood(&up, &sp, &mut [0.0; 3])
                - neg_log_likelihood(&down, &sp, &mut [0.0; 3]))
                / 2e-6;
            assert!(
                (num - g[i]).abs() < 1e-5 * num.abs().max(1.0),
                "{i}: {num} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn customers_sharing_x_and_spend_fit_as_one_weighted_term() {
        let customers: Vec<(u32, f64)> = (0..300)
            .map(|i| (1 + i % 4, 5.0 + f64::from(i % 7) * 3.0 + f64::from(i % 4)))
            .collect();
        let fit = GammaGamma::fit(customers.iter().copied(), &FitOptions::default()).unwrap();
        assert_eq!(fit.customers, 300.0);
        // The same customers, the likelihood summed one by one.
        let mut sorted: Vec<Spender> = customers
            .iter()
            .map(|&(x, mean)| Spender {
                x,
                mean,
                ln_mean: mean.ln(),
                count: 1.0,
            })
            .collect();
        sorted.sort_by_key(|s| s.x);
        let theta = [fit.params.p.ln(), fit.params.q.ln(), fit.params.gamma.ln()];
        let ll = -neg_log_likelihood(&theta, &sorted, &mut [0.0; 3]);
        assert!(
            (ll - fit.log_likelihood).abs() < 1e-9 * ll.abs(),
            "{ll} vs {}",
            fit.log_likelihood
        );
    }

    #[test]
    fn expected_spend_shrinks_towards_the_mean_and_refuses_q_at_most_one() {
        let m = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let mean = m.mean_spend().unwrap();
        assert!((mean - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        let e = m.conditional_expected_spend(3, 100.0).unwrap();
        assert!(e > mean && e < 100.0);
        assert_eq!(
            GammaGamma { q: 1.0, ..m }.conditional_expected_spend(3, 100.0),
            Err(Error::InfiniteSpend { q: 1.0 })
        );
    }
}
