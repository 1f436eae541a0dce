//! Launchers of the engine's kernels: one struct per kernel family holding its compiled
//! kernels, built once by `new`. Their methods only enqueue launches on the GPU's stream (no
//! allocation, no host synchronization), so a training step made of them can be captured into
//! a CUDA graph and replayed.
//!
//! Arguments are device addresses (`u64`, from [`crate::Arena::ptr`]) and dimensions; 0 is the
//! null address where an argument is optional. Each method states the layout (row-major, shape
//! in brackets) and type of everything it reads and writes, and the launcher trusts that the
//! addresses point at that much device memory, as [`crate::gemm::gemm`] does. `ACT` is the
//! activation type the family was built for (f32 or bf16); all arithmetic is f32. No kernel
//! uses floating-point atomics: sums across rows go through per-block partials added in a fixed
//! order, so every result is the same bit for bit on every run.
//!
//! Attention has two paths: [`attention`], with stored probabilities on cuBLAS gemms (every
//! activation type), and [`flash_attention`], FlashAttention-2 on tensor cores (bf16); they share
//! the layout kernels of `attention`.

pub mod adamw;
pub mod attention;
pub mod bias_gelu;
pub mod cast;
pub mod cross_entropy;
pub mod embedding;
pub mod flash_attention;
pub mod layer_norm;
pub mod mdn_input;
pub mod mixture_nll;
pub mod reduce;

use crate::arena::DType;
use crate::error::EngineError;

/// The `-D` defines that select the activation type `act`.
pub(crate) fn act_defines(act: DType) -> Result<Vec<String>, EngineError> {
    match act {
        DType::F32 => Ok(vec!["ACT=float".into()]),
        DType::BF16 => Ok(vec!["ACT=bf16".into()]),
        DType::I32 | DType::F64 => Err(EngineError::Unsupported(
            "i32 or f64 activations (ACT is f32 or bf16)".into(),
        )),
    }
}

/// `value` as a kernel's `int`, or an error naming `what`.
pub(crate) fn int(what: &str, value: usize) -> Result<i32, EngineError> {
    i32::try_from(value)
        .map_err(|_| EngineError::Unsupported(format!("{what} = {value} does not fit an i32")))
}

/// `value` as a kernel's `long long`.
pub(crate) fn long(value: usize) -> i64 {
    i64::try_from(value).expect("a length below 2^63")
}

/// Blocks of `per_block` items each covering `n` items, at least 1 and at most `max`.
pub(crate) fn blocks(n: usize, per_block: usize, max: usize) -> u32 {
    n.div_ceil(per_block).clamp(1, max) as u32
}
