//! AdamW for every parameter no matrix method takes (all of them when `method = "adamw"`):
//! burn's [`AdamW`] (Loshchilov & Hutter, *Decoupled Weight Decay Regularization*,
//! arXiv 1711.05101), pinned to `torch.optim.AdamW` by the fixture test
//! `tests/optim_fixtures.rs`.
//!
//! `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
//! `W ← W·(1 − lr·λ) − lr·m̂ / (√v̂ + ε)` with the bias-corrected `m̂ = m / (1 − β₁ᵗ)`,
//! `v̂ = v / (1 − β₂ᵗ)`. Elementwise, so every parameter is stepped flattened to 1-D and its
//! state is kept by parameter path.

use burn::optim::{AdamW, AdamWConfig, AdamWState, SimpleOptimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// AdamW for the parameters that are not matrices (all of them when `method = "adamw"`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWSettings {
    /// Peak learning rate per step of the non-matrix parameters.
    pub lr: f64,
    pub beta1: f64,
    /// 0.95, the usual choice for transformers (GPT-2, nanoGPT), rather than 0.999.
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay of 2-D non-matrix parameters (embeddings, heads, memory);
    /// norms and biases get none unless a role override says so.
    pub weight_decay: f64,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        }
    }
}

impl AdamWSettings {
    /// One AdamW step of `tensor` (any shape) with learning rate `lr` per step and decoupled
    /// weight decay `weight_decay`; `state` is the parameter's previous state (`None` on its
    /// first step), returned updated.
    pub fn step<B: Backend, const D: usize>(
        &self,
        lr: f64,
        weight_decay: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<AdamWState<B, 1>>,
    ) -> (Tensor<B, D>, Option<AdamWState<B, 1>>) {
        let adamw: AdamW = AdamWConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.eps as f32)
            .with_weight_decay(weight_decay as f32)
            .build();
        let shape = tensor.shape();
        let numel = shape.num_elements();
        let (flat, state) = adamw.step(lr, tensor.reshape([numel]), grad.reshape([numel]), state);
        (flat.reshape(shape), state)
    }
}
