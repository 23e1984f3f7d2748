//! The BG/NBD model (Fader, Hardie and Lee 2005).

use crate::optimize::{maximize, standard_errors};
use crate::special::{digamma, hyp2f1, ln_gamma, sigmoid, softplus, MAX_TERMS};
use crate::{history, Error, Fit, FitOptions, History, Pattern};

const MODEL: &str = "BG/NBD";

/// BG/NBD parameters: purchase rates λ ~ Gamma(shape r, rate α); after each purchase the
/// customer drops out with probability p ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    /// r: shape of the purchase-rate distribution.
    pub r: f64,
    /// α: rate (inverse scale) of the purchase-rate distribution, in the time unit.
    pub alpha: f64,
    /// a: first shape of the drop-out probability distribution.
    pub a: f64,
    /// b: second shape of the drop-out probability distribution.
    pub b: f64,
}

impl BgNbd {
    /// Fits the model by maximum likelihood to customers grouped into patterns.
    pub fn fit(patterns: &[Pattern], options: &FitOptions) -> Result<Fit<BgNbd>, Error> {
        let (patterns, customers) = history::prepare(MODEL, patterns)?;
        let nll =
            |theta: &[f64; 4], grad: &mut [f64; 4]| neg_log_likelihood(theta, &patterns, grad);
        let opt = maximize(MODEL, [0.0; 4], customers, options, nll)?;
        let params = Self::from_theta(&opt.theta);
        let std_errors = standard_errors(&opt.theta, nll).map(Self::from_array);
        Ok(Fit {
            params,
            std_errors,
            log_likelihood: opt.log_likelihood,
            iterations: opt.iterations,
            customers,
        })
    }

    fn from_theta(theta: &[f64; 4]) -> Self {
        Self::from_array(theta.map(f64::exp))
    }

    fn from_array(p: [f64; 4]) -> Self {
        Self {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        }
    }

    fn check(&self) -> Result<(), Error> {
        crate::error::positive(
            &[
                ("r", self.r),
                ("alpha", self.alpha),
                ("a", self.a),
                ("b", self.b),
            ],
            "BG/NBD parameters must be finite and > 0",
        )
    }

    /// The log-likelihood of the patterns under these parameters.
    pub fn log_likelihood(&self, patterns: &[Pattern]) -> Result<f64, Error> {
        self.check()?;
        let (patterns, _) = history::prepare(MODEL, patterns)?;
        let theta = [self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()];
        let ll = -neg_log_likelihood(&theta, &patterns, &mut [0.0; 4]);
        if ll.is_finite() {
            Ok(ll)
        } else {
            Err(Error::NotFinite { model: MODEL })
        }
    }

    /// ln of a/(b+x-1) ((α+T)/(α+t_x))^(r+x), the odds of having dropped out after the last
    /// purchase against being alive (x > 0).
    fn log_dropout_odds(&self, h: &History) -> f64 {
        let x = f64::from(h.frequency);
        (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + h.age).ln() - (self.alpha + h.recency).ln())
    }

    /// P(alive | x, t_x, T): the probability that the customer has not dropped out
    /// (1 for x = 0, by the model's assumption that drop-out follows a purchase).
    pub fn p_alive(&self, h: &History) -> Result<f64, Error> {
        self.check()?;
        h.check()?;
        if h.frequency == 0 {
            return Ok(1.0);
        }
        finite(sigmoid(-self.log_dropout_odds(h)), "P(alive)", h)
    }

    /// E[Y(t) | x, t_x, T]: the expected number of purchases in the next `t` time units
    /// (FHL 2005, eq. 10):
    ///
    /// ((a+b+x-1)/(a-1)) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]
    /// / (1 + δ_{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)).
    pub fn expected_purchases(&self, t: f64, h: &History) -> Result<f64, Error> {
        self.check()?;
        h.check()?;
        check_horizon(t)?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let x = f64::from(h.frequency);
        let growth = self.growth(t, x, h.age)?;
        let alive = if h.frequency == 0 {
            1.0
        } else {
            sigmoid(-self.log_dropout_odds(h))
        };
        finite(growth * alive, "expected purchases", h)
    }

    /// E[X(t)]: the expected number of purchases of a new customer in their first `t`
    /// time units: ((a+b-1)/(a-1)) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))].
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, Error> {
        self.check()?;
        check_horizon(t)?;
        if t == 0.0 {
            return Ok(0.0);
        }
        // The same expression as growth() with x = 0 and T = 0.
        let g = self.growth(t, 0.0, 0.0)?;
        finite(
            g,
            "expected purchases of a new customer",
            &History::new(0, 0.0, 0.0),
        )
    }

    /// ((a+b+x-1)/(a-1)) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
    /// z = t/(α+T+t). At a = 1 both factors vanish: the limit is taken as the mean of
    /// a = 1 ± 1e-6.
    fn growth(&self, t: f64, x: f64, age: f64) -> Result<f64, Error> {
        let eval = |a: f64| -> Result<f64, Error> {
            let (r, alpha, b) = (self.r, self.alpha, self.b);
            let (at, att) = (alpha + age, alpha + age + t);
            let c = a + b + x - 1.0;
            let f = hyp2f1(r + x, b + x, c, t / att, at / att, MAX_TERMS)?;
            // tail = ((α+T)/(α+T+t))^(r+x) F; F < 0 is possible when c < 0, and F may be
            // beyond f64 as z → 1 (c < r + b + 2x) while the tail is not.
            let log_tail = -(r + x) * (t / at).ln_1p() + f.ln;
            let gap = if f.sign > 0.0 {
                -log_tail.exp_m1()
            } else {
                1.0 - f.sign * log_tail.exp()
            };
            Ok(c / (a - 1.0) * gap)
        };
        if (self.a - 1.0).abs() < 1e-6 {
            Ok(0.5 * (eval(1.0 - 1e-6)? + eval(1.0 + 1e-6)?))
        } else {
            eval(self.a)
        }
    }
}

