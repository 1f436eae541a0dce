//! LayerNorm with the residual add in front (`kernels/layer_norm.cu`), ε = 1e-5 and the biased
//! variance, as burn's and PyTorch's `LayerNorm`:
//!
//! ```text
//! r   = x + (y + y_bias)                          x, r f32 [N, C]; y ACT [N, C]; y_bias f32 [C]
//! out = (r − μ)·ρ·w + b                           out ACT [N, C]; w, b f32 [C]
//! μ   = mean(r),  ρ = 1/√(mean((r − μ)²) + ε)     mean, rstd f32 [N]
//! ```
//!
//! and its backward pass, with `x̂ = (r − μ)·ρ`, `g = dout·w`:
//!
//! ```text
//! dres += ρ·(g − mean(g) − x̂·mean(g·x̂))          f32 [N, C], the gradient of r
//! dw    = Σ_rows dout·x̂,  db = Σ_rows dout         f32 [C]
//! ```

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::reduce::Reduce;
use crate::ops::{act_defines, int};

/// The widest row: a row lives in one warp's registers, 32 values per lane.
pub const MAX_WIDTH: usize = 1024;

/// The tensors of a forward pass, by device address; 0 where optional and absent.
#[derive(Clone, Copy, Debug)]
pub struct Forward {
    /// The residual stream before the branch, f32 `[N, C]`.
    pub x: u64,
    /// The branch output added to it, ACT `[N, C]` (0: none).
    pub y: u64,
    /// The branch's bias, added to y, f32 `[C]` (0: none).
    pub y_bias: u64,
    /// Where r is stored, f32 `[N, C]`: may be `x` (in place); 0 when not needed.
    pub r: u64,
    /// Gain, f32 `[C]`.
    pub w: u64,
    /// Shift, f32 `[C]` (0: a LayerNorm without bias).
    pub b: u64,
    /// The normalized output, ACT `[N, C]`.
    pub out: u64,
    /// μ per row, f32 `[N]`, for the backward pass (0: not stored).
    pub mean: u64,
    /// ρ per row, f32 `[N]`, for the backward pass (0: not stored).
    pub rstd: u64,
}

/// The tensors of a backward pass, by device address; 0 where optional and absent.
#[derive(Clone, Copy, Debug)]
pub struct Backward {
    /// The output's gradient, ACT `[N, C]`.
    pub dout: u64,
    /// The forward pass's r, f32 `[N, C]`.
    pub r: u64,
    /// The forward pass's μ and ρ, f32 `[N]` each.
    pub mean: u64,
    pub rstd: u64,
    /// Gain, f32 `[C]`.
    pub w: u64,
    /// The residual gradient, f32 `[N, C]`: the input's gradient is added to it.
    pub dres: u64,
    /// The updated `dres` in ACT `[N, C]`, the gradient of the branch output that made r
    /// (0: not written).
    pub dres_act: u64,
    /// The gain's gradient, f32 `[C]`, written.
    pub dw: u64,
    /// The shift's gradient, f32 `[C]`, written (0: a LayerNorm without bias).
    pub db: u64,
    /// Scratch, f32 `[LayerNorm::partials_len(N, C)]`.
    pub partials: u64,
}

/// The LayerNorm kernels for one activation type (one per 256 columns a lane holds).
#[derive(Clone)]
pub struct LayerNorm {
    forward: [Kernel; 4],
    backward: [Kernel; 4],
    reduce: Reduce,
}

/// Rows (warps) per forward block.
const FORWARD_ROWS: usize = 8;
/// Warps per backward block (`BACKWARD_WARPS` in the source).
const BACKWARD_WARPS: usize = 4;
/// SMs of an H200: the backward grid is one wave of resident blocks.
const SMS: usize = 132;
/// Backward blocks resident per SM by row width class (`LAYER_NORM(K, MIN_BLOCKS)` in the
/// source): K = ⌈C/256⌉.
const RESIDENT: [usize; 4] = [7, 4, 4, 3];

/// (blocks, rows per block) of the backward pass over `n` rows of `c` columns: at most one
/// wave of resident blocks, each taking a multiple of [`BACKWARD_WARPS`] rows.
fn backward_grid(n: usize, c: usize) -> (usize, usize) {
    let most = SMS * RESIDENT[c.div_ceil(256).clamp(1, 4) - 1];
    let rows = n
        .div_ceil(most)
        .next_multiple_of(BACKWARD_WARPS)
        .max(BACKWARD_WARPS);
    (n.div_ceil(rows).max(1), rows)
}

fn check_width(c: usize) -> Result<(), EngineError> {
    if (1..=MAX_WIDTH).contains(&c) {
        Ok(())
    } else {
        Err(EngineError::Unsupported(format!(
            "a LayerNorm over {c} columns (1 to {MAX_WIDTH})"
        )))
    }
}

