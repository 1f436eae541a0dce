//! What can go wrong on the engine's way to the GPU, each naming what it was doing.

use std::path::PathBuf;

/// An engine failure. Every variant says which step failed; none is a panic.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The CUDA driver refused a call (no driver, no such device, out of memory, a kernel fault).
    #[error("CUDA driver, {what}: {source}")]
    Driver {
        what: String,
        source: cudarc::driver::DriverError,
    },
    /// cuBLAS refused a call.
    #[error("cuBLAS, {what}: {source:?}")]
    Blas {
        what: String,
        source: cudarc::cublas::result::CublasError,
    },
    /// NVRTC could not compile one of the engine's kernel sources (or could not be loaded).
    #[error("NVRTC could not compile {name}: {log}")]
    Compile { name: String, log: String },
    /// The on-disk kernel cache could not be read or written.
    #[error("kernel cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The arena a plan needs is larger than the device memory free, checked before allocating.
    #[error(
        "the engine's arena (weights, optimizer state and the activations of one batch) needs \
         {:.2} GiB; {device} has {:.2} GiB free of {:.2} GiB: lower batch_size or seq_len",
        gib(*needed),
        gib(*free),
        gib(*total)
    )]
    OutOfMemory {
        device: String,
        needed: usize,
        free: usize,
        total: usize,
    },
    /// A shape or configuration the engine does not run (said in one line).
    #[error("{0}")]
    Unsupported(String),
}

fn gib(bytes: usize) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Attaches what the engine was doing to a driver error.
pub(crate) trait DriverContext<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, EngineError>;
}

impl<T> DriverContext<T> for Result<T, cudarc::driver::DriverError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, EngineError> {
        self.map_err(|source| EngineError::Driver {
            what: what(),
            source,
        })
    }
}

impl<T> DriverContext<T> for Result<T, cudarc::cublas::result::CublasError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, EngineError> {
        self.map_err(|source| EngineError::Blas {
            what: what(),
            source,
        })
    }
}
