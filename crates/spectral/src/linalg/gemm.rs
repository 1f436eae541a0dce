//! Where matrix products run on burn's CUDA backend, and the two products the models use:
//! [`matmul`] and [`linear`].
//!
//! Two process-wide switches, each a [`Gemm`], set once from the command line before any work:
//! - [`set_matmul_gemm`] (`--matmul-gemm`): the models' products, forward and backward (linear
//!   layers, attention scores and values, a tied output head);
//! - [`set_msign_gemm`] (`--msign-gemm`): the optimizers' Newton–Schulz products.
//!
//! On any other backend, or with [`Gemm::Burn`], [`matmul`] is burn's `Tensor::matmul` and
//! [`linear`] is burn's `Linear::forward`, bit for bit.

use super::switch::{Switch, switch_enum};
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

switch_enum! {
    /// Who runs a matrix product on burn's CUDA backend.
    pub enum Gemm ("gemm") {
        /// burn's own (fused, autotuned) matmul kernels. The default.
        Burn = "burn",
        /// cuBLAS on bf16 tensor cores with f32 accumulation. For the models' products the
        /// tensors stay f32 (cuBLAS rounds the operands to bf16 inside the gemm: f32 weights,
        /// activations and gradients, bf16 products); Newton–Schulz casts its iterate to bf16,
        /// as muon.py does.
        CublasBf16 = "cublas-bf16",
        /// cuBLAS on f32 operands with TF32 tensor-core math: PyTorch's
        /// `allow_tf32 = True`, and the precision of burn's own f32 matmul on CUDA.
        CublasTf32 = "cublas-tf32",
        /// cuBLAS in full f32 (no tensor cores): the reference the GPU tests compare against.
        CublasF32 = "cublas-f32",
    }
}

static MSIGN_GEMM: Switch = Switch::new();
static MATMUL_GEMM: Switch = Switch::new();

/// Sets where `msign`'s products run on the CUDA backend, for the whole process.
pub fn set_msign_gemm(gemm: Gemm) {
    MSIGN_GEMM.set(gemm);
}

/// The current choice for `msign` (see [`set_msign_gemm`]).
pub fn msign_gemm() -> Gemm {
    MSIGN_GEMM.get()
}

/// Sets where [`matmul`] and [`linear`] run on the CUDA backend, for the whole process.
pub fn set_matmul_gemm(gemm: Gemm) {
    MATMUL_GEMM.set(gemm);
}

/// The current choice for [`matmul`] and [`linear`] (see [`set_matmul_gemm`]).
pub fn matmul_gemm() -> Gemm {
    MATMUL_GEMM.get()
}

/// `a · b` over the last two dimensions: `a: [..., m, k]`, `b: [..., k, n]` → `[..., m, n]`,
/// differentiable on an autodiff backend. `b`'s leading dimensions are `a`'s or all 1
/// (broadcast, as a weight matrix); anything else is burn's matmul with its own broadcasting.
///
/// On burn's CUDA backend (with or without autodiff) and a cuBLAS [`matmul_gemm`], the product
/// and both gradients run on cuBLAS (`cublas_matmul`); otherwise this is `a.matmul(b)`.
pub fn matmul<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "cuda")]
    let (a, b) = match super::cublas_matmul::dispatch(a, b) {
        Ok(product) => return product,
        Err(operands) => operands,
    };
    a.matmul(b)
}

/// burn's `Linear` applied to `x: [batch, tokens, d_in]` → `[batch, tokens, d_out]`, its
/// product through [`matmul`] (the weight is `[d_in, d_out]`, burn's layout); with
/// [`Gemm::Burn`] it is `layer.forward(x)`.
pub fn linear<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    if matmul_gemm() == Gemm::Burn {
        return layer.forward(x);
    }
    let y = matmul(x, layer.weight.val().unsqueeze::<3>()); // [batch, tokens, d_out]
    match &layer.bias {
        Some(bias) => y + bias.val().unsqueeze::<3>(),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend as B;
    use burn::nn::LinearConfig;
    use burn::tensor::{Distribution, Tolerance};

    /// Every `--msign-gemm` / `--matmul-gemm` value parses back from its name; the process
    /// starts on burn's path for both.
    #[test]
    fn gemm_names_round_trip() {
        for gemm in [
            Gemm::Burn,
            Gemm::CublasBf16,
            Gemm::CublasTf32,
            Gemm::CublasF32,
        ] {
            assert_eq!(gemm.to_string().parse::<Gemm>(), Ok(gemm));
        }
        assert!("cublas".parse::<Gemm>().is_err());
        assert_eq!(msign_gemm(), Gemm::Burn);
        assert_eq!(matmul_gemm(), Gemm::Burn);
    }

    /// Off the GPU both products are burn's: `matmul` broadcasts a `[1, 1, k, n]` weight like
    /// `Tensor::matmul`, and `linear` equals the layer's own forward with and without bias.
    #[test]
    fn off_the_gpu_the_products_are_burns() {
        let device = Default::default();
        let a = Tensor::<B, 4>::random([2, 3, 5, 7], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<B, 4>::random([1, 1, 7, 4], Distribution::Normal(0.0, 1.0), &device);
        let product = matmul(a.clone(), b.clone());
        assert_eq!(product.dims(), [2, 3, 5, 4]);
        product
            .into_data()
            .assert_eq(&a.matmul(b).into_data(), true);
        for bias in [true, false] {
            let layer = LinearConfig::new(7, 4).with_bias(bias).init::<B>(&device);
            let x = Tensor::<B, 3>::random([2, 5, 7], Distribution::Normal(0.0, 1.0), &device);
            linear(&layer, x.clone())
                .into_data()
                .assert_approx_eq::<f32>(&layer.forward(x).into_data(), Tolerance::default());
        }
    }
}