pub(crate) fn check_horizon(t: f64) -> Result<(), Error> {
    if t >= 0.0 && t.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name: "t",
            value: t,
            reason: "the prediction horizon must be finite and >= 0",
        })
    }
}

fn finite(v: f64, what: &'static str, h: &History) -> Result<f64, Error> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::NotFinitePrediction {
            model: MODEL,
            what,
            frequency: h.frequency,
            recency: h.recency,
            age: h.age,
        })
    }
}

/// Minus the BG/NBD log-likelihood at θ = ln(r, α, a, b), and its gradient by θ. Patterns
/// must be sorted by x (the terms that depend on x only are computed once per x).
///
/// ln L = ln Γ(r+x) - ln Γ(r) + r ln α - (r+x) ln(α+T) + ln B(a, b+x) - ln B(a, b)
///        + ln(1 + δ_{x>0} exp(D)),  D = ln(a/(b+x-1)) + (r+x) ln((α+T)/(α+t_x)).
fn neg_log_likelihood(theta: &[f64; 4], patterns: &[Pattern], grad: &mut [f64; 4]) -> f64 {
    let [r, alpha, a, b] = theta.map(f64::exp);
    let ln_alpha = alpha.ln();
    let (lg_r, dg_r) = (ln_gamma(r), digamma(r));
    let (lg_b, dg_b) = (ln_gamma(b), digamma(b));
    let (lg_ab, dg_ab) = (ln_gamma(a + b), digamma(a + b));
    let mut ll = 0.0;
    let mut g = [0.0; 4]; // by r, α, a, b
    let mut current = u32::MAX;
    // Per-x terms: constant part, ∂/∂r, ∂/∂a, ∂/∂b, ln(a/(b+x-1)), 1/(b+x-1).
    let (mut cx, mut drx, mut dax, mut dbx, mut lodds, mut inv_bx) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for p in patterns {
        let h = &p.history;
        let x = f64::from(h.frequency);
        if h.frequency != current {
            current = h.frequency;
            if h.frequency == 0 {
                (cx, drx, dax, dbx) = (0.0, 0.0, 0.0, 0.0);
            } else {
                let (lg_abx, dg_abx) = (ln_gamma(a + b + x), digamma(a + b + x));
                let dg_bx = digamma(b + x);
                cx = ln_gamma(r + x) - lg_r + ln_gamma(b + x) - lg_b - lg_abx + lg_ab;
                drx = digamma(r + x) - dg_r;
                dax = dg_ab - dg_abx;
                dbx = dg_bx - dg_b - dg_abx + dg_ab;
                inv_bx = 1.0 / (b + x - 1.0);
                lodds = (a * inv_bx).ln();
            }
        }
        let w = p.count;
        let rx = r + x;
        let at = alpha + h.age;
        let ln_at = at.ln();
        let mut l = cx + r * ln_alpha - rx * ln_at;
        let mut gr = drx + ln_alpha - ln_at;
        let mut galpha = r / alpha - rx / at;
        let mut ga = dax;
        let mut gb = dbx;
        if h.frequency > 0 {
            let atx = alpha + h.recency;
            let ln_ratio = ln_at - atx.ln();
            let d = lodds + rx * ln_ratio;
            let s = sigmoid(d);
            l += softplus(d);
            gr += s * ln_ratio;
            galpha += s * rx * (1.0 / at - 1.0 / atx);
            ga += s / a;
            gb -= s * inv_bx;
        }
        ll += w * l;
        g[0] += w * gr;
        g[1] += w * galpha;
        g[2] += w * ga;
        g[3] += w * gb;
    }
    // d/dθ = p d/dp; minus for the negative log-likelihood.
    for (i, p) in [r, alpha, a, b].iter().enumerate() {
        grad[i] = -g[i] * p;
    }
    -ll
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Pattern> {
        let hs = [
            (0, 0.0, 30.0),
            (1, 5.0, 30.0),
            (3, 20.0, 35.0),
            (2, 30.0, 38.0),
            (0, 0.0, 38.0),
            (7, 36.0, 39.0),
        ];
        hs.iter()
            .enumerate()
            .map(|(i, &(x, tx, t))| Pattern {
                history: History::new(x, tx, t),
                count: 1.0 + i as f64,
            })
            .collect()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let pats = sample();
        let theta = [-0.7, 1.2, -0.3, 0.8];
        let mut g = [0.0; 4];
        neg_log_likelihood(&theta, &pats, &mut g);
        for i in 0..4 {
            let (mut up, mut down) = (theta, theta);
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let num = (neg_log_likelihood(&up, &pats, &mut [0.0; 4])
                - neg_log_likelihood(&down, &pats, &mut [0.0; 4]))
                / 2e-6;
            assert!(
                (num - g[i]).abs() < 1e-5 * num.abs().max(1.0),
                "θ{i}: {num} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn likelihood_matches_the_direct_formula() {
        // FHL 2005 eq. 6, evaluated literally for one customer.
        let m = BgNbd {
            r: 0.5,
            alpha: 3.0,
            a: 0.7,
            b: 2.0,
        };
        let (x, tx, t) = (3.0f64, 20.0f64, 35.0f64);
        let beta = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
        let common = ln_gamma(m.r + x) - ln_gamma(m.r) + m.r * m.alpha.ln();
        let a1 =
            (beta(m.a, m.b + x) - beta(m.a, m.b) + common - (m.r + x) * (m.alpha + t).ln()).exp();
        let a2 = (beta(m.a + 1.0, m.b + x - 1.0) - beta(m.a, m.b) + common
            - (m.r + x) * (m.alpha + tx).ln())
        .exp();
        let pats = [Pattern {
            history: History::new(3, tx, t),
            count: 1.0,
        }];
        let got = m.log_likelihood(&pats).unwrap();
        assert!(
            (got - (a1 + a2).ln()).abs() < 1e-12,
            "{got} vs {}",
            (a1 + a2).ln()
        );
        // P(alive) is the share of the term in which the customer is still alive at T.
        let alive = m.p_alive(&pats[0].history).unwrap();
        assert!((alive - a1 / (a1 + a2)).abs() < 1e-12);
    }

    #[test]
    fn expected_purchases_at_a_equal_one_is_continuous() {
        let h = History::new(2, 30.0, 38.0);
        let at = |a: f64| {
            BgNbd {
                r: 0.3,
                alpha: 4.0,
                a,
                b: 2.0,
            }
            .expected_purchases(10.0, &h)
            .unwrap()
        };
        let (left, mid, right) = (at(1.0 - 1e-3), at(1.0), at(1.0 + 1e-3));
        assert!(
            (mid - 0.5 * (left + right)).abs() < 1e-5,
            "{left} {mid} {right}"
        );
    }

    #[test]
    fn expected_purchases_for_a_long_horizon_reaches_its_limit() {
        // z = t/(α+T+t) = 1 - 1e-7 (a horizon 1e7 times α+T): far beyond the reach of the
        // 2F1 series (which made this an error), so by the transformation to 1 - z. With w = 1 - z, A&S 15.3.6 gives the tail of eq. 10 as
        // ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; c; z) = A w^(r+x) (1 + O(w))
        // + B w^(a-1) (1 + O(w)), B = Γ(c)Γ(r+x+1-a)/(Γ(r+x)Γ(b+x)), c = a+b+x-1.
        let h = History::new(2, 30.43, 38.86);
        let x = 2.0;
        let w = 1e-7;
        let model = |a: f64| BgNbd {
            r: 0.243,
            alpha: 4.414,
            a,
            b: 2.426,
        };
        let t = (4.414 + h.age) * (1.0 / w - 1.0);
        // a > 1: E[Y(t)] tends to (a+b+x-1)/(a-1) P(alive), the expected number of purchases
        // before dropping out; here the tail is O(w^2) = 1e-14.
        let m = model(3.0);
        let c = m.a + m.b + x - 1.0;
        let limit = c / (m.a - 1.0) * m.p_alive(&h).unwrap();
        let e = m.expected_purchases(t, &h).unwrap();
        assert!((e - limit).abs() < 1e-12 * limit, "{e} vs {limit}");
        // a < 1 (CDNOW's a = 0.793): E[Y(t)] grows without bound, as
        // c/(1-a) (B w^(a-1) - 1) P(alive) up to a relative O(w).
        let m = model(0.793);
        let c = m.a + m.b + x - 1.0;
        let big_b =
            (ln_gamma(c) + ln_gamma(m.r + x + 1.0 - m.a) - ln_gamma(m.r + x) - ln_gamma(m.b + x))
                .exp();
        let asymptote =
            c / (1.0 - m.a) * (big_b * w.powf(m.a - 1.0) - 1.0) * m.p_alive(&h).unwrap();
        let e = m.expected_purchases(t, &h).unwrap();
        assert!(
            (e - asymptote).abs() < 1e-6 * asymptote && e > 30.0,
            "{e} vs {asymptote}"
        );
    }
}
