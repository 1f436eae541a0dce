//! The GPU kernel choices of burn's CUDA path (`--msign-gemm`, `--matmul-gemm`, `--attention`,
//! `--gelu`, `--layer-norm`), on the commands that run a model or an optimizer on a GPU
//! through burn: `train`, `eval`, `slots`, `diagnose`, `bench optim`, `bench train`,
//! `bench init`. The CUDA engine ignores them; CPU runs too.

/// How burn's CUDA path computes a model's products, attention, GELU and LayerNorm, and the
/// optimizers' Newton–Schulz products.
#[derive(clap::Args, Clone, Debug)]
#[command(next_help_heading = "GPU kernels of burn's CUDA path")]
pub struct KernelArgs {
    /// Where the optimizers' Newton–Schulz (msign) matmuls run on a GPU: `burn` (burn's own
    /// kernels), `cublas-bf16` (bf16 operands, f32 accumulation, as muon.py), `cublas-tf32` or
    /// `cublas-f32`. The cuBLAS choices need a `--features cuda` build; CPU runs ignore this.
    #[arg(long, default_value = "burn")]
    pub msign_gemm: spectral::linalg::Gemm,
    /// Where the models' matrix products (linear layers, attention; forward and backward) run
    /// on a GPU: `burn`, `cublas-tf32` (f32 tensors, TF32 tensor cores: PyTorch's
    /// `allow_tf32`), `cublas-bf16` (f32 tensors, bf16 tensor-core products) or `cublas-f32`.
    /// The cuBLAS choices need a `--features cuda` build; CPU runs ignore this.
    #[arg(long, default_value = "burn")]
    pub matmul_gemm: spectral::linalg::Gemm,
    /// How the models compute causal self-attention on a GPU: `materialized` (the
    /// `[B, H, T, T]` scores stored, burn's softmax), `fused` (one FlashAttention-style f32
    /// kernel, forward and backward, with RoPE inside; the scores never stored) or `cublas`
    /// (the products as cuBLAS gemms in `--matmul-gemm`'s precision around one softmax kernel
    /// each way; a layer's scores kept only during its pass). `fused` and `cublas` need a
    /// `--features cuda` build; CPU runs ignore this.
    #[arg(long, default_value = "materialized")]
    pub attention: spectral::linalg::AttentionKernel,
    /// Who computes the MLPs' bias and GELU on a GPU: `burn` (burn's fused element-wise
    /// kernel) or `fused` (one kernel each way, forward and backward). `fused` needs a
    /// `--features cuda` build; CPU runs ignore this.
    #[arg(long, default_value = "burn")]
    pub gelu: spectral::linalg::GeluKernel,
    /// Who computes the models' LayerNorms on a GPU: `burn` (burn's means, square root and
    /// division, differentiated op by op) or `fused` (one kernel each way; widths a multiple of
    /// 128 up to 1024). `fused` needs a `--features cuda` build; CPU runs ignore this.
    #[arg(long, default_value = "burn")]
    pub layer_norm: spectral::linalg::LayerNormKernel,
}

impl KernelArgs {
    /// Applies the choices for the whole process, before any work; a cuBLAS or fused choice
    /// in a build without the `cuda` feature is an error.
    pub fn apply(&self) -> anyhow::Result<()> {
        use spectral::linalg::{AttentionKernel, GeluKernel, Gemm, LayerNormKernel};
        let cuda = cfg!(feature = "cuda");
        let gpu_only = [
            (
                "--msign-gemm",
                self.msign_gemm.to_string(),
                self.msign_gemm != Gemm::Burn,
            ),
            (
                "--matmul-gemm",
                self.matmul_gemm.to_string(),
                self.matmul_gemm != Gemm::Burn,
            ),
            (
                "--attention",
                self.attention.to_string(),
                self.attention != AttentionKernel::Materialized,
            ),
            (
                "--gelu",
                self.gelu.to_string(),
                self.gelu == GeluKernel::Fused,
            ),
            (
                "--layer-norm",
                self.layer_norm.to_string(),
                self.layer_norm == LayerNormKernel::Fused,
            ),
        ];
        for (flag, value, needs_cuda) in gpu_only {
            if needs_cuda && !cuda {
                anyhow::bail!(
                    "{flag} {value} needs a build with `--features cuda` (this one has no GPU kernels)"
                );
            }
        }
        spectral::linalg::set_msign_gemm(self.msign_gemm);
        spectral::linalg::set_matmul_gemm(self.matmul_gemm);
        spectral::linalg::set_attention_kernel(self.attention);
        spectral::linalg::set_gelu_kernel(self.gelu);
        spectral::linalg::set_layer_norm_kernel(self.layer_norm);
        Ok(())
    }
}
