//! What the cuBLAS gemms (`cublas`) and the custom kernels (`*_cuda`) share on burn's CUDA
//! backend (`--features cuda`): the backend under burn's fusion layer, a tensor's device
//! buffer with the stream cubecl resolved it on, the CUDA context a thread must have current
//! to call the driver or cuBLAS, and NVRTC-compiled kernels with their per-thread cache.
//!
//! They register custom operations in burn's fusion stream. When burn executes the stream, an
//! operation reads its inputs' buffers here and enqueues its work on their stream: the CUDA
//! stream cubecl launches burn's kernels on (vendor/README.md: the one patch to cubecl-cuda).
//! It is ordered with the kernels before and after it, and the host never waits.

use crate::device::CudaBackend;
use burn::cubecl::cuda::CudaRuntime;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive};
use burn_fusion::{FusionBackend, FusionRuntime, FusionTensor};
use burn_ir::HandleContainer;
use cudarc::driver::{result as driver, sys as cu};
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;

/// The backend under burn's fusion layer: its tensors carry cubecl buffers.
pub(crate) type CubeBackend = burn_cubecl::CubeBackend<CudaRuntime, f32, i32, u8>;
pub(crate) type Runtime = <CubeBackend as FusionBackend>::FusionRuntime;
pub(crate) type Handles = HandleContainer<<Runtime as FusionRuntime>::FusionHandle>;
pub(crate) type CubeTensor = burn_cubecl::tensor::CubeTensor<CudaRuntime>;

/// `value` as a `To` when `From` is `To`, else `value` back: how a function generic over
/// burn's backend reaches its CUDA-only path (the backend is a type parameter there).
pub(crate) fn same_type<From: 'static, To: 'static>(value: From) -> Result<To, From> {
    let boxed: Box<dyn std::any::Any> = Box::new(value);
    match boxed.downcast::<To>() {
        Ok(value) => Ok(*value),
        Err(boxed) => Err(*boxed.downcast::<From>().expect("a value of its own type")),
    }
}

/// Whether `B` is burn's CUDA backend, with or without autodiff: the backends whose tensors
/// [`same_type`] can bring to the CUDA-only paths.
pub(crate) fn is_cuda<B: 'static>() -> bool {
    use std::any::TypeId;
    let backend = TypeId::of::<B>();
    backend == TypeId::of::<CudaBackend>()
        || backend == TypeId::of::<burn::backend::Autodiff<CudaBackend>>()
}

/// The fusion tensor under a float tensor of burn's CUDA backend.
///
/// # Panics
/// On a quantized tensor (none of ours are).
pub(crate) fn fused<const D: usize>(tensor: Tensor<CudaBackend, D>) -> FusionTensor<Runtime> {
    match tensor.into_primitive() {
        TensorPrimitive::Float(t) => t,
        TensorPrimitive::QFloat(_) => panic!("a float tensor was expected, not a quantized one"),
    }
}

/// `tensor` itself when its buffer is row-major contiguous, else a contiguous copy.
pub(crate) fn contiguous(tensor: CubeTensor) -> CubeTensor {
    if tensor.is_contiguous() {
        tensor
    } else {
        burn_cubecl::kernel::into_contiguous(tensor)
    }
}

/// Runs `work` on the device thread of `like`'s cubecl client, in one blocking round trip.
///
/// cubecl serves each device from its own thread, and every request that returns something
/// (a buffer's address for [`DeviceBuffer::of`], an allocation) is a round trip to it that
/// first drains its queue of launches; from that thread itself the same requests run inline.
/// A custom operation does its allocations, address lookups and launches inside `work`, so
/// burn's fusion thread waits once per operation instead of once per buffer (about 2,400
/// round trips a char-GPT training step otherwise; on an H100 the step gained 2–4 % from
/// this, within the spread between runs: `docs/results/gpu/2026-11-25-h100-d/`).
pub(crate) fn on_device_thread<R: Send + 'static>(
    like: &CubeTensor,
    work: impl FnOnce() -> R + Send,
) -> R {
    like.client
        .exclusive(work)
        .expect("cubecl's device thread is alive")
}