impl LayerNorm {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let defines = act_defines(act)?;
        let mut load = |name| gpu.kernel(&kernels::LAYER_NORM, &defines, name);
        let forward = [
            load("layer_norm_forward_1")?,
            load("layer_norm_forward_2")?,
            load("layer_norm_forward_3")?,
            load("layer_norm_forward_4")?,
        ];
        let backward = [
            load("layer_norm_backward_1")?,
            load("layer_norm_backward_2")?,
            load("layer_norm_backward_3")?,
            load("layer_norm_backward_4")?,
        ];
        Ok(Self {
            forward,
            backward,
            reduce: Reduce::new(gpu)?,
        })
    }

    /// Length (f32 elements) of [`Backward::partials`] for `n` rows of `c` columns: the
    /// per-block sums of dw and of db, `[2, blocks, c]`.
    pub fn partials_len(n: usize, c: usize) -> usize {
        2 * backward_grid(n, c).0 * c
    }

    /// The forward pass over `n` rows of `c` columns (`c` in `1..=MAX_WIDTH`).
    pub fn forward(&self, gpu: &Gpu, t: &Forward, n: usize, c: usize) -> Result<(), EngineError> {
        check_width(c)?;
        if n == 0 {
            return Ok(());
        }
        let grid = u32::try_from(n.div_ceil(FORWARD_ROWS))
            .map_err(|_| EngineError::Unsupported(format!("a LayerNorm of {n} rows")))?;
        // SAFETY: every non-null address holds the tensor its field documents, for n rows of
        // c columns (the caller's contract).
        unsafe {
            gpu.launch(
                &self.forward[c.div_ceil(256) - 1],
                (grid, 1, 1),
                (32 * FORWARD_ROWS as u32, 1, 1),
                0,
                &[
                    Arg::Ptr(t.x),
                    Arg::Ptr(t.y),
                    Arg::Ptr(t.y_bias),
                    Arg::Ptr(t.r),
                    Arg::Ptr(t.w),
                    Arg::Ptr(t.b),
                    Arg::Ptr(t.out),
                    Arg::Ptr(t.mean),
                    Arg::Ptr(t.rstd),
                    Arg::I32(int("rows", n)?),
                    Arg::I32(c as i32),
                ],
            )
        }
    }

    /// The backward pass over `n` rows of `c` columns: `dres +=`, `dres_act`, `dw`, `db`
    /// (module doc), with `dw` and `db` summed over rows in a fixed order (per-block partials,
    /// then [`Reduce::sum_rows`]).
    pub fn backward(&self, gpu: &Gpu, t: &Backward, n: usize, c: usize) -> Result<(), EngineError> {
        check_width(c)?;
        let (blocks, rows) = backward_grid(n, c);
        let dw_partials = t.partials;
        let db_partials = if t.db == 0 {
            0
        } else {
            t.partials + 4 * (blocks * c) as u64
        };
        if n > 0 {
            // SAFETY: every non-null address holds the tensor its field documents, for n rows
            // of c columns; partials holds 2 × blocks × c f32s.
            unsafe {
                gpu.launch(
                    &self.backward[c.div_ceil(256) - 1],
                    (blocks as u32, 1, 1),
                    (32 * BACKWARD_WARPS as u32, 1, 1),
                    0,
                    &[
                        Arg::Ptr(t.dout),
                        Arg::Ptr(t.r),
                        Arg::Ptr(t.mean),
                        Arg::Ptr(t.rstd),
                        Arg::Ptr(t.w),
                        Arg::Ptr(t.dres),
                        Arg::Ptr(t.dres_act),
                        Arg::Ptr(dw_partials),
                        Arg::Ptr(db_partials),
                        Arg::I32(int("rows", n)?),
                        Arg::I32(c as i32),
                        Arg::I32(rows as i32),
                    ],
                )
            }?;
        } else {
            gpu.zero(t.partials, Self::partials_len(n, c) * 4)?;
        }
        self.reduce
            .sum_rows(gpu, dw_partials, blocks, c, t.dw, false)?;
        if t.db != 0 {
            self.reduce
                .sum_rows(gpu, db_partials, blocks, c, t.db, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backward_grid_covers_every_row_once_in_at_most_a_wave() {
        for c in [1, 256, 257, 768, 1024] {
            for n in [1, 3, 4, 5, 1031, 20_011, 131_072] {
                let (blocks, rows) = backward_grid(n, c);
                assert_eq!(rows % BACKWARD_WARPS, 0);
                assert!(blocks * rows >= n && (blocks - 1) * rows < n, "n {n} c {c}");
                assert!(blocks <= SMS * RESIDENT[c.div_ceil(256) - 1]);
            }
        }
    }
}
