//! Causal self-attention by FlashAttention-2 (Dao 2023, arXiv:2307.08691) on tensor cores:
//! the engine's fast path in bf16, for heads of width 32 or 64 (the SpacingMDN's and the
//! GPT's). The `[T, T]` scores are never stored; [`CublasAttention`](super::attention::CublasAttention) is the
//! fallback for anything else and the f32 parity mode.
//!
//! For the q, k, v projections' outputs `[B, T, C]` bf16:
//!
//! ```text
//! prep       Q', K', V' = R(q + b_q), R(k + b_k), v + b_v           [B, H, T, D]  bf16, saved
//! forward    y_i = Σ_{j ≤ i} softmax_j(Q'_i·K'_j / √D) V'_j          [B, T, C]     bf16
//!            lse_i = ln Σ_{j ≤ i} exp(Q'_i·K'_j / √D)                [B, H, T]     f32, saved
//! backward   Δ_i = ∂y_i · y_i                                        [B, H, T]     f32, scratch
//!            p_ij = exp(Q'_i·K'_j / √D − lse_i),  ∂s_ij = p_ij (∂y_i·V'_j − Δ_i)
//!            ∂q_i = Rᵀ Σ_j ∂s_ij K'_j / √D,  ∂k_j = Rᵀ Σ_i ∂s_ij Q'_i / √D,  ∂v_j = Σ_i p_ij ∂y_i
//! ```
//!
//! as three kernels after the prep: the forward pass over query tiles, `∂q` (with `Δ`) over
//! query tiles, then `∂k, ∂v` over key tiles; each recomputes `p` from `lse`, and nothing is
//! accumulated across blocks, so the result is the same bits every run. RoPE is applied once,
//! by the prep (`attention_layout.cu`, shared with the cuBLAS path); its transpose, and the
//! way back to `[B, T, C]`, happen in the backward kernels' epilogues. As on the cuBLAS path,
//! the biases' gradients are the column sums of `∂q, ∂k, ∂v`, left to the Linears' backward.
//!
//! Launchers only: [`FlashSaved`] (per layer) and [`FlashScratch`] (shared) are addresses the
//! caller planned; the backward pass also reads the forward pass's `y`.

use super::attention::{AttentionDims, AttentionInput, BackwardInput, Buffer, LayoutKernels, Qkv};
use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;

/// Rows a block owns and rows of each tile it streams (`ROWS` in flash_attention.cu).
const ROWS: usize = 64;
/// Threads per block: 4 warps of 16 rows.
const THREADS: u32 = 128;

/// What one layer's forward pass keeps for its backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashSaved {
    /// `Q', K', V'` `[B, H, T, D]` bf16 (biases added, q and k rotated).
    pub heads: Qkv,
    /// `lse` `[B, H, T]` f32, natural log.
    pub lse: u64,
}

impl FlashSaved {
    /// The buffers, in the order [`FlashSaved::at`] takes their addresses.
    pub fn buffers(dims: AttentionDims) -> [Buffer; 4] {
        let heads = |name| Buffer {
            name,
            len: dims.elements(),
            dtype: DType::BF16,
        };
        [
            heads("q_heads"),
            heads("k_heads"),
            heads("v_heads"),
            Buffer {
                name: "lse",
                len: dims.query_rows(),
                dtype: DType::F32,
            },
        ]
    }

    /// The saved tensors at `ptrs`, one address per entry of [`FlashSaved::buffers`].
    pub fn at([q, k, v, lse]: [u64; 4]) -> Self {
        Self {
            heads: Qkv { q, k, v },
            lse,
        }
    }
}

/// What the backward pass needs only while it runs; one can serve every layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashScratch {
    /// `Δ` `[B, H, T]` f32, written by the `∂q` kernel for the `∂k, ∂v` kernel.
    pub delta: u64,
}

impl FlashScratch {
    /// The buffers, in the order [`FlashScratch::at`] takes their addresses.
    pub fn buffers(dims: AttentionDims) -> [Buffer; 1] {
        [Buffer {
            name: "delta",
            len: dims.query_rows(),
            dtype: DType::F32,
        }]
    }

    /// The scratch at `ptrs`, one address per entry of [`FlashScratch::buffers`].
    pub fn at([delta]: [u64; 1]) -> Self {
        Self { delta }
    }
}

/// FlashAttention-2 for one shape (see the module doc).
pub struct FlashAttention {
    dims: AttentionDims,
    layout: LayoutKernels,
    forward: Kernel,
    backward_dq: Kernel,
    backward_dkv: Kernel,
}

impl FlashAttention {
    /// Whether the kernels take `dims`: [`AttentionDims::check`], heads of 32 or 64, and
    /// `B·H` within a grid's second dimension (65535).
    pub fn supports(dims: AttentionDims) -> Result<(), EngineError> {
        dims.check()?;
        if !matches!(dims.head_dim, 32 | 64) {
            return Err(EngineError::Unsupported(format!(
                "flash attention on heads of width {}: it takes 32 or 64",
                dims.head_dim
            )));
        }
        if dims.batch * dims.heads > 65535 {
            return Err(EngineError::Unsupported(format!(
                "flash attention over {} heads (B·H at most 65535)",
                dims.batch * dims.heads
            )));
        }
        Ok(())
    }

