//! `--attention cublas` on burn's CUDA backend: causal attention whose products are cuBLAS
//! gemms, in `--matmul-gemm`'s precision (plain f32 when that is `burn`), and whose softmax,
//! softmax backward and RoPE are the kernels of `cublas_attention.cu`. Its node in burn's
//! autodiff graph, and what the node saves, are the fused kernel's (`fused_attention_cuda`,
//! which calls [`forward`] and [`backward`] from its custom operations).
//!
//! ```text
//! forward    S = Q' K'ᵀ                           [H, B, T, T], raw scores
//!            P = softmax(S / √D), causal          in place; lse [B, H, T]
//!            out = P V                            [B, T, H, D]
//! backward   S = Q' K'ᵀ,  dP = ∂out Vᵀ             recomputed from q, k and lse
//!            P,  ∂S = P ⊙ (dP − Δ) / √D            in place, Δ = rowsum(P ⊙ dP)
//!            ∂v = Pᵀ ∂out,  ∂q' = ∂S K',  ∂k' = ∂Sᵀ Q'
//! ```
//!
//! with `Q' = RoPE(q)`, `K' = RoPE(k)` (copies, when a table is given) and `∂q = RoPEᵀ(∂q')`.
//! Each product is one batched gemm over the `B·H` heads (cublasGemmBatchedEx, the matrices'
//! addresses written by a kernel): head `h` of batch row `b` of a `[B, T, H, D]` tensor is a
//! `[T, D]` matrix at element `b·T·C + h·D` with rows `C = H·D` apart, which no single stride
//! describes; so q, k, v, out and the gradients are read and written where they are, with no
//! head copies. The `[H, B, T, T]` buffers (one in the forward pass, two in the backward pass)
//! live only during their pass: the graph keeps `lse`, as FlashAttention does, and pays one
//! more `QKᵀ` gemm for it.

use super::cublas::{Pointers, pointer_gemm};
use super::cuda::{Arg, CubeTensor, DeviceBuffer, Module, compiled, empty};
use super::gemm::Gemm;
use burn::tensor::{DType, Shape};
use cudarc::driver::sys as cu;

const SOURCE: &str = include_str!("cublas_attention.cu");

/// Threads per block of every kernel here (8 warps; the softmax kernels take a warp per row).
const THREADS: u32 = 256;

/// `q, k, v` `[B, T, H, D]` (contiguous), RoPE table `[T, D/2, 2]` → `out` `[B, T, H, D]`,
/// `lse` `[B, H, T]` (log2 units of the scaled scores), with products in `engine`'s precision.
pub(super) fn forward(
    engine: Gemm,
    [q, k, v]: [&CubeTensor; 3],
    rope: Option<&CubeTensor>,
    [out, lse]: [&CubeTensor; 2],
) {
    let run = Run::on(q, engine);
    let (q, k) = (run.rotated(q, rope), run.rotated(k, rope));
    let Dims { b, t, h, d } = run.dims;
    let scores = empty(&q, Shape::new([h, b, t, t]), DType::F32);
    let [q, k, v, scores, out, lse] = [&q, &k, v, &scores, out, lse].map(DeviceBuffer::of);
    run.gemm(
        [t, t, d],
        (Heads, &q, false),
        (Heads, &k, true),
        (Scores, &scores),
    );
    run.rows(run.kernels.softmax, &[scores.ptr, lse.ptr]);
    run.gemm(
        [t, d, t],
        (Scores, &scores, false),
        (Heads, &v, false),
        (Heads, &out),
    );
}

