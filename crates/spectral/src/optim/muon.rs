//! Muon: momentum, orthogonalized.
//!
//! For each hidden matrix with gradient `G` (burn layout `[d_in, d_out]`):
//! `B ← μB + G`, `D = G + μB` (Nesterov) or `B`, `O = msign(D)`,
//! `W ← W·(1 − lr·λ) − lr·s·O`, with `s` the shape scale of [`MuonScaling`].
//! This is `torch.optim.Muon`'s form of Keller Jordan's optimizer
//! (<https://kellerjordan.github.io/posts/muon/>), pinned to it by the fixture test
//! `tests/optim_fixtures.rs`; the momentum is [`super::momentum`], the orthogonalization
//! [`msign`](crate::linalg::msign). Same-shape matrices are orthogonalized as one batch.

use super::method::{Batch, BatchShape, MatrixMethod, Shaped, apply_update, group_indices};
use crate::linalg::{MsignMethod, msign, msign_batched};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// How the orthogonalized update of a `[d_in, d_out]` matrix is scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MuonScaling {
    /// Keller Jordan's `√max(1, out/in)`: `√max(1, d_out/d_in)` in burn's layout (PyTorch's
    /// `[out, in]` rows/cols). burn-optim's own Muon applies `rows/cols` to burn's
    /// `[d_in, d_out]` tensors, which inverts the rule; this is the corrected one.
    #[default]
    KellerJordan,
    /// Moonlight's `0.2·√max(d_in, d_out)`: the update's RMS matches AdamW's (≈ 0.2), so
    /// AdamW learning rates and weight decay carry over (arXiv 2502.16982).
    Moonlight,
}

impl MuonScaling {
    /// The factor for a matrix of burn shape `[d_in, d_out]`.
    pub fn factor(self, d_in: usize, d_out: usize) -> f64 {
        match self {
            MuonScaling::KellerJordan => (d_out as f64 / d_in as f64).max(1.0).sqrt(),
            MuonScaling::Moonlight => 0.2 * (d_in.max(d_out) as f64).sqrt(),
        }
    }
}

/// Muon's settings (also used by TEON, which is Muon on stacked matrices).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MuonConfig {
    /// Momentum coefficient μ (Keller Jordan's 0.95).
    pub momentum: f64,
    /// Use `G + μB` instead of `B` (Nesterov); the reference default.
    pub nesterov: bool,
    /// Orthogonalization: quintic Newton–Schulz (5 steps) or Polar Express.
    pub msign: MsignMethod,
    /// Decoupled weight decay λ, applied as `W·(1 − lr·λ)`; 0 as in the speedrun.
    pub weight_decay: f64,
    /// Shape scaling of the update.
    pub scaling: MuonScaling,
    /// Step the matrices (TEON: the stacks) that share a shape, and in a sharded step an owner,
    /// as one stack: one momentum update, one batched `msign` and one weight update per shape,
    /// the same arithmetic as one at a time (`false`) with far fewer operations for the host
    /// to queue.
    pub stack_by_shape: bool,
}

impl Default for MuonConfig {
    fn default() -> Self {
        Self {
            momentum: 0.95,
            nesterov: true,
            msign: MsignMethod::default(),
            weight_decay: 0.0,
            scaling: MuonScaling::default(),
            stack_by_shape: true,
        }
    }
}

/// Muon as a [`MatrixMethod`]: each matrix alone (TEON groups them, [`super::teon`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Muon {
    pub config: MuonConfig,
}

impl Muon {
    pub fn new(config: MuonConfig) -> Self {
        Self { config }
    }
}

impl<B: Backend> MatrixMethod<B> for Muon {
    fn momentum(&self) -> (f64, bool) {
        (self.config.momentum, self.config.nesterov)
    }

    fn stack_by_shape(&self) -> bool {
        self.config.stack_by_shape
    }

