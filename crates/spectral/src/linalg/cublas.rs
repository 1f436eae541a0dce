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

use super::gemm::Gemm;
use crate::device::CudaBackend;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive};
use burn_cubecl::tensor::CubeTensor;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_fusion::{FusionBackend, FusionRuntime};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};
use cudarc::cublas::{result as cublas, sys as blas};
use cudarc::driver::{result as driver, sys as cu};
use std::cell::RefCell;
use std::ffi::c_void;

/// The backend under burn's fusion layer: its tensors carry cubecl buffers.
type CubeBackend = burn_cubecl::CubeBackend<burn::cubecl::cuda::CudaRuntime, f32, i32, u8>;
type Runtime = <CubeBackend as FusionBackend>::FusionRuntime;
type Handles = HandleContainer<<Runtime as FusionRuntime>::FusionHandle>;

/// `value` as a `To` when `From` is `To`, else `value` back: how a function generic over
/// burn's backend reaches its CUDA-only path (the backend is a type parameter there).
pub(crate) fn same_type<From: 'static, To: 'static>(value: From) -> Result<To, From> {
    let boxed: Box<dyn std::any::Any> = Box::new(value);
    match boxed.downcast::<To>() {
        Ok(value) => Ok(*value),
        Err(boxed) => Err(*boxed.downcast::<From>().expect("a value of its own type")),
    }
}

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

fn fused(tensor: Tensor<CudaBackend, 3>) -> burn_fusion::FusionTensor<Runtime> {
    match tensor.into_primitive() {
        TensorPrimitive::Float(t) => t,
        TensorPrimitive::QFloat(_) => panic!("cuBLAS gemm takes float tensors"),
    }
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
        let ([a, b], [out]) = self.desc.as_fixed();
        let a = contiguous(handles.get_float_tensor::<CubeBackend>(a));
        let b = contiguous(handles.get_float_tensor::<CubeBackend>(b));
        let c = burn_cubecl::ops::numeric::empty_device_contiguous_dtype(
            a.client.clone(),
            a.device.clone(),
            out.shape.clone(),
            out.dtype,
        );
        run_gemm(&a, self.transpose_a, &b, self.transpose_b, &c, self.engine);
        handles.register_float_tensor::<CubeBackend>(&out.id, c);
    }
}

fn contiguous(
    tensor: CubeTensor<burn::cubecl::cuda::CudaRuntime>,
) -> CubeTensor<burn::cubecl::cuda::CudaRuntime> {
    if tensor.is_contiguous() {
        tensor
    } else {
        burn_cubecl::kernel::into_contiguous(tensor)
    }
}

/// One batch of row-major matrices in a cubecl buffer: its device pointer, the stream cubecl
/// resolved it on, and the resource that keeps the allocation alive.
struct Matrices {
    ptr: u64,
    stream: cu::CUstream,
    batch: usize,
    rows: usize,
    cols: usize,
    _resource: Box<dyn std::any::Any>,
}

impl Matrices {
    fn of(tensor: &CubeTensor<burn::cubecl::cuda::CudaRuntime>) -> Self {
        let [batch, rows, cols] = tensor.meta.shape().dims::<3>();
        let resource = tensor
            .client
            .get_resource(tensor.handle.clone())
            .expect("cubecl resource of a live tensor");
        let (ptr, stream) = (resource.resource().ptr, resource.resource().stream);
        assert!(
            !stream.is_null(),
            "cubecl-cuda without spectral's stream patch"
        );
        Self {
            ptr,
            stream,
            batch,
            rows,
            cols,
            _resource: Box::new(resource),
        }
    }

    /// Elements between consecutive matrices: 0 for one matrix shared by the whole batch.
    fn stride(&self) -> i64 {
        if self.batch == 1 {
            0
        } else {
            (self.rows * self.cols) as i64
        }
    }
}

