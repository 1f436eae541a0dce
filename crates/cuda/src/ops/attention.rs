//! Causal multi-head self-attention as the models define it (`crates/models/src/attention.rs`),
//! here on cuBLAS: the scores and probabilities are stored, every product is one
//! strided-batched gemm over the `B·H` heads. It runs in every activation type (`f32` parity
//! mode and bf16) and is the fallback of [`flash_attention`](super::flash_attention).
//!
//! For the q, k, v projections' outputs `[B, T, C]`, `C = H·D`:
//!
//! ```text
//! prep       Q', K', V' = R(q + b_q), R(k + b_k), v + b_v        [B, H, T, D]   (R: RoPE, or 1)
//! forward    S = Q' K'ᵀ / √D                                      [B·H, T, T]    f32
//!            P = softmax(S), causal (0 above the diagonal)        [B·H, T, T]    ACT, saved
//!            Y' = P V',  y = rows(Y')                             [B, T, C]      ACT
//! backward   ∂Y' = heads(∂y);  ∂P = ∂Y' V'ᵀ;  ∂V' = Pᵀ ∂Y'
//!            ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P))                       written over P
//!            ∂Q' = ∂S K' / √D,  ∂K' = ∂Sᵀ Q' / √D
//!            ∂q, ∂k, ∂v = rows(Rᵀ ∂Q'), rows(Rᵀ ∂K'), rows(∂V')   [B, T, C]      ACT
//! ```
//!
//! `∂q` is the gradient with respect to the q projection's output (bias included), so the
//! biases' gradients are the column sums of `∂q`, `∂k`, `∂v` over the `B·T` rows: the same
//! column sum every Linear's bias gradient is, left to the Linear's backward.
//!
//! RoPE (RoFormer, Su et al. 2021, arXiv:2104.09864, as burn's `RotaryEncoding`) rotates the
//! interleaved pairs `(x₂ₚ, x₂ₚ₊₁)` of a head at position `t` by the angle `t·θₚ`,
//! `θₚ = 10000^(−2p/D)`, read from a table `[T, D/2, 2]` of `(cos, sin)` ([`rope_table`]).
//!
//! Launchers only: every buffer is a device address the caller planned. Per layer, the
//! forward pass writes [`CublasSaved`] for the backward pass; [`CublasScratch`] is needed only
//! within a pass and can be shared by all layers. The backward pass overwrites the saved
//! probabilities with `∂S`, so it runs once per forward pass.

use crate::arena::DType;
use crate::error::EngineError;
use crate::gemm::{Dims, Operand, gemm};
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;

/// The shape of one attention layer: `batch` sequences of `seq` positions, `heads` heads of
/// width `head_dim` (`C = heads · head_dim` channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionDims {
    /// `B`.
    pub batch: usize,
    /// `T`, memory slots included; need not be a multiple of any tile.
    pub seq: usize,
    /// `H`.
    pub heads: usize,
    /// `D`; a multiple of 8 (the layout kernels move 8 elements per thread).
    pub head_dim: usize,
}

