//! GPT-2 / nanoGPT initialization of the layers these models build: weights drawn from
//! N(0, 0.02²), biases zero, and the two residual projections (`attn.o`, `mlp.proj`) scaled
//! down to N(0, (0.02 / √(2·n_layer))²) so the residual stream's variance does not grow with
//! depth (GPT-2 paper, §2.3; nanoGPT `model.py`, `_init_weights`).
//!
//! These are the defaults a freshly built model starts from; `spectral::init` can overwrite
//! any of them afterwards.

use burn::module::{Initializer, Param};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Standard deviation of every weight drawn at build time (GPT-2's 0.02).
pub const INIT_STD: f64 = 0.02;

/// ε of every LayerNorm these models build (burn's and PyTorch's default). burn keeps a
/// built layer's ε private, so the fused kernel (`spectral::linalg::layer_norm`) is passed
/// this constant.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// Standard deviation of a residual projection in a model of `n_layer` blocks:
/// `0.02 / √(2·n_layer)` (two residual additions per block).
pub fn residual_std(n_layer: usize) -> f64 {
    INIT_STD / (2.0 * n_layer.max(1) as f64).sqrt()
}

/// A `Linear` `[d_in, d_out]` (burn's layout: `y = x @ W + b`) with weights from N(0, std²)
/// and a zero bias when `bias`.
pub fn linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device);
    if bias {
        layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    }
    layer
}

/// A `Linear` `[d_in, d_out]` whose weight and bias are all zero: it outputs 0 until trained,
/// which is how the optional memory readouts start as the identity.
pub fn zero_linear<B: Backend>(d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
    LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

/// An `Embedding` `[n, d]` with entries from N(0, 0.02²) (burn's default is N(0, 1)).
pub fn embedding<B: Backend>(n: usize, d: usize, device: &B::Device) -> Embedding<B> {
    EmbeddingConfig::new(n, d)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: INIT_STD,
        })
        .init(device)
}

/// A `LayerNorm` over width `d` with γ = 1, β = 0 (no β without `bias`) and ε =
/// [`LAYER_NORM_EPS`].
pub fn layer_norm<B: Backend>(d: usize, bias: bool, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(d)
        .with_bias(bias)
        .with_epsilon(LAYER_NORM_EPS)
        .init(device)
}
