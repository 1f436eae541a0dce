//! The continuous ranked probability score of a Gaussian mixture, in closed form.
//!
//! `CRPS(F, y) = ∫ (F(s) − 1{s ≥ y})² ds = E|X − y| − ½ E|X − X'|`, X, X' ~ F independent
//! (Gneiting & Raftery 2007). For `F = Σ_k π_k N(μ_k, σ_k²)` both expectations are sums of
//! `A(m, s) = E|Z|` for `Z ~ N(m, s²)` (Grimit et al. 2006, "The continuous ranked
//! probability score for circular variables", QJRMS 132):
//!
//! ```text
//! A(m, s)   = 2s·φ(m/s) + m·(2Φ(m/s) − 1)
//! CRPS(F,y) = Σ_k π_k A(y − μ_k, σ_k) − ½ Σ_j Σ_k π_j π_k A(μ_j − μ_k, √(σ_j² + σ_k²))
//! ```
//!
//! For K = 1 this is the Gaussian's `σ[z(2Φ(z) − 1) + 2φ(z) − 1/√π]`, `z = (y − μ)/σ`.
//! Units: those of y (mean spacings); lower is better; 0 only for a point mass at y.

use super::mixture::{normal_cdf, normal_pdf};

/// `E|Z|` for `Z ~ N(m, s²)`, `s > 0`.
pub fn abs_moment(m: f64, s: f64) -> f64 {
    let z = m / s;
    2.0 * s * normal_pdf(z) + m * (2.0 * normal_cdf(z) - 1.0)
}

/// CRPS of the mixture `(π, μ, σ)` (each of length K, π summing to 1) at the outcome `y`.
pub fn mixture_crps(pi: &[f64], mu: &[f64], sigma: &[f64], y: f64) -> f64 {
    let k = pi.len();
    debug_assert!(mu.len() == k && sigma.len() == k);
    let mut spread = 0.0;
    let mut error = 0.0;
    for i in 0..k {
        error += pi[i] * abs_moment(y - mu[i], sigma[i]);
        // The pair sum is symmetric and A(0, s) = 2s/√(2π): diagonal once, off-diagonal twice.
        spread += pi[i] * pi[i] * abs_moment(0.0, std::f64::consts::SQRT_2 * sigma[i]);
        for j in 0..i {
            let s = (sigma[i] * sigma[i] + sigma[j] * sigma[j]).sqrt();
            spread += 2.0 * pi[i] * pi[j] * abs_moment(mu[i] - mu[j], s);
        }
    }
    error - 0.5 * spread
}

/// CRPS of a single Gaussian `N(μ, σ²)` at `y` (the K = 1 formula of the module doc).
pub fn gaussian_crps(mu: f64, sigma: f64, y: f64) -> f64 {
    let z = (y - mu) / sigma;
    sigma
        * (z * (2.0 * normal_cdf(z) - 1.0) + 2.0 * normal_pdf(z)
            - 1.0 / std::f64::consts::PI.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::testing::Rng;

    #[test]
    fn one_component_is_the_gaussian_closed_form() {
        for (mu, sigma, y) in [
            (1.0, 0.4, 0.7),
            (0.0, 1.0, 0.0),
            (2.0, 0.05, -1.0),
            (1.0, 3.0, 9.0),
        ] {
            let a = mixture_crps(&[1.0], &[mu], &[sigma], y);
            let b = gaussian_crps(mu, sigma, y);
            assert!((a - b).abs() < 1e-14 * b.max(1.0), "{a} vs {b}");
        }
        // At the mean: σ(2/√(2π) − 1/√π) = σ(√2 − 1)/√π.
        let at_mean = gaussian_crps(1.0, 0.5, 1.0);
        let want = 0.5 * (2f64.sqrt() - 1.0) / std::f64::consts::PI.sqrt();
        assert!((at_mean - want).abs() < 1e-15, "{at_mean} vs {want}");
        // Split mixture of two identical components is the single Gaussian.
        let split = mixture_crps(&[0.3, 0.7], &[1.0, 1.0], &[0.5, 0.5], 1.4);
        assert!((split - gaussian_crps(1.0, 0.5, 1.4)).abs() < 1e-14);
    }

    /// Monte Carlo: `mean|X − y| − ½ mean|X − X'|` over 400 000 draws (pairs). The standard
    /// error of each mean is about sd(|·|)/√n ≈ 0.6/632 ≈ 1e-3 for this O(1)-wide mixture, so
    /// 5e-3 is a ≈ 4-sigma bound.
    #[test]
    fn mixture_matches_monte_carlo() {
        let pi = [0.2, 0.5, 0.3];
        let mu = [0.4, 1.0, 1.8];
        let sigma = [0.1, 0.3, 0.6];
        let mut rng = Rng::new(42);
        let n = 400_000;
        let (mut error, mut spread) = (0.0, 0.0);
        for y in [0.2, 1.0, 2.5] {
            for _ in 0..n {
                let x = rng.mixture(&pi, &mu, &sigma);
                let x2 = rng.mixture(&pi, &mu, &sigma);
                error += (x - y).abs();
                spread += (x - x2).abs();
            }
            let mc = (error - 0.5 * spread) / n as f64;
            let exact = mixture_crps(&pi, &mu, &sigma, y);
            assert!((mc - exact).abs() < 5e-3, "y = {y}: MC {mc} vs {exact}");
            (error, spread) = (0.0, 0.0);
        }
    }

    #[test]
    fn sharper_correct_forecasts_score_lower() {
        let wide = gaussian_crps(1.0, 1.0, 1.0);
        let sharp = gaussian_crps(1.0, 0.1, 1.0);
        assert!(sharp < wide);
        // Far from y the score tends to |y − μ| − σ/√π.
        let far = gaussian_crps(0.0, 0.1, 10.0);
        assert!((far - (10.0 - 0.1 / std::f64::consts::PI.sqrt())).abs() < 1e-9);
    }
}