impl AttentionDims {
    /// `C = H·D`.
    pub fn channels(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Elements of one `[B, T, C]` (equally `[B, H, T, D]`) tensor.
    pub fn elements(&self) -> usize {
        self.batch * self.seq * self.channels()
    }

    /// Elements of the `[B·H, T, T]` score matrices.
    pub fn score_elements(&self) -> usize {
        self.batch * self.heads * self.seq * self.seq
    }

    /// Query rows of all heads, `B·H·T`: the length of per-row statistics `[B, H, T]`.
    pub fn query_rows(&self) -> usize {
        self.batch * self.heads * self.seq
    }

    /// The contract every attention kernel relies on: no zero size, `D` a multiple of 8, and
    /// `B·H·T` rows and `B·H` heads countable in an `i32`.
    pub fn check(&self) -> Result<(), EngineError> {
        let AttentionDims {
            batch,
            seq,
            heads,
            head_dim,
        } = *self;
        if batch == 0 || seq == 0 || heads == 0 || head_dim == 0 {
            return Err(EngineError::Unsupported(format!(
                "attention of a zero size: {self:?}"
            )));
        }
        if !head_dim.is_multiple_of(8) {
            return Err(EngineError::Unsupported(format!(
                "attention heads of width {head_dim}: the kernels take multiples of 8"
            )));
        }
        if self.query_rows() > i32::MAX as usize || self.seq > i32::MAX as usize {
            return Err(EngineError::Unsupported(format!(
                "attention of {} query rows (at most 2^31 - 1)",
                self.query_rows()
            )));
        }
        Ok(())
    }

    /// The score scale `1/√D`.
    pub(crate) fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// Device addresses of the three attention operands: the projections' outputs, their
/// gradients, their biases, or their head-major copies, as each use says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Qkv {
    pub q: u64,
    pub k: u64,
    pub v: u64,
}

/// What an attention layer reads in its forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionInput {
    /// The q, k, v projections' outputs, `[B, T, C]` ACT each.
    pub rows: Qkv,
    /// Their biases, `[C]` f32 each; `None` when the projections have none.
    pub bias: Option<Qkv>,
    /// The RoPE table `[T, D/2, 2]` f32 ([`rope_table`]); `None`: no rotation.
    pub rope: Option<u64>,
}

/// What an attention layer reads in its backward pass, besides what its forward pass saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackwardInput {
    /// The forward pass's output `y` `[B, T, C]` ACT (the flash path reads it for
    /// `Δ = rowsum(∂y ⊙ y)`; the cuBLAS path, which has `P`, does not).
    pub y: u64,
    /// Its gradient `∂y` `[B, T, C]` ACT.
    pub dy: u64,
    /// The forward pass's RoPE table, or `None`.
    pub rope: Option<u64>,
}

/// A tensor the caller places in its arena: a name (unique within its list), elements, type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub name: &'static str,
    pub len: usize,
    pub dtype: DType,
}

/// RoPE's table `[seq, head_dim/2, 2]`: `(cos, sin)` of the angle `t·θₚ` of position `t` and
/// pair `p`, `θₚ = 1 / exp((2p / D) · ln 10000)`, in f32 in burn's order of operations
/// (`RotaryEncodingConfig::init`), so the engine rotates as the burn models do.
pub fn rope_table(seq: usize, head_dim: usize) -> Vec<f32> {
    let ln_base = 10000f32.ln();
    let theta: Vec<f32> = (0..head_dim / 2)
        .map(|p| 1.0 / ((2 * p) as f32 / head_dim as f32 * ln_base).exp())
        .collect();
    (0..seq)
        .flat_map(|t| {
            theta.iter().flat_map(move |&theta| {
                let angle = t as f32 * theta;
                [angle.cos(), angle.sin()]
            })
        })
        .collect()
}

/// The `-D` define of an activation type.
pub(crate) fn act_define(act: DType) -> Result<String, EngineError> {
    match act {
        DType::F32 => Ok("ACT=float".into()),
        DType::BF16 => Ok("ACT=bf16".into()),
        DType::I32 | DType::F64 => Err(EngineError::Unsupported(
            "integer or f64 activations in attention".into(),
        )),
    }
}

fn ptr_or_null(ptr: Option<u64>) -> Arg {
    Arg::Ptr(ptr.unwrap_or(0))
}

/// Threads per block of the elementwise and row kernels.
const THREADS: u32 = 256;

/// The kernels of `attention_layout.cu` for one activation type: the prep of q, k, v into
/// heads and the way back, shared by both attention paths.
pub(crate) struct LayoutKernels {
    rows_to_heads: Kernel,
    heads_to_rows: Kernel,
}

