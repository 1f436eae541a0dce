//! The input–output Jacobian of a GPT's block stack at init, and its singular values (the
//! "Jacobian spread" σ_max/σ_min of the init benchmark).

use super::config::InitBenchError;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use spectral::CpuBackend;
use spectral::linalg::exact::{from_row_major, singular_values, to_faer};
use spectral_models::Gpt;
use spectral_models::block::forward_stack;
use spectral_train::data::TextDataset;

/// Output channels whose Jacobian rows one backward pass computes: the window is repeated this
/// many times along the batch, copy `i` carrying channel `i`'s gradient (at 96 layers × 256 on
/// an H100 this replaced 256 backward passes, 130 s, by 4).
const JACOBIAN_CHUNK: usize = 64;

/// Singular values of `∂h_L[T−1, :] / ∂h_0[0..T, :]` (`[C, T·C]`) for the first validation
/// window of length `t`, `h_0` the embedded input of the block stack and `h_L` its output
/// (before the final LayerNorm). The block stack treats batch rows independently, so a batch
/// of `n` copies of the window, backpropagated from `Σ_k h_L[k, T−1, i₀ + k]`, gives rows
/// `i₀ .. i₀ + n` of the Jacobian at once ([`JACOBIAN_CHUNK`] rows per pass).
pub fn jacobian_singular_values<B: AutodiffBackend>(
    model: &Gpt<B>,
    data: &TextDataset,
    t: usize,
    device: &B::Device,
) -> Result<Vec<f64>, InitBenchError> {
    let h0 = embedded_window(model, data, t, device)?; // [1, T, C]
    let c = h0.dims()[2];
    let rows = jacobian_rows(model, h0, JACOBIAN_CHUNK);
    // Gradients are f32: the rounding in from_row_major loses nothing.
    let j = from_row_major::<CpuBackend>(&rows, c, t * c, &Default::default()); // [C, T·C]
    Ok(singular_values(&to_faer(j))?)
}

/// The Jacobian `∂h_L[T−1, :] / ∂h_0` at `h0: [1, T, C]`, row-major `[C, T·C]`, `chunk` rows
/// per backward pass.
fn jacobian_rows<B: AutodiffBackend>(model: &Gpt<B>, h0: Tensor<B, 3>, chunk: usize) -> Vec<f64> {
    let [_, t, c] = h0.dims();
    let device = h0.device();
    let mask = spectral_models::attention::causal_mask::<B>(t, &device); // [T, T]
    let mut rows = Vec::with_capacity(c * t * c);
    for first in (0..c).step_by(chunk) {
        let n = chunk.min(c - first);
        let x = h0.clone().repeat_dim(0, n).require_grad(); // [n, T, C]
        let (out, _) = forward_stack(&model.blocks, x.clone(), &mask, false); // [n, T, C]
        let last = out
            .slice([0..n, t - 1..t, first..first + n])
            .reshape([n, n]);
        // Copy k's output channel first + k: the diagonal of the [n, n] block.
        let pick = Tensor::<B, 2>::eye(n, &device);
        let grads = (last * pick).sum().backward();
        let g = x.grad(&grads).expect("the input requires a gradient"); // [n, T, C]
        rows.extend(g.into_data().iter::<f64>());
    }
    rows
}

/// The block stack's input for the first validation window of length `t`: token plus position
/// embeddings, detached. `[1, T, C]`.
fn embedded_window<B: AutodiffBackend>(
    model: &Gpt<B>,
    data: &TextDataset,
    t: usize,
    device: &B::Device,
) -> Result<Tensor<B, 3>, InitBenchError> {
    let (idx, _) = data.val_batches::<B>(1, t, 1, device)?.remove(0); // [1, T]
    let mut h0 = model.tok_emb.forward(idx); // [1, T, C]
    let c = h0.dims()[2];
    if let Some(pos) = &model.pos_emb {
        h0 = h0 + pos.weight.val().narrow(0, 0, t).reshape([1, t, c]);
    }
    Ok(h0.detach())
}

#[cfg(test)]
mod tests {
    use super::super::one_run::model_config;
    use super::super::tests::tiny;
    use super::*;
    use burn::backend::Autodiff;
    use spectral::device::{materialized, seeded};
    use spectral::init::{Init, apply_init};
    use std::path::Path;

    /// The batched Jacobian equals the one-channel-per-pass definition (chunks of 5 over
    /// C = 16: three full chunks and a remainder).
    #[test]
    fn batched_jacobian_equals_one_backward_per_channel() {
        type B = Autodiff<CpuBackend>;
        let device = Default::default();
        let config = tiny(Path::new("unused"));
        let model = seeded::<B, _>(&device, 3, || {
            let model = model_config(&config).init::<B>(&device).unwrap();
            materialized(apply_init(model, Init::He, 3))
        });
        let data = TextDataset::embedded();
        let t = 4;
        let h0 = embedded_window(&model, &data, t, &device).unwrap();
        let c = h0.dims()[2];
        let batched = jacobian_rows(&model, h0.clone(), 5);
        let mask = spectral_models::attention::causal_mask::<B>(t, &device);
        let mut want = Vec::new();
        for i in 0..c {
            let x = h0.clone().require_grad();
            let (out, _) = forward_stack(&model.blocks, x.clone(), &mask, false);
            let grads = out.slice([0..1, t - 1..t, i..i + 1]).sum().backward();
            want.extend(x.grad(&grads).unwrap().into_data().iter::<f64>());
        }
        assert_eq!(batched.len(), c * t * c);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let worst = batched
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
        // f32 rounding only (2.2e-5 of the largest entry here: NdArray's matmul blocks a batch
        // of 5 differently from a batch of 1); a wrong channel or copy would be off by O(1).
        assert!(worst <= 1e-4 * scale, "{worst} of {scale}");
    }
}
