//! What training can report: one error type for the loop, the trainers and the benchmarks.

use crate::checkpoint::CheckpointError;
use crate::collective::CollectiveFailure;
use crate::config::ConfigError;
use crate::data::DataError;
use crate::task::TaskError;
use spectral_models::ModelError;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("optimizer: {0}")]
    Optimizer(#[from] spectral::optim::OptimError),
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{what} is {value} at step {step}; stopped before the step's weights were kept (last good checkpoint: {last_checkpoint})"
    )]
    NonFinite {
        step: u64,
        /// What is not finite: "loss", "the gradient of `PARAM`", "gradient norm" (the
        /// engine's, over all parameters).
        what: String,
        value: f64,
        last_checkpoint: String,
    },
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error(
        "{dir} already holds a run ({files}); continue it with --resume, or replace it with --overwrite"
    )]
    RunExists { dir: String, files: String },
    #[error(
        "batch_size = {batch_size} × seq_len = {seq_len} needs at least {needed_gb:.1} GB for one step's activations; this machine has {available_gb:.1} GB available: lower batch_size"
    )]
    OutOfMemory {
        batch_size: usize,
        seq_len: usize,
        needed_gb: f64,
        available_gb: f64,
    },
    #[error("{dir} is in use by process {pid} (its lock: {dir}/.lock); one run per directory")]
    RunDirBusy { dir: String, pid: u32 },
    #[error(transparent)]
    Device(#[from] spectral::DeviceError),
    #[error(transparent)]
    Collective(#[from] CollectiveFailure),
    #[error("CUDA engine: {0}")]
    Engine(#[from] spectral_cuda::EngineError),
}

impl From<ModelError> for TrainError {
    fn from(error: ModelError) -> Self {
        Self::Task(error.into())
    }
}

impl From<DataError> for TrainError {
    fn from(error: DataError) -> Self {
        Self::Task(error.into())
    }
}

/// The [`TrainError::Io`] of a file operation on `path`.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}
