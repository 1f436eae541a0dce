//! A tiny seeded generator for the evaluation tests (SplitMix64 words, Box–Muller normals).

use crate::data::sampling::splitmix64;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        (splitmix64(self.0) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// A draw from `Σ π_k N(μ_k, σ_k²)`.
    pub fn mixture(&mut self, pi: &[f64], mu: &[f64], sigma: &[f64]) -> f64 {
        let u = self.uniform();
        let mut acc = 0.0;
        let mut k = pi.len() - 1;
        for (j, p) in pi.iter().enumerate() {
            acc += p;
            if u < acc {
                k = j;
                break;
            }
        }
        mu[k] + sigma[k] * self.normal()
    }
}
