//! cuBLAS gemms inside burn's CUDA backend (`--features cuda`), lazily and on cubecl's own
//! stream.
//!
//! [`gemm`] registers each product as a custom operation in burn's fusion stream, as burn's own
//! ops are: nothing runs until burn executes the stream, and then the gemm is enqueued on the
//! CUDA stream cubecl launches burn's kernels on (vendor/README.md: the one patch to
//! cubecl-cuda), so it is ordered with the kernels before and after it and the host never
//! waits. Burn fuses the element-wise work around it as usual.
//!
//! Layouts: burn's tensors are row-major. A row-major `[rows, cols]` matrix is the column-major
//! `[cols, rows]` one, so `C = op(A) op(B)` is issued as the column-major
//! `Cᵀ = op(B)ᵀ op(A)ᵀ` with no data moved.

use super::cuda::{
    CubeTensor, DeviceBuffer, Handles, PrimaryContext, Runtime, empty, execute_on_device_thread,
    fused,
};
use super::gemm::Gemm;
use crate::device::CudaBackend;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive};
use burn_fusion::stream::{Operation, OperationStreams};
use burn_ir::{CustomOpIr, OperationIr, OperationOutput, TensorIr};
use cudarc::cublas::{result as cublas, sys as blas};
use cudarc::driver::sys as cu;
use std::cell::RefCell;
use std::ffi::c_void;

/// `op(a) · op(b)` for each matrix of a batch: `a: [batch_a, ra, ca]`, `b: [batch_b, rb, cb]`,
/// `op` the transpose where `transpose_*` says so; `[batch, m, n]` out with `batch` the larger
/// of the two batches (the other must be equal or 1: one matrix used for the whole batch).
/// Operands of one dtype, f32 or bf16; the output has it too.
///
/// # Panics
/// On mismatched shapes or dtypes (a bug of the caller), and when the gemm runs on a CUDA or
/// cuBLAS error (a lost device, or libcublas not found: on the GPU host, `LD_LIBRARY_PATH` must
/// reach the CUDA toolkit's `targets/x86_64-linux/lib`).
pub(crate) fn gemm(
    a: Tensor<CudaBackend, 3>,
    transpose_a: bool,
    b: Tensor<CudaBackend, 3>,
    transpose_b: bool,
    engine: Gemm,
) -> Tensor<CudaBackend, 3> {
    let ([batch_a, ra, ca], [batch_b, rb, cb]) = (a.dims(), b.dims());
    let (m, k) = if transpose_a { (ca, ra) } else { (ra, ca) };
    let (k_b, n) = if transpose_b { (cb, rb) } else { (rb, cb) };
    assert_eq!(k, k_b, "gemm: inner dimensions {k} and {k_b}");
    assert!(
        batch_a == batch_b || batch_a == 1 || batch_b == 1,
        "gemm: batches {batch_a} and {batch_b}"
    );
    assert_eq!(a.dtype(), b.dtype(), "gemm: operand dtypes");
    assert!(engine != Gemm::Burn, "gemm: cuBLAS was not asked for");
    let dtype = a.dtype();
    let (a, b) = (fused(a), fused(b));
    let client = a.client.clone();
    let streams = OperationStreams::with_inputs([&a, &b]);
    let out = TensorIr::uninit(
        client.create_empty_handle(),
        Shape::new([batch_a.max(batch_b), m, n]),
        dtype,
    );
    let desc = CustomOpIr::new("spectral_cublas_gemm", &[a.into_ir(), b.into_ir()], &[out]);
    let operation = GemmOp {
        desc: desc.clone(),
        transpose_a,
        transpose_b,
        engine,
    };
    let out = client
        .register(streams, OperationIr::Custom(desc), operation)
        .output();
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The gemm as burn's fusion stream runs it.
#[derive(Clone, Debug)]
struct GemmOp {
    desc: CustomOpIr,
    transpose_a: bool,
    transpose_b: bool,
    engine: Gemm,
}

impl Operation<Runtime> for GemmOp {
    fn execute(&self, handles: &mut Handles) {
        execute_on_device_thread(&self.desc, handles, |inputs| {
            let [a, b] = [&inputs[0], &inputs[1]];
            let out = &self.desc.outputs[0];
            let c = empty(a, out.shape.clone(), out.dtype);
            run_gemm(a, self.transpose_a, b, self.transpose_b, &c, self.engine);
            vec![c]
        });
    }
}

/// One batch of row-major matrices in a cubecl buffer.
struct Matrices {
    buffer: DeviceBuffer,
    batch: usize,
    rows: usize,
    cols: usize,
}

impl Matrices {
    fn of(tensor: &CubeTensor) -> Self {
        let [batch, rows, cols] = tensor.meta.shape().dims::<3>();
        Self {
            buffer: DeviceBuffer::of(tensor),
            batch,
            rows,
            cols,
        }
    }

    /// Elements between consecutive matrices: 0 for one matrix shared by the whole batch.
    fn stride(&self) -> usize {
        if self.batch == 1 {
            0
        } else {
            self.rows * self.cols
        }
    }
}

/// `c = op(a) op(b)` on `c`'s stream; `c` is contiguous `[batch, m, n]`.
fn run_gemm(
    a: &CubeTensor,
    transpose_a: bool,
    b: &CubeTensor,
    transpose_b: bool,
    c: &CubeTensor,
    engine: Gemm,
) {
    let (dtype, ordinal) = (a.dtype, a.device.index);
    let (a, b, c) = (Matrices::of(a), Matrices::of(b), Matrices::of(c));
    let k = if transpose_a { a.rows } else { a.cols };
    let operand = |x: &Matrices| Strided {
        ptr: x.buffer.ptr,
        ld: x.cols,
        stride: x.stride(),
    };
    // SAFETY: the pointers are live cubecl buffers (held by the `Matrices`) of the shapes and
    // dtype given, contiguous, resolved on `c`'s stream.
    unsafe {
        strided_gemm(
            (ordinal, c.buffer.stream),
            (dtype, engine),
            [c.rows, c.cols, k],
            c.batch,
            (operand(&a), transpose_a),
            (operand(&b), transpose_b),
            operand(&c),
        )
    };
}

/// One operand of [`strided_gemm`]: a batch of row-major matrices, the first at device address
/// `ptr`, rows `ld` elements apart, consecutive matrices `stride` elements apart (0: one matrix
/// for the whole batch).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided {
    pub ptr: u64,
    pub ld: usize,
    pub stride: usize,
}

