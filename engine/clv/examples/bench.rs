//! Benchmark of the CLV models (not a test):
//!
//! ```text
//! cargo run --release -p ledgerlens-clv --example bench [-- customers...]
//! ```
//!
//! Fits BG/NBD on the CDNOW sample (2,357 customers) 100 times (Pareto/NBD 20 times); then, for 1M and 10M
//! synthetic customers drawn from the fitted BG/NBD process (a 12-week cohort observed for
//! 39 weeks, times in whole days), groups them by history, fits BG/NBD on the patterns and
//! scores every customer: P(alive), expected purchases in the next 39 weeks and a 12-month
//! CLV at 1% a month (scored once per pattern, then looked up per customer).

use std::collections::HashMap;
use std::time::Instant;

use ledgerlens_clv::{
    clv, group, BgNbd, Discounting, FitOptions, GammaGamma, History, ParetoNbd, Pattern, TimeUnit,
};

/// splitmix64: small, fast, good enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Gamma(shape, scale 1) by Marsaglia and Tsang (with the boost for shape < 1).
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

/// One synthetic customer as (x, day of the last purchase, T in days), packed in a u64.
fn simulate(m: &BgNbd, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let lambda = rng.gamma(m.r) / m.alpha; // per week
        let (ga, gb) = (rng.gamma(m.a), rng.gamma(m.b));
        let p = ga / (ga + gb);
        let t_days = 273 - (rng.next_u64() % 84) as u32; // first purchase in a 12-week cohort
        let t_weeks = f64::from(t_days) / 7.0;
        let (mut t, mut x, mut last) = (0.0, 0u32, 0u32);
        loop {
            t += -rng.uniform().ln() / lambda;
            if t > t_weeks {
                break;
            }
            x += 1;
            last = ((t * 7.0) as u32).min(t_days);
            if rng.uniform() < p {
                break;
            }
        }
        out.push(u64::from(x) << 32 | u64::from(last) << 16 | u64::from(t_days));
    }
    out
}

fn history(key: u64) -> History {
    let x = (key >> 32) as u32;
    let last = ((key >> 16) & 0xffff) as f64;
    let t = (key & 0xffff) as f64;
    History::new(x, last / 7.0, t / 7.0)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/cdnow/data/cdnow_customers_summary.csv"
    );
    let text = std::fs::read_to_string(path).expect("the CDNOW summary");
    let histories: Vec<History> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().expect("a number")).collect();
            History::new(f[1] as u32, f[2], f[3])
        })
        .collect();
    let options = FitOptions::default();
    let start = Instant::now();
    let patterns = group(histories.iter().copied()).expect("valid histories");
    let group_ms = ms(start);
    let start = Instant::now();
    let mut fit = None;
    for _ in 0..100 {
        fit = Some(BgNbd::fit(&patterns, &options).expect("BG/NBD fits CDNOW"));
    }
    let per_fit = ms(start) / 100.0;
    let fit = fit.expect("100 fits");
    println!(
        "CDNOW {} customers, {} patterns: group {:.2} ms; BG/NBD fit {:.2} ms per fit ({} iterations, LL {:.1})",
        histories.len(),
        patterns.len(),
        group_ms,
        per_fit,
        fit.iterations,
        fit.log_likelihood
    );
    let start = Instant::now();
    let mut pareto = None;
    for _ in 0..20 {
        pareto = Some(ParetoNbd::fit(&patterns, &options).expect("Pareto/NBD fits CDNOW"));
    }
    let pareto_ms = ms(start) / 20.0;
    let pareto = pareto.expect("20 fits");
    println!(
        "CDNOW Pareto/NBD fit {:.2} ms per fit ({} iterations, LL {:.1})",
        pareto_ms, pareto.iterations, pareto.log_likelihood
    );
    let model = fit.params;
    let spend = GammaGamma {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    let discounting = Discounting {
        months: 12,
        monthly_rate: 0.01,
        unit: TimeUnit::Week,
    };

    for n in sizes {
        let start = Instant::now();
        let keys = simulate(&model, n, 42);
        let simulate_ms = ms(start);

        let start = Instant::now();
        let library_patterns = group(keys.iter().map(|&k| history(k))).expect("valid histories");
        let library_group_ms = ms(start);

        // Grouping that also keeps each customer's pattern, for scoring.
        let start = Instant::now();
        let mut index: HashMap<u64, u32> = HashMap::new();
        let mut counts: Vec<(u64, f64)> = Vec::new();
        let of_customer: Vec<u32> = keys
            .iter()
            .map(|&k| {
                let i = *index.entry(k).or_insert_with(|| {
                    counts.push((k, 0.0));
                    (counts.len() - 1) as u32
                });
                counts[i as usize].1 += 1.0;
                i
            })
            .collect();
        let patterns: Vec<Pattern> = counts
            .iter()
            .map(|&(k, count)| Pattern {
                history: history(k),
                count,
            })
            .collect();
        let index_ms = ms(start);
        assert_eq!(patterns.len(), library_patterns.len());

        let start = Instant::now();
        let fit = BgNbd::fit(&patterns, &options).expect("BG/NBD fits the synthetic customers");
        let fit_ms = ms(start);
        let m = fit.params;

        let start = Instant::now();
        let scores: Vec<[f64; 3]> = patterns
            .iter()
            .map(|p| {
                let h = &p.history;
                let e = spend
                    .conditional_expected_spend(h.frequency, spend.mean_spend().unwrap_or(0.0))
                    .unwrap_or(0.0);
                [
                    m.p_alive(h).unwrap_or(f64::NAN),
                    m.expected_purchases(39.0, h).unwrap_or(f64::NAN),
                    clv(&m, h, e, &discounting).unwrap_or(f64::NAN),
                ]
            })
            .collect();
        let score_patterns_ms = ms(start);
        let start = Instant::now();
        let mut total = [0.0; 3];
        for &i in &of_customer {
            let s = &scores[i as usize];
            total[0] += s[0];
            total[1] += s[1];
            total[2] += s[2];
        }
        let gather_ms = ms(start);
        let errors = scores
            .iter()
            .filter(|s| s.iter().any(|v| v.is_nan()))
            .count();
        println!(
            "{n} synthetic customers ({} patterns, simulated in {:.0} ms): group (library) {:.0} ms, group + index {:.0} ms; \
             BG/NBD fit {:.0} ms ({} iterations; r {:.3} alpha {:.3} a {:.3} b {:.3}); \
             score P(alive), E[Y(39)], CLV(12 months): {:.0} ms for the patterns + {:.0} ms per customer = {:.0} ms \
             (mean P(alive) {:.3}, E {:.3}, CLV {:.2}; {errors} patterns without a score)",
            patterns.len(),
            simulate_ms,
            library_group_ms,
            index_ms,
            fit_ms,
            fit.iterations,
            m.r,
            m.alpha,
            m.a,
            m.b,
            score_patterns_ms,
            gather_ms,
            score_patterns_ms + gather_ms,
            total[0] / n as f64,
            total[1] / n as f64,
            total[2] / n as f64,
        );
    }
}
