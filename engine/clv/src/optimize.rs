//! Maximum likelihood: BFGS with a backtracking (Armijo) line search over log-parameters,
//! and standard errors from a numerical Hessian of the analytic gradient.
// Small dense linear algebra: index loops read like the formulas.
#![allow(clippy::needless_range_loop)]

use crate::Error;

/// How a fit searches for the maximum of the likelihood.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The most quasi-Newton iterations (default 200).
    pub max_iterations: usize,
    /// Converged when every component of the gradient of the mean log-likelihood per
    /// customer, by the log-parameters, is below this (default 1e-9), or when a step no
    /// longer changes the log-likelihood at machine precision and the gradient is below
    /// its square root.
    pub tolerance: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_iterations: 200,
            tolerance: 1e-9,
        }
    }
}

/// The result of maximizing a log-likelihood.
pub(crate) struct Optimum<const N: usize> {
    /// Log-parameters at the maximum.
    pub theta: [f64; N],
    /// The log-likelihood there (not divided by the weight).
    pub log_likelihood: f64,
    /// Iterations used.
    pub iterations: usize,
}

fn dot<const N: usize>(x: &[f64; N], y: &[f64; N]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

fn max_abs<const N: usize>(x: &[f64; N]) -> f64 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Steps in a row that leave the objective unchanged before the search ends.
const MAX_FLAT_STEPS: usize = 5;

/// Maximizes a log-likelihood over log-parameters θ. `nll` returns minus the
/// log-likelihood and writes its gradient by θ; `weight` (the number of customers) scales
/// the objective so that the tolerance is per customer.
pub(crate) fn maximize<const N: usize>(
    model: &'static str,
    start: [f64; N],
    weight: f64,
    options: &FitOptions,
    mut nll: impl FnMut(&[f64; N], &mut [f64; N]) -> f64,
) -> Result<Optimum<N>, Error> {
    let scale = 1.0 / weight.max(1.0);
    let mut f_and_g = |theta: &[f64; N], grad: &mut [f64; N]| {
        let f = nll(theta, grad) * scale;
        grad.iter_mut().for_each(|g| *g *= scale);
        if f.is_finite() && grad.iter().all(|g| g.is_finite()) {
            f
        } else {
            f64::INFINITY
        }
    };
    let mut x = start;
    let mut g = [0.0; N];
    let mut f = f_and_g(&x, &mut g);
    if !f.is_finite() {
        return Err(Error::NotFinite { model });
    }
    // Inverse Hessian approximation, row-major.
    let mut h = [[0.0; N]; N];
    let identity = |h: &mut [[f64; N]; N], s: f64| {
        for (i, row) in h.iter_mut().enumerate() {
            row.iter_mut().for_each(|v| *v = 0.0);
            row[i] = s;
        }
    };
    identity(&mut h, 1.0);
    let mut stalled = 0;
    let mut flat = 0;
    for iteration in 0..options.max_iterations {
        if max_abs(&g) < options.tolerance {
            return optimum(model, x, -f / scale, iteration, &g);
        }
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = -(0..N).map(|j| h[i][j] * g[j]).sum::<f64>();
        }
        let mut slope = dot(&d, &g);
        if slope >= 0.0 || !slope.is_finite() {
            identity(&mut h, 1.0);
            d = g.map(|v| -v);
            slope = dot(&d, &g);
        }
        // At most 5 in any log-parameter in one step: exp() stays in range.
        let mut step = (5.0 / max_abs(&d)).min(1.0);
        let mut accepted = None;
        for _ in 0..60 {
            let mut xn = x;
            for i in 0..N {
                xn[i] += step * d[i];
            }
            let mut gn = [0.0; N];
            let fnew = f_and_g(&xn, &mut gn);
            if fnew.is_finite() && fnew <= f + 1e-4 * step * slope {
                accepted = Some((xn, fnew, gn));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fnew, gn)) = accepted else {
            // No decrease along the direction: at the optimum to rounding, or stuck.
            if max_abs(&g) < options.tolerance.sqrt() * 1e-2 {
                return optimum(model, x, -f / scale, iteration, &g);
            }
            stalled += 1;
            if stalled > 2 {
                return Err(Error::NotConverged {
                    model,
                    iterations: iteration,
                    gradient: max_abs(&g),
                    log_likelihood: -f / scale,
                });
            }
            identity(&mut h, 1.0);
            continue;
        };
        stalled = 0;
        // The objective no longer moves at machine precision and the gradient is small:
        // as converged as floating point allows.
        if f - fnew <= 1e-15 * (1.0 + f.abs()) && max_abs(&gn) < options.tolerance.sqrt() {
            return optimum(model, xn, -fnew / scale, iteration + 1, &gn);
        }
        // A step so small that f + 1e-4 step slope rounded to f may leave f unchanged. A
        // few such steps in a row are no progress: on a ridge to infinity (Pareto/NBD's s
        // and β growing together) taking them would spend every remaining iteration on
        // line searches that go nowhere.
        if fnew < f {
            flat = 0;
        } else {
            flat += 1;
            if flat >= MAX_FLAT_STEPS {
                return Err(Error::NotConverged {
                    model,
                    iterations: iteration + 1,
                    gradient: max_abs(&gn),
                    log_likelihood: -fnew / scale,
                });
            }
        }
        let mut s = [0.0; N];
        let mut y = [0.0; N];
        for i in 0..N {
            s[i] = xn[i] - x[i];
            y[i] = gn[i] - g[i];
        }
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if iteration == 0 {
                identity(&mut h, sy / dot(&y, &y));
            }
            // H+ = (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let mut hy = [0.0; N];
            for i in 0..N {
                hy[i] = (0..N).map(|j| h[i][j] * y[j]).sum();
            }
            let yhy = dot(&y, &hy);
            for i in 0..N {
                for j in 0..N {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        x = xn;
        f = fnew;
        g = gn;
    }
    if max_abs(&g) < options.tolerance {
        return optimum(model, x, -f / scale, options.max_iterations, &g);
    }
    Err(Error::NotConverged {
        model,
        iterations: options.max_iterations,
        gradient: max_abs(&g),
        log_likelihood: -f / scale,
    })
}

/// The optimum at θ, unless a parameter has run off to 0 or infinity (|θ| > 700, where
/// exp(θ) leaves the floating-point range): then the fit did not converge.
fn optimum<const N: usize>(
    model: &'static str,
    theta: [f64; N],
    log_likelihood: f64,
    iterations: usize,
    gradient: &[f64; N],
) -> Result<Optimum<N>, Error> {
    if theta.iter().all(|t| t.abs() <= 700.0) {
        Ok(Optimum {
            theta,
            log_likelihood,
            iterations,
        })
    } else {
        Err(Error::NotConverged {
            model,
            iterations,
            gradient: max_abs(gradient),
            log_likelihood,
        })
    }
}

/// Standard errors of the natural parameters p = exp(θ) at the maximum: the Hessian of
/// minus the log-likelihood by θ is taken by central differences of the analytic gradient,
/// inverted (Cholesky), and carried to p by the delta method, se(p_i) = p_i sqrt(Σ_ii).
/// `None` when the Hessian is not positive definite (a parameter is not identified).
pub(crate) fn standard_errors<const N: usize>(
    theta: &[f64; N],
    mut nll: impl FnMut(&[f64; N], &mut [f64; N]) -> f64,
) -> Option<[f64; N]> {
    let eps = 1e-5;
    let mut hess = [[0.0; N]; N];
    for j in 0..N {
        let (mut up, mut down) = (*theta, *theta);
        up[j] += eps;
        down[j] -= eps;
        let (mut gu, mut gd) = ([0.0; N], [0.0; N]);
        // A likelihood that cannot be evaluated there (+inf, its gradient left unset)
        // gives no curvature: no standard errors rather than wrong ones.
        if !(nll(&up, &mut gu).is_finite() && nll(&down, &mut gd).is_finite()) {
            return None;
        }
        for i in 0..N {
            hess[i][j] = (gu[i] - gd[i]) / (2.0 * eps);
        }
    }
    for i in 0..N {
        for j in 0..i {
            let m = 0.5 * (hess[i][j] + hess[j][i]);
            hess[i][j] = m;
            hess[j][i] = m;
        }
    }
    let inverse = invert_spd(&hess)?;
    let mut se = [0.0; N];
    for i in 0..N {
        let v = theta[i].exp() * inverse[i][i].sqrt();
        if !v.is_finite() {
            return None;
        }
        se[i] = v;
    }
    Some(se)
}

/// Inverse of a symmetric positive definite matrix by Cholesky; `None` if it is not.
fn invert_spd<const N: usize>(m: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = m[i][i] - sum;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - sum) / l[j][j];
            }
        }
    }
    // Solve L Lᵀ X = I column by column.
    let mut inv = [[0.0; N]; N];
    for c in 0..N {
        let mut y = [0.0; N];
        for i in 0..N {
            let e = if i == c { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
        }
        let mut x = [0.0; N];
        for i in (0..N).rev() {
            x[i] = (y[i] - (i + 1..N).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
        }
        for i in 0..N {
            inv[i][c] = x[i];
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic_and_reports_its_curvature() {
        // -LL = (θ0 - 1)² + 10 (θ1 + 2)² + θ0 θ1
        let nll = |t: &[f64; 2], g: &mut [f64; 2]| {
            g[0] = 2.0 * (t[0] - 1.0) + t[1];
            g[1] = 20.0 * (t[1] + 2.0) + t[0];
            (t[0] - 1.0).powi(2) + 10.0 * (t[1] + 2.0).powi(2) + t[0] * t[1]
        };
        let opt = maximize("quadratic", [0.0, 0.0], 1.0, &FitOptions::default(), nll).unwrap();
        // Stationary point: 2θ0 + θ1 = 2, θ0 + 20θ1 = -40.
        let t1 = (-40.0 - 1.0) / (20.0 - 0.5);
        let t0 = (2.0 - t1) / 2.0;
        assert!((opt.theta[0] - t0).abs() < 1e-8 && (opt.theta[1] - t1).abs() < 1e-8);
        let se = standard_errors(&opt.theta, nll).unwrap();
        // Σ = H⁻¹ with H = [[2, 1], [1, 20]]: Σ_00 = 20 / 39.
        assert!((se[0] - t0.exp() * (20.0f64 / 39.0).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn gives_up_with_an_error_after_max_iterations() {
        let nll = |t: &[f64; 1], g: &mut [f64; 1]| {
            g[0] = 4.0 * t[0].powi(3);
            t[0].powi(4)
        };
        let options = FitOptions {
            max_iterations: 2,
            tolerance: 1e-12,
        };
        let err = maximize("quartic", [3.0], 1.0, &options, nll)
            .err()
            .unwrap();
        assert!(matches!(
            err,
            Error::NotConverged {
                model: "quartic",
                iterations: 2,
                ..
            }
        ));
        assert!(invert_spd(&[[1.0, 2.0], [2.0, 1.0]]).is_none());
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit<P> {
    /// The maximum-likelihood parameters.
    pub params: P,
    /// Their standard errors (from the Hessian of the log-likelihood, by the delta method);
    /// `None` when the Hessian is not positive definite (a parameter is not identified by
    /// the data, e.g. every customer a one-time buyer).
    pub std_errors: Option<P>,
    /// The log-likelihood at the maximum.
    pub log_likelihood: f64,
    /// Quasi-Newton iterations used.
    pub iterations: usize,
    /// The number of customers fitted (the total weight of the patterns).
    pub customers: f64,
}