impl LayoutKernels {
    pub(crate) fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let defines = [act_define(act)?];
        let source = &kernels::ATTENTION_LAYOUT;
        Ok(Self {
            rows_to_heads: gpu.kernel(source, &defines, "rows_to_heads")?,
            heads_to_rows: gpu.kernel(source, &defines, "heads_to_rows")?,
        })
    }

    /// `Q', K', V'` `[B, H, T, D]` ACT from the input: biases added, q and k rotated.
    pub(crate) fn prep(
        &self,
        gpu: &Gpu,
        dims: AttentionDims,
        input: &AttentionInput,
        heads: &Qkv,
    ) -> Result<(), EngineError> {
        let bias = input.bias.map(|b| [b.q, b.k, b.v]);
        let rows = [input.rows.q, input.rows.k, input.rows.v];
        let out = [heads.q, heads.k, heads.v];
        for i in 0..3 {
            let rope = if i < 2 { input.rope } else { None };
            self.rows_to_heads(gpu, dims, rows[i], bias.map(|b| b[i]), rope, out[i])?;
        }
        Ok(())
    }

    /// `heads[b, h, t, :] = R_t (rows[b, t, hD..hD + D] + bias[hD..hD + D])`, ACT → ACT.
    pub(crate) fn rows_to_heads(
        &self,
        gpu: &Gpu,
        dims: AttentionDims,
        rows: u64,
        bias: Option<u64>,
        rope: Option<u64>,
        heads: u64,
    ) -> Result<(), EngineError> {
        let pointers = [
            Arg::Ptr(rows),
            ptr_or_null(bias),
            ptr_or_null(rope),
            Arg::Ptr(heads),
        ];
        launch_layout(gpu, &self.rows_to_heads, dims, &pointers)
    }

    /// `rows[b, t, hD..hD + D] = R_tᵀ heads[b, h, t, :]`, f32 → ACT (no rotation without a
    /// table).
    pub(crate) fn heads_to_rows(
        &self,
        gpu: &Gpu,
        dims: AttentionDims,
        heads: u64,
        rope: Option<u64>,
        rows: u64,
    ) -> Result<(), EngineError> {
        let pointers = [Arg::Ptr(heads), ptr_or_null(rope), Arg::Ptr(rows)];
        launch_layout(gpu, &self.heads_to_rows, dims, &pointers)
    }
}

/// Launches a kernel of `attention_layout.cu`, one thread per 8 elements of a `[B, T, C]`
/// tensor, with `pointers` then `B, T, H, D`.
fn launch_layout(
    gpu: &Gpu,
    kernel: &Kernel,
    dims: AttentionDims,
    pointers: &[Arg],
) -> Result<(), EngineError> {
    let mut args = pointers.to_vec();
    args.extend([dims.batch, dims.seq, dims.heads, dims.head_dim].map(|x| Arg::I32(x as i32)));
    let grid = (
        (dims.elements() / 8).div_ceil(THREADS as usize) as u32,
        1,
        1,
    );
    // SAFETY: rows_to_heads(rows, bias, rope, heads, B, T, H, D) and
    // heads_to_rows(heads, rope, rows, B, T, H, D); the caller's addresses hold the tensors of
    // `dims` in attention_layout.cu's layouts, null where optional.
    unsafe { gpu.launch(kernel, grid, (THREADS, 1, 1), 0, &args) }
}

/// What one layer's forward pass keeps for its backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CublasSaved {
    /// `Q', K', V'` `[B, H, T, D]` ACT (biases added, q and k rotated).
    pub heads: Qkv,
    /// `P` `[B·H, T, T]` ACT; the backward pass overwrites it with `∂S`.
    pub probs: u64,
}

impl CublasSaved {
    /// The buffers, in the order [`CublasSaved::at`] takes their addresses.
    pub fn buffers(dims: AttentionDims, act: DType) -> [Buffer; 4] {
        let heads = |name| Buffer {
            name,
            len: dims.elements(),
            dtype: act,
        };
        [
            heads("q_heads"),
            heads("k_heads"),
            heads("v_heads"),
            Buffer {
                name: "probs",
                len: dims.score_elements(),
                dtype: act,
            },
        ]
    }

