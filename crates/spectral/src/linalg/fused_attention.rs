//! Causal attention as one fused kernel on burn's CUDA backend, forward and backward.
//!
//! For `q`, `k`, `v` `[B, T, H, D]` (the linear layers' `[B, T, C]` outputs seen as `H` heads of
//! width `D`, no copy):
//!
//! ```text
//! out_i = Σ_{j ≤ i} softmax_j(q_i · k_j / √D) v_j          out [B, T, H, D]
//! ```
//!
//! with `q` and `k` first rotated by RoPE when a table is given. FlashAttention-2's algorithm
//! (Dao 2023): the `[B, H, T, T]` scores are never stored, and the backward pass recomputes
//! them. Or, with the same node in the autodiff graph, the products as cuBLAS gemms on tensor
//! cores around a softmax kernel ([`AttentionKernel::Cublas`]). One process-wide switch,
//! [`set_attention_kernel`] (`--attention`), chooses; the default, and the only choice on a CPU,
//! is the models' materialized `softmax(QKᵀ/√D + mask) V`.

use super::switch::{Switch, switch_enum};
use burn::nn::RotaryEncoding;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor};

switch_enum! {
    /// How the models compute causal self-attention.
    pub enum AttentionKernel ("attention kernel") {
        /// `softmax(QKᵀ/√D + mask) V` with the `[B, H, T, T]` scores stored (burn's softmax,
        /// the products through [`matmul`](super::matmul)). The default, on every backend.
        Materialized = "materialized",
        /// The fused kernel of this module, on burn's CUDA backend in f32 (CUDA cores, f32
        /// products); anywhere else the materialized path runs.
        Fused = "fused",
        /// On burn's CUDA backend in f32: `QKᵀ` and `PV` (and the four products of the backward
        /// pass) as cuBLAS gemms in [`matmul_gemm`](super::matmul_gemm)'s precision (f32 when
        /// that is `burn`), the causal softmax and its backward one kernel each; one layer's
        /// `[H, B, T, T]` scores exist only during its pass (the backward pass recomputes them),
        /// as in the fused kernel. Anywhere else the materialized path runs.
        Cublas = "cublas",
    }
}

static KERNEL: Switch = Switch::new();

/// Sets how the models compute attention, for the whole process.
pub fn set_attention_kernel(kernel: AttentionKernel) {
    KERNEL.set(kernel);
}

/// The current choice (see [`set_attention_kernel`]).
pub fn attention_kernel() -> AttentionKernel {
    KERNEL.get()
}

/// Whether [`fused_causal_attention`] runs for tensors of `dtype` on backend `B` with heads of
/// width `head_dim`: [`AttentionKernel::Fused`] or [`AttentionKernel::Cublas`] chosen, burn's
/// CUDA backend (with or without autodiff), f32, and for `fused` a head width its kernels take
/// (a multiple of 4 up to 16, or 16, 32, 64, 128). Where it does not, the caller runs the
/// materialized attention.
pub fn fuses<B: Backend>(dtype: DType, head_dim: usize) -> bool {
    #[cfg(feature = "cuda")]
    if let Some(implementation) = implementation() {
        return super::fused_attention_cuda::supports::<B>(implementation, dtype, head_dim);
    }
    let _ = (dtype, head_dim);
    false
}

/// What the chosen [`AttentionKernel`] runs on burn's CUDA backend; `None` for materialized.
#[cfg(feature = "cuda")]
fn implementation() -> Option<super::fused_attention_cuda::Implementation> {
    use super::fused_attention_cuda::Implementation;
    match attention_kernel() {
        AttentionKernel::Materialized => None,
        AttentionKernel::Fused => Some(Implementation::Fused),
        AttentionKernel::Cublas => Some(Implementation::Cublas(super::matmul_gemm())),
    }
}

