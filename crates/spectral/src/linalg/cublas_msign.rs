//! [`msign_batched`](super::msign_batched) with its matmuls on cuBLAS, for burn's CUDA backend
//! (`--features cuda`).
//!
//! burn 0.21's own CUDA matmuls run the Newton–Schulz products at a fraction of cuBLAS's rate
//! (README, GPU section), so the optimizers' orthogonalization can hand them to cuBLAS: the
//! normalization and the dtype casts stay burn ops; the `3 × steps` products of the iteration
//! run as `cublasGemmStridedBatchedEx` calls on burn's own device buffers.
//!
//! The iteration is the one [`msign_batched`](super::msign_batched) documents, on the smaller
//! Gram matrix, without transposing any data: a row-major `X: [r, c]` is the column-major
//! `Y = Xᵀ: [c, r]`, so each product is one gemm with the right transpose flags.
//!
//! - wide (`m ≤ n`, `r = m`): `G = Yᵀ Y`, `P = b G + c G²`, `Y ← a Y + Y P`
//! - tall (`m > n`, `r = n`): `G = Y Yᵀ`, `P = b G + c G²`, `Y ← a Y + P Y`
//!
//! (`P` is a polynomial in the symmetric `G`, hence symmetric.) Each step writes into the other
//! of two fresh burn buffers, so the input is never written.
//!
//! Synchronization: burn's CUDA streams are private to cubecl, so the products run on a stream
//! of this module after [`Backend::sync`] has drained burn's queue, and the function returns
//! only after that stream has finished. Two host round trips per call; the optimizers call it
//! once per group of same-shape matrices.

use super::newton_schulz::{MsignGemm, MsignMethod, msign_gemm, normalize};
use crate::device::CudaBackend;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, FloatDType, Tensor, TensorPrimitive};
use cudarc::cublas::{result as cublas, sys as blas};
use cudarc::driver::{result as driver, sys as cu};
use std::cell::RefCell;
use std::ffi::c_void;

/// The backend under burn's fusion layer: resolved tensors carry cubecl buffers.
type CubeBackend = burn_cubecl::CubeBackend<burn::cubecl::cuda::CudaRuntime, f32, i32, u8>;

/// Runs `msign_batched` on cuBLAS when `B` is burn's CUDA backend and [`msign_gemm`] asks for
/// it; otherwise hands `x` back untouched for burn's path.
pub(crate) fn dispatch<B: Backend>(
    x: Tensor<B, 3>,
    method: MsignMethod,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    let gemm = msign_gemm();
    if gemm == MsignGemm::Burn {
        return Err(x);
    }
    let boxed: Box<dyn std::any::Any> = Box::new(x);
    match boxed.downcast::<Tensor<CudaBackend, 3>>() {
        Ok(cuda) => {
            let out: Box<dyn std::any::Any> = Box::new(msign_batched_cublas(*cuda, method, gemm));
            Ok(*out.downcast::<Tensor<B, 3>>().expect("same type"))
        }
        Err(other) => Err(*other.downcast::<Tensor<B, 3>>().expect("same type")),
    }
}

