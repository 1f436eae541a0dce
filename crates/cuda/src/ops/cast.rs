//! `y = ACT(x)` elementwise (`kernels/cast.cu`): the compute copy of f32 master weights
//! outside an optimizer step (at the start, after loading a checkpoint).

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::{act_defines, blocks, long};

/// The cast kernel, for one activation type.
#[derive(Clone)]
pub struct Cast {
    cast: Kernel,
}

impl Cast {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let cast = gpu.kernel(&kernels::CAST, &act_defines(act)?, "cast")?;
        Ok(Self { cast })
    }

    /// `y[i] = ACT(x[i])` (round to nearest even for bf16): `x` f32 `[n]`, `y` ACT `[n]`.
    pub fn forward(&self, gpu: &Gpu, x: u64, y: u64, n: usize) -> Result<(), EngineError> {
        if n == 0 {
            return Ok(());
        }
        let grid = blocks(n.div_ceil(8), 256, 4096);
        // SAFETY: `x` holds n f32s and `y` n ACT elements (the caller's contract).
        unsafe {
            gpu.launch(
                &self.cast,
                (grid, 1, 1),
                (256, 1, 1),
                0,
                &[Arg::Ptr(x), Arg::Ptr(y), Arg::I64(long(n))],
            )
        }
    }
}
