//! AdamW on the flat parameter buffers (`kernels/adamw.cu`), in burn 0.21's form
//! (Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, arXiv 1711.05101; burn's
//! `burn-optim/src/optim/adamw.rs`, which `spectral::optim::adamw` uses on the CPU path):
//!
//! ```text
//! g ← clip·g
//! m ← β₁m + (1 − β₁)g          v ← β₂v + (1 − β₂)g²
//! W ← W·(1 − lr·λ) − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
//! copy ← ACT(W)
//! ```
//!
//! Decay is decoupled (applied to the old W, scaled by lr); ε is added after the square root
//! of the bias-corrected v̂. burn's first step, which starts m and v from g, is this step from
//! m = v = 0.

use std::ops::Range;

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::{act_defines, blocks, long};

/// The flat buffers of a model's parameters, by the address of element 0: all parameters in
/// one f32 buffer, and the gradients, moments and compute copy in buffers of the same layout.
#[derive(Clone, Copy, Debug)]
pub struct Flat {
    /// Master weights W, f32 `[P]`.
    pub params: u64,
    /// Gradients g, f32 `[P]` (not clipped: the step multiplies by `clip`).
    pub grads: u64,
    /// First moments m, f32 `[P]`, zero before the first step.
    pub m: u64,
    /// Second moments v, f32 `[P]`, zero before the first step.
    pub v: u64,
    /// The weights the kernels compute with, ACT `[P]`, written from the new W.
    pub copy: u64,
}

/// Device addresses of the values that change from step to step: read by the kernel when it
/// runs, so one captured graph serves every step.
#[derive(Clone, Copy, Debug)]
pub struct StepScalars {
    /// Learning rate per step (schedule applied), f32 `[1]`.
    pub lr: u64,
    /// The step t, 1-based (the bias corrections' exponent), i32 `[1]`.
    pub step: u64,
    /// The gradient clip factor, f32 `[1]` ([`crate::ops::reduce::Reduce::grad_norm`]'s), or 0
    /// for none.
    pub clip: u64,
}

/// The constants of one parameter group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    pub beta1: f32,
    pub beta2: f32,
    /// Added to √v̂.
    pub eps: f32,
    /// Decoupled weight decay λ (W shrinks by lr·λ per step); 0 for norms and biases.
    pub weight_decay: f32,
}

/// The AdamW kernel, for one activation type of the compute copy.
#[derive(Clone)]
pub struct AdamW {
    step: Kernel,
    act: DType,
}

const THREADS: u32 = 256;
/// Most blocks of a launch: the grid strides over the rest (eight per SM, four waves' worth).
const MAX_BLOCKS: usize = 4096;

impl AdamW {
    /// Builds the kernel for a compute copy of type `act`.
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let step = gpu.kernel(&kernels::ADAMW, &act_defines(act)?, "adamw_step")?;
        Ok(Self { step, act })
    }

    /// One AdamW step of the parameters `group` (a range of element indices of the flat
    /// buffers): updates W, m, v there in place and writes the compute copy. 16-byte
    /// vectorized when `group.start` is a multiple of 8 (and the buffers 16-byte aligned, as
    /// arena slots are); any other start runs element by element, with the same results.
    pub fn step(
        &self,
        gpu: &Gpu,
        flat: &Flat,
        group: Range<usize>,
        scalars: &StepScalars,
        hyper: &Hyper,
    ) -> Result<(), EngineError> {
        let n = group.len();
        if n == 0 {
            return Ok(());
        }
        let f32_at = |base: u64| base + 4 * group.start as u64;
        let copy = flat.copy + (self.act.size() * group.start) as u64;
        let grid = blocks(n.div_ceil(8), THREADS as usize, MAX_BLOCKS);
        // SAFETY: the flat buffers hold at least group.end elements (the caller's contract);
        // lr, step and clip are device scalars of the documented types (clip may be null).
        unsafe {
            gpu.launch(
                &self.step,
                (grid, 1, 1),
                (THREADS, 1, 1),
                0,
                &[
                    Arg::Ptr(f32_at(flat.params)),
                    Arg::Ptr(f32_at(flat.grads)),
                    Arg::Ptr(f32_at(flat.m)),
                    Arg::Ptr(f32_at(flat.v)),
                    Arg::Ptr(copy),
                    Arg::I64(long(n)),
                    Arg::Ptr(scalars.lr),
                    Arg::Ptr(scalars.step),
                    Arg::Ptr(scalars.clip),
                    Arg::F32(hyper.weight_decay),
                    Arg::F32(hyper.beta1),
                    Arg::F32(hyper.beta2),
                    Arg::F32(hyper.eps),
                ],
            )
        }
    }
}