/// `msign` of each matrix of `x: [batch, m, n]` on cuBLAS, `[batch, m, n]` out in `x`'s dtype.
/// `gemm` picks the operand type and math; [`MsignGemm::Burn`] is not accepted here.
///
/// # Panics
/// On a CUDA or cuBLAS error (a lost device, or libcublas not found: on the GPU host,
/// `LD_LIBRARY_PATH` must reach the CUDA toolkit's `targets/x86_64-linux/lib`).
pub fn msign_batched_cublas(
    x: Tensor<CudaBackend, 3>,
    method: MsignMethod,
    gemm: MsignGemm,
) -> Tensor<CudaBackend, 3> {
    let [batch, m, n] = x.dims();
    let device = x.device();
    let input_dtype = x.dtype();
    let (r, c) = (m.min(n), m.max(n));
    // Normalization in burn, in the input's precision (as msign_batched).
    let x = normalize(x, method);
    let (work, data_type, compute) = match gemm {
        MsignGemm::CublasBf16 => (
            DType::BF16,
            blas::cudaDataType::CUDA_R_16BF,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        ),
        MsignGemm::CublasTf32 => (
            DType::F32,
            blas::cudaDataType::CUDA_R_32F,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32,
        ),
        MsignGemm::CublasF32 | MsignGemm::Burn => (
            DType::F32,
            blas::cudaDataType::CUDA_R_32F,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_PEDANTIC,
        ),
    };
    let x = x.cast(FloatDType::from(work));
    // The iterates ping-pong between two fresh buffers; G and P are [batch, r, r]. `zeros`, not
    // `empty`: with `empty`, `dispatch_follows_the_switch` (6 steps: the result in the second
    // buffer) read back a result 100 % off on an H100 while the 5-step test passed; with
    // `zeros` both pass (the fusion layer's handling of `empty` outputs was not chased).
    let buffers = [
        Tensor::<CudaBackend, 3>::zeros([batch, m, n], (&device, work)),
        Tensor::<CudaBackend, 3>::zeros([batch, m, n], (&device, work)),
    ];
    let gram = Tensor::<CudaBackend, 3>::zeros([batch, r, r], (&device, work));
    let poly = Tensor::<CudaBackend, 3>::zeros([batch, r, r], (&device, work));

    let input = DeviceBuffer::of(&x);
    let iterates = [DeviceBuffer::of(&buffers[0]), DeviceBuffer::of(&buffers[1])];
    let g = DeviceBuffer::of(&gram);
    let p = DeviceBuffer::of(&poly);
    <CudaBackend as Backend>::sync(&device).expect("burn's CUDA queue drains");

    let elem = work.size();
    let coefficients = method.coefficients();
    CUBLAS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let ctx = cell.get_or_insert_with(|| CublasContext::new(device.index));
        ctx.make_current();
        let product = |ta,
                       tb,
                       dims: [usize; 3],
                       alpha: f32,
                       a: Operand,
                       b: Operand,
                       beta: f32,
                       out: Operand| {
            // SAFETY: every pointer is a live burn buffer of at least `batch × stride` elements
            // of `work`'s type (held by `DeviceBuffer`s until after the stream syncs), and burn
            // has finished all queued work on them (`Backend::sync` above).
            unsafe {
                cublas::gemm_strided_batched_ex(
                    ctx.handle,
                    ta,
                    tb,
                    dims[0] as i32,
                    dims[1] as i32,
                    dims[2] as i32,
                    (&alpha as *const f32).cast::<c_void>(),
                    a.ptr as *const c_void,
                    data_type,
                    a.ld as i32,
                    a.stride as i64,
                    b.ptr as *const c_void,
                    data_type,
                    b.ld as i32,
                    b.stride as i64,
                    (&beta as *const f32).cast::<c_void>(),
                    out.ptr as *mut c_void,
                    data_type,
                    out.ld as i32,
                    out.stride as i64,
                    batch as i32,
                    compute,
                    blas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )
                .expect("cublasGemmStridedBatchedEx");
            }
        };
        let (nn, t) = (
            blas::cublasOperation_t::CUBLAS_OP_N,
            blas::cublasOperation_t::CUBLAS_OP_T,
        );
        // Column-major Y = Xᵀ: [c, r] with leading dimension c when wide, [r, c] with r when tall.
        let ld = if m <= n { c } else { r };
        let gram_op = Operand {
            ptr: g.ptr,
            ld: r,
            stride: r * r,
        };
        let poly_op = Operand {
            ptr: p.ptr,
            ld: r,
            stride: r * r,
        };
        let mut src = Operand {
            ptr: input.ptr,
            ld,
            stride: r * c,
        };
        for (step, &(a, b, c5)) in coefficients.iter().enumerate() {
            let dst = Operand {
                ptr: iterates[step % 2].ptr,
                ..src
            };
            if m <= n {
                product(t, nn, [r, r, c], 1.0, src, src, 0.0, gram_op); // G = Yᵀ Y
            } else {
                product(nn, t, [r, r, c], 1.0, src, src, 0.0, gram_op); // G = Y Yᵀ
            }
            ctx.copy(p.ptr, g.ptr, batch * r * r * elem);
            product(
                nn,
                nn,
                [r, r, r],
                c5 as f32,
                gram_op,
                gram_op,
                b as f32,
                poly_op,
            ); // P = b G + c G²
            ctx.copy(dst.ptr, src.ptr, batch * r * c * elem);
            if m <= n {
                product(nn, nn, [c, r, r], 1.0, src, poly_op, a as f32, dst); // Y ← a Y + Y P
            } else {
                product(nn, nn, [r, c, r], 1.0, poly_op, src, a as f32, dst); // Y ← a Y + P Y
            }
            src = dst;
        }
        ctx.synchronize();
    });
    drop((input, g, p));
    let out = match coefficients.len() {
        0 => x,
        steps => buffers
            .into_iter()
            .nth((steps - 1) % 2)
            .expect("two buffers"),
    };
    out.cast(FloatDType::from(input_dtype))
}

