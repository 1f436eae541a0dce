//! A Gaussian mixture per target, copied to the host in f64 for the scoring rules.
//!
//! ```text
//! F_i(s) = Σ_k π_ik Φ((s − μ_ik)/σ_ik)          target i = b·T + t, k = 0..K−1
//! ```
//!
//! The model's `[B, T, K]` tensors are flattened row-major, so target `i`'s components are
//! `i·K .. (i+1)·K` in each of `pi`, `mu`, `sigma` (mean-spacing units).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use spectral_zeta::stats::surmise::erf;

/// Standard normal density φ(z).
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal distribution function Φ(z) = ½(1 + erf(z/√2)).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// Mixtures for `len()` targets, each of `k` components.
#[derive(Clone, Debug, PartialEq)]
pub struct HostMixtures {
    /// Components per target K.
    pub k: usize,
    /// Weights π (not log), `len()·K`.
    pub pi: Vec<f64>,
    /// Means μ, `len()·K`.
    pub mu: Vec<f64>,
    /// Scales σ > 0, `len()·K`.
    pub sigma: Vec<f64>,
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .to_vec()
        .expect("converted to f64")
}

impl HostMixtures {
    /// From a model's `log_pi`, `mu`, `sigma`, each `[B, T, K]`.
    pub fn from_tensors<B: Backend>(
        log_pi: Tensor<B, 3>,
        mu: Tensor<B, 3>,
        sigma: Tensor<B, 3>,
    ) -> Self {
        let [_, _, k] = log_pi.dims();
        Self {
            k,
            pi: host(log_pi.exp()),
            mu: host(mu),
            sigma: host(sigma),
        }
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.pi.len() / self.k.max(1)
    }

    /// True without targets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Target `i`'s `(π, μ, σ)`, each of length K.
    pub fn target(&self, i: usize) -> (&[f64], &[f64], &[f64]) {
        let r = i * self.k..(i + 1) * self.k;
        (&self.pi[r.clone()], &self.mu[r.clone()], &self.sigma[r])
    }

    /// `F_i(s)`, the mixture's distribution function at `s`.
    pub fn cdf(&self, i: usize, s: f64) -> f64 {
        let (pi, mu, sigma) = self.target(i);
        (0..self.k)
            .map(|j| pi[j] * normal_cdf((s - mu[j]) / sigma[j]))
            .sum()
    }

    /// The mixture mean `Σ π μ` of target `i`.
    pub fn mean(&self, i: usize) -> f64 {
        let (pi, mu, _) = self.target(i);
        pi.iter().zip(mu).map(|(p, m)| p * m).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_and_pdf_match_tabulated_values() {
        // Φ(1) = 0.841344746068543, Φ(−1.96) = 0.024997895148220 (Abramowitz–Stegun 26.2).
        assert!((normal_cdf(1.0) - 0.841_344_746_068_543).abs() < 1e-14);
        assert!((normal_cdf(-1.96) - 0.024_997_895_148_220).abs() < 1e-14);
        assert!((normal_pdf(0.0) - 0.398_942_280_401_432_7).abs() < 1e-15);
    }

    #[test]
    fn flattening_follows_the_row_major_tensor_layout() {
        use spectral::CpuBackend as B;
        let device = Default::default();
        let t = |v: [[[f32; 2]; 2]; 1]| Tensor::<B, 3>::from_floats(v, &device);
        let m = HostMixtures::from_tensors(
            t([[[0.25f32.ln(), 0.75f32.ln()], [0.5f32.ln(), 0.5f32.ln()]]]),
            t([[[1.0, 2.0], [3.0, 5.0]]]),
            t([[[0.1, 0.2], [0.3, 0.4]]]),
        );
        assert_eq!(m.len(), 2);
        assert!((m.mean(0) - 1.75).abs() < 1e-6);
        assert!((m.mean(1) - 4.0).abs() < 1e-6);
        // Half the mass of each component of target 1 lies below its mean.
        assert!((m.cdf(1, 3.0) - (0.25 + 0.5 * normal_cdf(-2.0 / 0.4))).abs() < 1e-6);
    }
}
