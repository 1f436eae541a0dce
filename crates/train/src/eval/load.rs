//! Opening what the evaluations act on: a SpacingMDN checkpoint and its spacing data, and the
//! settings the suite runs with.

use crate::checkpoint::{self, CheckpointError};
use crate::config::{ConfigError, ModelConfig, TrainConfig};
use crate::data::{DataError, SpacingDataset, Split, identity};
use crate::task::TaskError;
use burn::tensor::backend::Backend;
use spectral_models::{ModelError, SpacingMdn, SpacingMdnConfig};
use std::path::{Path, PathBuf};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the config inside the checkpoint: {0}")]
    Config(#[from] ConfigError),
    #[error("{path} holds a {kind} model; eval, slots and diagnose need a SpacingMDN")]
    NotSpacingMdn { path: String, kind: &'static str },
    #[error(
        "{path}: this SpacingMDN has no memory bank (no [model.memory] in its config), so it has no slots to {what}"
    )]
    NoMemory { path: String, what: &'static str },
    #[error("{path}: {message}")]
    Load { path: String, message: String },
    #[error("the checkpoint's config names no spacing file; pass one with --spacings")]
    NoSpacings,
    #[error(
        "{path}, the spacing file the run trained on, is not there (moved or deleted?); pass it \
         with --spacings FILE"
    )]
    DataMissing { path: String },
    #[error("{message}; pass --spacings FILE to evaluate on this file anyway")]
    DataChanged { message: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    TooLittleData(String),
}

impl From<TaskError> for EvalError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::Data(e) => EvalError::Data(e),
            TaskError::Model(e) => EvalError::Model(e),
        }
    }
}

/// A SpacingMDN restored from a checkpoint, with the run's config.
pub struct Loaded<B: Backend> {
    pub model: SpacingMdn<B>,
    pub model_config: SpacingMdnConfig,
    pub config: TrainConfig,
    /// Steps the run had completed.
    pub step: u64,
    pub path: PathBuf,
}

/// Reads the checkpoint at `path` (one safetensors file, see [`checkpoint`]) and rebuilds
/// its SpacingMDN on `device`. A GPT checkpoint is an error naming the kind.
pub fn load_spacing_mdn<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<Loaded<B>, EvalError> {
    let (dict, meta) = checkpoint::load(path)?;
    let config = TrainConfig::from_toml(&meta.config_toml, &path.display().to_string())?;
    let model_config = match &config.model {
        ModelConfig::SpacingMdn(c) => c.clone(),
        ModelConfig::Gpt(_) => {
            return Err(EvalError::NotSpacingMdn {
                path: path.display().to_string(),
                kind: "char-level GPT",
            });
        }
    };
    // Drawn under the seed lock, then replaced: loading reads every lazily drawn parameter,
    // and a draw outside the lock would shift a concurrent seeded one.
    let model = spectral::device::seeded::<B, _>(device, 0, || {
        model_config
            .init::<B>(device)
            .map(spectral::device::materialized)
    })?;
    let model = checkpoint::load_module_state(model, &dict).map_err(|message| EvalError::Load {
        path: path.display().to_string(),
        message,
    })?;
    Ok(Loaded {
        model,
        model_config,
        config,
        step: meta.step,
        path: path.to_path_buf(),
    })
}

impl<B: Backend> Loaded<B> {
    /// Errors unless the model has memory slots (`what`: what was to be done to them).
    pub fn require_memory(&self, what: &'static str) -> Result<(), EvalError> {
        if self.model.n_slots() == 0 {
            return Err(EvalError::NoMemory {
                path: self.path.display().to_string(),
                what,
            });
        }
        Ok(())
    }

    /// The run's spacing data, split as in training ([`run_spacings`]).
    pub fn dataset(&self, spacings: Option<&Path>) -> Result<SpacingDataset, EvalError> {
        run_spacings(&self.config, spacings)
    }
}

/// The spacing data of the run `config` describes, split as in training: the file its config
/// records, which must be there with the bytes the run read (its sha256), or `spacings`
/// instead, unchecked.
pub fn run_spacings(
    config: &TrainConfig,
    spacings: Option<&Path>,
) -> Result<SpacingDataset, EvalError> {
    let data = &config.data;
    let path = match spacings {
        Some(path) => path,
        None => {
            let path = data.spacings.as_deref().ok_or(EvalError::NoSpacings)?;
            if !path.exists() {
                return Err(EvalError::DataMissing {
                    path: path.display().to_string(),
                });
            }
            identity::check(path, data.sha256.as_deref()).map_err(|e| EvalError::DataChanged {
                message: e.to_string(),
            })?;
            path
        }
    };
    Ok(SpacingDataset::open(path, data.val_fraction)?)
}

/// How much of the validation split the suite reads, and how.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalSettings {
    /// Validation windows scored one step ahead (NLL, MAE, CRPS, PIT, slot effects).
    pub windows: usize,
    /// Windows per forward pass.
    pub batch: usize,
    /// Spacings per window and rollout seed (≤ the model's block_size).
    pub context: usize,
    /// Rollouts (non-overlapping validation windows of `context + max horizon`).
    pub rollouts: usize,
    /// Horizons H of Err@H, ascending; the design notes' 10 and 100.
    pub horizons: Vec<usize>,
    /// Bins of the PIT histogram.
    pub pit_bins: usize,
    /// Windows whose attention maps give `mem_entropy` (the maps are `[B, H, S, S]` per layer).
    pub attention_windows: usize,
    /// Validation batches whose slot gradients are correlated (`diagnose`).
    pub gradient_batches: usize,
    /// Seed of the sampled rollouts.
    pub seed: u64,
}

impl EvalSettings {
    /// The run's windows, batch and sequence length; 64 rollouts; H = 10, 100; 10 PIT bins.
    pub fn for_run(config: &TrainConfig) -> Self {
        Self {
            windows: config.eval_windows,
            batch: config.batch_size,
            context: config.seq_len,
            rollouts: 64,
            horizons: vec![10, 100],
            pit_bins: 10,
            attention_windows: 16,
            gradient_batches: 4,
            seed: config.seed,
        }
    }

    /// The longest horizon.
    pub fn max_horizon(&self) -> usize {
        self.horizons.iter().copied().max().unwrap_or(0)
    }

    /// Fits the settings to `split`'s validation range before any work: an error naming the
    /// context when not one window of it fits, and `windows` and `rollouts` lowered to what
    /// the range holds, each with a line saying so (to print). No room for a single rollout is
    /// left to [`rollout_seeds`](crate::eval::suite::rollout_seeds)'s error, where they are needed.
    pub fn fit(&mut self, split: &Split) -> Result<Vec<String>, EvalError> {
        split.check(self.context)?;
        let val = split.val().len();
        let mut notes = Vec::new();
        let windows = split.val_starts(self.context, self.windows)?.len();
        if windows < self.windows {
            notes.push(format!(
                "{} windows asked for; the validation split ({val} spacings) holds {windows} of \
                 {}: scoring those",
                self.windows, self.context
            ));
            self.windows = windows;
        }
        let span = self.context + self.max_horizon();
        let rollouts = if val > span {
            split.val_starts(span, self.rollouts)?.len()
        } else {
            0
        };
        if rollouts < self.rollouts && rollouts > 0 {
            notes.push(format!(
                "{} rollouts asked for; the validation split ({val} spacings) holds {rollouts} \
                 of {} + {} spacings: rolling out those",
                self.rollouts,
                self.context,
                self.max_horizon()
            ));
            self.rollouts = rollouts;
        }
        Ok(notes)
    }
}