    /// The saved tensors at `ptrs`, one address per entry of [`CublasSaved::buffers`].
    pub fn at([q, k, v, probs]: [u64; 4]) -> Self {
        Self {
            heads: Qkv { q, k, v },
            probs,
        }
    }
}

/// What a pass needs only while it runs; one set can serve every layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CublasScratch {
    /// `[B·H, T, T]` f32: `S` in the forward pass, `∂P` in the backward pass.
    pub scores: u64,
    /// `[3, B, H, T, D]` f32, the head-major gemm results: `Y'` (first third) in the forward
    /// pass, `∂Q', ∂K', ∂V'` in the backward pass.
    pub results: u64,
    /// `∂Y'` `[B, H, T, D]` ACT.
    pub dy_heads: u64,
}

impl CublasScratch {
    /// The buffers, in the order [`CublasScratch::at`] takes their addresses.
    pub fn buffers(dims: AttentionDims, act: DType) -> [Buffer; 3] {
        [
            Buffer {
                name: "scores",
                len: dims.score_elements(),
                dtype: DType::F32,
            },
            Buffer {
                name: "results",
                len: 3 * dims.elements(),
                dtype: DType::F32,
            },
            Buffer {
                name: "dy_heads",
                len: dims.elements(),
                dtype: act,
            },
        ]
    }

    /// The scratch at `ptrs`, one address per entry of [`CublasScratch::buffers`].
    pub fn at([scores, results, dy_heads]: [u64; 3]) -> Self {
        Self {
            scores,
            results,
            dy_heads,
        }
    }

    /// The three `[B, H, T, D]` f32 thirds of `results`.
    fn results(&self, dims: AttentionDims) -> Qkv {
        let third = (dims.elements() * DType::F32.size()) as u64;
        Qkv {
            q: self.results,
            k: self.results + third,
            v: self.results + 2 * third,
        }
    }
}

/// Causal self-attention on cuBLAS for one shape and activation type (see the module doc).
pub struct CublasAttention {
    dims: AttentionDims,
    act: DType,
    layout: LayoutKernels,
    softmax: Kernel,
    softmax_backward: Kernel,
}

impl CublasAttention {
    /// Compiles the kernels for `act` (f32 or bf16) after checking `dims`
    /// ([`AttentionDims::check`]).
    pub fn new(gpu: &mut Gpu, act: DType, dims: AttentionDims) -> Result<Self, EngineError> {
        dims.check()?;
        let defines = [act_define(act)?];
        let source = &kernels::CAUSAL_SOFTMAX;
        Ok(Self {
            dims,
            act,
            layout: LayoutKernels::new(gpu, act)?,
            softmax: gpu.kernel(source, &defines, "causal_softmax")?,
            softmax_backward: gpu.kernel(source, &defines, "causal_softmax_backward")?,
        })
    }

    pub fn dims(&self) -> AttentionDims {
        self.dims
    }

    /// `y` `[B, T, C]` ACT from `input`; writes `saved` for [`CublasAttention::backward`].
    /// Every address must hold the tensor its field names (sizes from the `buffers` lists).
    pub fn forward(
        &self,
        gpu: &Gpu,
        input: &AttentionInput,
        saved: &CublasSaved,
        scratch: &CublasScratch,
        y: u64,
    ) -> Result<(), EngineError> {
        let (dims, act, f32) = (self.dims, self.act, DType::F32);
        let (t, d) = (dims.seq, dims.head_dim);
        let heads = saved.heads;
        let y_heads = scratch.results(dims).q;
        self.layout.prep(gpu, dims, input, &heads)?;
        // S = Q' K'ᵀ / √D   [B·H, T, T] f32
        let (q, k, v) = (
            self.heads(heads.q, act),
            self.heads(heads.k, act),
            self.heads(heads.v, act),
        );
        let scores = self.scores(scratch.scores, f32);
        self.gemm(gpu, [t, t, d], q, k.t(), scores, dims.scale())?;
        let pointers = [scratch.scores, saved.probs];
        self.rows(gpu, &self.softmax, &pointers)?;
        // Y' = P V'   [B, H, T, D] f32
        let probs = self.scores(saved.probs, act);
        self.gemm(gpu, [t, d, t], probs, v, self.heads(y_heads, f32), 1.0)?;
        self.layout.heads_to_rows(gpu, dims, y_heads, None, y)
    }

