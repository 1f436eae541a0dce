//! GUE predictions for the two-point statistics of unfolded levels (mean spacing 1),
//! from the sine-kernel cluster function `Y₂(r) = (sin πr / πr)²`:
//!
//! ```text
//! R₂(r)  = 1 − Y₂(r)                                     (Montgomery's pair correlation)
//! Σ²(L)  = L − 2∫₀ᴸ (L − r)·Y₂(r) dr                      (number variance)
//! Δ₃(L)  = (2/L⁴)∫₀ᴸ (L³ − 2L²r + r³)·Σ²(r) dr            (spectral rigidity, Pandey)
//! ```
//!
//! evaluated by composite Gauss–Legendre quadrature (exact to ~1e-13). For large L,
//! `Σ² ≈ (ln 2πL + γ + 1)/π²` and `Δ₃ ≈ (ln 2πL + γ − 5/4)/(2π²)`.

use super::quadrature::gauss_legendre;
use std::f64::consts::PI;

/// `Y₂(r) = (sin πr / πr)²`
pub fn cluster_function(r: f64) -> f64 {
    let x = PI * r;
    if x.abs() < 1e-6 {
        1.0 - x * x / 3.0
    } else {
        (x.sin() / x).powi(2)
    }
}

/// Montgomery's pair correlation `1 − (sin πr / πr)²`.
pub fn pair_correlation(r: f64) -> f64 {
    1.0 - cluster_function(r)
}

/// `∫_a^b f` by Gauss–Legendre on unit-length panels (20 points each).
fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let panels = ((b - a).ceil() as usize).max(1);
    let h = (b - a) / panels as f64;
    (0..panels)
        .map(|k| {
            let (x, w) = gauss_legendre(20, a + k as f64 * h, a + (k + 1) as f64 * h);
            x.iter().zip(&w).map(|(x, w)| w * f(*x)).sum::<f64>()
        })
        .sum()
}

/// GUE number variance `Σ²(L)`.
pub fn number_variance(l: f64) -> f64 {
    l - 2.0 * integrate(|r| (l - r) * cluster_function(r), 0.0, l)
}

/// GUE spectral rigidity `Δ₃(L)`.
pub fn rigidity(l: f64) -> f64 {
    let l2 = l * l;
    2.0 / (l2 * l2)
        * integrate(
            |r| (l2 * l - 2.0 * l2 * r + r * r * r) * number_variance(r),
            0.0,
            l,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    #[test]
    fn number_variance_approaches_its_asymptote() {
        // The oscillating corrections fall like 1/L²; at L = 20.25 (where cos 2πL = 0
        // and the Ci and Si tails nearly cancel) they are below 1e-3.
        let l = 20.25;
        let asymptote = ((2.0 * PI * l).ln() + EULER_GAMMA + 1.0) / (PI * PI);
        assert!((number_variance(l) - asymptote).abs() < 1e-3);
        // Small L: Σ²(L) = L − L² ·(2/2)·… → L for L ≪ 1 (Y₂ ≈ 1 gives L − L²).
        let l = 1e-3;
        assert!((number_variance(l) - (l - l * l)).abs() < 1e-9);
    }

    #[test]
    fn rigidity_approaches_its_asymptote() {
        let l = 20.0;
        let asymptote = ((2.0 * PI * l).ln() + EULER_GAMMA - 1.25) / (2.0 * PI * PI);
        assert!(
            (rigidity(l) - asymptote).abs() < 2e-3,
            "{} vs {asymptote}",
            rigidity(l)
        );
    }
}
