//! Spectra: spike-aware shaping of the momentum instead of full orthogonalization.
//!
//! Gradients of transformer matrices carry a few dominant "spike" directions (σ₁ ≫ σ_{k+1}).
//! Muon flattens every singular value to 1, amplifying the noisy tail; Spectra only flattens
//! the top k = max(1, round(rank_ratio·min(m, n))) singular values down to the tail's RMS
//! scale σ_tail and leaves the tail alone ([`spectra_shape`](crate::linalg::spectra_shape)).
//! The top-k subspace is tracked across steps by warm-started subspace iteration from a
//! cached V (1 pass per step by default), cold-started by a randomized SVD.
//!
//! Step: `D` = Nesterov momentum as in Muon, `(O, V) = spectra_shape(D, …, V_cache)`,
//! `W ← W·(1 − lr·λ) − lr'·O` with `lr' = rms_target·lr / RMS(O)`: the update's RMS is
//! `rms_target·lr`, as in Moonlight-scaled Muon, so lr is on AdamW's scale.
//! SpectraTeon is the same on a TEON stack ([`super::teon`]), with the cache owned by the
//! stack and `RMS(O)` taken over the whole stack.

use super::method::{Batch, BatchShape, MatrixMethod, Shaped, apply_update};
use super::teon::{split_mode1, stack_mode1};
use crate::linalg::spectra_shape;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Spectra's settings (shared by SpectraTeon).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpectraConfig {
    /// Fraction of min(m, n) treated as spike directions (1.5 %: k = 12 of 768).
    pub rank_ratio: f64,
    /// Subspace-iteration passes per step, warm-started from the cached V.
    pub n_iter: usize,
    /// Momentum coefficient μ.
    pub momentum: f64,
    /// Nesterov momentum, as in Muon (the notes' sketch uses plain momentum).
    pub nesterov: bool,
    /// Decoupled weight decay λ.
    pub weight_decay: f64,
    /// Target RMS of the update per unit lr (0.2, Moonlight's AdamW match).
    pub rms_target: f64,
}

impl Default for SpectraConfig {
    fn default() -> Self {
        Self {
            rank_ratio: 0.015,
            n_iter: 1,
            momentum: 0.95,
            nesterov: true,
            weight_decay: 0.0,
            rms_target: 0.2,
        }
    }
}

/// The shaped direction normalized to RMS 1, and the new V cache `[n, k]`.
/// `direction` is `[m, n]`; `v_cache` is the previous step's V, or `None` to cold-start.
pub fn spectra_direction<B: Backend>(
    direction: Tensor<B, 2>,
    config: &SpectraConfig,
    v_cache: Option<Tensor<B, 2>>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let (shaped, v) = spectra_shape(direction, config.rank_ratio, config.n_iter, v_cache);
    // RMS(O) as a tensor (no device sync); 1e-12 guards an all-zero gradient.
    let rms = shaped
        .clone()
        .powf_scalar(2.0)
        .mean()
        .sqrt()
        .add_scalar(1e-12);
    (shaped.div(rms.reshape([1, 1])), v)
}

/// Spectra as a [`MatrixMethod`]: each matrix alone (SpectraTeon groups them,
/// [`super::spectra_teon`]); the V cache is the group's state, `v_cache/{group key}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spectra {
    pub config: SpectraConfig,
}

impl Spectra {
    pub fn new(config: SpectraConfig) -> Self {
        Self { config }
    }
}

impl<B: Backend> MatrixMethod<B> for Spectra {
    fn momentum(&self) -> (f64, bool) {
        (self.config.momentum, self.config.nesterov)
    }

    fn state_name(&self) -> Option<&'static str> {
        Some("v_cache")
    }

    /// [`spectra_direction`] of each group's `[k·d_in, d_out]` direction, one group at a time.
    fn shape(&self, batch: Batch<'_, B>) -> Shaped<B> {
        let n = batch.shape.n;
        let directions = if n == 1 {
            vec![batch.direction]
        } else {
            split_mode1(batch.direction, n)
        };
        let (updates, state): (Vec<_>, Vec<_>) = directions
            .into_iter()
            .zip(batch.state)
            .map(|(direction, cache)| spectra_direction(direction, &self.config, cache))
            .unzip();
        Shaped {
            result: stack_mode1(updates),
            state,
        }
    }

    /// `W·(1 − lr·λ) − lr·rms_target·O`, `O` of unit RMS.
    fn apply(
        &self,
        weight: Tensor<B, 2>,
        result: Tensor<B, 2>,
        _shape: BatchShape,
        lr: f64,
    ) -> Tensor<B, 2> {
        let config = &self.config;
        apply_update(weight, result, lr, config.rms_target, config.weight_decay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use burn::tensor::Distribution;

    #[test]
    fn normalized_direction_has_unit_rms_and_keeps_shape() {
        let device = Default::default();
        let d = Tensor::<CpuBackend, 2>::random([48, 32], Distribution::Normal(0.0, 3.0), &device);
        let (o, v) = spectra_direction(d, &SpectraConfig::default(), None);
        assert_eq!(o.dims(), [48, 32]);
        // k = max(1, round(0.015·32)) = 1.
        assert_eq!(v.dims(), [32, 1]);
        let rms: f32 = o.powf_scalar(2.0).mean().sqrt().into_scalar();
        assert!((rms - 1.0).abs() < 1e-5, "{rms}");
    }
}
