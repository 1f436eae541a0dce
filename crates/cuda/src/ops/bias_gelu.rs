//! The element-wise tail of a linear layer (`kernels/bias_gelu.cu`): bias and the exact (erf)
//! GELU the models use (`spectral::linalg::linear_gelu`), their backward pass with the bias
//! gradient, and the bias add and column sum of the linears without activation.
//!
//! ```text
//! forward:   pre = a + bias,  out = gelu(pre) = ½·pre·(1 + erf(pre/√2))      a, pre, out ACT [N, F]
//! backward:  dpre = dout·(Φ(pre) + pre·φ(pre)),  dbias = Σ_rows dpre          dbias f32 [F]
//! bias_add:  x += bias                                                          x ACT [N, F]
//! column_sum: out = Σ_rows x                                                    out f32 [F]
//! ```
//!
//! Column sums are deterministic: per-block partials over row groups (in row order), then
//! [`Reduce::sum_rows`] over the groups.

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::reduce::Reduce;
use crate::ops::{act_defines, int};

/// The kernels of the linear tails, for one activation type.
#[derive(Clone)]
pub struct BiasGelu {
    forward: Kernel,
    backward: Kernel,
    bias_add: Kernel,
    column_sum: Kernel,
    reduce: Reduce,
}

/// Columns of a tile (32 threads of eight columns) and its row phases (`TILE_ROWS`).
const TILE_COLS: usize = 256;
const TILE_ROWS: usize = 8;
/// Blocks a launch aims at: eight 256-thread blocks per SM of an H200.
const TARGET_BLOCKS: usize = 132 * 8;

/// The tile grid over `[n, f]`: (column tiles, row groups, rows per group), each group a
/// multiple of [`TILE_ROWS`] rows, about [`TARGET_BLOCKS`] blocks in all.
fn grid(n: usize, f: usize) -> (usize, usize, usize) {
    let tiles = f.div_ceil(TILE_COLS).max(1);
    let groups = TARGET_BLOCKS
        .div_ceil(tiles)
        .min(n.div_ceil(TILE_ROWS))
        .max(1);
    let rows = n
        .div_ceil(groups)
        .next_multiple_of(TILE_ROWS)
        .max(TILE_ROWS);
    (tiles, n.div_ceil(rows).max(1), rows)
}

impl BiasGelu {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let defines = act_defines(act)?;
        let mut load = |name| gpu.kernel(&kernels::BIAS_GELU, &defines, name);
        Ok(Self {
            forward: load("bias_gelu_forward")?,
            backward: load("bias_gelu_backward")?,
            bias_add: load("bias_add")?,
            column_sum: load("column_sum_partials")?,
            reduce: Reduce::new(gpu)?,
        })
    }

    /// Length (f32 elements) of the `partials` scratch of [`BiasGelu::backward`] and
    /// [`BiasGelu::column_sum`] over `[n, f]`: `[row groups, f]`.
    pub fn partials_len(n: usize, f: usize) -> usize {
        grid(n, f).1 * f
    }

    /// `pre = a + bias`, `out = gelu(pre)`: `a` ACT `[n, f]`, `bias` f32 `[f]` (0: none),
    /// `pre` ACT `[n, f]` (may be `a`, updated in place; 0: not stored), `out` ACT `[n, f]`.
    /// GELU is taken of the f32 sum, before `pre` is rounded to ACT.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        gpu: &Gpu,
        a: u64,
        bias: u64,
        pre: u64,
        out: u64,
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        self.launch(gpu, &self.forward, &[a, bias, pre, out], n, f)
    }

    /// `dpre = dout·gelu'(pre)` and `dbias = Σ_rows dpre` (the f32 values, before their
    /// rounding to ACT): `dout`, `pre`, `dpre` ACT `[n, f]` (`dpre` may be `dout`), `dbias`
    /// f32 `[f]` written (0: none, and `partials` unused), `partials` f32
    /// `[BiasGelu::partials_len(n, f)]` scratch.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        gpu: &Gpu,
        dout: u64,
        pre: u64,
        dpre: u64,
        dbias: u64,
        partials: u64,
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        let partials = if dbias == 0 { 0 } else { partials };
        self.launch(gpu, &self.backward, &[dout, pre, dpre, partials], n, f)?;
        if dbias != 0 {
            self.finish(gpu, partials, dbias, n, f)?;
        }
        Ok(())
    }

    /// `x += bias` in place: `x` ACT `[n, f]`, `bias` f32 `[f]`.
    pub fn bias_add(
        &self,
        gpu: &Gpu,
        x: u64,
        bias: u64,
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        self.launch(gpu, &self.bias_add, &[x, bias], n, f)
    }

    /// `out = Σ_rows x`: `x` ACT `[n, f]`, `out` f32 `[f]` written, `partials` f32
    /// `[BiasGelu::partials_len(n, f)]` scratch. The bias gradient of a linear without
    /// activation.
    pub fn column_sum(
        &self,
        gpu: &Gpu,
        x: u64,
        out: u64,
        partials: u64,
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        self.launch(gpu, &self.column_sum, &[x, partials], n, f)?;
        self.finish(gpu, partials, out, n, f)
    }

    /// The column sums of the row groups' partials into `out` `[f]`.
    fn finish(
        &self,
        gpu: &Gpu,
        partials: u64,
        out: u64,
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        self.reduce
            .sum_rows(gpu, partials, grid(n, f).1, f, out, false)
    }

    /// Launches `kernel(pointers..., n, f, rows_per_group)` over the tile grid of `[n, f]`.
    fn launch(
        &self,
        gpu: &Gpu,
        kernel: &Kernel,
        pointers: &[u64],
        n: usize,
        f: usize,
    ) -> Result<(), EngineError> {
        if f == 0 {
            return Ok(());
        }
        let (tiles, groups, rows) = grid(n, f);
        let mut args: Vec<Arg> = pointers.iter().map(|&p| Arg::Ptr(p)).collect();
        args.extend([
            Arg::I32(int("rows", n)?),
            Arg::I32(int("columns", f)?),
            Arg::I32(int("rows per group", rows)?),
        ]);
        let tiles =
            u32::try_from(tiles).map_err(|_| EngineError::Unsupported(format!("{f} columns")))?;
        // SAFETY: every pointer holds the tensor its method documents for [n, f] (the
        // caller's contract); partials, where passed, holds groups × f f32s.
        unsafe {
            gpu.launch(
                kernel,
                (tiles, groups as u32, 1),
                (32, TILE_ROWS as u32, 1),
                0,
                &args,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tile_grid_covers_every_row_once() {
        for f in [1, 255, 256, 768, 3072] {
            for n in [0, 1, 7, 8, 9, 1037, 131_072] {
                let (tiles, groups, rows) = grid(n, f);
                assert_eq!(rows % TILE_ROWS, 0);
                assert!(tiles * TILE_COLS >= f);
                assert!(groups * rows >= n && (groups - 1) * rows < n.max(1));
                assert!(groups <= 65_535 && tiles * groups <= 2 * TARGET_BLOCKS);
            }
        }
    }
}
