//! Row-major matrix products on cuBLAS: `C = α op(A) op(B) + β C`, batched with strides, on
//! the engine's stream and workspace (so they can be captured into a graph).
//!
//! All engine tensors are row-major; cuBLAS is column-major. A row-major `[r, c]` matrix is a
//! column-major `[c, r]` one with leading dimension `c`, so the product is computed as
//! `Cᵀ = op(B)ᵀ op(A)ᵀ`: cuBLAS's first operand is B, its second A, and no data moves.

use std::ffi::c_void;

use cudarc::cublas::{result as blas, sys};

use crate::arena::DType;
use crate::error::{DriverContext, EngineError};
use crate::gpu::Gpu;

/// How a product of f32 operands is computed. bf16 operands always compute on tensor cores with
/// f32 accumulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum F32Products {
    /// True f32 (cuBLAS's pedantic f32: no TF32, no reduced-precision shortcuts): the engine's
    /// parity mode.
    #[default]
    Exact,
    /// TF32 tensor cores: each operand rounded to a 10-bit significand (relative error ≤ 2⁻¹¹),
    /// products accumulated in f32. What PyTorch's `set_float32_matmul_precision("high")` and
    /// burn's cuBLAS TF32 gemm do.
    Tf32,
}

/// One operand of a product, as stored.
#[derive(Clone, Copy, Debug)]
pub struct Operand {
    pub ptr: u64,
    pub dtype: DType,
    /// Used transposed: A stored `[k, m]` (not `[m, k]`), B stored `[n, k]` (not `[k, n]`).
    pub transposed: bool,
    /// Elements from one batch item to the next; 0 shares the matrix across the batch.
    pub batch_stride: usize,
}

impl Operand {
    /// An untransposed matrix, shared across the batch.
    pub fn new(ptr: u64, dtype: DType) -> Self {
        Self {
            ptr,
            dtype,
            transposed: false,
            batch_stride: 0,
        }
    }

    pub fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }

    pub fn strided(self, batch_stride: usize) -> Self {
        Self {
            batch_stride,
            ..self
        }
    }
}

/// The shape of `C[m, n] = op(A)[m, k] op(B)[k, n]`, `batch` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
}

/// `C = alpha op(A) op(B) + beta C` with C row-major `[m, n]` (each batch item
/// `c.batch_stride` elements after the last). bf16 operands compute in f32 on tensor cores;
/// f32 operands as [`Gpu::f32_products`] says (true f32 unless set to TF32). C may be f32 or
/// bf16 either way.
pub fn gemm(
    gpu: &Gpu,
    dims: Dims,
    a: Operand,
    b: Operand,
    c: Operand,
    alpha: f32,
    beta: f32,
) -> Result<(), EngineError> {
    let Dims { m, n, k, batch } = dims;
    if a.dtype != b.dtype {
        return Err(EngineError::Unsupported(format!(
            "a product of {:?} and {:?} operands",
            a.dtype, b.dtype
        )));
    }
    let op = |t: bool| {
        if t {
            sys::cublasOperation_t::CUBLAS_OP_T
        } else {
            sys::cublasOperation_t::CUBLAS_OP_N
        }
    };
    // Column-major view (see the module doc): cuBLAS computes Cᵀ[n, m] = op(B)ᵀ op(A)ᵀ.
    let ldb = if b.transposed { k } else { n };
    let lda = if a.transposed { m } else { k };
    let compute = match (a.dtype, gpu.f32_products()) {
        (DType::BF16, _) => sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        (_, F32Products::Tf32) => sys::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
        (_, F32Products::Exact) => sys::cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC,
    };
    let int = |x: usize| i32::try_from(x).expect("a gemm dimension below 2^31");
    // SAFETY: the caller's operands are live device buffers of the stated shapes and types;
    // alpha and beta are host scalars read during the call (host pointer mode).
    unsafe {
        blas::gemm_strided_batched_ex(
            gpu.blas(),
            op(b.transposed),
            op(a.transposed),
            int(n),
            int(m),
            int(k),
            (&alpha as *const f32).cast::<c_void>(),
            b.ptr as *const c_void,
            data_type(b.dtype)?,
            int(ldb),
            b.batch_stride as i64,
            a.ptr as *const c_void,
            data_type(a.dtype)?,
            int(lda),
            a.batch_stride as i64,
            (&beta as *const f32).cast::<c_void>(),
            c.ptr as *mut c_void,
            data_type(c.dtype)?,
            int(n),
            c.batch_stride as i64,
            int(batch),
            compute,
            sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
        )
    }
    .doing(|| format!("gemm m={m} n={n} k={k} batch={batch}"))
}

fn data_type(dtype: DType) -> Result<sys::cudaDataType, EngineError> {
    match dtype {
        DType::F32 => Ok(sys::cudaDataType::CUDA_R_32F),
        DType::BF16 => Ok(sys::cudaDataType::CUDA_R_16BF),
        DType::I32 => Err(EngineError::Unsupported("an integer gemm".into())),
        DType::F64 => Err(EngineError::Unsupported("an f64 gemm".into())),
    }
}
