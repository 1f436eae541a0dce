//! Muon: momentum, orthogonalized.
//!
//! For each hidden matrix with gradient `G` (burn layout `[d_in, d_out]`):
//! `B ← μB + G`, `D = G + μB` (Nesterov) or `B`, `O = msign(D)`,
//! `W ← W·(1 − lr·λ) − lr·s·O`, with `s` the shape scale of [`MuonScaling`].
//! This is `torch.optim.Muon`'s form of Keller Jordan's optimizer
//! (<https://kellerjordan.github.io/posts/muon/>); the orthogonalization is
//! [`msign`](crate::linalg::msign). Same-shape matrices are orthogonalized as one batch.

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
    /// On one device, step the matrices (TEON: the stacks) that share a shape as one stack: one
    /// momentum update, one batched `msign` and one weight update per shape, the same
    /// arithmetic as one at a time (`false`) with far fewer operations for the host to queue.
    /// A sharded step always goes one group at a time.
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

/// Heavy-ball momentum: returns the new buffer `μB + G` and the direction to shape,
/// `G + μ(μB + G)` with Nesterov, else the buffer itself. No buffer means `B = 0`.
pub fn momentum_direction<B: Backend>(
    buffer: Option<Tensor<B, 2>>,
    grad: Tensor<B, 2>,
    momentum: f64,
    nesterov: bool,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let buffer = match buffer {
        Some(buffer) => buffer.mul_scalar(momentum) + grad.clone(),
        None => grad.clone(),
    };
    let direction = if nesterov {
        grad + buffer.clone().mul_scalar(momentum)
    } else {
        buffer.clone()
    };
    (buffer, direction)
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

/// The indices of `keys` grouped by equal key, groups in order of first appearance and
/// indices ascending within each: how same-shape matrices are batched.
pub(crate) fn group_indices<K: PartialEq>(
    keys: impl IntoIterator<Item = K>,
) -> Vec<(K, Vec<usize>)> {
    let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
    for (index, key) in keys.into_iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(index),
            None => groups.push((key, vec![index])),
        }
    }
    groups
}

/// The weight after one step: `W·(1 − lr·λ) − lr·scale·update`.
pub fn apply_update<B: Backend>(
    weight: Tensor<B, 2>,
    update: Tensor<B, 2>,
    lr: f64,
    scale: f64,
    weight_decay: f64,
) -> Tensor<B, 2> {
    let decayed = if weight_decay == 0.0 {
        weight
    } else {
        weight.mul_scalar(1.0 - lr * weight_decay)
    };
    decayed - update.mul_scalar(lr * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use burn::tensor::{Distribution, TensorData};

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
    fn nesterov_momentum_matches_the_recurrence() {
        let device = Default::default();
        let g1 = Tensor::<CpuBackend, 2>::from_data(TensorData::from([[1.0f32, -2.0]]), &device);
        let g2 = Tensor::<CpuBackend, 2>::from_data(TensorData::from([[0.5f32, 4.0]]), &device);
        let (b1, d1) = momentum_direction(None, g1.clone(), 0.9, true);
        let (b2, d2) = momentum_direction(Some(b1.clone()), g2, 0.9, true);
        // B1 = G1, D1 = G1 + 0.9 G1; B2 = 0.9 B1 + G2, D2 = G2 + 0.9 B2.
        let want_b2 = [0.9 * 1.0 + 0.5, 0.9 * -2.0 + 4.0];
        let want_d2 = [0.5 + 0.9 * want_b2[0], 4.0 + 0.9 * want_b2[1]];
        let close = |t: Tensor<CpuBackend, 2>, want: [f64; 2]| {
            let got: Vec<f32> = t.into_data().to_vec().unwrap();
            got.iter()
                .zip(want)
                .all(|(g, w)| (*g as f64 - w).abs() < 1e-6)
        };
        assert!(close(b1, [1.0, -2.0]));
        assert!(close(d1, [1.9, -3.8]));
        assert!(close(b2, want_b2));
        assert!(close(d2, want_d2));
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