/// One gemm operand: a batch of column-major matrices at `ptr`, leading dimension `ld`, `stride`
/// elements apart.
#[derive(Clone, Copy)]
struct Operand {
    ptr: u64,
    ld: usize,
    stride: usize,
}

/// A device pointer to a burn tensor's contiguous buffer, valid while this value lives: it
/// holds cubecl's resource (which keeps the allocation) and the resolved tensor.
struct DeviceBuffer {
    ptr: u64,
    _keep: Box<dyn std::any::Any>,
}

impl DeviceBuffer {
    /// Resolves burn's lazy (fused) tensor to its buffer, made contiguous if it was a view.
    /// A fresh contiguous tensor (`zeros`) shares its buffer with the fusion tensor, so what
    /// cuBLAS writes there is what burn reads afterwards.
    fn of(tensor: &Tensor<CudaBackend, 3>) -> Self {
        let fusion = match tensor.clone().into_primitive() {
            TensorPrimitive::Float(t) => t,
            TensorPrimitive::QFloat(_) => panic!("cuBLAS msign takes float tensors"),
        };
        let cube = fusion
            .client
            .clone()
            .resolve_tensor_float::<CubeBackend>(fusion);
        let cube = if cube.is_contiguous() {
            cube
        } else {
            burn_cubecl::kernel::into_contiguous(cube)
        };
        let resource = cube
            .client
            .get_resource(cube.handle.clone())
            .expect("cubecl resource of a live tensor");
        let ptr = resource.resource().ptr;
        Self {
            ptr,
            _keep: Box::new((resource, cube, tensor.clone())),
        }
    }
}

/// One cuBLAS handle bound to one stream, per thread (cuBLAS handles are not shared across
/// threads).
struct CublasContext {
    context: cu::CUcontext,
    stream: cu::CUstream,
    handle: blas::cublasHandle_t,
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
        let stream =
            driver::stream::create(driver::stream::StreamKind::NonBlocking).expect("CUDA stream");
        let handle =
            cublas::create_handle().expect("cuBLAS handle (is libcublas on LD_LIBRARY_PATH?)");
        // SAFETY: a live handle and stream of the current context.
        unsafe { cublas::set_stream(handle, stream as blas::cudaStream_t) }.expect("cuBLAS stream");
        Self {
            context,
            stream,
            handle,
        }
    }

    fn make_current(&self) {
        // SAFETY: the context retained in `new`, never released.
        unsafe { driver::ctx::set_current(self.context) }.expect("set CUDA context");
    }

    /// Copies `bytes` from `src` to `dst` on this stream.
    fn copy(&self, dst: u64, src: u64, bytes: usize) {
        // SAFETY: both are live device buffers of at least `bytes` bytes (see `DeviceBuffer`).
        unsafe { driver::memcpy_dtod_async(dst, src, bytes, self.stream) }
            .expect("cuMemcpyDtoDAsync");
    }

    fn synchronize(&self) {
        // SAFETY: the stream created in `new`.
        unsafe { driver::stream::synchronize(self.stream) }.expect("cuStreamSynchronize");
    }
}

