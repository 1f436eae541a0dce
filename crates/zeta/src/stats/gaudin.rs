//! The exact GUE nearest-neighbour spacing law (Gaudin's distribution), by Bornemann's
//! method (F. Bornemann, *On the numerical evaluation of distributions in random matrix
//! theory*, Markov Processes Relat. Fields 16, 2010).
//!
//! The probability that an interval of length s (in units of the mean spacing) holds no
//! eigenvalue is the Fredholm determinant of the sine kernel on `L²(0, s)`,
//!
//! ```text
//! E(0; s) = det(I − K_s),   K(x, y) = sin π(x−y) / π(x−y),
//! ```
//!
//! approximated by the m-point Gauss–Legendre rule: `det(δ_ij − √w_i·K(x_i, x_j)·√w_j)`,
//! which converges exponentially in m. The spacing density is `p(s) = E''(s)` and its CDF
//! `F(s) = 1 + E'(s)`; both come from a Chebyshev interpolant of E on `[0, S_MAX]`,
//! differentiated term by term.

use super::quadrature::{Chebyshev, gauss_legendre};
use std::f64::consts::PI;
use std::sync::OnceLock;

/// Beyond this spacing `E(0; s) < 1e-30`: p and 1 − F are zero to double precision.
pub const S_MAX: f64 = 6.0;

/// Quadrature points for the determinant: converged to ~1e-15 for `s ≤ S_MAX`.
const QUADRATURE_POINTS: usize = 40;

/// Chebyshev points for the interpolant of E on `[0, S_MAX]`.
const CHEBYSHEV_POINTS: usize = 90;

fn sine_kernel(x: f64, y: f64) -> f64 {
    let d = PI * (x - y);
    if d.abs() < 1e-8 {
        1.0 - d * d / 6.0
    } else {
        d.sin() / d
    }
}

/// `E(0; s)` by an m-point Bornemann quadrature (Cholesky of the positive definite
/// `I − K_s`; its determinant is the squared product of the pivots).
pub fn gap_probability_with(s: f64, m: usize) -> f64 {
    if s <= 0.0 {
        return 1.0;
    }
    let (x, w) = gauss_legendre(m, 0.0, s);
    let root_w: Vec<f64> = w.iter().map(|w| w.sqrt()).collect();
    let mut a = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            let delta = if i == j { 1.0 } else { 0.0 };
            a[i * m + j] = delta - root_w[i] * sine_kernel(x[i], x[j]) * root_w[j];
        }
    }
    // Cholesky A = L·Lᵀ in place (lower triangle); det A = Π L_ii².
    let mut log_det = 0.0;
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if d <= 0.0 {
            // Beyond double precision (E < 1e-300): the gap is certainly not empty.
            return 0.0;
        }
        let l = d.sqrt();
        a[j * m + j] = l;
        log_det += 2.0 * l.ln();
        for i in j + 1..m {
            let mut v = a[i * m + j];
            for k in 0..j {
                v -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = v / l;
        }
    }
    log_det.exp()
}

/// `E(0; s)`: the probability that an interval of length s holds no GUE eigenvalue.
pub fn gap_probability(s: f64) -> f64 {
    gap_probability_with(s, QUADRATURE_POINTS)
}

struct Tables {
    e: Chebyshev,
    d2e: Chebyshev,
    /// `(F, p)` at `CDF_NODES + 1` equally spaced points on `[0, S_MAX]`, for fast cubic
    /// Hermite evaluation of the CDF (error ~h⁴·max|F⁗|/384 ≈ 1e-13).
    cdf_nodes: Vec<(f64, f64)>,
}

const CDF_NODES: usize = 4096;

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let e = Chebyshev::fit(gap_probability, 0.0, S_MAX, CHEBYSHEV_POINTS);
        let de = e.derivative();
        let d2e = de.derivative();
        let cdf_nodes = (0..=CDF_NODES)
            .map(|i| {
                let s = S_MAX * i as f64 / CDF_NODES as f64;
                (1.0 + de.eval(s), d2e.eval(s))
            })
            .collect();
        Tables { e, d2e, cdf_nodes }
    })
}

/// Gaudin's spacing density `p(s) = E''(0; s)` for GUE, mean spacing 1.
pub fn gaudin_density(s: f64) -> f64 {
    if s <= 0.0 || s >= S_MAX {
        0.0
    } else {
        tables().d2e.eval(s).max(0.0)
    }
}