/// `c = op(a) op(b)` on `c`'s stream; `c` is contiguous `[batch, m, n]`.
fn run_gemm(
    a: &CubeTensor<burn::cubecl::cuda::CudaRuntime>,
    transpose_a: bool,
    b: &CubeTensor<burn::cubecl::cuda::CudaRuntime>,
    transpose_b: bool,
    c: &CubeTensor<burn::cubecl::cuda::CudaRuntime>,
    engine: Gemm,
) {
    let (a_dtype, device_index) = (a.dtype, a.device.index);
    let (a, b, c) = (Matrices::of(a), Matrices::of(b), Matrices::of(c));
    let (m, k) = if transpose_a {
        (a.cols, a.rows)
    } else {
        (a.rows, a.cols)
    };
    let n = c.cols;
    let (data_type, compute) = match (a_dtype, engine) {
        (DType::BF16, _) => (
            blas::cudaDataType::CUDA_R_16BF,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        ),
        (DType::F32, Gemm::CublasBf16) => (
            blas::cudaDataType::CUDA_R_32F,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_16BF,
        ),
        (DType::F32, Gemm::CublasTf32) => (
            blas::cudaDataType::CUDA_R_32F,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
        ),
        (DType::F32, _) => (
            blas::cudaDataType::CUDA_R_32F,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC,
        ),
        (other, _) => panic!("cuBLAS gemm on {other:?}: f32 and bf16 only"),
    };
    let flag = |transpose: bool| {
        if transpose {
            blas::cublasOperation_t::CUBLAS_OP_T
        } else {
            blas::cublasOperation_t::CUBLAS_OP_N
        }
    };
    let (alpha, beta) = (1.0f32, 0.0f32);
    CUBLAS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let context = cell.get_or_insert_with(|| CublasContext::new(device_index));
        context.bind(c.stream);
        // SAFETY: the pointers are live cubecl buffers (held by the `Matrices`) of the shapes
        // and dtype given, contiguous; the gemm is enqueued on the stream cubecl resolved them
        // on, after every kernel that wrote `a` and `b` and before any later kernel, and cubecl
        // frees or reuses memory in that stream's order.
        unsafe {
            cublas::gemm_strided_batched_ex(
                context.handle,
                flag(transpose_b),
                flag(transpose_a),
                n as i32,
                m as i32,
                k as i32,
                (&alpha as *const f32).cast::<c_void>(),
                b.ptr as *const c_void,
                data_type,
                b.cols as i32,
                b.stride(),
                a.ptr as *const c_void,
                data_type,
                a.cols as i32,
                a.stride(),
                (&beta as *const f32).cast::<c_void>(),
                c.ptr as *mut c_void,
                data_type,
                n as i32,
                (m * n) as i64,
                c.batch as i32,
                compute,
                blas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
            .expect("cublasGemmStridedBatchedEx");
        }
    });
}

/// One cuBLAS handle per thread (handles are not shared across threads), bound to the stream
/// of the last gemm.
struct CublasContext {
    context: cu::CUcontext,
    handle: blas::cublasHandle_t,
    stream: cu::CUstream,
}

thread_local! {
    static CUBLAS: RefCell<Option<CublasContext>> = const { RefCell::new(None) };
}

impl CublasContext {
    fn new(ordinal: usize) -> Self {
        driver::init().expect("CUDA driver init");
        let device = driver::device::get(ordinal as i32).expect("CUDA device");
        // SAFETY: the primary context of a device that exists; cubecl retains the same one.
        let context = unsafe { driver::primary_ctx::retain(device) }.expect("primary context");
        // SAFETY: a context just retained.
        unsafe { driver::ctx::set_current(context) }.expect("set CUDA context");
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
        // SAFETY: the context retained in `new`, never released.
        unsafe { driver::ctx::set_current(self.context) }.expect("set CUDA context");
        if stream != self.stream {
            // SAFETY: a live handle, and a stream of cubecl's that lives as long as its server.
            unsafe { cublas::set_stream(self.handle, stream as blas::cudaStream_t) }
                .expect("cuBLAS stream");
            self.stream = stream;
        }
    }
}