/// `cᵢ = op(aᵢ) op(bᵢ)` for `i < batch`, each `cᵢ` `[m, n]` with inner size `k` (`[m, n, k]`),
/// enqueued on `stream` of device `ordinal` (`at`). Operands of `dtype` (f32 or bf16), products
/// in `engine`'s precision (`precision`); `op` the transpose where the operand's flag says so.
///
/// # Safety
/// Every operand must address live device memory of `dtype` covering the matrices described,
/// written by work ordered before this call on `stream` and not freed before the gemm runs
/// (cubecl frees and reuses memory in its stream's order).
///
/// # Panics
/// On a dtype other than f32 or bf16, or a cuBLAS error (a lost device, or libcublas not found:
/// on the GPU host, `LD_LIBRARY_PATH` must reach the CUDA toolkit's `targets/x86_64-linux/lib`).
pub(crate) unsafe fn strided_gemm(
    (ordinal, stream): (usize, cu::CUstream),
    precision: (DType, Gemm),
    [m, n, k]: [usize; 3],
    batch: usize,
    (a, transpose_a): (Strided, bool),
    (b, transpose_b): (Strided, bool),
    c: Strided,
) {
    let (data_type, compute) = types(precision);
    let (alpha, beta) = (1.0f32, 0.0f32);
    with_handle(ordinal, stream, |handle| {
        // SAFETY: the caller's contract. Row-major `c = op(a) op(b)` is the column-major
        // `cᵀ = op(b)ᵀ op(a)ᵀ`, so b goes first and m, n swap.
        unsafe {
            cublas::gemm_strided_batched_ex(
                handle,
                flag(transpose_b),
                flag(transpose_a),
                n as i32,
                m as i32,
                k as i32,
                (&alpha as *const f32).cast::<c_void>(),
                b.ptr as *const c_void,
                data_type,
                b.ld as i32,
                b.stride as i64,
                a.ptr as *const c_void,
                data_type,
                a.ld as i32,
                a.stride as i64,
                (&beta as *const f32).cast::<c_void>(),
                c.ptr as *mut c_void,
                data_type,
                c.ld as i32,
                c.stride as i64,
                batch as i32,
                compute,
                blas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
            .expect("cublasGemmStridedBatchedEx");
        }
    });
}

/// One operand of [`pointer_gemm`]: the device address of an array of `batch` device
/// addresses (u64), one row-major matrix each, rows `ld` elements apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pointers {
    pub array: u64,
    pub ld: usize,
}

