//! Special functions: log-gamma, digamma and the Gauss hypergeometric series.

use crate::Error;

/// The most terms a hypergeometric series may take in a prediction before it is reported
/// as not converging (z up to about 0.99996).
pub(crate) const MAX_TERMS: usize = 1_000_000;

/// The most terms a series may take while fitting (z up to about 0.999): a likelihood the
/// optimizer probes nearer to z = 1 counts as infinitely bad, so that a degenerate fit
/// fails in milliseconds, not minutes.
pub(crate) const FIT_TERMS: usize = 50_000;

/// Whether a series in z cannot converge (terms below 1e-17 of the first) within
/// `max_terms` terms: z^n < 1e-17 needs n > 39 / -ln z.
fn too_close_to_one(z: f64, max_terms: usize) -> bool {
    z > 0.0 && 39.0 > -z.ln() * max_terms as f64
}

/// ln Γ(x) for x > 0 (Lanczos approximation, Numerical Recipes 3rd ed. `gammln`; relative
/// error about 1e-15). Returns +inf for x <= 0.
// The published coefficients, verbatim.
#[allow(clippy::excessive_precision)]
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const COF: [f64; 14] = [
        57.156_235_665_862_923_5,
        -59.597_960_355_475_491_2,
        14.136_097_974_741_747_1,
        -0.491_913_816_097_620_199,
        0.339_946_499_848_118_887e-4,
        0.465_236_289_270_485_756e-4,
        -0.983_744_753_048_795_646e-4,
        0.158_088_703_224_912_494e-3,
        -0.210_264_441_724_104_883e-3,
        0.217_439_618_115_212_643e-3,
        -0.164_318_106_536_763_890e-3,
        0.844_182_239_838_527_433e-4,
        -0.261_908_384_015_814_087e-4,
        0.368_991_826_595_316_234e-5,
    ];
    if x <= 0.0 || x.is_nan() {
        return f64::INFINITY;
    }
    let mut y = x;
    let tmp = x + 5.242_187_5;
    let tmp = (x + 0.5) * tmp.ln() - tmp;
    let mut ser = 0.999_999_999_999_997_092;
    for c in COF {
        y += 1.0;
        ser += c / y;
    }
    tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// ψ(x), the digamma function, for x > 0 (recurrence up to x >= 10, then the asymptotic
/// series; absolute error about 1e-14).
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    acc + x.ln() - 0.5 * inv - series
}

/// ln(1 + e^x) without overflow.
pub(crate) fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// 1 / (1 + e^-x).
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1 by its power series,
/// summed until the terms no longer matter (at most a million terms: z within about 1e-5
/// of 1 is reported as an error, never returned as a wrong number).
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, Error> {
    let fail = |reason| Error::Hypergeometric { a, b, c, z, reason };
    if !(0.0..1.0).contains(&z) || !a.is_finite() || !b.is_finite() || !c.is_finite() {
        return Err(fail("the series needs finite a, b, c and 0 <= z < 1"));
    }
    if too_close_to_one(z, MAX_TERMS) {
        return Err(fail("z is too close to 1 for the series"));
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..MAX_TERMS {
        let n = n as f64;
        let den = (c + n) * (n + 1.0);
        if den.abs() < 1e-300 {
            return Err(fail("c is zero or a negative integer"));
        }
        let ratio = (a + n) * (b + n) / den * z;
        term *= ratio;
        sum += term;
        if !sum.is_finite() {
            return Err(fail("the sum overflows"));
        }
        if ratio.abs() < 1.0 && term.abs() <= 1e-17 * sum.abs() {
            return Ok(sum);
        }
    }
    Err(fail("the series did not converge"))
}

/// 2F1(a, b; c; z) and its partial derivatives by a, b, c and z, for 0 <= z < 1 and
/// a, b, c > 0, by the power series differentiated term by term.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hyp2f1 {
    /// The value.
    pub f: f64,
    /// ∂F/∂a.
    pub da: f64,
    /// ∂F/∂b.
    pub db: f64,
    /// ∂F/∂c.
    pub dc: f64,
    /// ∂F/∂z.
    pub dz: f64,
}

