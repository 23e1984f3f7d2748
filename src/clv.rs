//! `ledgerlens clv`: purchase-count and spend models fitted on the stored ledgers
//! (BG/NBD, Pareto/NBD, Gamma-Gamma from `ledgerlens-clv`), and their holdout check.
//!
//! A purchase is a `sale` entry with an amount of zero or more (a free item is a purchase
//! too); one purchase event is one customer-day (same-day sales summed). Returns,
//! discounts and red-ink reversals (negative sales) are not purchase events. Merged
//! customers read as their survivor. Gamma-Gamma is fitted on the repeat customers whose
//! mean repeat spend is above zero (the count fitted on is printed).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::ValueEnum;
use ledgerlens_clv::{
    clv, group, holdout, summarize, BgNbd, CustomerSummary, Discounting, Fit, FitOptions,
    GammaGamma, ParetoNbd, Purchase, TimeUnit, TransactionModel,
};
use ledgerlens_pipeline::{purchase_value, Overlay};
use ledgerlens_store::Store;
use rust_decimal::prelude::ToPrimitive;
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::json;

use crate::output::{self, Format, Listing};

/// The models `clv fit` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// BG/NBD (Fader, Hardie and Lee 2005): purchase counts, drop-out after a purchase.
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison and Colombo 1987): purchase counts, drop-out at
    /// any time.
    Paretonbd,
    /// Gamma-Gamma (Fader, Hardie and Lee 2005): the mean spend of repeat customers.
    Gammagamma,
}

/// The time unit of the summaries and rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    /// Days.
    Day,
    /// Weeks (days / 7), the literature's unit.
    Week,
    /// Months of 30.4375 days.
    Month,
}

impl From<Unit> for TimeUnit {
    fn from(u: Unit) -> TimeUnit {
        match u {
            Unit::Day => TimeUnit::Day,
            Unit::Week => TimeUnit::Week,
            Unit::Month => TimeUnit::Month,
        }
    }
}

/// Every purchase in the store: customers as dense numbers (in the order first met; the
/// second vector names them), amounts as floats (statistics, not money).
fn purchases(store: &Store) -> anyhow::Result<(Vec<Purchase<u32>>, Vec<String>)> {
    let overlay = Overlay::load(store)?;
    let mut ids: FxHashMap<String, u32> = FxHashMap::default();
    let mut out = Vec::new();
    for partition in 0..store.partitions() {
        overlay.for_each_entry(store, partition, |customer, e, _| {
            let Some(value) = purchase_value(customer, e.kind, e.amount).and_then(|v| v.to_f64())
            else {
                return;
            };
            let next = ids.len() as u32;
            let id = *ids.entry(customer.to_string()).or_insert(next);
            out.push(Purchase::new(id, e.date, value));
        })?;
    }
    let mut names = vec![String::new(); ids.len()];
    for (id, n) in ids {
        names[n as usize] = id;
    }
    Ok((out, names))
}

/// A fit's customers, log-likelihood and iterations.
type Meta = (f64, f64, usize);

/// One fitted parameter.
#[derive(Serialize)]
struct Parameter {
    name: &'static str,
    value: f64,
    std_error: Option<f64>,
}

/// What `clv fit` prints.
#[derive(Serialize)]
struct Fitted {
    model: &'static str,
    calibration_end: NaiveDate,
    unit: &'static str,
    customers: f64,
    log_likelihood: f64,
    iterations: usize,
    parameters: Vec<Parameter>,
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Day => "day",
        Unit::Week => "week",
        Unit::Month => "month",
    }
}

fn params(names: &[&'static str], values: &[f64], errors: Option<&[f64]>) -> Vec<Parameter> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| Parameter {
            name,
            value: values[i],
            std_error: errors.map(|e| e[i]),
        })
        .collect()
}

/// Customers' summaries, the purchases they came from, and the customers' ids.
type Summaries = (Vec<CustomerSummary<u32>>, Vec<Purchase<u32>>, Vec<String>);

