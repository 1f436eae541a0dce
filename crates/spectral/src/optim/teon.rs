//! TEON: orthogonalize K same-type matrices of adjacent layers jointly.
//!
//! The momenta of K layers' Q (or K, or V) weights are stacked side by side — the mode-1
//! matricization of the `out × in × K` tensor, `m × Kn` in PyTorch's `[out, in]` layout — the
//! stack is orthogonalized, and split back. In burn's `[d_in, d_out]` layout the same stack is
//! the K matrices one above the other, `[K·d_in, d_out]` (its transpose, and
//! `msign(Zᵀ) = msign(Z)ᵀ`), so [`stack_mode1`] concatenates along dimension 0.
//!
//! Only Q, K and V are stacked by default (adding O or the MLP hurt in the TEON paper); K = 2.
//! Layers are paired in layer order; an odd one out is treated alone, as Muon would.
//!
//! Scale: the stacked update has unit singular values spread over K blocks, so one block
//! carries `1/√K` of Muon's update RMS (square case). Each block is scaled by
//! `√K·s(d_in, d_out)`, with `s` Muon's shape scale, so TEON with K = 1 is exactly Muon and
//! equal learning rates mean equal update sizes.

use super::groups::{ParamSlot, Role};
use super::method::{Batch, BatchShape, MatrixMethod, Shaped};
use super::muon::{Muon, MuonConfig};
use super::pattern;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Which matrices TEON stacks, and how many layers per stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeonConfig {
    /// Layers per stack (the paper's K; 2 by default).
    pub k: usize,
    /// Patterns of the matrix types to stack; each pattern's matches are paired by layer index.
    pub targets: Vec<String>,
}

impl Default for TeonConfig {
    fn default() -> Self {
        Self {
            k: 2,
            targets: vec![
                "blocks.*.attn.q.weight".into(),
                "blocks.*.attn.k.weight".into(),
                "blocks.*.attn.v.weight".into(),
            ],
        }
    }
}

/// Partitions the matrix slots into groups of indices into `slots`: TEON stacks of up to K
/// same-type, same-shape matrices of adjacent layers, and singletons for everything else.
/// Deterministic: stacks in target order then layer order, singletons in slot order.
pub fn teon_groups(slots: &[ParamSlot], config: &TeonConfig) -> Vec<Vec<usize>> {
    let k = config.k.max(1);
    let mut taken = vec![false; slots.len()];
    let mut groups = Vec::new();
    for target in &config.targets {
        let mut members: Vec<usize> = (0..slots.len())
            .filter(|&i| {
                !taken[i]
                    && slots[i].role == Role::Matrix
                    && pattern::matches(target, &slots[i].path)
            })
            .collect();
        members.sort_by_key(|&i| (pattern::layer_index(&slots[i].path), i));
        for chunk in members.chunks(k) {
            let same_shape = chunk
                .iter()
                .all(|&i| slots[i].shape == slots[chunk[0]].shape);
            if same_shape {
                groups.push(chunk.to_vec());
            } else {
                groups.extend(chunk.iter().map(|&i| vec![i]));
            }
            for &i in chunk {
                taken[i] = true;
            }
        }
    }
    for (i, slot) in slots.iter().enumerate() {
        if !taken[i] && slot.role == Role::Matrix {
            groups.push(vec![i]);
        }
    }
    groups
}

/// Stacks `[d_in, d_out]` matrices into `[K·d_in, d_out]` (mode-1 in PyTorch's layout).
pub fn stack_mode1<B: Backend>(mut matrices: Vec<Tensor<B, 2>>) -> Tensor<B, 2> {
    if matrices.len() == 1 {
        return matrices.pop().expect("one matrix");
    }
    Tensor::cat(matrices, 0)
}

/// A matrix method on TEON's groups ([`teon_groups`]) instead of one matrix at a time: TEON
/// is `Teon<Muon>`, SpectraTeon `Teon<Spectra>` ([`super::spectra_teon`]). The inner method
/// sees each stack `[k·d_in, d_out]` as one matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Teon<M> {
    pub inner: M,
    pub config: TeonConfig,
}

/// TEON: Muon on the stacks.
pub fn teon(muon: MuonConfig, config: TeonConfig) -> Teon<Muon> {
    Teon {
        inner: Muon::new(muon),
        config,
    }
}

impl<B: Backend, M: MatrixMethod<B>> MatrixMethod<B> for Teon<M> {
    fn momentum(&self) -> (f64, bool) {
        self.inner.momentum()
    }

