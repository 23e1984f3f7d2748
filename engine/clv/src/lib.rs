//! Customer-lifetime-value models: pure math over purchase histories, no storage, no rules.
//!
//! The path from purchases to value:
//!
//! 1. [`summarize`] turns purchase lines into one [`CustomerSummary`] per customer as of a
//!    calibration end date: x, t_x and T (a [`History`]) and m_x, the mean repeat spend.
//! 2. [`group`] gathers identical histories into [`Pattern`]s (a history and a count), the
//!    unit the likelihoods are computed on.
//! 3. [`BgNbd::fit`] or [`ParetoNbd::fit`] fits a purchase-count model, and
//!    [`GammaGamma::fit`] a spend model, by maximum likelihood; each gives a [`Fit`] with
//!    the parameters, their standard errors and the log-likelihood.
//! 4. The fitted models predict per customer: [`BgNbd::p_alive`],
//!    [`BgNbd::expected_purchases`] (likewise for [`ParetoNbd`]),
//!    [`GammaGamma::conditional_expected_spend`], and [`clv()`] the discounted value;
//!    [`holdout`] counts the purchases of a later period to compare the predictions with.
//!
//! ```
//! use chrono::NaiveDate;
//! use ledgerlens_clv::{clv, group, summarize, BgNbd, Discounting, FitOptions, History, Pattern, Purchase, TimeUnit};
//!
//! let day = |s: &str| s.parse::<NaiveDate>().unwrap();
//! let purchases = vec![
//!     Purchase::new("ann", day("2024-01-02"), 30.0),
//!     Purchase::new("ann", day("2024-02-20"), 25.0),
//!     Purchase::new("ann", day("2024-05-01"), 40.0),
//!     Purchase::new("bob", day("2024-01-15"), 12.0),
//!     Purchase::new("cy", day("2024-03-03"), 18.0),
//!     Purchase::new("cy", day("2024-03-30"), 22.0),
//!     Purchase::new("dee", day("2024-04-11"), 9.0),
//! ];
//! let summaries = summarize(purchases, day("2024-06-30"), TimeUnit::Week)?;
//! assert_eq!(summaries[0].history.frequency, 2); // ann: two repeat purchases
//! assert_eq!(summaries[0].spend, 32.5); // the mean of the repeat purchases
//!
//! let patterns = group(summaries.iter().map(|s| s.history))?;
//! assert_eq!(patterns.len(), 4);
//!
//! // Four customers are too few to fit a model to (the fit would report that it did not
//! // converge); a cohort of a few hundred, grouped by history, is enough.
//! let cohort: Vec<Pattern> = [(0, 0.0, 26.0, 610.0), (1, 8.0, 26.0, 150.0), (2, 20.0, 26.0, 90.0), (4, 24.0, 26.0, 40.0), (3, 6.0, 26.0, 30.0)]
//!     .iter()
//!     .map(|&(x, t_x, t, count)| Pattern { history: History::new(x, t_x, t), count })
//!     .collect();
//! let fit = BgNbd::fit(&cohort, &FitOptions::default())?;
//! assert!(fit.log_likelihood < 0.0 && fit.std_errors.is_some());
//! let model = fit.params;
//! let ann = summaries[0].history;
//! let alive = model.p_alive(&ann)?;
//! let next_quarter = model.expected_purchases(13.0, &ann)?;
//! let value = clv(&model, &ann, 30.0, &Discounting { months: 12, monthly_rate: 0.01, unit: TimeUnit::Week })?;
//! assert!((0.0..=1.0).contains(&alive) && next_quarter >= 0.0 && value >= 0.0);
//!
//! // The published BG/NBD example (Fader, Hardie and Lee 2005).
//! let cdnow = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
//! let e = cdnow.expected_purchases(39.0, &History::new(2, 30.43, 38.86))?;
//! assert!((e - 1.226).abs() < 5e-4);
//! # Ok::<(), ledgerlens_clv::Error>(())
//! ```
//!
//! # Models, formulas and references
//!
//! Notation: x repeat purchases, the last at t_x, observed for T time units since the first
//! purchase; times in the summary's [`TimeUnit`] (weeks by default; a month is 30.4375
//! days).
//!
//! - **BG/NBD** (P. S. Fader, B. G. S. Hardie, K. L. Lee, "Counting Your Customers the Easy
//!   Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 2005): while
//!   alive a customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out with
//!   probability p ~ Beta(a, b). Likelihood (eq. 6): L = B(a, b+x)/B(a, b) Γ(r+x) α^r /
//!   (Γ(r) (α+T)^(r+x)) plus, when x > 0, B(a+1, b+x-1)/B(a, b) Γ(r+x) α^r /
//!   (Γ(r) (α+t_x)^(r+x)); computed as the first term times 1 + exp(D), with
//!   D = ln(a/(b+x-1)) + (r+x) ln((α+T)/(α+t_x)).
//!   P(alive) = 1/(1 + exp(D)); E[Y(t)] is eq. 10 (a Gauss hypergeometric series).
//! - **Pareto/NBD** (D. C. Schmittlein, D. G. Morrison, R. Colombo, "Counting Your
//!   Customers: Who Are They and What Will They Do Next?", Management Science 33(1), 1987;
//!   likelihood in the form of P. S. Fader, B. G. S. Hardie, "A Note on Deriving the
//!   Pareto/NBD Model and Related Expressions", 2005): purchases Poisson(λ), λ ~ Gamma(r, α),
//!   lifetimes exponential(μ), μ ~ Gamma(s, β).
//!   L = Γ(r+x) α^r β^s / Γ(r) [(α+T)^-(r+x) (β+T)^-s + s/(r+s+x) A₀], with A₀ the
//!   difference at t_x and T of (α+t)^-(r+s+x) 2F1(r+s+x, s+1; r+s+x+1; (α-β)/(α+t)) when
//!   α >= β, or of (β+t)^-(r+s+x) 2F1(r+s+x, r+x; r+s+x+1; (β-α)/(β+t)) when α < β, so
//!   that 0 <= z < 1, and everything is combined in logs (A₀ = e^l1 (1 - e^(l2-l1)) with
//!   `exp_m1`, log-sum-exp of the two terms). P(alive) and E[Y(t)] are the note's eqs. 18
//!   and 22.
//! - **2F1**, the Gauss hypergeometric function, for 0 <= z < 1 (with 1 - z passed exactly
//!   as a ratio of the model's times): for z < 0.9 its power series, summed until the
//!   terms vanish relative to the sum; for z >= 0.9 (long horizons in BG/NBD, one rate
//!   parameter far below the other in Pareto/NBD) the transformation to 1 - z
//!   (Abramowitz and Stegun 15.3.6, with Euler's transformation when c < a + b) written
//!   so that the poles at integer c - a - b cancel analytically (Forrey 1997; Michel and
//!   Stoitsov 2008): no special case and no loss of accuracy at or near an integer, and
//!   15.3.10-15.3.12 exactly at one. It is carried as ln|F| and a sign, since it grows
//!   like (1-z)^(c-a-b) when c < a + b. Against mpmath it agrees to about 1e-14 relative
//!   for z up to 1 - 1e-8, c - a - b positive, negative, integer and within 1e-12 of one
//!   (1e-12 with a, b in the tens to hundreds, 3e-11 with a, b near 1e4).
//!   Where the transformation would lose more than 3 digits to cancellation (a, b in the
//!   tens with 1 - z near 0.1) the series is summed instead, up to a million terms (5,000
//!   while fitting, beyond which the likelihood counts as infinitely bad, so that a fit
//!   drifting to a boundary fails in seconds); where neither
//!   works (a, b in the ten thousands with 1 - z near 0.1; |c - a - b| > 1e5; a or b <= 0
//!   with z within ~1e-5 of 1, which the models do not produce) the result is an error,
//!   never a wrong number. For the analytic Pareto/NBD
//!   gradient, ∂ln F/∂z is exact (dF/dz = (ab/c) F(a+1, b+1; c+1; z)); ∂ln F/∂a, ∂b, ∂c
//!   are the series differentiated term by term below 0.9 (and above it where the series
//!   is short, under 2,000 terms, or the transformation fails) and otherwise central
//!   differences of ln F extrapolated to zero step (Richardson), accurate to about 1e-11.
//! - **Gamma-Gamma** (P. S. Fader, B. G. S. Hardie, K. L. Lee, "RFM and CLV: Using
//!   Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research 42(4),
//!   2005): on repeat customers only (x > 0) with m_x the mean of their repeat purchases,
//!   L = Γ(px+q) / (Γ(px) Γ(q)) γ^q m_x^(px-1) x^(px) / (γ + x m_x)^(px+q);
//!   E[M | x, m_x] = p(γ + x m_x) / (px + q - 1), finite only when q > 1.
//! - **Fitting**: maximum likelihood over the logs of the parameters (so they stay
//!   positive) by BFGS with a backtracking line search and analytic gradients, customers
//!   with identical (x, t_x, T) grouped with weights. Standard errors: the Hessian of the
//!   log-likelihood by the log-parameters (central differences of the analytic gradient),
//!   inverted, and carried to the parameters by the delta method.
//! - **CLV**: see [`clv()`]; the discounting is that of the Python package `lifetimes`.
//!
//! On the CDNOW sample (2,357 customers, 39 weeks) the fits reproduce the published
//! values: BG/NBD r = 0.243, α = 4.414, a = 0.793, b = 2.426 (LL -9582.4); Pareto/NBD
//! r = 0.553, α = 10.578, s = 0.606, β = 11.669 (LL -9595.0); Gamma-Gamma p = 6.25,
//! q = 3.74, γ = 15.44 (the tests in `tests/cdnow.rs`).
#![deny(missing_docs)]

mod bgnbd;
mod clv;
mod error;
mod gamma_gamma;
mod history;
mod optimize;
mod pareto;
mod special;
mod summary;
mod unit;

pub use bgnbd::BgNbd;
pub use clv::{clv, Discounting, TransactionModel};
pub use error::Error;
pub use gamma_gamma::GammaGamma;
pub use history::{group, History, Pattern};
pub use optimize::{Fit, FitOptions};
pub use pareto::ParetoNbd;
pub use summary::{holdout, summarize, CustomerSummary, Purchase, TimeUnit, DAYS_PER_MONTH};
pub use unit::TimeScaled;
