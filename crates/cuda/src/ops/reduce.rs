//! Deterministic sums of f32 data (`kernels/reduce.cu`): a first pass of per-block partial
//! sums, then one block adding the partials in index order. Used for the mean loss, the
//! global gradient norm (with its clip factor) and the second pass of every column sum.

use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::{blocks, int, long};

/// The reduction kernels. They take no activations, so one build serves both activation types.
#[derive(Clone)]
pub struct Reduce {
    sum_partials: Kernel,
    sum_squares_partials: Kernel,
    finish_sum: Kernel,
    finish_norm: Kernel,
    sum_rows: Kernel,
}

/// Threads of a first-pass block.
const THREADS: u32 = 256;
/// Elements a first-pass thread takes at the least before another block is added.
const PER_THREAD: usize = 16;

impl Reduce {
    /// Length (f32 elements) of the `partials` scratch buffer [`Reduce::sum`] and
    /// [`Reduce::grad_norm`] take: the most first-pass blocks (eight per SM of an H200).
    pub const PARTIALS: usize = 1024;

    pub fn new(gpu: &mut Gpu) -> Result<Self, EngineError> {
        let mut load = |name| gpu.kernel(&kernels::REDUCE, &[], name);
        Ok(Self {
            sum_partials: load("sum_partials")?,
            sum_squares_partials: load("sum_squares_partials")?,
            finish_sum: load("finish_sum")?,
            finish_norm: load("finish_norm")?,
            sum_rows: load("sum_rows")?,
        })
    }

    /// `out[0] = factor · Σᵢ x[i]`: `x` f32 `[n]`, `out` f32 `[1]`, `partials` f32
    /// `[Reduce::PARTIALS]` scratch. With `factor = 1/n` this is the mean loss.
    pub fn sum(
        &self,
        gpu: &Gpu,
        x: u64,
        n: usize,
        factor: f32,
        partials: u64,
        out: u64,
    ) -> Result<(), EngineError> {
        let count = self.first_pass(gpu, &self.sum_partials, x, n, partials)?;
        // SAFETY: `partials` holds the `count` sums just written; `out` is one f32.
        unsafe {
            gpu.launch(
                &self.finish_sum,
                (1, 1, 1),
                (1024, 1, 1),
                0,
                &[
                    Arg::Ptr(partials),
                    Arg::I32(count),
                    Arg::F32(factor),
                    Arg::Ptr(out),
                ],
            )
        }
    }

    /// The global gradient norm and its clip factor, as `clip_gradients` of the training loop
    /// (PyTorch's `clip_grad_norm_`): `norm[0] = ‖g‖₂` and
    /// `clip[0] = min(1, max_norm / (norm + 1e-6))`, or 1 when `max_norm ≤ 0` (no clipping).
    /// `grads` f32 `[n]` (every gradient of the model, one flat buffer), `norm` and `clip` f32
    /// `[1]`, `partials` f32 `[Reduce::PARTIALS]` scratch. The gradients are not scaled here:
    /// [`crate::ops::adamw::AdamW::step`] multiplies by `clip` as it reads them.
    #[allow(clippy::too_many_arguments)]
    pub fn grad_norm(
        &self,
        gpu: &Gpu,
        grads: u64,
        n: usize,
        max_norm: f32,
        partials: u64,
        norm: u64,
        clip: u64,
    ) -> Result<(), EngineError> {
        let count = self.first_pass(gpu, &self.sum_squares_partials, grads, n, partials)?;
        // SAFETY: `partials` holds the `count` sums just written; `norm` and `clip` are f32s.
        unsafe {
            gpu.launch(
                &self.finish_norm,
                (1, 1, 1),
                (1024, 1, 1),
                0,
                &[
                    Arg::Ptr(partials),
                    Arg::I32(count),
                    Arg::F32(max_norm),
                    Arg::Ptr(norm),
                    Arg::Ptr(clip),
                ],
            )
        }
    }

    /// Column sums: `out[c] = Σ_r x[r, c]` (`+=` into `out` when `accumulate`), `x` f32
    /// `[rows, cols]`, `out` f32 `[cols]`; rows are added in a fixed order (row slices
    /// `r ≡ s mod 32`, then the slices in order). The second pass of the column sums of the
    /// row kernels, whose first passes write per-block partials `[blocks, cols]`.
    pub fn sum_rows(
        &self,
        gpu: &Gpu,
        x: u64,
        rows: usize,
        cols: usize,
        out: u64,
        accumulate: bool,
    ) -> Result<(), EngineError> {
        if cols == 0 {
            return Ok(());
        }
        let grid = u32::try_from(cols.div_ceil(32))
            .map_err(|_| EngineError::Unsupported(format!("column sums of {cols} columns")))?;
        // SAFETY: `x` holds rows × cols f32s and `out` cols f32s (the caller's contract).
        unsafe {
            gpu.launch(
                &self.sum_rows,
                (grid, 1, 1),
                (32, 32, 1),
                0,
                &[
                    Arg::Ptr(x),
                    Arg::I32(int("rows", rows)?),
                    Arg::I64(long(cols)),
                    Arg::Ptr(out),
                    Arg::I32(accumulate.into()),
                ],
            )
        }
    }

    /// Launches `kernel`'s per-block partials of `x` `[n]` into `partials`; returns how many.
    fn first_pass(
        &self,
        gpu: &Gpu,
        kernel: &Kernel,
        x: u64,
        n: usize,
        partials: u64,
    ) -> Result<i32, EngineError> {
        let grid = blocks(n, THREADS as usize * PER_THREAD, Self::PARTIALS);
        // SAFETY: `x` holds n f32s, `partials` at least PARTIALS ≥ grid.
        unsafe {
            gpu.launch(
                kernel,
                (grid, 1, 1),
                (THREADS, 1, 1),
                0,
                &[Arg::Ptr(x), Arg::I64(long(n)), Arg::Ptr(partials)],
            )
        }?;
        Ok(grid as i32)
    }
}