/// The summaries as of `calibration_end`, and the purchases they came from.
fn summaries(store: &Store, calibration_end: NaiveDate, unit: Unit) -> anyhow::Result<Summaries> {
    let (purchases, ids) = purchases(store)?;
    if purchases.is_empty() {
        anyhow::bail!("the ledgers hold no sales: nothing to fit");
    }
    let summaries = summarize(purchases.iter().cloned(), calibration_end, unit.into())?;
    Ok((summaries, purchases, ids))
}

/// Gamma-Gamma fitted on the repeat customers whose mean repeat spend is above zero.
fn spend_model(
    summaries: &[CustomerSummary<u32>],
    options: &FitOptions,
) -> Result<Fit<GammaGamma>, ledgerlens_clv::Error> {
    GammaGamma::fit(
        summaries
            .iter()
            .filter(|s| s.spend > 0.0)
            .map(|s| (s.history.frequency, s.spend)),
        options,
    )
}

/// `clv fit`.
pub fn fit(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    model: Model,
    calibration_end: NaiveDate,
    unit: Unit,
) -> anyhow::Result<()> {
    let (summaries, _, _) = summaries(store, calibration_end, unit)?;
    let options = FitOptions::default();
    let fitted =
        |model, fit: Meta, names: &[&'static str], values: &[f64], errors: Option<Vec<f64>>| {
            Fitted {
                model,
                calibration_end,
                unit: unit_name(unit),
                customers: fit.0,
                log_likelihood: fit.1,
                iterations: fit.2,
                parameters: params(names, values, errors.as_deref()),
            }
        };
    let fitted = match model {
        Model::Bgnbd | Model::Paretonbd => {
            let patterns = group(summaries.iter().map(|s| s.history))?;
            if model == Model::Bgnbd {
                let f = BgNbd::fit_in(&patterns, unit.into(), &options)?;
                let p = f.params;
                let e = f.std_errors.map(|e| vec![e.r, e.alpha, e.a, e.b]);
                let meta = (f.customers, f.log_likelihood, f.iterations);
                fitted(
                    "bgnbd",
                    meta,
                    &["r", "alpha", "a", "b"],
                    &[p.r, p.alpha, p.a, p.b],
                    e,
                )
            } else {
                let f = ParetoNbd::fit_in(&patterns, unit.into(), &options)?;
                let p = f.params;
                let e = f.std_errors.map(|e| vec![e.r, e.alpha, e.s, e.beta]);
                let meta = (f.customers, f.log_likelihood, f.iterations);
                let values = [p.r, p.alpha, p.s, p.beta];
                fitted("paretonbd", meta, &["r", "alpha", "s", "beta"], &values, e)
            }
        }
        Model::Gammagamma => {
            let f = spend_model(&summaries, &options)?;
            let p = f.params;
            let e = f.std_errors.map(|e| vec![e.p, e.q, e.gamma]);
            let meta = (f.customers, f.log_likelihood, f.iterations);
            fitted(
                "gammagamma",
                meta,
                &["p", "q", "gamma"],
                &[p.p, p.q, p.gamma],
                e,
            )
        }
    };
    match format {
        Format::Table => {
            writeln!(
                out,
                "{} fitted on {} customers (calibration end {}, unit {}): log-likelihood {:.2}, {} iterations",
                fitted.model,
                fitted.customers,
                fitted.calibration_end,
                fitted.unit,
                fitted.log_likelihood,
                fitted.iterations
            )?;
            let rows: Vec<_> = fitted
                .parameters
                .iter()
                .map(|p| {
                    json!({
                        "parameter": p.name,
                        "value": format!("{:.4}", p.value),
                        "std_error": p.std_error.map(|e| format!("{e:.4}")),
                    })
                })
                .collect();
            Listing {
                columns: vec!["parameter", "value", "std_error"],
                rows,
            }
            .write(out, format)
        }
        _ => output::object(out, format, &fitted),
    }
}

