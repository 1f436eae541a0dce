//! One GPU as the engine uses it: a CUDA context, one stream every kernel, gemm and copy is
//! enqueued on (a created stream, since the legacy default stream cannot be captured into a
//! graph), cuBLAS bound to that stream with an explicit workspace (so a captured gemm holds no
//! allocation), the arena, and the NVRTC-compiled kernel modules.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::{CudaContext, CudaModule, CudaSlice, CudaStream, DevicePtr, result, sys};

use crate::arena::{Layout, Slot};
use crate::error::{DriverContext, EngineError};
use crate::gemm::F32Products;
use crate::nvrtc::{self, KernelCache};

/// cuBLAS's workspace: 32 MiB, what cuBLAS itself recommends on Hopper.
const BLAS_WORKSPACE_BYTES: usize = 32 << 20;

/// A device, its stream, cuBLAS and the compiled kernels.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: blas_sys::cublasHandle_t,
    _blas_workspace: CudaSlice<u8>,
    arch: (i32, i32),
    cache: KernelCache,
    modules: HashMap<String, Arc<CudaModule>>,
    f32_products: F32Products,
}

/// One kernel argument, passed by value: a device address, an integer or a float.
#[derive(Clone, Copy, Debug)]
pub enum Arg {
    Ptr(u64),
    I32(i32),
    I64(i64),
    F32(f32),
}

/// A compiled kernel, ready to launch.
#[derive(Clone)]
pub struct Kernel {
    function: sys::CUfunction,
    name: &'static str,
    // Keeps the module (and so `function`) loaded.
    _module: Arc<CudaModule>,
}

/// A captured sequence of work on the GPU's stream, replayed by [`Graph::launch`].
pub struct Graph {
    graph: cudarc::driver::CudaGraph,
}

impl Graph {
    /// Enqueues one replay on the stream it was captured on.
    pub fn launch(&self) -> Result<(), EngineError> {
        self.graph.launch().doing(|| "launch the graph".into())
    }
}

/// The arena: one device allocation laid out by a [`Layout`].
pub struct Arena {
    base: u64,
    bytes: usize,
    _memory: CudaSlice<u8>,
}

