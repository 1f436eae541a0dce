//! The SpacingMDN head's loss (`kernels/mixture_nll.cu`; the model's form is
//! `spectral_models::mdn`): per row, the head's outputs `raw + bias = [a | m | r]` of K
//! components (f32 in both activation types) give
//!
//! ```text
//! log π = log_softmax(a),  μ = m,  σ = softplus(r) + σ_floor
//! nll   = −ln Σ_k π_k N(y; μ_k, σ_k²) = −logsumexp_k(log π_k − ½((y − μ_k)/σ_k)² − ln σ_k − ln √(2π))
//! ```
//!
//! and `draw = ∂(scale · Σ_rows nll)/∂raw` in the same pass (`scale = 1/N`: the gradient of
//! the mean, the training loss; [`crate::ops::reduce::Reduce::sum`] gives the mean itself).

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::{act_defines, int};

/// The most components: one per lane of a warp.
pub const MAX_COMPONENTS: usize = 32;

/// The mixture-loss kernel, for one activation type.
#[derive(Clone)]
pub struct MixtureNll {
    kernel: Kernel,
}

const THREADS: usize = 256;

impl MixtureNll {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let kernel = gpu.kernel(&kernels::MIXTURE_NLL, &act_defines(act)?, "mixture_nll")?;
        Ok(Self { kernel })
    }

    /// `raw` f32 `[n, 3k]` (columns `0..k` logits, `k..2k` means, `2k..3k` raw scales) plus
    /// `bias` f32 `[3k]` (0: none), `y` f32 `[n]` (targets, in mean-spacing units) → `nll` f32
    /// `[n]` and `draw` ACT `[n, 3k]`, the gradient with respect to `raw` and to each row's
    /// bias (module doc). `draw` may be 0 (loss only), or equal `raw` (overwritten) when ACT
    /// is f32. `k` in `1..=MAX_COMPONENTS`; `sigma_floor > 0`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        gpu: &Gpu,
        raw: u64,
        bias: u64,
        y: u64,
        nll: u64,
        draw: u64,
        n: usize,
        k: usize,
        sigma_floor: f32,
        scale: f32,
    ) -> Result<(), EngineError> {
        if !(1..=MAX_COMPONENTS).contains(&k) {
            return Err(EngineError::Unsupported(format!(
                "a mixture of {k} components (1 to {MAX_COMPONENTS})"
            )));
        }
        if n == 0 {
            return Ok(());
        }
        // Rows per block: 32/width per warp, width the power of two ≥ k (as in the source).
        let rows_per_block = THREADS / k.next_power_of_two();
        let grid = u32::try_from(n.div_ceil(rows_per_block))
            .map_err(|_| EngineError::Unsupported(format!("a mixture loss of {n} rows")))?;
        // SAFETY: raw holds n × 3k f32s and draw n × 3k ACT elements, bias 3k f32s, y and nll
        // n f32s (the caller's contract); bias and draw may be null.
        unsafe {
            gpu.launch(
                &self.kernel,
                (grid, 1, 1),
                (THREADS as u32, 1, 1),
                0,
                &[
                    Arg::Ptr(raw),
                    Arg::Ptr(bias),
                    Arg::Ptr(y),
                    Arg::Ptr(nll),
                    Arg::Ptr(draw),
                    Arg::I32(int("rows", n)?),
                    Arg::I32(k as i32),
                    Arg::F32(sigma_floor),
                    Arg::F32(scale),
                ],
            )
        }
    }
}