/// The causal attention of `q`, `k`, `v` `[B, T, H, D]` → `[B, T, H, D]` by the chosen
/// [`AttentionKernel`] (`fused` or `cublas`), differentiable on an autodiff backend. Query `i`
/// sees keys `j ≤ i` (the causal mask is built in); there is no dropout on the probabilities.
///
/// `rope`, when given, is `[T, D/2, 2]` ([`rope_table`]): `(cos, sin)` of position `t`'s angle
/// for the pair of dimensions `(2p, 2p + 1)`, which rotates `q` and `k` inside the kernel as
/// `x'₂ₚ = x₂ₚ cos − x₂ₚ₊₁ sin`, `x'₂ₚ₊₁ = x₂ₚ sin + x₂ₚ₊₁ cos` (burn's `RotaryEncoding`); it is a
/// constant, with no gradient.
///
/// # Panics
/// Where [`fuses`] says no (the caller asks first).
pub fn fused_causal_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    rope: Option<Tensor<B, 3>>,
) -> Tensor<B, 4> {
    assert!(
        fuses::<B>(q.dtype(), q.dims()[3]),
        "fused attention asked for where it does not run"
    );
    #[cfg(feature = "cuda")]
    return super::fused_attention_cuda::attention(
        implementation().expect("`fuses` said yes"),
        q,
        k,
        v,
        rope,
    );
    #[cfg(not(feature = "cuda"))]
    unreachable!("{:?}", (k.dims(), v.dims(), rope.map(|r| r.dims())))
}

/// The RoPE table [`fused_causal_attention`] takes, `[len, D/2, 2]`, from burn's
/// `RotaryEncoding` over head width `D` (whose `freq_complex` is `[max_len, D, 2]`: each pair's
/// `(cos, sin)` repeated for both of its dimensions).
///
/// # Panics
/// When `len` exceeds the encoding's `max_len`.
pub fn rope_table<B: Backend>(rope: &RotaryEncoding<B>, len: usize) -> Tensor<B, 3> {
    let [_, d, _] = rope.freq_complex.dims();
    rope.freq_complex
        .clone()
        .narrow(0, 0, len)
        .reshape([len, d / 2, 2, 2])
        .narrow(2, 0, 1)
        .reshape([len, d / 2, 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend as B;
    use burn::tensor::Distribution;

    /// Names round-trip; the process starts materialized; and on the CPU, even with `fused`
    /// chosen, nothing fuses: the caller runs the materialized path.
    #[test]
    fn kernel_names_round_trip_and_the_cpu_stays_materialized() {
        for kernel in [
            AttentionKernel::Materialized,
            AttentionKernel::Fused,
            AttentionKernel::Cublas,
        ] {
            assert_eq!(kernel.to_string().parse::<AttentionKernel>(), Ok(kernel));
        }
        assert!("flash".parse::<AttentionKernel>().is_err());
        assert_eq!(attention_kernel(), AttentionKernel::Materialized);
        assert!(!fuses::<B>(DType::F32, 8));
        set_attention_kernel(AttentionKernel::Fused);
        let fused = fuses::<B>(DType::F32, 8);
        set_attention_kernel(AttentionKernel::Materialized);
        assert!(!fused);
    }

    /// Rotating pairs by the table, as the kernel does, is burn's `RotaryEncoding::forward`.
    #[test]
    fn rope_table_rotates_pairs_like_burn() {
        let device = Default::default();
        let (t, d) = (7, 8);
        let rope = burn::nn::RotaryEncodingConfig::new(16, d).init::<B>(&device);
        let x = Tensor::<B, 3>::random([2, t, d], Distribution::Normal(0.0, 1.0), &device);
        let table = rope_table(&rope, t).reshape([1, t, d / 2, 2]);
        let pairs = x.clone().reshape([2, t, d / 2, 2]);
        let (x0, x1) = (pairs.clone().narrow(3, 0, 1), pairs.narrow(3, 1, 1));
        let (cos, sin) = (table.clone().narrow(3, 0, 1), table.narrow(3, 1, 1));
        let y0 = x0.clone() * cos.clone() - x1.clone() * sin.clone();
        let y1 = x0 * sin + x1 * cos;
        let ours = Tensor::cat(vec![y0, y1], 3).reshape([2, t, d]);
        ours.into_data().assert_approx_eq::<f32>(
            &rope.forward(x).into_data(),
            burn::tensor::Tolerance::absolute(1e-5),
        );
    }
}
