//! Linear algebra for spectral methods, generic over burn's [`Backend`](burn::tensor::backend::Backend).
//!
//! Everything here acts on the singular value decomposition `X = U Σ Vᵀ` of an f32 matrix
//! `X: [m, n]` (rows first, as burn stores them):
//!
//! - [`msign`] / [`msign_batched`]: the orthogonal polar factor `U Vᵀ` by odd matrix polynomials
//!   (Keller Jordan's quintic Newton–Schulz, Polar Express), matmuls only.
//! - [`orthonormalize_columns`]: `Q: [m, k]` with `QᵀQ = I` spanning the columns of `X`
//!   (shifted CholeskyQR: matmuls on the device, a `k × k` Cholesky on the host).
//! - [`topk_svd`] / [`randomized_svd`]: the top-`k` singular triplets by warm-started subspace
//!   iteration or by Halko–Martinsson–Tropp, both finished by a Rayleigh–Ritz step.
//! - [`spectra_shape`]: Spectra's spike shaping (top-`k` singular values replaced by the tail's
//!   RMS singular value, the tail kept).
//! - [`matmul`] / [`linear`]: the models' products, on cuBLAS on a GPU when [`Gemm`] says so.
//! - [`fused_causal_attention`]: causal attention as one custom operation on a GPU (one fused
//!   kernel, or cuBLAS gemms around a softmax kernel), when [`AttentionKernel`] says so.
//! - [`linear_gelu`]: `gelu(x W + b)`, its bias and GELU in one kernel on a GPU when
//!   [`GeluKernel`] says so.
//! - [`layer_norm`]: a LayerNorm in one kernel each way on a GPU when [`LayerNormKernel`] says
//!   so.
//! - [`embedding`]: an embedding lookup whose gradient has its own kernel on a GPU.
//! - [`exact`]: exact CPU linear algebra in f64 through faer, for tests and analysis.
//!
//! The device-side functions keep the fixed signatures the optimizers call (tensors in, tensors
//! out). They do not check finiteness: a non-finite input gives a non-finite output, which the
//! caller's own check sees. The host-side `exact` functions check at the door and return
//! [`LinalgError`].

pub mod bias_gelu;
#[cfg(feature = "cuda")]
mod bias_gelu_cuda;
#[cfg(feature = "cuda")]
mod cublas;
#[cfg(feature = "cuda")]
mod cublas_attention;
#[cfg(feature = "cuda")]
mod cublas_matmul;
#[cfg(feature = "cuda")]
pub mod cublas_msign;
#[cfg(feature = "cuda")]
mod cuda;
pub mod embedding;
#[cfg(feature = "cuda")]
mod embedding_cuda;
pub mod exact;
pub mod fused_attention;
#[cfg(feature = "cuda")]
mod fused_attention_cuda;
pub mod gemm;
pub mod layer_norm;
#[cfg(feature = "cuda")]
mod layer_norm_cuda;
pub mod newton_schulz;
pub mod orthonormalize;
pub mod random;
pub mod spectra;
pub mod switch;
#[cfg(test)]
mod test_util;
pub mod topk_svd;

pub use bias_gelu::{GeluKernel, gelu_kernel, linear_gelu, set_gelu_kernel};
pub use embedding::embedding;
pub use exact::{Svd, from_faer, singular_values, svd, to_faer};
pub use fused_attention::{
    AttentionKernel, attention_kernel, fused_causal_attention, fuses, rope_table,
    set_attention_kernel,
};
pub use gemm::{Gemm, linear, matmul, matmul_gemm, msign_gemm, set_matmul_gemm, set_msign_gemm};
pub use layer_norm::{LayerNormKernel, layer_norm, layer_norm_kernel, set_layer_norm_kernel};
pub use newton_schulz::{MsignMethod, msign, msign_batched};
pub use orthonormalize::orthonormalize_columns;
pub use random::gaussian_matrix;
pub use spectra::{spectra_rank, spectra_shape};
pub use topk_svd::{TopK, randomized_svd, topk_svd};

/// Failures of the exact (host, f64) linear algebra.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LinalgError {
    /// An input entry is NaN or infinite.
    #[error("{what}: entry ({row}, {col}) is not finite ({value})")]
    NonFinite {
        what: &'static str,
        row: usize,
        col: usize,
        value: f64,
    },
    /// The matrix has the wrong shape for the operation.
    #[error("{what}: expected {expected}, got a {rows} x {cols} matrix")]
    Shape {
        what: &'static str,
        expected: &'static str,
        rows: usize,
        cols: usize,
    },
    /// faer's iterative solver reached its iteration limit.
    #[error("{what}: no convergence")]
    NoConvergence { what: &'static str },
}