    /// `grads` (`∂q, ∂k, ∂v` `[B, T, C]` ACT) from `input.dy` and what the forward pass saved
    /// (whose probabilities it overwrites with `∂S`).
    pub fn backward(
        &self,
        gpu: &Gpu,
        input: &BackwardInput,
        saved: &CublasSaved,
        scratch: &CublasScratch,
        grads: &Qkv,
    ) -> Result<(), EngineError> {
        let (dims, act, f32) = (self.dims, self.act, DType::F32);
        let (t, d) = (dims.seq, dims.head_dim);
        let heads = saved.heads;
        let results = scratch.results(dims);
        let (q, k, v) = (
            self.heads(heads.q, act),
            self.heads(heads.k, act),
            self.heads(heads.v, act),
        );
        let dy_heads = self.heads(scratch.dy_heads, act);
        let probs = self.scores(saved.probs, act);
        let rope = input.rope;
        self.layout
            .rows_to_heads(gpu, dims, input.dy, None, None, scratch.dy_heads)?;
        // ∂P = ∂Y' V'ᵀ   [B·H, T, T] f32;  ∂V' = Pᵀ ∂Y'   [B, H, T, D] f32
        let dp = self.scores(scratch.scores, f32);
        self.gemm(gpu, [t, t, d], dy_heads, v.t(), dp, 1.0)?;
        self.gemm(
            gpu,
            [t, d, t],
            probs.t(),
            dy_heads,
            self.heads(results.v, f32),
            1.0,
        )?;
        // ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P)), over P
        let pointers = [saved.probs, scratch.scores, saved.probs];
        self.rows(gpu, &self.softmax_backward, &pointers)?;
        let ds = probs;
        // ∂Q' = ∂S K' / √D,  ∂K' = ∂Sᵀ Q' / √D
        let scale = dims.scale();
        self.gemm(gpu, [t, d, t], ds, k, self.heads(results.q, f32), scale)?;
        self.gemm(gpu, [t, d, t], ds.t(), q, self.heads(results.k, f32), scale)?;
        let layout = &self.layout;
        layout.heads_to_rows(gpu, dims, results.q, rope, grads.q)?;
        layout.heads_to_rows(gpu, dims, results.k, rope, grads.k)?;
        layout.heads_to_rows(gpu, dims, results.v, None, grads.v)
    }

    /// One head-major `[T, D]` matrix per head.
    fn heads(&self, ptr: u64, dtype: DType) -> Operand {
        Operand::new(ptr, dtype).strided(self.dims.seq * self.dims.head_dim)
    }

    /// One `[T, T]` matrix per head.
    fn scores(&self, ptr: u64, dtype: DType) -> Operand {
        Operand::new(ptr, dtype).strided(self.dims.seq * self.dims.seq)
    }

    /// `c = alpha op(a) op(b)`, `[m, n, k]`, for each of the `B·H` heads.
    fn gemm(
        &self,
        gpu: &Gpu,
        [m, n, k]: [usize; 3],
        a: Operand,
        b: Operand,
        c: Operand,
        alpha: f32,
    ) -> Result<(), EngineError> {
        let batch = self.dims.batch * self.dims.heads;
        gemm(gpu, Dims { m, n, k, batch }, a, b, c, alpha, 0.0)
    }