/// The body of a custom operation's `execute` over float tensors: takes the inputs of `desc`
/// from `handles`, runs `run` on them (made contiguous) on the device thread
/// ([`on_device_thread`]), and registers what it returns as the outputs of `desc`, in order.
pub(crate) fn execute_on_device_thread(
    desc: &burn_ir::CustomOpIr,
    handles: &mut Handles,
    run: impl FnOnce(Vec<CubeTensor>) -> Vec<CubeTensor> + Send,
) {
    let inputs: Vec<CubeTensor> = desc
        .inputs
        .iter()
        .map(|ir| handles.get_float_tensor::<CubeBackend>(ir))
        .collect();
    let like = inputs[0].clone();
    let outputs = on_device_thread(&like, || run(inputs.into_iter().map(contiguous).collect()));
    assert_eq!(outputs.len(), desc.outputs.len(), "one tensor per output");
    for (ir, tensor) in desc.outputs.iter().zip(outputs) {
        handles.register_float_tensor::<CubeBackend>(&ir.id, tensor);
    }
}

/// A new contiguous tensor of `shape` and `dtype` on `like`'s device, uninitialized.
pub(crate) fn empty(like: &CubeTensor, shape: Shape, dtype: DType) -> CubeTensor {
    burn_cubecl::ops::numeric::empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        shape,
        dtype,
    )
}

/// A tensor's device memory: its address, the stream cubecl resolved it on, and the resource
/// that keeps the allocation alive while this value lives.
pub(crate) struct DeviceBuffer {
    pub ptr: u64,
    pub stream: cu::CUstream,
    _resource: Box<dyn std::any::Any>,
}

impl DeviceBuffer {
    /// # Panics
    /// When cubecl cannot resolve a live tensor's buffer, or runs without spectral's stream
    /// patch (vendor/README.md).
    pub fn of(tensor: &CubeTensor) -> Self {
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
            _resource: Box::new(resource),
        }
    }
}

/// The value `compile()` built on this thread's first call for kernel type `K` on device
/// `ordinal` with compile-time `variant` (a head width, a row width; 0 where there is none),
/// copied. Each family of kernels (`Kernels` in the `*_cuda` modules) keeps its compiled
/// module and functions here, for the life of the thread.
pub(crate) fn compiled<K: Copy + 'static>(
    ordinal: usize,
    variant: usize,
    compile: impl FnOnce() -> K,
) -> K {
    /// Compiled kernels by (their type, device, variant).
    type Cache = HashMap<(TypeId, usize, usize), Box<dyn Any>>;
    thread_local! {
        static CACHE: RefCell<Cache> = RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let entry = cache
            .entry((TypeId::of::<K>(), ordinal, variant))
            .or_insert_with(|| Box::new(compile()));
        *entry.downcast_ref::<K>().expect("an entry of its own type")
    })
}

/// A device's primary context (the one cubecl uses), retained once and never released.
#[derive(Clone, Copy)]
pub(crate) struct PrimaryContext(cu::CUcontext);

impl PrimaryContext {
    /// Retains device `ordinal`'s primary context and makes it current on this thread.
    ///
    /// # Panics
    /// When the driver or the device cannot be reached.
    pub fn retain(ordinal: usize) -> Self {
        driver::init().expect("CUDA driver init");
        let device = driver::device::get(ordinal as i32).expect("CUDA device");
        // SAFETY: the primary context of a device that exists; cubecl retains the same one.
        let context = unsafe { driver::primary_ctx::retain(device) }.expect("primary context");
        let context = Self(context);
        context.make_current();
        context
    }

    /// Makes the context current on this thread.
    pub fn make_current(self) {
        // SAFETY: a context retained in `retain`, never released.
        unsafe { driver::ctx::set_current(self.0) }.expect("set CUDA context");
    }
}

