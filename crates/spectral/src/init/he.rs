//! He / Kaiming normal initialization, fan-in mode (He et al. 2015,
//! <https://arxiv.org/abs/1502.01852>): entries from `N(0, 2 / fan_in)`, which keeps the
//! second moment of the pre-activations constant through ReLU layers.
//!
//! Layout: burn's `[d_in, d_out]`, so `fan_in = d_in` is the number of **rows** (PyTorch's
//! `[out, in]` weight has it as columns).

use faer::Mat;

use super::orthogonal::gaussian_host;

/// The standard deviation `√(2 / fan_in)`.
pub fn he_std(fan_in: usize) -> f64 {
    (2.0 / fan_in as f64).sqrt()
}

/// A `[d_in, d_out]` He-normal matrix in f64, drawn on the host from `seed`.
pub fn he_host(d_in: usize, d_out: usize, seed: u64) -> Mat<f64> {
    gaussian_host(d_in, d_out, seed) * faer::Scale(he_std(d_in))
}