    /// `msign` of each group's `[k·d_in, d_out]` direction, the `n` groups in one batched call.
    fn shape(&self, batch: Batch<'_, B>) -> Shaped<B> {
        let BatchShape { n, k, d_in, d_out } = batch.shape;
        let result = if n == 1 {
            msign(batch.direction, self.config.msign)
        } else {
            let stack = batch.direction.reshape([n, k * d_in, d_out]);
            msign_batched(stack, self.config.msign).reshape(batch.shape.stacked())
        };
        Shaped {
            result,
            state: Vec::new(),
        }
    }

    /// `W·(1 − lr·λ) − lr·√k·s(d_in, d_out)·O`: TEON's `√k` (k = 1 for Muon) times the shape scale.
    fn apply(
        &self,
        weight: Tensor<B, 2>,
        result: Tensor<B, 2>,
        shape: BatchShape,
        lr: f64,
    ) -> Tensor<B, 2> {
        let scale = (shape.k as f64).sqrt() * self.config.scaling.factor(shape.d_in, shape.d_out);
        apply_update(weight, result, lr, scale, self.config.weight_decay)
    }
}

/// `msign` of every matrix, batching the ones that share a shape (one batched matmul per
/// Newton–Schulz step instead of one per matrix). Output order is input order.
pub fn msign_all<B: Backend>(
    matrices: Vec<Tensor<B, 2>>,
    method: MsignMethod,
) -> Vec<Tensor<B, 2>> {
    let mut out: Vec<Option<Tensor<B, 2>>> = vec![None; matrices.len()];
    let by_shape = group_indices(matrices.iter().map(|m| m.dims()));
    let mut matrices: Vec<Option<Tensor<B, 2>>> = matrices.into_iter().map(Some).collect();
    for ([m, n], members) in by_shape {
        if members.len() == 1 {
            let matrix = matrices[members[0]].take().expect("each index once");
            out[members[0]] = Some(msign(matrix, method));
            continue;
        }
        let batch: Vec<Tensor<B, 2>> = members
            .iter()
            .map(|&i| matrices[i].take().expect("each index once"))
            .collect();
        let shaped = msign_batched(Tensor::stack(batch, 0), method); // [b, m, n]
        for (slice, &i) in shaped.chunk(members.len(), 0).into_iter().zip(&members) {
            out[i] = Some(slice.reshape([m, n]));
        }
    }
    out.into_iter()
        .map(|o| o.expect("every matrix shaped"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use burn::tensor::Distribution;

    #[test]
    fn keller_jordan_scale_is_written_for_burns_layout() {
        // A burn [d_in, d_out] = [256, 1024] weight is PyTorch's [out, in] = [1024, 256]:
        // tall in PyTorch terms, so the update is scaled up by √(1024/256) = 2.
        assert_eq!(MuonScaling::KellerJordan.factor(256, 1024), 2.0);
        assert_eq!(MuonScaling::KellerJordan.factor(1024, 256), 1.0);
        assert_eq!(MuonScaling::KellerJordan.factor(512, 512), 1.0);
        assert!((MuonScaling::Moonlight.factor(1024, 256) - 0.2 * 32.0).abs() < 1e-12);
    }

    #[test]
    fn batched_msign_equals_one_at_a_time() {
        let device = Default::default();
        let shapes = [[8, 12], [8, 12], [12, 8], [8, 12]];
        let matrices: Vec<Tensor<CpuBackend, 2>> = shapes
            .iter()
            .map(|s| Tensor::random(*s, Distribution::Normal(0.0, 1.0), &device))
            .collect();
        let method = MsignMethod::default();
        let batched = msign_all(matrices.clone(), method);
        for (matrix, got) in matrices.into_iter().zip(batched) {
            let want = msign(matrix, method);
            assert_eq!(got.dims(), want.dims());
            // Same f32 arithmetic in a different matmul grouping: ~1e-6 differences.
            let diff: f32 = (got - want).abs().max().into_scalar();
            assert!(diff < 1e-4, "{diff}");
        }
    }
}