impl Hyp2f1 {
    pub(crate) fn eval(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Result<Self, Error> {
        let fail = |reason| Error::Hypergeometric { a, b, c, z, reason };
        if !((0.0..1.0).contains(&z) && a > 0.0 && b > 0.0 && c > 0.0) {
            return Err(fail(
                "the differentiated series needs a, b, c > 0 and 0 <= z < 1",
            ));
        }
        if too_close_to_one(z, max_terms) {
            return Err(fail("z is too close to 1 for the series"));
        }
        // t_n = coef_n z^n = u_n z with u_n = coef_n z^(n-1); ∂t_n/∂a = t_n Σ_{k<n} 1/(a+k),
        // likewise b, and -Σ 1/(c+k) for c; ∂t_n/∂z = n u_n.
        let mut u = a * b / c; // u_1
        let (mut sa, mut sb, mut sc) = (1.0 / a, 1.0 / b, 1.0 / c); // Σ_{k<1}
        let (mut su, mut sua, mut sub, mut suc, mut snu) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for n in 1..max_terms {
            let nf = n as f64;
            su += u;
            sua += u * sa;
            sub += u * sb;
            suc += u * sc;
            snu += nf * u;
            if !snu.is_finite() || !su.is_finite() {
                return Err(fail("the sum overflows"));
            }
            let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
            let small = |part: f64, total: f64| part.abs() <= 1e-17 * total.abs();
            if ratio < 1.0
                && small(nf * u, snu)
                && small(u * sa, sua)
                && small(u * sb, sub)
                && small(u * sc, suc)
            {
                return Ok(Self {
                    f: 1.0 + z * su,
                    da: z * sua,
                    db: z * sub,
                    dc: -z * suc,
                    dz: snu,
                });
            }
            u *= ratio;
            sa += 1.0 / (a + nf);
            sb += 1.0 / (b + nf);
            sc += 1.0 / (c + nf);
            if u == 0.0 {
                return Ok(Self {
                    f: 1.0 + z * su,
                    da: z * sua,
                    db: z * sub,
                    dc: -z * suc,
                    dz: snu,
                });
            }
        }
        Err(fail("the series did not converge"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(0.5) - 0.572_364_942_924_700_1).abs() < 1e-14);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(1.0)).abs() < 1e-14);
        assert!((ln_gamma(1e-3) - 6.907_178_885_383_853).abs() < 1e-12);
        assert_eq!(ln_gamma(0.0), f64::INFINITY);
    }

    #[test]
    fn digamma_known_values() {
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-13);
        assert!((digamma(0.5) + 1.963_510_026_021_423_5).abs() < 1e-13);
        assert!((digamma(100.0) - 4.600_161_852_738_087).abs() < 1e-13);
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.0f64, 0.1, 0.5, 0.9, 0.999] {
            let expect = if z == 0.0 { 1.0 } else { -(-z).ln_1p() / z };
            let got = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
            assert!(
                (got - expect).abs() < 1e-12 * expect,
                "z = {z}: {got} vs {expect}"
            );
        }
        // 2F1(a, b; b; z) = (1 - z)^-a
        let got = hyp2f1(2.5, 1.5, 1.5, 0.7).unwrap();
        assert!((got - 0.3f64.powf(-2.5)).abs() < 1e-11 * got);
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, 2.0, 0.999_999).is_err());
        assert!(Hyp2f1::eval(1.0, 1.0, 2.0, 0.9995, FIT_TERMS).is_err());
        assert!(Hyp2f1::eval(1.0, 1.0, 2.0, 0.9995, MAX_TERMS).is_ok());
    }

    #[test]
    fn hyp2f1_derivatives_match_finite_differences() {
        let (a, b, c, z) = (3.2, 1.6, 4.2, 0.63);
        let d = Hyp2f1::eval(a, b, c, z, MAX_TERMS).unwrap();
        assert!((d.f - hyp2f1(a, b, c, z).unwrap()).abs() < 1e-13);
        let h = 1e-6;
        let num = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
        let fa = num(&|e| hyp2f1(a + e, b, c, z).unwrap());
        let fb = num(&|e| hyp2f1(a, b + e, c, z).unwrap());
        let fc = num(&|e| hyp2f1(a, b, c + e, z).unwrap());
        let fz = num(&|e| hyp2f1(a, b, c, z + e).unwrap());
        for (got, want) in [(d.da, fa), (d.db, fb), (d.dc, fc), (d.dz, fz)] {
            assert!(
                (got - want).abs() < 1e-6 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
    }
}
