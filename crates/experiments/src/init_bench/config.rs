//! The init benchmark's configuration and errors, shared by the runs ([`super::one_run`]),
//! the summary ([`super::summary`]) and the driver ([`super::run`]).

use serde::{Deserialize, Serialize};
use spectral::init::Init;
use spectral::{DeviceError, DeviceKind};
use spectral_io::IoError;
use spectral_train::data::DataError;
use std::path::PathBuf;

/// The benchmark's grid, model and schedule (written into `summary.json` as `args`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Inits to run (default: all of [`Init::ALL`]).
    pub inits: Vec<Init>,
    /// Seeds (model init and training windows).
    pub seeds: Vec<u64>,
    /// Peak learning rates of the per-init grid.
    pub lrs: Vec<f64>,
    /// Transformer blocks: deep, so that an init's effect on signal propagation shows.
    pub layers: usize,
    /// Residual width C.
    pub width: usize,
    /// Attention heads.
    pub heads: usize,
    /// Context (= training window) length T.
    pub seq_len: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Optimizer steps per run.
    pub steps: u64,
    /// Linear warmup steps (then cosine to 0.1 of the peak at the last step).
    pub warmup: u64,
    /// Evaluate every this many steps (and at the end).
    pub eval_every: u64,
    /// Fixed validation windows per evaluation.
    pub eval_windows: usize,
    /// Positions of the window whose Jacobian is measured at init.
    pub jacobian_len: usize,
    /// Validation loss (nats) that defines "steps to target" in the summary.
    pub target: f64,
    /// Output directory: `OUT/runs/*.json`, `OUT/summary.{md,json}`.
    pub out: PathBuf,
    /// Where training and validation run (the Jacobian's and weights' SVDs stay on the host,
    /// in f64). Not part of `summary.json`: the numbers do not depend on it.
    #[serde(skip, default = "crate::device::cpu")]
    pub device: DeviceKind,
    /// Only summarize the runs already in `OUT/runs`.
    pub summarize: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            inits: Init::ALL.to_vec(),
            seeds: vec![0, 1, 2],
            lrs: vec![1e-3, 3e-3, 1e-2],
            layers: 24,
            width: 64,
            heads: 4,
            seq_len: 64,
            batch: 16,
            steps: 300,
            warmup: 30,
            eval_every: 25,
            eval_windows: 64,
            jacobian_len: 16,
            target: 2.5,
            out: PathBuf::from("runs/bench_init"),
            device: DeviceKind::Cpu,
            summarize: false,
        }
    }
}

/// What can stop the init benchmark.
#[derive(Debug, thiserror::Error)]
pub enum InitBenchError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Model(#[from] spectral_models::ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Linalg(#[from] spectral::linalg::LinalgError),
    #[error(transparent)]
    Output(#[from] IoError),
    #[error(transparent)]
    Train(#[from] spectral_train::TrainError),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{path}")]
    Record {
        path: String,
        source: serde_json::Error,
    },
    #[error("no runs in {0}")]
    NoRuns(String),
}