/// One row of the holdout check: customers with `frequency` repeat purchases in the
/// calibration period.
#[derive(Serialize)]
struct HoldoutRow {
    frequency: String,
    customers: u64,
    actual: f64,
    predicted: f64,
}

/// `clv holdout`: fits on the calibration period, then compares the mean purchases
/// predicted for the holdout period with the actual ones, by calibration frequency
/// (0, 1, ..., 6, 7+).
pub fn holdout_check(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    model: Model,
    calibration_end: NaiveDate,
    holdout_end: NaiveDate,
    unit: Unit,
) -> anyhow::Result<()> {
    let (summaries, purchases, _) = summaries(store, calibration_end, unit)?;
    let actual = holdout(purchases, calibration_end, holdout_end)?;
    let patterns = group(summaries.iter().map(|s| s.history))?;
    let options = FitOptions::default();
    let fitted: Box<dyn TransactionModel> = match model {
        Model::Bgnbd => Box::new(BgNbd::fit_in(&patterns, unit.into(), &options)?.params),
        Model::Paretonbd => Box::new(ParetoNbd::fit_in(&patterns, unit.into(), &options)?.params),
        Model::Gammagamma => {
            anyhow::bail!(
                "the holdout check compares purchase counts: use --model bgnbd or paretonbd"
            )
        }
    };
    let t = (holdout_end - calibration_end).num_days() as f64 / TimeUnit::from(unit).days();
    // Predictions per distinct history (customers share few), then summed per group.
    let mut predicted: BTreeMap<(u32, u64, u64), f64> = BTreeMap::new();
    let mut groups: BTreeMap<u32, (u64, f64, f64)> = BTreeMap::new();
    for s in &summaries {
        let h = s.history;
        let key = (h.frequency, h.recency.to_bits(), h.age.to_bits());
        let p = match predicted.get(&key) {
            Some(p) => *p,
            None => {
                let p = fitted
                    .expected_purchases(t, &h)
                    .with_context(|| format!("predicting for x = {}", h.frequency))?;
                predicted.insert(key, p);
                p
            }
        };
        let g = groups.entry(h.frequency.min(7)).or_default();
        g.0 += 1;
        g.1 += f64::from(actual.get(&s.customer).copied().unwrap_or(0));
        g.2 += p;
    }
    let rows: Vec<HoldoutRow> = groups
        .into_iter()
        .map(|(x, (n, a, p))| HoldoutRow {
            frequency: if x == 7 { "7+".into() } else { x.to_string() },
            customers: n,
            actual: a / n as f64,
            predicted: p / n as f64,
        })
        .collect();
    match format {
        Format::Table => {
            writeln!(
                out,
                "{} on {} customers: mean purchases per customer from {} to {} ({t:.2} {}s), by repeat purchases up to {}",
                fitted.name(),
                summaries.len(),
                calibration_end,
                holdout_end,
                unit_name(unit),
                calibration_end
            )?;
            let rows: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({
                        "frequency": r.frequency,
                        "customers": r.customers,
                        "actual": format!("{:.3}", r.actual),
                        "predicted": format!("{:.3}", r.predicted),
                    })
                })
                .collect();
            Listing {
                columns: vec!["frequency", "customers", "actual", "predicted"],
                rows,
            }
            .write(out, format)
        }
        _ => output::object(out, format, &rows),
    }
}

/// What `clv score` says about one customer.
#[derive(Serialize)]
struct Score<'a> {
    customer: &'a str,
    frequency: u32,
    recency: f64,
    age: f64,
    p_alive: f64,
    expected_purchases: f64,
    expected_spend: Option<f64>,
    clv: Option<f64>,
}

/// How `clv score` looks ahead.
pub struct Horizon {
    /// Expected purchases are counted over this many time units.
    pub periods: f64,
    /// CLV sums this many months.
    pub months: u32,
    /// The monthly discount rate of the CLV.
    pub monthly_rate: f64,
}