/// One argument of a kernel launch, in the order of the kernel's signature.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arg {
    /// A device pointer (0 for a null pointer).
    Ptr(u64),
    I32(i32),
    I64(i64),
    F32(f32),
}

/// Kernels of one CUDA C source compiled by NVRTC for one device, in its primary context.
#[derive(Clone, Copy)]
pub(crate) struct Module {
    context: PrimaryContext,
    module: cu::CUmodule,
}

impl Module {
    /// Compiles `source` (named `name` in errors) for device `ordinal`'s architecture with the
    /// `-D` `defines`, and loads it. Modules are never unloaded.
    ///
    /// # Panics
    /// When NVRTC is not found (on the GPU host, `LD_LIBRARY_PATH` must reach the CUDA
    /// toolkit's `targets/x86_64-linux/lib`) or the source does not compile.
    pub fn compile(ordinal: usize, source: &str, name: &str, defines: &[String]) -> Self {
        let context = PrimaryContext::retain(ordinal);
        let device = driver::device::get(ordinal as i32).expect("CUDA device");
        let capability = |attribute| {
            // SAFETY: a device handle the driver just returned.
            unsafe { driver::device::get_attribute(device, attribute) }.expect("device attribute")
        };
        use cu::CUdevice_attribute::{
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR as MAJOR,
            CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR as MINOR,
        };
        let (major, minor) = (capability(MAJOR), capability(MINOR));
        let mut options = vec![format!("--gpu-architecture=compute_{major}{minor}")];
        options.extend(defines.iter().map(|d| format!("-D{d}")));
        let options = cudarc::nvrtc::CompileOptions {
            options,
            name: Some(name.into()),
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(source, options)
            .unwrap_or_else(|e| panic!("NVRTC could not compile {name}: {e:?}"));
        let image = std::ffi::CString::new(ptx.to_src()).expect("PTX text without NUL");
        // SAFETY: a NUL-terminated PTX image, loaded into the current (primary) context.
        let module = unsafe { driver::module::load_data(image.as_ptr().cast()) }
            .unwrap_or_else(|e| panic!("load {name}: {e:?}"));
        Self { context, module }
    }

    /// The kernel `name` of this module.
    pub fn function(&self, name: &str) -> cu::CUfunction {
        let c_name = std::ffi::CString::new(name).expect("kernel name without NUL");
        // SAFETY: a module loaded in `compile`, never unloaded.
        unsafe { driver::module::get_function(self.module, c_name) }
            .unwrap_or_else(|e| panic!("kernel {name}: {e:?}"))
    }

    /// Enqueues `function` over `grid` blocks of `threads` threads on `stream`.
    ///
    /// # Safety
    /// `args` must match the kernel's signature, and every pointer must be a live buffer of
    /// the size the kernel reads or writes, resolved on `stream` (held by the caller's
    /// [`DeviceBuffer`]s until the launch is enqueued).
    pub unsafe fn launch(
        &self,
        function: cu::CUfunction,
        grid: (u32, u32, u32),
        threads: u32,
        stream: cu::CUstream,
        args: &[Arg],
    ) {
        self.context.make_current();
        // One 8-byte slot per argument; the driver reads each parameter's own size from the
        // start of its slot, which holds the value's bytes on a little-endian host.
        let mut slots: Vec<u64> = args
            .iter()
            .map(|arg| match *arg {
                Arg::Ptr(p) => p,
                Arg::I32(i) => u64::from(i as u32),
                Arg::I64(i) => i as u64,
                Arg::F32(x) => u64::from(x.to_bits()),
            })
            .collect();
        let mut params: Vec<*mut std::ffi::c_void> = slots
            .iter_mut()
            .map(|slot| (slot as *mut u64).cast())
            .collect();
        // SAFETY: the caller's contract; `params` points into `slots`, alive across the call.
        unsafe { driver::launch_kernel(function, grid, (threads, 1, 1), 0, stream, &mut params) }
            .expect("launch a CUDA kernel");
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!("Module::launch packs kernel arguments for a little-endian host");