/// Its distribution function `F(s) = ∫₀ˢ p = 1 + E'(0; s)`.
pub fn gaudin_cdf(s: f64) -> f64 {
    if s <= 0.0 {
        0.0
    } else if s >= S_MAX {
        1.0
    } else {
        // Cubic Hermite between the tabulated (F, F' = p) nodes.
        let h = S_MAX / CDF_NODES as f64;
        let position = s / h;
        let i = (position as usize).min(CDF_NODES - 1);
        let u = position - i as f64;
        let ((f0, p0), (f1, p1)) = (tables().cdf_nodes[i], tables().cdf_nodes[i + 1]);
        let (u2, u3) = (u * u, u * u * u);
        let value = (2.0 * u3 - 3.0 * u2 + 1.0) * f0
            + (u3 - 2.0 * u2 + u) * h * p0
            + (3.0 * u2 - 2.0 * u3) * f1
            + (u3 - u2) * h * p1;
        value.clamp(0.0, 1.0)
    }
}

/// `E(0; s)` from the interpolant (cheap; for plots and integrals).
pub fn gap_probability_interpolated(s: f64) -> f64 {
    if s >= S_MAX {
        0.0
    } else {
        tables().e.eval(s.max(0.0))
    }
}

/// Variance of Gaudin's law, `2∫₀^∞ E(0;s)ds − 1` (integration by parts of `⟨s²⟩ − 1`),
/// by composite Gauss–Legendre on the determinant itself (≈ 0.17999).
pub fn gaudin_variance() -> f64 {
    static VARIANCE: OnceLock<f64> = OnceLock::new();
    *VARIANCE.get_or_init(|| {
        let panels = 12;
        let integral: f64 = (0..panels)
            .map(|k| {
                let h = S_MAX / panels as f64;
                let (x, w) = gauss_legendre(20, k as f64 * h, (k + 1) as f64 * h);
                x.iter()
                    .zip(&w)
                    .map(|(x, w)| w * gap_probability(*x))
                    .sum::<f64>()
            })
            .sum();
        2.0 * integral - 1.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integrate(f: impl Fn(f64) -> f64) -> f64 {
        // Composite Gauss–Legendre over [0, S_MAX] in 12 panels of 20 points.
        (0..12)
            .map(|k| {
                let (a, b) = (k as f64 * S_MAX / 12.0, (k + 1) as f64 * S_MAX / 12.0);
                let (x, w) = gauss_legendre(20, a, b);
                x.iter().zip(&w).map(|(x, w)| w * f(*x)).sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn determinant_has_converged() {
        for s in [0.5, 1.0, 2.0, 4.0] {
            let coarse = gap_probability_with(s, 30);
            let fine = gap_probability_with(s, 60);
            assert!((coarse - fine).abs() < 1e-14, "s = {s}");
        }
        // Small-s expansion E(0; s) = 1 − s + π²s⁴/36 + O(s⁶).
        let s: f64 = 0.01;
        let series = 1.0 - s + PI * PI * s.powi(4) / 36.0;
        assert!((gap_probability(s) - series).abs() < 1e-12);
    }

    #[test]
    fn density_is_normalized_with_mean_one() {
        let mass = integrate(gaudin_density);
        let mean = integrate(|s| s * gaudin_density(s));
        assert!((mass - 1.0).abs() < 1e-9, "mass {mass}");
        assert!((mean - 1.0).abs() < 1e-9, "mean {mean}");
    }

    #[test]
    fn variance_by_two_independent_quadratures() {
        // ⟨s²⟩ − 1 from the density, and 2∫E(0;s)ds − 1 from the determinant directly
        // (integration by parts): the two routes share only the determinant.
        let from_density = integrate(|s| s * s * gaudin_density(s)) - 1.0;
        let from_gap = gaudin_variance();
        assert!(
            (from_density - from_gap).abs() < 1e-8,
            "{from_density} vs {from_gap}"
        );
        // The GUE spacing variance, 0.17999... (Mehta): 4 digits.
        assert!((from_gap - 0.1800).abs() < 5e-5, "variance {from_gap}");
    }

    #[test]
    fn fast_cdf_matches_the_chebyshev_derivative() {
        let de = tables().e.derivative();
        for i in 0..1000 {
            let s = 0.0037 + i as f64 * 0.0059;
            let direct = 1.0 + de.eval(s);
            assert!((gaudin_cdf(s) - direct).abs() < 1e-12, "s = {s}");
        }
    }

    #[test]
    fn small_spacing_repulsion_is_quadratic() {
        // p(s) = (π²/3)s² − (2π⁴/45)s⁴ + (π⁶/315)s⁶ + O(s⁸) (Mehta): GUE level repulsion.
        for s in [0.03_f64, 0.05] {
            let series = PI.powi(2) / 3.0 * s * s - 2.0 * PI.powi(4) / 45.0 * s.powi(4)
                + PI.powi(6) / 315.0 * s.powi(6);
            assert!(
                (gaudin_density(s) - series).abs() < 1e-6 * series,
                "s = {s}"
            );
        }
    }
}