/// `clv score`: per customer, sorted by id: the history as of the calibration end, the
/// probability of being alive, the expected purchases over the next periods, the expected
/// spend per purchase (Gamma-Gamma, when it can be fitted) and the discounted CLV.
pub fn score(
    out: &mut dyn Write,
    format: Format,
    store: &Store,
    model: Model,
    calibration_end: NaiveDate,
    unit: Unit,
    horizon: &Horizon,
) -> anyhow::Result<()> {
    let (summaries, _, ids) = summaries(store, calibration_end, unit)?;
    let patterns = group(summaries.iter().map(|s| s.history))?;
    let options = FitOptions::default();
    // The spend model is optional: a client without repeat buyers still gets counts.
    let spend = spend_model(&summaries, &options).map(|f| f.params);
    if let Err(e) = &spend {
        tracing::warn!("no spend model, so no expected spend or CLV: {e}");
    }
    let discounting = Discounting {
        months: horizon.months,
        monthly_rate: horizon.monthly_rate,
        unit: unit.into(),
    };
    let spend = spend.as_ref().ok();
    let rows = match model {
        Model::Bgnbd => {
            let m = BgNbd::fit_in(&patterns, unit.into(), &options)?.params;
            scores(&m, &summaries, &ids, spend, horizon.periods, &discounting)?
        }
        Model::Paretonbd => {
            let m = ParetoNbd::fit_in(&patterns, unit.into(), &options)?.params;
            scores(&m, &summaries, &ids, spend, horizon.periods, &discounting)?
        }
        Model::Gammagamma => {
            anyhow::bail!("scores come from a purchase-count model: use --model bgnbd or paretonbd")
        }
    };
    match format {
        Format::Table => {
            let f = |v: f64, places: usize| format!("{v:.places$}");
            let rows: Vec<_> = rows
                .iter()
                .map(|r| {
                    json!({
                        "customer": r.customer,
                        "x": r.frequency,
                        "t_x": f(r.recency, 2),
                        "T": f(r.age, 2),
                        "p_alive": f(r.p_alive, 4),
                        "expected_purchases": f(r.expected_purchases, 4),
                        "expected_spend": r.expected_spend.map(|v| f(v, 2)),
                        "clv": r.clv.map(|v| f(v, 2)),
                    })
                })
                .collect();
            Listing {
                columns: vec![
                    "customer",
                    "x",
                    "t_x",
                    "T",
                    "p_alive",
                    "expected_purchases",
                    "expected_spend",
                    "clv",
                ],
                rows,
            }
            .write(out, format)
        }
        _ => output::object(out, format, &rows),
    }
}

/// The scores of every customer under one count model, sorted by customer id; count
/// predictions are computed once per distinct history.
fn scores<'a>(
    model: &impl TransactionModel,
    summaries: &[CustomerSummary<u32>],
    ids: &'a [String],
    spend: Option<&GammaGamma>,
    periods: f64,
    discounting: &Discounting,
) -> anyhow::Result<Vec<Score<'a>>> {
    let mut by_history: BTreeMap<(u32, u64, u64), (f64, f64)> = BTreeMap::new();
    let mut rows = Vec::with_capacity(summaries.len());
    for s in summaries {
        let h = s.history;
        let key = (h.frequency, h.recency.to_bits(), h.age.to_bits());
        let (p_alive, expected) = match by_history.get(&key) {
            Some(v) => *v,
            None => {
                let v = (model.p_alive(&h)?, model.expected_purchases(periods, &h)?);
                by_history.insert(key, v);
                v
            }
        };
        let expected_spend = match spend {
            Some(g) => Some(g.conditional_expected_spend(h.frequency, s.spend)?),
            None => None,
        };
        let value = match expected_spend {
            Some(e) => Some(clv(model, &h, e, discounting)?),
            None => None,
        };
        rows.push(Score {
            customer: ids.get(s.customer as usize).map_or("", String::as_str),
            frequency: h.frequency,
            recency: h.recency,
            age: h.age,
            p_alive,
            expected_purchases: expected,
            expected_spend,
            clv: value,
        });
    }
    rows.sort_by(|a, b| a.customer.cmp(b.customer));
    Ok(rows)
}