    fn groups(&self, slots: &[ParamSlot]) -> Vec<Vec<usize>> {
        teon_groups(slots, &self.config)
    }

    fn stack_by_shape(&self) -> bool {
        self.inner.stack_by_shape()
    }

    fn state_name(&self) -> Option<&'static str> {
        self.inner.state_name()
    }

    fn shape(&self, batch: Batch<'_, B>) -> Shaped<B> {
        self.inner.shape(batch)
    }

    fn apply(
        &self,
        weight: Tensor<B, 2>,
        result: Tensor<B, 2>,
        shape: BatchShape,
        lr: f64,
    ) -> Tensor<B, 2> {
        self.inner.apply(weight, result, shape, lr)
    }
}

/// Splits a `[K·d_in, d_out]` stack back into K `[d_in, d_out]` matrices.
pub fn split_mode1<B: Backend>(stack: Tensor<B, 2>, k: usize) -> Vec<Tensor<B, 2>> {
    stack.chunk(k, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use crate::linalg::{MsignMethod, msign};
    use burn::module::ParamId;
    use burn::tensor::Distribution;

    fn slot(path: &str, shape: [usize; 2]) -> ParamSlot {
        ParamSlot {
            id: ParamId::new(),
            path: path.into(),
            shape: shape.to_vec(),
            role: Role::Matrix,
        }
    }

    #[test]
    fn pairs_adjacent_layers_and_leaves_the_odd_one_alone() {
        let mut slots = Vec::new();
        for layer in 0..3 {
            for name in ["q", "k", "v", "o"] {
                slots.push(slot(
                    &format!("blocks.{layer}.attn.{name}.weight"),
                    [16, 16],
                ));
            }
            slots.push(slot(&format!("blocks.{layer}.mlp.fc.weight"), [16, 64]));
        }
        let groups = teon_groups(&slots, &TeonConfig::default());
        let paths: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|&i| slots[i].path.as_str()).collect())
            .collect();
        assert_eq!(
            paths[0],
            ["blocks.0.attn.q.weight", "blocks.1.attn.q.weight"]
        );
        assert_eq!(paths[1], ["blocks.2.attn.q.weight"]);
        assert_eq!(
            paths[2],
            ["blocks.0.attn.k.weight", "blocks.1.attn.k.weight"]
        );
        assert_eq!(
            paths[4],
            ["blocks.0.attn.v.weight", "blocks.1.attn.v.weight"]
        );
        // O and MLP matrices are singletons, and every matrix is in exactly one group.
        assert!(paths[6..].iter().all(|g| g.len() == 1));
        let mut all: Vec<usize> = groups.concat();
        all.sort();
        assert_eq!(all, (0..slots.len()).collect::<Vec<_>>());
    }

    #[test]
    fn layers_pair_by_index_not_by_visiting_order() {
        let slots = vec![
            slot("blocks.10.attn.q.weight", [4, 4]),
            slot("blocks.2.attn.q.weight", [4, 4]),
            slot("blocks.3.attn.q.weight", [4, 4]),
        ];
        let groups = teon_groups(&slots, &TeonConfig::default());
        assert_eq!(groups, vec![vec![1, 2], vec![0]]);
    }

    #[test]
    fn stack_is_mode1_of_the_pytorch_layout() {
        // PyTorch stacks [out, in] matrices along `in`: Z = [W1ᵀ W2ᵀ] in burn terms. Our
        // [K·d_in, d_out] stack must be exactly Zᵀ, so msign of it is msign(Z)ᵀ.
        let device = Default::default();
        let a = Tensor::<CpuBackend, 2>::random([6, 5], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<CpuBackend, 2>::random([6, 5], Distribution::Normal(0.0, 1.0), &device);
        let torch_z = Tensor::cat(vec![a.clone().transpose(), b.clone().transpose()], 1); // [5, 12]
        let ours = stack_mode1(vec![a.clone(), b.clone()]); // [12, 5]
        let diff: f32 = (ours.clone() - torch_z.clone().transpose())
            .abs()
            .max()
            .into_scalar();
        assert_eq!(diff, 0.0);
        let method = MsignMethod::default();
        let o = msign(ours, method);
        let o_torch = msign(torch_z, method);
        let diff: f32 = (o.clone() - o_torch.transpose()).abs().max().into_scalar();
        assert!(diff < 1e-4, "{diff}");
        let parts = split_mode1(o, 2);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].dims(), [6, 5]);
    }
}