    /// Compiles the kernels for `dims` (bf16 activations) after [`FlashAttention::supports`].
    pub fn new(gpu: &mut Gpu, dims: AttentionDims) -> Result<Self, EngineError> {
        Self::supports(dims)?;
        let defines = [format!("HEAD_DIM={}", dims.head_dim)];
        let source = &kernels::FLASH_ATTENTION;
        Ok(Self {
            dims,
            layout: LayoutKernels::new(gpu, DType::BF16)?,
            forward: gpu.kernel(source, &defines, "flash_forward")?,
            backward_dq: gpu.kernel(source, &defines, "flash_backward_dq")?,
            backward_dkv: gpu.kernel(source, &defines, "flash_backward_dkv")?,
        })
    }

    pub fn dims(&self) -> AttentionDims {
        self.dims
    }

    /// `y` `[B, T, C]` bf16 from `input` (bf16 rows, f32 biases and table); writes `saved`
    /// for [`FlashAttention::backward`]. Every address must hold the tensor its field names.
    pub fn forward(
        &self,
        gpu: &Gpu,
        input: &AttentionInput,
        saved: &FlashSaved,
        y: u64,
    ) -> Result<(), EngineError> {
        let heads = saved.heads;
        self.layout.prep(gpu, self.dims, input, &heads)?;
        // flash_forward(q, k, v, y, lse, T, H, scale)
        let pointers = [heads.q, heads.k, heads.v, y, saved.lse];
        self.launch(gpu, &self.forward, &pointers)
    }

    /// `grads` (`∂q, ∂k, ∂v` `[B, T, C]` bf16) from `input` (`y` and `∂y` bf16) and what the
    /// forward pass saved.
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &BackwardInput,
        saved: &FlashSaved,
        scratch: &FlashScratch,
        grads: &Qkv,
    ) -> Result<(), EngineError> {
        let heads = saved.heads;
        let BackwardInput { y, dy, rope } = *input;
        let rope = rope.unwrap_or(0);
        // flash_backward_dq(q, k, v, y, dy, lse, rope, delta, dq, T, H, scale)
        let pointers = [
            heads.q,
            heads.k,
            heads.v,
            y,
            dy,
            saved.lse,
            rope,
            scratch.delta,
            grads.q,
        ];
        self.launch(gpu, &self.backward_dq, &pointers)?;
        // flash_backward_dkv(q, k, v, dy, lse, delta, rope, dk, dv, T, H, scale)
        let pointers = [
            heads.q,
            heads.k,
            heads.v,
            dy,
            saved.lse,
            scratch.delta,
            rope,
            grads.k,
            grads.v,
        ];
        self.launch(gpu, &self.backward_dkv, &pointers)
    }

    /// Launches a kernel of flash_attention.cu over `(⌈T / 64⌉, B·H)` blocks with `pointers`
    /// then `T, H` and the score scale `1/√D`.
    fn launch(&self, gpu: &Gpu, kernel: &Kernel, pointers: &[u64]) -> Result<(), EngineError> {
        let dims = self.dims;
        let mut args: Vec<Arg> = pointers.iter().map(|&p| Arg::Ptr(p)).collect();
        args.extend([
            Arg::I32(dims.seq as i32),
            Arg::I32(dims.heads as i32),
            Arg::F32(dims.scale()),
        ]);
        let grid = (
            dims.seq.div_ceil(ROWS) as u32,
            (dims.batch * dims.heads) as u32,
            1,
        );
        // SAFETY: the signatures in flash_attention.cu, compiled for this head width; the
        // addresses hold the tensors of `dims` in its layouts (the caller's contract), the
        // RoPE table null when absent.
        unsafe { gpu.launch(kernel, grid, (THREADS, 1, 1), 0, &args) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_takes_the_models_heads_only() {
        let mdn = AttentionDims {
            batch: 512,
            seq: 263,
            heads: 8,
            head_dim: 32,
        };
        let gpt = AttentionDims {
            batch: 64,
            seq: 256,
            heads: 12,
            head_dim: 64,
        };
        assert!(FlashAttention::supports(mdn).is_ok());
        assert!(FlashAttention::supports(gpt).is_ok());
        for bad in [
            AttentionDims {
                head_dim: 16,
                ..gpt
            },
            AttentionDims {
                head_dim: 128,
                ..gpt
            },
            AttentionDims {
                batch: 1 << 14,
                ..mdn
            },
        ] {
            assert!(FlashAttention::supports(bad).is_err(), "{bad:?}");
        }
        let saved = FlashSaved::buffers(mdn);
        assert_eq!(saved[3].len, 512 * 8 * 263);
        assert_eq!(saved.map(|b| b.dtype)[..3], [DType::BF16; 3]);
    }
}