/// `q, k, v, lse, ∂out` → `∂q, ∂k, ∂v` `[B, T, H, D]` (same layouts as [`forward`]).
pub(super) fn backward(
    engine: Gemm,
    [q, k, v, lse, dout]: [&CubeTensor; 5],
    rope: Option<&CubeTensor>,
    [dq, dk, dv]: [&CubeTensor; 3],
) {
    let run = Run::on(q, engine);
    let (q, k) = (run.rotated(q, rope), run.rotated(k, rope));
    let Dims { b, t, h, d } = run.dims;
    let shape = Shape::new([h, b, t, t]);
    let (scores, grad) = (
        empty(&q, shape.clone(), DType::F32),
        empty(&q, shape, DType::F32),
    );
    let buffers = [&q, &k, v, lse, dout, &scores, &grad, dq, dk, dv].map(DeviceBuffer::of);
    let [q_b, k_b, v_b, lse_b, dout_b, s, g, dq_b, dk_b, dv_b] = &buffers;
    run.gemm(
        [t, t, d],
        (Heads, q_b, false),
        (Heads, k_b, true),
        (Scores, s),
    );
    run.gemm(
        [t, t, d],
        (Heads, dout_b, false),
        (Heads, v_b, true),
        (Scores, g),
    );
    run.rows(run.kernels.softmax_backward, &[s.ptr, g.ptr, lse_b.ptr]);
    run.gemm(
        [t, d, t],
        (Scores, s, true),
        (Heads, dout_b, false),
        (Heads, dv_b),
    );
    run.gemm(
        [t, d, t],
        (Scores, g, false),
        (Heads, k_b, false),
        (Heads, dq_b),
    );
    run.gemm(
        [t, d, t],
        (Scores, g, true),
        (Heads, q_b, false),
        (Heads, dk_b),
    );
    if let Some(rope) = rope {
        let table = DeviceBuffer::of(rope);
        run.rotate(dq_b, dq_b, &table, -1.0);
        run.rotate(dk_b, dk_b, &table, -1.0);
    }
}

/// The dimensions of attention heads `[B, T, H, D]` (shared with the fused kernels).
#[derive(Clone, Copy, Debug)]
pub(super) struct Dims {
    pub b: usize,
    pub t: usize,
    pub h: usize,
    pub d: usize,
}

impl Dims {
    /// The dimensions of a `[B, T, H, D]` tensor.
    pub fn of(x: &CubeTensor) -> Self {
        let [b, t, h, d] = x.meta.shape().dims::<4>();
        Self { b, t, h, d }
    }
}

/// The two layouts the gemms read and write, seen as `H` batches (one per head) of `B`
/// row-major matrices each.
#[derive(Clone, Copy)]
enum Layout {
    /// `[B, T, H, D]`: head `h`'s `[T, D]` matrices start at element `h·D`, rows `H·D` apart,
    /// batch rows `T·H·D` apart.
    Heads,
    /// `[H, B, T, T]`: head `h`'s `[T, T]` matrices start at element `h·B·T²`, contiguous.
    Scores,
}
use Layout::{Heads, Scores};

impl Layout {
    /// Elements from one head's matrices to the next, from one batch row's to the next, and
    /// from one row of a matrix to the next.
    fn strides(self, dims: Dims) -> [usize; 3] {
        let Dims { b, t, h, d } = dims;
        match self {
            Heads => [d, t * h * d, h * d],
            Scores => [b * t * t, t * t, t],
        }
    }
}

/// The work of one pass: its device, stream, gemm precision, shape and kernels.
struct Run {
    like: CubeTensor,
    ordinal: usize,
    stream: cu::CUstream,
    engine: Gemm,
    dims: Dims,
    kernels: Kernels,
}

impl Run {
    /// A pass over heads shaped like `like` `[B, T, H, D]`, on its device and stream (every
    /// tensor of a pass shares them), with gemms in `engine`'s precision.
    fn on(like: &CubeTensor, engine: Gemm) -> Self {
        let ordinal = like.device.index;
        Self {
            like: like.clone(),
            ordinal,
            stream: DeviceBuffer::of(like).stream,
            engine,
            dims: Dims::of(like),
            kernels: Kernels::get(ordinal),
        }
    }

    /// `c = op(a) op(b)` for every head and batch row, `[m, n, k]` each: one batched gemm over
    /// the `B·H` matrices, their addresses written on the device by `head_pointers`.
    fn gemm(
        &self,
        mnk: [usize; 3],
        (a_layout, a, transpose_a): (Layout, &DeviceBuffer, bool),
        (b_layout, b, transpose_b): (Layout, &DeviceBuffer, bool),
        (c_layout, c): (Layout, &DeviceBuffer),
    ) {
        let count = self.dims.b * self.dims.h;
        let array = empty(&self.like, Shape::new([3 * count]), DType::U64);
        let array = DeviceBuffer::of(&array);
        let mut args = vec![Arg::Ptr(array.ptr)];
        for (layout, x) in [(a_layout, a), (b_layout, b), (c_layout, c)] {
            let [head, row, _] = layout.strides(self.dims);
            args.extend([Arg::Ptr(x.ptr), Arg::I64(head as i64), Arg::I64(row as i64)]);
        }
        args.extend([Arg::I32(count as i32), Arg::I32(self.dims.h as i32)]);
        let grid = (count.div_ceil(THREADS as usize) as u32, 1, 1);
        // SAFETY: head_pointers' signature; `array` holds 3·B·H addresses.
        unsafe {
            self.kernels
                .module
                .launch(self.kernels.pointers, grid, THREADS, self.stream, &args)
        };
        let operand = |i: usize, layout: Layout| Pointers {
            array: array.ptr + (i * count * size_of::<u64>()) as u64,
            ld: layout.strides(self.dims)[2],
        };
        // SAFETY: the addresses written just before on this stream point into live f32 cubecl
        // buffers of their layouts' shapes (held by the caller's `DeviceBuffer`s, the array by
        // `array`), resolved on `self.stream`.
        unsafe {
            pointer_gemm(
                (self.ordinal, self.stream),
                (DType::F32, self.engine),
                mnk,
                count,
                (operand(0, a_layout), transpose_a),
                (operand(1, b_layout), transpose_b),
                operand(2, c_layout),
            )
        };
    }

