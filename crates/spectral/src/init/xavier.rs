//! Xavier / Glorot normal initialization (Glorot & Bengio 2010,
//! <https://proceedings.mlr.press/v9/glorot10a.html>): entries from
//! `N(0, 2 / (fan_in + fan_out))`, the compromise that keeps activation variance in the
//! forward pass and gradient variance in the backward pass equal for linear layers.
//!
//! Layout: burn's `[d_in, d_out]`, `fan_in = d_in`, `fan_out = d_out`.

use faer::Mat;

use super::orthogonal::gaussian_host;

/// The standard deviation `√(2 / (fan_in + fan_out))`.
pub fn xavier_std(fan_in: usize, fan_out: usize) -> f64 {
    (2.0 / (fan_in + fan_out) as f64).sqrt()
}

/// A `[d_in, d_out]` Xavier-normal matrix in f64, drawn on the host from `seed`.
pub fn xavier_host(d_in: usize, d_out: usize, seed: u64) -> Mat<f64> {
    let std = xavier_std(d_in, d_out);
    gaussian_host(d_in, d_out, seed) * faer::Scale(std)
}
