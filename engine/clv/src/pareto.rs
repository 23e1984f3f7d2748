//! The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987), with the likelihood in
//! the form of Fader and Hardie's note (2005).

use crate::bgnbd::check_horizon;
use crate::optimize::{maximize, standard_errors};
use crate::special::{digamma, ln_gamma, sigmoid, Hyp2f1, FIT_TERMS, MAX_TERMS};
use crate::{history, Error, Fit, FitOptions, History, Pattern};

const MODEL: &str = "Pareto/NBD";

/// Pareto/NBD parameters: purchase rates λ ~ Gamma(shape r, rate α) and drop-out rates
/// μ ~ Gamma(shape s, rate β); purchases are Poisson(λ) while alive, lifetimes
/// exponential(μ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParetoNbd {
    /// r: shape of the purchase-rate distribution.
    pub r: f64,
    /// α: rate of the purchase-rate distribution, in the time unit.
    pub alpha: f64,
    /// s: shape of the drop-out-rate distribution.
    pub s: f64,
    /// β: rate of the drop-out-rate distribution, in the time unit.
    pub beta: f64,
}

/// The two terms of one customer's likelihood, in logs, and their gradients by
/// (r, α, s, β): L = C [exp(la) + exp(lb)] with C = Γ(r+x) α^r β^s / Γ(r).
struct Terms {
    la: f64,
    ga: [f64; 4],
    /// -inf when t_x = T (no time to have dropped out after the last purchase).
    lb: f64,
    gb: [f64; 4],
}

impl ParetoNbd {
    /// Fits the model by maximum likelihood to customers grouped into patterns.
    pub fn fit(patterns: &[Pattern], options: &FitOptions) -> Result<Fit<ParetoNbd>, Error> {
        let (patterns, customers) = history::prepare(MODEL, patterns)?;
        let nll = |theta: &[f64; 4], grad: &mut [f64; 4]| {
            neg_log_likelihood(theta, &patterns, grad, FIT_TERMS).unwrap_or(f64::INFINITY)
        };
        let opt = maximize(MODEL, [0.0; 4], customers, options, nll)?;
        let params = Self::from_array(opt.theta.map(f64::exp));
        let std_errors = standard_errors(&opt.theta, nll).map(Self::from_array);
        Ok(Fit {
            params,
            std_errors,
            log_likelihood: opt.log_likelihood,
            iterations: opt.iterations,
            customers,
        })
    }

    fn from_array(p: [f64; 4]) -> Self {
        Self {
            r: p[0],
            alpha: p[1],
            s: p[2],
            beta: p[3],
        }
    }

    fn check(&self) -> Result<(), Error> {
        crate::error::positive(
            &[
                ("r", self.r),
                ("alpha", self.alpha),
                ("s", self.s),
                ("beta", self.beta),
            ],
            "Pareto/NBD parameters must be finite and > 0",
        )
    }

    /// The log-likelihood of the patterns under these parameters.
    pub fn log_likelihood(&self, patterns: &[Pattern]) -> Result<f64, Error> {
        self.check()?;
        let (patterns, _) = history::prepare(MODEL, patterns)?;
        let theta = [self.r.ln(), self.alpha.ln(), self.s.ln(), self.beta.ln()];
        let ll = -neg_log_likelihood(&theta, &patterns, &mut [0.0; 4], MAX_TERMS)?;
        if ll.is_finite() {
            Ok(ll)
        } else {
            Err(Error::NotFinite { model: MODEL })
        }
    }

    /// P(alive | x, t_x, T) = 1 / (1 + (s/(r+s+x)) (α+T)^(r+x) (β+T)^s A₀) (Fader and
    /// Hardie 2005, eq. 18), computed in logs.
    pub fn p_alive(&self, h: &History) -> Result<f64, Error> {
        self.check()?;
        h.check()?;
        let t = terms(self.r, self.alpha, self.s, self.beta, h, MAX_TERMS)?;
        finite(sigmoid(t.la - t.lb), "P(alive)", h)
    }

    /// E[Y(t) | x, t_x, T] = ((r+x)(β+T) / ((α+T)(s-1))) [1 - ((β+T)/(β+T+t))^(s-1)]
    /// P(alive) (eq. 22), with the limit (r+x)(β+T)/(α+T) ln((β+T+t)/(β+T)) P(alive) at
    /// s = 1.
    pub fn expected_purchases(&self, t: f64, h: &History) -> Result<f64, Error> {
        check_horizon(t)?;
        let alive = self.p_alive(h)?;
        let x = f64::from(h.frequency);
        let (bt, at) = (self.beta + h.age, self.alpha + h.age);
        let v = (self.r + x) * bt / at * power_gap(self.s - 1.0, (bt / (bt + t)).ln()) * alive;
        finite(v, "expected purchases", h)
    }

