//! Cross-entropy of next-byte logits (`kernels/cross_entropy.cu`), the loss and its gradient
//! in one pass:
//!
//! ```text
//! loss[n]       = logsumexp(logits[n, :]) − logits[n, target[n]]        (nats)
//! dlogits[n, v] = scale · (softmax(logits[n, :])[v] − [v = target[n]])
//! ```
//!
//! With `scale = 1/N`, `dlogits` is the gradient of the mean loss, which
//! [`crate::ops::reduce::Reduce::sum`] with `factor = 1/N` computes from `loss`.

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::{act_defines, int};

/// The largest vocabulary: a row lives in one warp's registers, 32 per lane.
pub const MAX_VOCAB: usize = 1024;

/// The cross-entropy kernels, for one activation type (one per 256 columns of vocabulary a
/// lane's registers hold).
#[derive(Clone)]
pub struct CrossEntropy {
    by_chunks: [Kernel; 4],
}

/// Rows (warps) per block.
const ROWS_PER_BLOCK: usize = 8;

impl CrossEntropy {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let defines = act_defines(act)?;
        let mut load = |name| gpu.kernel(&kernels::CROSS_ENTROPY, &defines, name);
        Ok(Self {
            by_chunks: [
                load("cross_entropy_1")?,
                load("cross_entropy_2")?,
                load("cross_entropy_3")?,
                load("cross_entropy_4")?,
            ],
        })
    }

    /// `logits` ACT `[n, v]`, `targets` i32 `[n]` (each in `[0, v)`) → `loss` f32 `[n]` and
    /// `dlogits` ACT `[n, v]` (module doc). `dlogits` may equal `logits` (overwritten in
    /// place) or be 0 (loss only, for evaluation). `v` in `1..=MAX_VOCAB`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_backward(
        &self,
        gpu: &Gpu,
        logits: u64,
        targets: u64,
        loss: u64,
        dlogits: u64,
        n: usize,
        v: usize,
        scale: f32,
    ) -> Result<(), EngineError> {
        if !(1..=MAX_VOCAB).contains(&v) {
            return Err(EngineError::Unsupported(format!(
                "cross-entropy over a vocabulary of {v} (1 to {MAX_VOCAB})"
            )));
        }
        if n == 0 {
            return Ok(());
        }
        let kernel = &self.by_chunks[v.div_ceil(256) - 1];
        let grid = u32::try_from(n.div_ceil(ROWS_PER_BLOCK))
            .map_err(|_| EngineError::Unsupported(format!("cross-entropy of {n} rows")))?;
        // SAFETY: logits and dlogits hold n × v ACT elements, targets n i32s in [0, v), loss n
        // f32s (the caller's contract); dlogits may be null.
        unsafe {
            gpu.launch(
                kernel,
                (grid, 1, 1),
                (32 * ROWS_PER_BLOCK as u32, 1, 1),
                0,
                &[
                    Arg::Ptr(logits),
                    Arg::Ptr(targets),
                    Arg::Ptr(loss),
                    Arg::Ptr(dlogits),
                    Arg::I32(int("rows", n)?),
                    Arg::I32(v as i32),
                    Arg::F32(scale),
                ],
            )
        }
    }
}