/// These run only where a GPU is: on a machine without one (CI, the build box) each test
/// prints that it found none and returns. On the GPU host they run from the carried test
/// binary (README, GPU section).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceKind;
    use crate::linalg::test_util::gaussian;
    use crate::linalg::{msign_batched, set_msign_gemm};
    use burn::backend::NdArray;
    use burn::backend::cuda::CudaDevice;
    use burn::tensor::TensorData;

    fn gpu() -> Option<CudaDevice> {
        match DeviceKind::Cuda(0).check_built() {
            Ok(_) => Some(CudaDevice::new(0)),
            Err(e) => {
                eprintln!("no GPU here, cuBLAS msign not exercised: {e}");
                None
            }
        }
    }

    /// `batch` Gaussian `[m, n]` matrices, row-major.
    fn gaussian_batch(batch: usize, m: usize, n: usize) -> Vec<f32> {
        (0..batch)
            .flat_map(|i| {
                gaussian(m, n, 7 + i as u64)
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap()
            })
            .collect()
    }

    /// `‖a − b‖_F / ‖b‖_F`.
    fn relative_error(a: &[f32], b: &[f32]) -> f64 {
        let diff: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum();
        let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
        (diff / norm).sqrt()
    }

    /// cuBLAS msign against burn's msign on the CPU (NdArray, f32) on the same matrices, wide,
    /// tall and square, for each cuBLAS precision; and the iterates never touch the input.
    #[test]
    fn cublas_msign_matches_the_cpu_iteration() {
        let Some(device) = gpu() else { return };
        let method = MsignMethod::default();
        for (batch, m, n) in [(3, 96, 256), (2, 300, 128), (4, 64, 64)] {
            let data = gaussian_batch(batch, m, n);
            let cpu = msign_batched(
                Tensor::<NdArray, 3>::from_data(
                    TensorData::new(data.clone(), [batch, m, n]),
                    &Default::default(),
                ),
                method,
            )
            .into_data()
            .to_vec::<f32>()
            .unwrap();
            for (gemm, tolerance) in [
                (MsignGemm::CublasF32, 1e-4),
                (MsignGemm::CublasTf32, 2e-2),
                (MsignGemm::CublasBf16, 6e-2),
            ] {
                let x = Tensor::<CudaBackend, 3>::from_data(
                    TensorData::new(data.clone(), [batch, m, n]),
                    &device,
                );
                let out = msign_batched_cublas(x.clone(), method, gemm);
                assert_eq!(out.dims(), [batch, m, n]);
                assert_eq!(out.dtype(), DType::F32);
                let gpu = out.into_data().to_vec::<f32>().unwrap();
                let error = relative_error(&gpu, &cpu);
                eprintln!("{gemm} [{batch}, {m}, {n}]: relative error {error:.2e}");
                assert!(
                    error < tolerance,
                    "{gemm} [{batch}, {m}, {n}]: {error:.3e} ≥ {tolerance:e}"
                );
                let input = x.into_data().to_vec::<f32>().unwrap();
                assert_eq!(input, data, "{gemm}: the input was written");
            }
        }
    }

    /// Through the dispatch that the optimizers' `msign_batched` calls: burn's path when the
    /// switch says burn, cuBLAS's (equal to the direct call, bit for bit) when it does not.
    #[test]
    fn dispatch_follows_the_switch() {
        let Some(device) = gpu() else { return };
        let method = MsignMethod::PolarExpress { steps: 6 };
        let x = Tensor::<CudaBackend, 3>::from_data(
            TensorData::new(gaussian_batch(2, 48, 80), [2, 48, 80]),
            &device,
        );
        set_msign_gemm(MsignGemm::CublasF32);
        let switched = msign_batched(x.clone(), method).into_data();
        set_msign_gemm(MsignGemm::Burn);
        let direct = msign_batched_cublas(x.clone(), method, MsignGemm::CublasF32).into_data();
        let burn = msign_batched(x, method)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(switched, direct);
        // burn's CUDA matmul runs f32 on TF32 tensor cores, so burn's path is as far from the
        // f32 result as cuBLAS TF32 is (2.2e-3 measured on an H100, 2.3e-3 for cuBLAS TF32
        // against the CPU in the test above).
        let error = relative_error(&direct.to_vec::<f32>().unwrap(), &burn);
        assert!(error < 2e-2, "burn vs cuBLAS f32: {error:.3e}");
    }
}
