//! Heavy-ball momentum of the matrix parameters, one buffer per matrix (burn's `[d_in, d_out]`),
//! kept stacked between steps when a batch steps several matrices as one.
//!
//! `B ← μB + G`; the direction to shape is `G + μB` (Nesterov) or `B`. `torch.optim.Muon`
//! keeps the exponential average `(1 − μ)` times this buffer instead; the shaping methods here
//! are invariant to that factor (msign, Spectra's RMS normalization, Manifold Muon's
//! normalization of G), so the updates agree.

use super::state::StateDict;
use super::teon::{split_mode1, stack_mode1};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use std::collections::HashMap;

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

/// The momentum buffers, by parameter path; those of a batch stay stacked `[n·d_in, d_out]`
/// under the key `p1+…+pn` until a step batches its members differently.
pub(crate) struct Momenta<B: Backend> {
    buffers: HashMap<String, Tensor<B, 2>>,
    stacks: HashMap<String, Tensor<B, 2>>,
}

impl<B: Backend> Default for Momenta<B> {
    fn default() -> Self {
        Self {
            buffers: HashMap::new(),
            stacks: HashMap::new(),
        }
    }
}

impl<B: Backend> Momenta<B> {
    /// One momentum step of the stack `key` of the matrices `paths`, each `[d_in, d_out]`, with
    /// their gradients stacked `grad: [n·d_in, d_out]`; returns the direction, stacked alike.
    pub(crate) fn step(
        &mut self,
        key: &str,
        paths: &[&str],
        grad: Tensor<B, 2>,
        momentum: f64,
        nesterov: bool,
    ) -> Tensor<B, 2> {
        let [rows, d_out] = grad.dims();
        let previous = self.take_stack(key, paths, [rows / paths.len(), d_out]);
        let (buffer, direction) = momentum_direction(previous, grad, momentum, nesterov);
        self.stacks.insert(key.to_string(), buffer);
        direction
    }

    /// The stack `key` of members `paths`, each `[d_in, d_out]`: the stack a previous step
    /// left, else the members' own buffers stacked (zeros for a member without one: the same
    /// first step as no buffer), else `None` when no member has a buffer.
    fn take_stack(&mut self, key: &str, paths: &[&str], shape: [usize; 2]) -> Option<Tensor<B, 2>> {
        if let Some(stack) = self.stacks.remove(key) {
            return Some(stack);
        }
        self.unstack();
        let parts: Vec<Option<Tensor<B, 2>>> =
            paths.iter().map(|&p| self.buffers.remove(p)).collect();
        let device = parts.iter().flatten().next()?.device();
        let parts = parts
            .into_iter()
            .map(|p| p.unwrap_or_else(|| Tensor::zeros(shape, &device)))
            .collect();
        Some(stack_mode1(parts))
    }

    /// Splits every stack back into its members' buffers.
    fn unstack(&mut self) {
        for (key, stack) in std::mem::take(&mut self.stacks) {
            for (path, part) in split_stack(&key, stack) {
                self.buffers.insert(path.to_string(), part);
            }
        }
    }

    /// Every buffer as `momentum/{path}` (stacks split: the checkpoint does not depend on how
    /// the last step batched).
    pub(crate) fn write(&self, dict: &mut StateDict) {
        for (path, t) in &self.buffers {
            dict.insert_tensor(format!("momentum/{path}"), t);
        }
        for (key, stack) in &self.stacks {
            for (path, t) in split_stack(key, stack.clone()) {
                dict.insert_tensor(format!("momentum/{path}"), &t);
            }
        }
    }

    /// Restores the buffer of the matrix `path`.
    pub(crate) fn insert(&mut self, path: String, buffer: Tensor<B, 2>) {
        self.buffers.insert(path, buffer);
    }
}

/// A stack `[k·d_in, d_out]` keyed `p1+…+pk` as its members' `(path, [d_in, d_out])`.
fn split_stack<B: Backend>(key: &str, stack: Tensor<B, 2>) -> Vec<(&str, Tensor<B, 2>)> {
    let paths: Vec<&str> = key.split('+').collect();
    let k = paths.len();
    paths.into_iter().zip(split_mode1(stack, k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use burn::tensor::TensorData;

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
    fn a_stack_regrouped_keeps_every_members_buffer() {
        // Step 1 stacks a and b; step 2 steps b alone: b's buffer comes out of the stack, and
        // a's stays in the checkpoint.
        let device = Default::default();
        let ones = Tensor::<CpuBackend, 2>::ones([2, 3], &device);
        let mut momenta = Momenta::<CpuBackend>::default();
        momenta.step(
            "a+b",
            &["a", "b"],
            Tensor::cat(vec![ones.clone(), ones.clone() * 2], 0),
            0.5,
            false,
        );
        let direction = momenta.step("b", &["b"], ones.clone(), 0.5, false);
        // B_b = 0.5·2 + 1 = 2.
        let got: Vec<f32> = direction.into_data().to_vec().unwrap();
        assert_eq!(got, vec![2.0; 6]);
        let mut dict = StateDict::default();
        momenta.write(&mut dict);
        let keys: Vec<&String> = dict.tensors.keys().collect();
        assert_eq!(keys, ["momentum/a", "momentum/b"]);
        assert_eq!(dict.tensors["momentum/a"].1, vec![1.0; 6]);
    }
}