impl Arena {
    /// The device address of `slot`.
    pub fn ptr(&self, slot: Slot) -> u64 {
        debug_assert!(
            slot.offset + slot.bytes() <= self.bytes,
            "slot inside the arena"
        );
        self.base + slot.offset as u64
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Gpu {
    /// Opens device `ordinal`: its primary context, a new stream, cuBLAS on that stream.
    /// Kernels compile into `cache` (see [`KernelCache::default_dir`]).
    pub fn open(ordinal: usize, cache: KernelCache) -> Result<Self, EngineError> {
        check_libraries()?;
        let ctx = CudaContext::new(ordinal).doing(|| format!("open device cuda:{ordinal}"))?;
        // One stream, raw addresses into one arena: cudarc's per-allocation event tracking
        // would only add events to every launch.
        // SAFETY: no CudaSlice of this context is used on another stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().doing(|| "create a stream".into())?;
        let arch = ctx
            .compute_capability()
            .doing(|| "read the compute capability".into())?;
        let blas = blas::create_handle().doing(|| "create a handle".into())?;
        let workspace = stream
            .alloc_zeros::<u8>(BLAS_WORKSPACE_BYTES)
            .doing(|| "allocate cuBLAS's workspace".into())?;
        let (workspace_ptr, _sync) = workspace.device_ptr(&stream);
        // SAFETY: a live handle, our stream, and a workspace that lives as long as the handle.
        unsafe {
            blas::set_stream(blas, stream.cu_stream() as _).doing(|| "set the stream".into())?;
            blas_sys::cublasSetWorkspace_v2(
                blas,
                workspace_ptr as *mut std::ffi::c_void,
                BLAS_WORKSPACE_BYTES,
            )
            .result()
            .doing(|| "set the workspace".into())?;
        }
        drop(_sync);
        Ok(Self {
            ctx,
            stream,
            blas,
            _blas_workspace: workspace,
            arch,
            cache,
            modules: HashMap::new(),
            f32_products: F32Products::Exact,
        })
    }

    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    pub(crate) fn blas(&self) -> blas_sys::cublasHandle_t {
        self.blas
    }

    /// How the gemms on this device multiply f32 operands ([`F32Products::Exact`] unless set).
    pub fn f32_products(&self) -> F32Products {
        self.f32_products
    }

    /// Sets how the gemms enqueued from now on multiply f32 operands; a graph captured
    /// before keeps the products it was captured with.
    pub fn set_f32_products(&mut self, products: F32Products) {
        self.f32_products = products;
    }

    /// Compute capability (major, minor).
    pub fn arch(&self) -> (i32, i32) {
        self.arch
    }

    /// Device name, as the driver reports it.
    pub fn name(&self) -> String {
        self.ctx.name().unwrap_or_else(|_| "unknown GPU".into())
    }

    /// Allocates the arena `layout` plans, zeroed.
    pub fn arena(&self, layout: &Layout) -> Result<Arena, EngineError> {
        let bytes = layout.bytes().max(1);
        let (free, total) = self.memory()?;
        if bytes > free {
            return Err(EngineError::OutOfMemory {
                device: self.name(),
                needed: bytes,
                free,
                total,
            });
        }
        let memory = self.stream.alloc_zeros::<u8>(bytes).doing(|| {
            format!(
                "allocate the arena ({:.2} GiB)",
                bytes as f64 / (1u64 << 30) as f64
            )
        })?;
        let (base, sync) = memory.device_ptr(&self.stream);
        drop(sync);
        Ok(Arena {
            base,
            bytes,
            _memory: memory,
        })
    }

    /// The kernel `function` of `source` compiled with `defines` (`NAME=VALUE`, passed as
    /// `-D`), compiling it on first use (through the disk cache) and keeping it loaded.
    pub fn kernel(
        &mut self,
        source: &nvrtc::Source,
        defines: &[String],
        function: &'static str,
    ) -> Result<Kernel, EngineError> {
        let key = format!("{}|{}", source.name, defines.join(","));
        let module = match self.modules.get(&key) {
            Some(module) => module.clone(),
            None => {
                let ptx = self.cache.ptx(source, defines, self.arch)?;
                let module = self
                    .ctx
                    .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
                    .doing(|| format!("load the module {}", source.name))?;
                self.modules.insert(key, module.clone());
                module
            }
        };
        let loaded = module
            .load_function(function)
            .doing(|| format!("find kernel {function} in {}", source.name))?;
        Ok(Kernel {
            function: loaded.cu_function(),
            name: function,
            _module: module,
        })
    }

    /// Enqueues `kernel` over `grid` blocks of `block` threads with `shared` bytes of
    /// dynamic shared memory.
    ///
    /// # Safety
    /// `args` must match the kernel's parameters in order and type, and every address must
    /// point at device memory of the size the kernel reads or writes.
    pub unsafe fn launch(
        &self,
        kernel: &Kernel,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        shared: u32,
        args: &[Arg],
    ) -> Result<(), EngineError> {
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
        if shared > 48 << 10 {
            // SAFETY: a loaded function; opting in to more than 48 KiB is how Hopper's 227 KiB
            // of shared memory per block is reached.
            unsafe {
                result::function::set_function_attribute(
                    kernel.function,
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    shared as i32,
                )
            }
            .doing(|| format!("give {} {shared} bytes of shared memory", kernel.name))?;
        }
        self.ctx
            .bind_to_thread()
            .doing(|| "bind the context".into())?;
        // SAFETY: the caller's contract; `params` points into `slots`, alive across the call.
        unsafe {
            result::launch_kernel(
                kernel.function,
                grid,
                block,
                shared,
                self.stream.cu_stream(),
                &mut params,
            )
        }
        .doing(|| format!("launch {}", kernel.name))
    }

    /// Copies `host` to the device at `ptr`, after all work enqueued so far and before all
    /// work enqueued later; the copy has landed when this returns.
    ///
    /// The copy goes on the stream, and the stream is drained after it. A synchronous
    /// `cuMemcpyHtoD` would not do: it runs on the legacy default stream, which a non-blocking
    /// stream is not ordered with, and from pageable memory it returns once the data is staged,
    /// before its DMA has landed. A kernel launched right after it read stale memory under
    /// the copy's tail, or had its stores overwritten by it (seen on the H200 in
    /// `tests/bias_gelu.rs`: rows 199..332 of a [333, 768] f32 upload).
    pub fn upload<T: cudarc::driver::DeviceRepr>(
        &self,
        ptr: u64,
        host: &[T],
    ) -> Result<(), EngineError> {
        self.ctx
            .bind_to_thread()
            .doing(|| "bind the context".into())?;
        // SAFETY: the caller's slot holds at least `host.len()` elements at `ptr`; `host` is
        // borrowed until the stream is drained below, so it outlives the copy.
        unsafe { result::memcpy_htod_async(ptr, host, self.stream.cu_stream()) }
            .doing(|| "copy to the device".into())?;
        self.synchronize()
    }

    /// Copies `bytes` bytes from device address `src` to `dst`, enqueued on the stream
    /// (capturable).
    pub fn copy(&self, dst: u64, src: u64, bytes: usize) -> Result<(), EngineError> {
        self.ctx
            .bind_to_thread()
            .doing(|| "bind the context".into())?;
        // SAFETY: the caller's slots span `bytes` bytes at both addresses.
        unsafe { result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream()) }
            .doing(|| "copy on the device".into())
    }

    /// Sets `bytes` bytes at `ptr` to zero, enqueued on the stream (capturable).
    pub fn zero(&self, ptr: u64, bytes: usize) -> Result<(), EngineError> {
        self.ctx
            .bind_to_thread()
            .doing(|| "bind the context".into())?;
        // SAFETY: the caller's slot spans `bytes` bytes at `ptr`.
        unsafe { result::memset_d8_async(ptr, 0, bytes, self.stream.cu_stream()) }
            .doing(|| "zero device memory".into())
    }

    /// Copies `host.len()` elements from the device at `ptr` to `host`, after all work
    /// enqueued so far.
    pub fn download<T: cudarc::driver::DeviceRepr>(
        &self,
        ptr: u64,
        host: &mut [T],
    ) -> Result<(), EngineError> {
        self.synchronize()?;
        // SAFETY: the caller's slot holds at least `host.len()` elements at `ptr`.
        unsafe { result::memcpy_dtoh_sync(host, ptr) }.doing(|| "copy from the device".into())
    }

    /// Records everything `enqueue` puts on the stream into a CUDA graph (nothing runs while
    /// it records), instantiated and uploaded for replay. `enqueue` must only enqueue: no
    /// allocation, no synchronization, no copy to or from pageable host memory.
    pub fn capture(
        &self,
        enqueue: impl FnOnce(&Self) -> Result<(), EngineError>,
    ) -> Result<Graph, EngineError> {
        self.stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .doing(|| "begin a graph capture".into())?;
        let recorded = enqueue(self);
        // End the capture even when enqueueing failed, so the stream is usable again.
        let ended = self.stream.end_capture(sys::CUgraphInstantiate_flags(0));
        recorded?;
        let graph = ended
            .doing(|| "end the graph capture".into())?
            .ok_or_else(|| EngineError::Unsupported("the captured graph is empty".into()))?;
        graph.upload().doing(|| "upload the graph".into())?;
        Ok(Graph { graph })
    }

    /// Waits for everything enqueued on the stream.
    pub fn synchronize(&self) -> Result<(), EngineError> {
        self.stream
            .synchronize()
            .doing(|| "wait for the stream".into())
    }

    /// Bytes (free, total) of device memory.
    pub fn memory(&self) -> Result<(usize, usize), EngineError> {
        self.ctx
            .mem_get_info()
            .doing(|| "read the memory info".into())
    }
}

/// The three libraries the engine loads at run time, each found or named with a hint (cudarc
/// panics on a missing one; this asks first).
fn check_libraries() -> Result<(), EngineError> {
    // SAFETY: each probe only opens (and closes) a shared library by name.
    let present = unsafe {
        [
            ("the CUDA driver (libcuda.so)", sys::is_culib_present()),
            ("cuBLAS (libcublas.so)", blas_sys::is_culib_present()),
            (
                "NVRTC (libnvrtc.so)",
                cudarc::nvrtc::sys::is_culib_present(),
            ),
        ]
    };
    match present.iter().find(|(_, found)| !found) {
        None => Ok(()),
        Some((name, _)) => Err(EngineError::Unsupported(format!(
            "{name} is not on this machine: the CUDA engine needs an NVIDIA driver, and \
             cuBLAS and NVRTC on LD_LIBRARY_PATH (e.g. /usr/local/cuda/lib64)"
        ))),
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // SAFETY: the handle was created in `open` and is destroyed once.
        let _ = unsafe { blas::destroy_handle(self.blas) };
    }
}
