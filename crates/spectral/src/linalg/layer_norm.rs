//! LayerNorm over the last dimension, `y = (x − μ) / √(σ² + ε) γ + β`, in one kernel each
//! way on burn's CUDA backend.
//!
//! burn 0.21 computes a LayerNorm as separate means, subtractions, a square root and a
//! division, and differentiates that chain op by op: on a GPU about a dozen passes over the
//! activations, forward and backward. The fused kernels read the row once each way (the
//! backward pass also forms `∂γ` and `∂β`). One process-wide switch, [`set_layer_norm_kernel`]
//! (`--layer-norm`), chooses them; the default, and the only choice on a CPU, is burn's
//! `LayerNorm::forward`.

use super::switch::{Switch, switch_enum};
use burn::nn::LayerNorm;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor};

switch_enum! {
    /// Who computes the models' LayerNorms.
    pub enum LayerNormKernel ("layer-norm kernel") {
        /// burn's `LayerNorm::forward`. The default, on every backend.
        Burn = "burn",
        /// One kernel forward and one backward on burn's CUDA backend in f32, for widths that
        /// are a multiple of 128 up to 1024; anywhere else burn's.
        Fused = "fused",
    }
}

static KERNEL: Switch = Switch::new();

/// Sets who computes LayerNorms, for the whole process.
pub fn set_layer_norm_kernel(kernel: LayerNormKernel) {
    KERNEL.set(kernel);
}

/// The current choice (see [`set_layer_norm_kernel`]).
pub fn layer_norm_kernel() -> LayerNormKernel {
    KERNEL.get()
}

/// `norm` applied to `x: [batch, tokens, C]` → `[batch, tokens, C]`, differentiable on an
/// autodiff backend. `epsilon` must be the one `norm` was built with (burn keeps it private):
/// the fused kernel uses it, burn's path uses the layer's own.
///
/// With [`LayerNormKernel::Fused`] on burn's CUDA backend in f32 and a width it takes, one
/// kernel each way; otherwise `norm.forward(x)`.
pub fn layer_norm<B: Backend>(norm: &LayerNorm<B>, epsilon: f64, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let width = norm.gamma.dims()[0];
    if !fuses::<B>(x.dtype(), width) {
        return norm.forward(x);
    }
    let beta = match &norm.beta {
        Some(beta) => beta.val(),
        None => Tensor::zeros([width], &x.device()),
    };
    #[cfg(feature = "cuda")]
    return super::layer_norm_cuda::layer_norm(x, norm.gamma.val(), beta, epsilon);
    #[cfg(not(feature = "cuda"))]
    unreachable!("nothing fuses without CUDA: {:?}", (beta.dims(), epsilon))
}

/// Whether the fused kernels run for `dtype` rows of `width` on backend `B` (always no without
/// the `cuda` feature, where `B` goes unused).
#[cfg_attr(not(feature = "cuda"), allow(clippy::extra_unused_type_parameters))]
fn fuses<B: Backend>(dtype: DType, width: usize) -> bool {
    #[cfg(feature = "cuda")]
    if layer_norm_kernel() == LayerNormKernel::Fused {
        return super::layer_norm_cuda::supports::<B>(dtype, width);
    }
    let _ = (dtype, width);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend as B;
    use burn::nn::LayerNormConfig;
    use burn::tensor::Distribution;

    /// The process starts on burn's; on the CPU, even with `fused` chosen, `layer_norm` is
    /// burn's `LayerNorm::forward` to the bit, with and without β.
    #[test]
    fn the_cpu_keeps_burns_layer_norm() {
        assert_eq!(layer_norm_kernel(), LayerNormKernel::Burn);
        let device = Default::default();
        let x = Tensor::<B, 3>::random([2, 3, 128], Distribution::Normal(0.5, 2.0), &device);
        for bias in [true, false] {
            let norm = LayerNormConfig::new(128).with_bias(bias).init::<B>(&device);
            set_layer_norm_kernel(LayerNormKernel::Fused);
            let ours = layer_norm(&norm, 1e-5, x.clone());
            set_layer_norm_kernel(LayerNormKernel::Burn);
            ours.into_data()
                .assert_eq(&norm.forward(x.clone()).into_data(), true);
        }
    }
}