    /// E[X(t)] = (rβ / (α(s-1))) [1 - (β/(β+t))^(s-1)]: the expected purchases of a new
    /// customer in their first `t` time units.
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, Error> {
        self.check()?;
        check_horizon(t)?;
        let v = self.r * self.beta / self.alpha
            * power_gap(self.s - 1.0, (self.beta / (self.beta + t)).ln());
        finite(
            v,
            "expected purchases of a new customer",
            &History::new(0, 0.0, 0.0),
        )
    }
}

/// (1 - e^(εL)) / ε, and its limit -L at ε = 0.
fn power_gap(eps: f64, l: f64) -> f64 {
    if (eps * l).abs() < 1e-12 {
        -l
    } else {
        -(eps * l).exp_m1() / eps
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

/// ln[(α+t)^-(r+s+x) 2F1(r+s+x, s+1; r+s+x+1; (α-β)/(α+t))] when α >= β, or
/// ln[(β+t)^-(r+s+x) 2F1(r+s+x, r+x; r+s+x+1; (β-α)/(β+t))] when α < β (the two forms of
/// the note, chosen so that 0 <= z < 1), with its gradient by (r, α, s, β).
fn hyper_term(
    r: f64,
    alpha: f64,
    s: f64,
    beta: f64,
    x: f64,
    t: f64,
    max_terms: usize,
) -> Result<(f64, [f64; 4]), Error> {
    let a = r + s + x;
    if alpha >= beta {
        let m = alpha + t;
        let f = Hyp2f1::eval(
            a,
            s + 1.0,
            a + 1.0,
            (alpha - beta) / m,
            (beta + t) / m,
            max_terms,
        )?;
        let ln_m = m.ln();
        Ok((
            f.ln_f - a * ln_m,
            [
                f.da + f.dc - ln_m,
                f.dz * (beta + t) / (m * m) - a / m,
                f.da + f.dc + f.db - ln_m,
                -f.dz / m,
            ],
        ))
    } else {
        let m = beta + t;
        let f = Hyp2f1::eval(
            a,
            r + x,
            a + 1.0,
            (beta - alpha) / m,
            (alpha + t) / m,
            max_terms,
        )?;
        let ln_m = m.ln();
        Ok((
            f.ln_f - a * ln_m,
            [
                f.da + f.dc + f.db - ln_m,
                -f.dz / m,
                f.da + f.dc - ln_m,
                f.dz * (alpha + t) / (m * m) - a / m,
            ],
        ))
    }
}

/// la = -(r+x) ln(α+T) - s ln(β+T); lb = ln(s/(r+s+x)) + ln A₀, with
/// A₀ = term(t_x) - term(T) (see [`hyper_term`]), taken in logs as
/// ln term(t_x) + ln(1 - exp(ln term(T) - ln term(t_x))).
fn terms(
    r: f64,
    alpha: f64,
    s: f64,
    beta: f64,
    h: &History,
    max_terms: usize,
) -> Result<Terms, Error> {
    let x = f64::from(h.frequency);
    let (at, bt) = (alpha + h.age, beta + h.age);
    let la = -(r + x) * at.ln() - s * bt.ln();
    let ga = [-at.ln(), -(r + x) / at, -bt.ln(), -s / bt];
    let mut lb = f64::NEG_INFINITY;
    let mut gb = [0.0; 4];
    if h.age > h.recency {
        let (l1, g1) = hyper_term(r, alpha, s, beta, x, h.recency, max_terms)?;
        let (l2, g2) = hyper_term(r, alpha, s, beta, x, h.age, max_terms)?;
        let rho = (l2 - l1).exp();
        if rho < 1.0 {
            let rsx = r + s + x;
            lb = (s / rsx).ln() + l1 + (-(l2 - l1).exp_m1()).ln();
            for i in 0..4 {
                gb[i] = (g1[i] - rho * g2[i]) / (1.0 - rho);
            }
            gb[0] -= 1.0 / rsx;
            gb[2] += 1.0 / s - 1.0 / rsx;
        }
    }
    Ok(Terms { la, ga, lb, gb })
}

/// Minus the Pareto/NBD log-likelihood at θ = ln(r, α, s, β) and its gradient by θ:
///
/// ln L = ln Γ(r+x) - ln Γ(r) + r ln α + s ln β + ln(exp(la) + exp(lb)).
///
/// Patterns must be sorted by x; `max_terms` bounds each hypergeometric series.
fn neg_log_likelihood(
    theta: &[f64; 4],
    patterns: &[Pattern],
    grad: &mut [f64; 4],
    max_terms: usize,
) -> Result<f64, Error> {
    let [r, alpha, s, beta] = theta.map(f64::exp);
    let (ln_alpha, ln_beta) = (alpha.ln(), beta.ln());
    let (lg_r, dg_r) = (ln_gamma(r), digamma(r));
    let mut current = u32::MAX;
    let (mut cx, mut drx) = (0.0, 0.0);
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    for p in patterns {
        let h = &p.history;
        if h.frequency != current {
            current = h.frequency;
            let x = f64::from(h.frequency);
            cx = ln_gamma(r + x) - lg_r;
            drx = digamma(r + x) - dg_r;
        }
        let t = terms(r, alpha, s, beta, h, max_terms)?;
        // ln(e^la + e^lb) and the weights of the two terms.
        let (hi, lo) = if t.la >= t.lb {
            (t.la, t.lb)
        } else {
            (t.lb, t.la)
        };
        let lse = hi + (lo - hi).exp().ln_1p();
        let wa = (t.la - lse).exp();
        let wb = (t.lb - lse).exp();
        let w = p.count;
        ll += w * (cx + r * ln_alpha + s * ln_beta + lse);
        let prefix = [drx + ln_alpha, r / alpha, ln_beta, s / beta];
        for i in 0..4 {
            g[i] += w * (prefix[i] + wa * t.ga[i] + wb * t.gb[i]);
        }
    }
    for (i, p) in [r, alpha, s, beta].iter().enumerate() {
        grad[i] = -g[i] * p;
    }
    if ll.is_finite() {
        Ok(-ll)
    } else {
        Err(Error::NotFinite { model: MODEL })
    }
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
            (1, 39.0, 39.0),
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
    fn gradient_matches_finite_differences_on_both_branches() {
        let pats = sample();
        // The last two: α/β = e^±12, so 2F1 is taken at z within 1e-4 of 1, by the
        // transformation to 1 - z and derivatives by differences.
        for theta in [
            [-0.6, 2.3, -0.5, 2.45],
            [-0.6, 2.6, -0.5, 1.9],
            [0.1, 0.5, 0.2, 0.5],
            [-0.6, 13.8, -0.5, 1.6],
            [0.3, 1.6, -0.5, 13.8],
        ] {
            let mut g = [0.0; 4];
            neg_log_likelihood(&theta, &pats, &mut g, MAX_TERMS).unwrap();
            for i in 0..4 {
                let (mut up, mut down) = (theta, theta);
                up[i] += 1e-6;
                down[i] -= 1e-6;
                let f =
                    |t: &[f64; 4]| neg_log_likelihood(t, &pats, &mut [0.0; 4], MAX_TERMS).unwrap();
                let num = (f(&up) - f(&down)) / 2e-6;
                assert!(
                    (num - g[i]).abs() < 1e-5 * num.abs().max(1.0),
                    "θ = {theta:?}, {i}: {num} vs {}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn likelihood_matches_the_integral_form() {
        // L = C [ (α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^T (α+τ)^-(r+x) (β+τ)^-(s+1) dτ ],
        // the integral by composite Simpson; β below and above α (the two forms of A₀),
        // and β far below or above α, where 2F1 is taken at z within 5e-5 of 1 (beyond
        // the reach of its series).
        for (alpha, beta) in [(10.6, 7.0), (10.6, 14.0), (1e6, 5.0), (5.0, 1e6)] {
            let m = ParetoNbd {
                r: 0.55,
                alpha,
                s: 0.6,
                beta,
            };
            let (x, tx, t) = (3.0, 12.0, 39.0);
            let n = 20_000;
            let step = (t - tx) / n as f64;
            let f = |u: f64| (m.alpha + u).powf(-(m.r + x)) * (m.beta + u).powf(-(m.s + 1.0));
            let mut integral = f(tx) + f(t);
            for i in 1..n {
                integral += f(tx + i as f64 * step) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            integral *= step / 3.0;
            let c = ln_gamma(m.r + x) - ln_gamma(m.r) + m.r * m.alpha.ln() + m.s * m.beta.ln();
            let first = (m.alpha + t).powf(-(m.r + x)) * (m.beta + t).powf(-m.s);
            let direct = c + (first + m.s * integral).ln();
            let pats = [Pattern {
                history: History::new(3, tx, t),
                count: 1.0,
            }];
            let got = m.log_likelihood(&pats).unwrap();
            assert!(
                (got - direct).abs() < 1e-9,
                "α = {alpha}, β = {beta}: {got} vs {direct}"
            );
            // P(alive) is the share of the first term.
            let alive = m.p_alive(&pats[0].history).unwrap();
            assert!((alive - first / (first + m.s * integral)).abs() < 1e-9);
        }
    }

    #[test]
    fn expected_purchases_is_continuous_at_s_equal_one() {
        let h = History::new(2, 30.0, 38.0);
        let at = |s: f64| {
            ParetoNbd {
                r: 0.5,
                alpha: 10.0,
                s,
                beta: 12.0,
            }
            .expected_purchases(39.0, &h)
            .unwrap()
        };
        assert!((at(1.0) - 0.5 * (at(1.0 - 1e-5) + at(1.0 + 1e-5))).abs() < 1e-8);
    }
}