    /// Launches a softmax kernel, a warp per score row, with `pointers` then `B, T, H` and the
    /// scale `1/√D`.
    fn rows(&self, function: cu::CUfunction, pointers: &[u64]) {
        let Dims { b, t, h, d } = self.dims;
        let warps = (THREADS / 32) as usize;
        let grid = ((h * b * t).div_ceil(warps) as u32, 1, 1);
        let mut args: Vec<Arg> = pointers.iter().map(|&p| Arg::Ptr(p)).collect();
        args.extend([
            Arg::I32(b as i32),
            Arg::I32(t as i32),
            Arg::I32(h as i32),
            Arg::F32(1.0 / (d as f32).sqrt()),
        ]);
        // SAFETY: the signatures in cublas_attention.cu (score buffers [H, B, T, T], lse
        // [B, H, T], then B, T, H, scale), live buffers resolved on `self.stream`.
        unsafe {
            self.kernels
                .module
                .launch(function, grid, THREADS, self.stream, &args)
        };
    }

    /// `x` `[B, T, H, D]` rotated by the RoPE table (a new tensor), or `x` itself without a
    /// table.
    fn rotated(&self, x: &CubeTensor, rope: Option<&CubeTensor>) -> CubeTensor {
        let Some(rope) = rope else {
            return x.clone();
        };
        let y = empty(x, x.meta.shape().clone(), DType::F32);
        let [x_b, y_b, table] = [x, &y, rope].map(DeviceBuffer::of);
        self.rotate(&x_b, &y_b, &table, 1.0);
        y
    }

    /// `y = R x` over `[B, T, H, D]` by the table (`sign` −1: `Rᵀ`); `y` may be `x`.
    fn rotate(&self, x: &DeviceBuffer, y: &DeviceBuffer, table: &DeviceBuffer, sign: f32) {
        let Dims { b, t, h, d } = self.dims;
        let pairs = b * t * h * d / 2;
        let args = [
            Arg::Ptr(x.ptr),
            Arg::Ptr(y.ptr),
            Arg::Ptr(table.ptr),
            Arg::I64(pairs as i64),
            Arg::I32(t as i32),
            Arg::I32(h as i32),
            Arg::I32(d as i32),
            Arg::F32(sign),
        ];
        let grid = (pairs.div_ceil(THREADS as usize) as u32, 1, 1);
        // SAFETY: rope_rotate's signature; x and y [B, T, H, D], the table [T, D/2, 2], live
        // buffers resolved on `self.stream`.
        unsafe {
            self.kernels
                .module
                .launch(self.kernels.rotate, grid, THREADS, self.stream, &args)
        };
    }
}

/// The kernels of `cublas_attention.cu`, compiled once per device.
#[derive(Clone, Copy)]
struct Kernels {
    module: Module,
    softmax: cu::CUfunction,
    softmax_backward: cu::CUfunction,
    rotate: cu::CUfunction,
    pointers: cu::CUfunction,
}

impl Kernels {
    fn get(ordinal: usize) -> Self {
        compiled(ordinal, 0, || {
            let module = Module::compile(ordinal, SOURCE, "cublas_attention.cu", &[]);
            Self {
                module,
                softmax: module.function("causal_softmax"),
                softmax_backward: module.function("causal_softmax_backward"),
                rotate: module.function("rope_rotate"),
                pointers: module.function("head_pointers"),
            }
        })
    }
}