    /// Launches a softmax kernel, a warp per score row, with `pointers` then the row count
    /// and `T`.
    fn rows(&self, gpu: &Gpu, kernel: &Kernel, pointers: &[u64]) -> Result<(), EngineError> {
        let rows = self.dims.query_rows();
        let mut args: Vec<Arg> = pointers.iter().map(|&p| Arg::Ptr(p)).collect();
        args.extend([Arg::I32(rows as i32), Arg::I32(self.dims.seq as i32)]);
        let grid = (rows.div_ceil((THREADS / 32) as usize) as u32, 1, 1);
        // SAFETY: causal_softmax(scores, probs, rows, T) and
        // causal_softmax_backward(probs, dp, ds, rows, T) in causal_softmax.cu; the addresses
        // hold [B·H, T, T] tensors of the stated types (the caller's contract).
        unsafe { gpu.launch(kernel, grid, (THREADS, 1, 1), 0, &args) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table against the closed form `(cos tθₚ, sin tθₚ)` in f64, over the SpacingMDN's
    /// 263 positions. The f32 angle `t·θₚ` carries a relative error of about 2⁻²³ from θₚ and
    /// from the product, so up to ~263·2·6e-8 ≈ 3e-5 in absolute terms; cos and sin pass it on.
    #[test]
    fn the_rope_table_is_cos_and_sin_of_position_times_frequency() {
        let (seq, d) = (263, 32);
        let table = rope_table(seq, d);
        assert_eq!(table.len(), seq * d);
        let mut worst = 0f64;
        for t in 0..seq {
            for p in 0..d / 2 {
                let angle = t as f64 * 10000f64.powf(-2.0 * p as f64 / d as f64);
                let at = (t * d / 2 + p) * 2;
                worst = worst.max((f64::from(table[at]) - angle.cos()).abs());
                worst = worst.max((f64::from(table[at + 1]) - angle.sin()).abs());
            }
        }
        assert!(worst < 5e-5, "{worst:.2e}");
        // Position 0 is the identity; pair 0 turns by one radian per position.
        assert_eq!(&table[..2], &[1.0, 0.0]);
        assert_eq!(table[d], 1f32.cos());
    }

    #[test]
    fn dims_outside_the_kernels_contract_are_refused() {
        let good = AttentionDims {
            batch: 2,
            seq: 263,
            heads: 8,
            head_dim: 32,
        };
        assert!(good.check().is_ok());
        for bad in [
            AttentionDims { batch: 0, ..good },
            AttentionDims {
                head_dim: 12,
                ..good
            },
            AttentionDims {
                batch: 1 << 20,
                seq: 1 << 12,
                ..good
            },
        ] {
            assert!(
                matches!(bad.check(), Err(EngineError::Unsupported(_))),
                "{bad:?}"
            );
        }
    }

    /// The planned sizes: GPT's layer (B 64, T 256, H 12, D 64) in bf16.
    #[test]
    fn buffers_are_sized_by_the_dims() {
        let dims = AttentionDims {
            batch: 64,
            seq: 256,
            heads: 12,
            head_dim: 64,
        };
        let n = 64 * 256 * 768;
        let saved = CublasSaved::buffers(dims, DType::BF16);
        assert_eq!(saved.map(|b| b.len), [n, n, n, 64 * 12 * 256 * 256]);
        let scratch = CublasScratch::buffers(dims, DType::BF16);
        assert_eq!(scratch.map(|b| b.len), [64 * 12 * 256 * 256, 3 * n, n]);
        assert_eq!(
            scratch.map(|b| b.dtype),
            [DType::F32, DType::F32, DType::BF16]
        );
        let at = CublasScratch::at([0, 1 << 30, 2 << 30]).results(dims);
        assert_eq!(
            [at.q, at.k, at.v],
            [1 << 30, (1 << 30) + 4 * n as u64, (1 << 30) + 8 * n as u64]
        );
    }
}