/// [`strided_gemm`] with each operand's matrices anywhere in memory, their addresses in a
/// device array (cublasGemmBatchedEx): for batches no single stride describes.
///
/// # Safety
/// As [`strided_gemm`], for every address in the arrays; the arrays themselves must be
/// written by work ordered before this call on `stream`.
///
/// # Panics
/// As [`strided_gemm`].
pub(crate) unsafe fn pointer_gemm(
    (ordinal, stream): (usize, cu::CUstream),
    precision: (DType, Gemm),
    [m, n, k]: [usize; 3],
    batch: usize,
    (a, transpose_a): (Pointers, bool),
    (b, transpose_b): (Pointers, bool),
    c: Pointers,
) {
    let (data_type, compute) = types(precision);
    let (alpha, beta) = (1.0f32, 0.0f32);
    with_handle(ordinal, stream, |handle| {
        // SAFETY: the caller's contract; operands swapped as in `strided_gemm`.
        let status = unsafe {
            blas::cublasGemmBatchedEx(
                handle,
                flag(transpose_b),
                flag(transpose_a),
                n as i32,
                m as i32,
                k as i32,
                (&alpha as *const f32).cast::<c_void>(),
                b.array as *const *const c_void,
                data_type,
                b.ld as i32,
                a.array as *const *const c_void,
                data_type,
                a.ld as i32,
                (&beta as *const f32).cast::<c_void>(),
                c.array as *const *mut c_void,
                data_type,
                c.ld as i32,
                batch as i32,
                compute,
                blas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        };
        assert_eq!(
            status,
            blas::cublasStatus_t::CUBLAS_STATUS_SUCCESS,
            "cublasGemmBatchedEx"
        );
    });
}

/// cuBLAS's data and compute types for operands of a dtype (f32 or bf16) and an engine.
fn types(precision: (DType, Gemm)) -> (blas::cudaDataType, blas::cublasComputeType_t) {
    use blas::cublasComputeType_t as C;
    use blas::cudaDataType as T;
    match precision {
        (DType::BF16, _) => (T::CUDA_R_16BF, C::CUBLAS_COMPUTE_32F),
        (DType::F32, Gemm::CublasBf16) => (T::CUDA_R_32F, C::CUBLAS_COMPUTE_32F_FAST_16BF),
        (DType::F32, Gemm::CublasTf32) => (T::CUDA_R_32F, C::CUBLAS_COMPUTE_32F_FAST_TF32),
        (DType::F32, _) => (T::CUDA_R_32F, C::CUBLAS_COMPUTE_32F_PEDANTIC),
        (other, _) => panic!("cuBLAS gemm on {other:?}: f32 and bf16 only"),
    }
}

fn flag(transpose: bool) -> blas::cublasOperation_t {
    if transpose {
        blas::cublasOperation_t::CUBLAS_OP_T
    } else {
        blas::cublasOperation_t::CUBLAS_OP_N
    }
}

/// Runs `f` with this thread's cuBLAS handle for device `ordinal`, bound to `stream`.
fn with_handle(ordinal: usize, stream: cu::CUstream, f: impl FnOnce(blas::cublasHandle_t)) {
    CUBLAS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let context = cell.get_or_insert_with(|| CublasContext::new(ordinal));
        context.bind(stream);
        f(context.handle);
    });
}

/// One cuBLAS handle per thread (handles are not shared across threads), bound to the stream
/// of the last gemm.
struct CublasContext {
    context: PrimaryContext,
    handle: blas::cublasHandle_t,
    stream: cu::CUstream,
}

thread_local! {
    static CUBLAS: RefCell<Option<CublasContext>> = const { RefCell::new(None) };
}

impl CublasContext {
    fn new(ordinal: usize) -> Self {
        let context = PrimaryContext::retain(ordinal);
        let handle =
            cublas::create_handle().expect("cuBLAS handle (is libcublas on LD_LIBRARY_PATH?)");
        Self {
            context,
            handle,
            stream: std::ptr::null_mut(),
        }
    }

    /// Makes the context current on this thread and points the handle at `stream`.
    fn bind(&mut self, stream: cu::CUstream) {
        self.context.make_current();
        if stream != self.stream {
            // SAFETY: a live handle, and a stream of cubecl's that lives as long as its server.
            unsafe { cublas::set_stream(self.handle, stream as blas::cudaStream_t) }
                .expect("cuBLAS stream");
            self.stream = stream;
        }
    }
}
