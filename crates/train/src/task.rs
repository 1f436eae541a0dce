//! What a training loop needs from a (model, data) pair: build the model, the loss of the
//! training batch at a step, the validation loss. One implementation per model kind.

use crate::auxiliary::{AuxConfig, cap_rows, drift_loss, regularizer_loss, window_stats_loss};
use crate::config::{ModelConfig, TrainConfig};
use crate::data::{DataError, SpacingDataset, TextDataset};
use burn::module::Param;
use burn::tensor::TensorData;
use spectral_models::MemoryEdit;
use std::ops::Range;

/// Mixed into the seed of the drift windows so they differ from the step's training windows.
const DRIFT_SEED: u64 = 0xd71f_7d71_f7d7_1f7d;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use spectral_models::{Gpt, GptConfig, ModelError, SpacingMdn, SpacingMdnConfig};

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// A model and its data, as the training loop sees them.
pub trait Task<B: AutodiffBackend> {
    type Model: AutodiffModule<B>;
    /// A freshly initialized model (burn's RNG must be seeded by the caller).
    fn build(&self, device: &B::Device) -> Result<Self::Model, TaskError>;
    /// Mean loss (nats per target) of the training batch of `step`.
    fn train_loss(
        &self,
        model: &Self::Model,
        step: u64,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError>;
    /// Mean loss of rows `rows` of the training batch of `step`: one device's share in
    /// data-parallel training. With equal shares, the mean of the shares' losses is
    /// [`train_loss`](Self::train_loss) for every term that is a mean over rows.
    fn train_loss_rows(
        &self,
        model: &Self::Model,
        step: u64,
        rows: Range<usize>,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError>;
    /// Mean loss over the fixed validation windows, weighted by targets.
    fn val_loss(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        device: &B::Device,
    ) -> Result<f64, TaskError>;
    /// Targets per training step (batch × T).
    fn targets_per_step(&self) -> usize;
    /// A projection applied to the model after each optimizer step (the identity by default).
    fn after_step(&self, model: Self::Model) -> Self::Model {
        model
    }
}

/// The task a run's config names, with its data loaded.
pub enum ConfiguredTask {
    Spacing(SpacingTask),
    Text(TextTask),
}

impl ConfiguredTask {
    /// Opens the config's data (the embedded text when a GPT run names no file); the config
    /// must have passed [`TrainConfig::validate`].
    pub fn from_config(config: &TrainConfig) -> Result<Self, TaskError> {
        let batching = Batching {
            batch_size: config.batch_size,
            seq_len: config.seq_len,
            eval_windows: config.eval_windows,
            seed: config.seed,
        };
        Ok(match &config.model {
            ModelConfig::SpacingMdn(model) => {
                let path = config.data.spacings.as_ref().expect("validated");
                Self::Spacing(SpacingTask {
                    model: model.clone(),
                    data: SpacingDataset::open(path, config.data.val_fraction)?,
                    batching,
                    aux: config.aux.clone(),
                })
            }
            ModelConfig::Gpt(model) => {
                let data = match &config.data.text {
                    Some(path) => TextDataset::from_file(path)?,
                    None => TextDataset::embedded(),
                };
                Self::Text(TextTask {
                    model: model.clone(),
                    data,
                    batching,
                })
            }
        })
    }
}

/// Shape of the batches: shared by both tasks.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    pub batch_size: usize,
    pub seq_len: usize,
    pub eval_windows: usize,
    pub seed: u64,
}

/// Mean of per-batch means weighted by each batch's number of targets.
fn weighted_mean<B: Backend>(losses: Vec<(Tensor<B, 1>, usize)>) -> f64 {
    let total: usize = losses.iter().map(|(_, n)| n).sum();
    losses
        .into_iter()
        .map(|(loss, n)| loss.into_scalar().elem::<f64>() * n as f64)
        .sum::<f64>()
        / total.max(1) as f64
}

/// Rows `rows` of a `[batch, T]` tensor (the tensor itself when that is all of them).
fn take_rows<B: Backend, K: burn::tensor::TensorKind<B> + burn::tensor::BasicOps<B>>(
    batch: Tensor<B, 2, K>,
    rows: &Range<usize>,
) -> Tensor<B, 2, K> {
    if rows.start == 0 && rows.end == batch.dims()[0] {
        batch
    } else {
        batch.narrow(0, rows.start, rows.len())
    }
}

/// SpacingMDN on unfolded zeta spacings: NLL of the next spacing, plus the configured
/// auxiliary losses and regularizers ([`crate::auxiliary`]).
pub struct SpacingTask {
    pub model: SpacingMdnConfig,
    pub data: SpacingDataset,
    pub batching: Batching,
    pub aux: AuxConfig,
}

impl<B: AutodiffBackend> Task<B> for SpacingTask {
    type Model = SpacingMdn<B>;

    fn build(&self, device: &B::Device) -> Result<SpacingMdn<B>, TaskError> {
        Ok(self.model.init(device)?)
    }

    fn train_loss(
        &self,
        model: &SpacingMdn<B>,
        step: u64,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError> {
        self.train_loss_rows(model, step, 0..self.batching.batch_size, device)
    }

    /// The NLL and the window-statistics and regularizer terms are computed on the rows;
    /// the drift term on its own windows, whole, on every device. Terms that are not means
    /// over rows (window statistics, attention regularizers) differ from the whole batch's.
    fn train_loss_rows(
        &self,
        model: &SpacingMdn<B>,
        step: u64,
        rows: Range<usize>,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError> {
        let b = &self.batching;
        let (x, y) = self
            .data
            .train_batch::<B>(step, b.batch_size, b.seq_len, b.seed, device)?;
        let (x, y) = (take_rows(x, &rows), take_rows(y, &rows));
        let aux = &self.aux;
        let (out, attention) = if aux.needs_attention() {
            model.forward_with_attention(x.clone(), &MemoryEdit::none())?
        } else {
            (model.forward(x.clone())?, Vec::new())
        };
        let mut loss = out.nll(y);
        if aux.window_stats_weight > 0.0
            && let Some(term) = window_stats_loss(model, &out, &x)
        {
            loss = loss + term.mul_scalar(aux.window_stats_weight);
        }
        if let Some(regs) = &aux.regularizers
            && let Some(term) = regularizer_loss(regs, step, model, &out, &attention)
        {
            loss = loss + term;
        }
        let drift = &aux.drift;
        if drift.weight > 0.0 && step.is_multiple_of(drift.every.max(1)) {
            // Windows of T + H values: the first T seed the rollout, the last H are the truth.
            let span = b.seq_len + drift.horizon;
            let starts =
                self.data
                    .split()
                    .train_starts(step, drift.batch, span - 1, b.seed ^ DRIFT_SEED)?;
            let values = self.data.values();
            let (mut seeds, mut truth) = (Vec::new(), Vec::new());
            for s in starts {
                seeds.extend_from_slice(&values[s..s + b.seq_len]);
                truth.extend_from_slice(&values[s + b.seq_len..s + span]);
            }
            let n = drift.batch;
            let x0 = Tensor::from_data(TensorData::new(seeds, [n, b.seq_len]), device);
            let truth = Tensor::from_data(TensorData::new(truth, [n, drift.horizon]), device);
            loss = loss + drift_loss(model, x0, truth)?.mul_scalar(drift.weight);
        }
        Ok(loss)
    }

    fn after_step(&self, mut model: SpacingMdn<B>) -> SpacingMdn<B> {
        let cap = self
            .aux
            .regularizers
            .as_ref()
            .map_or(0.0, |r| r.slot_norm_cap);
        if cap > 0.0
            && let Some(memory) = model.memory.as_mut()
        {
            let (id, slots, mapper) = memory.slots.clone().consume();
            let capped = Tensor::from_inner(cap_rows(slots.inner(), cap)).require_grad();
            memory.slots = Param::from_mapped_value(id, capped, mapper);
        }
        model
    }

    fn val_loss(
        &self,
        model: &SpacingMdn<B::InnerBackend>,
        device: &B::Device,
    ) -> Result<f64, TaskError> {
        let b = &self.batching;
        let mut losses = Vec::new();
        for (x, y) in self.data.val_batches::<B::InnerBackend>(
            b.batch_size,
            b.seq_len,
            b.eval_windows,
            device,
        )? {
            let n = y.dims().iter().product();
            losses.push((model.loss(x, y)?, n));
        }
        Ok(weighted_mean(losses))
    }

    fn targets_per_step(&self) -> usize {
        self.batching.batch_size * self.batching.seq_len
    }
}

/// Char-level GPT on text: cross-entropy of the next byte.
pub struct TextTask {
    pub model: GptConfig,
    pub data: TextDataset,
    pub batching: Batching,
}

impl<B: AutodiffBackend> Task<B> for TextTask {
    type Model = Gpt<B>;

    fn build(&self, device: &B::Device) -> Result<Gpt<B>, TaskError> {
        Ok(self.model.init(device)?)
    }

    fn train_loss(
        &self,
        model: &Gpt<B>,
        step: u64,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError> {
        self.train_loss_rows(model, step, 0..self.batching.batch_size, device)
    }

    fn train_loss_rows(
        &self,
        model: &Gpt<B>,
        step: u64,
        rows: Range<usize>,
        device: &B::Device,
    ) -> Result<Tensor<B, 1>, TaskError> {
        let b = &self.batching;
        let (x, y) = self
            .data
            .train_batch::<B>(step, b.batch_size, b.seq_len, b.seed, device)?;
        Ok(model.loss(take_rows(x, &rows), take_rows(y, &rows))?)
    }

    fn val_loss(&self, model: &Gpt<B::InnerBackend>, device: &B::Device) -> Result<f64, TaskError> {
        let b = &self.batching;
        let mut losses = Vec::new();
        for (x, y) in self.data.val_batches::<B::InnerBackend>(
            b.batch_size,
            b.seq_len,
            b.eval_windows,
            device,
        )? {
            let n = y.dims().iter().product();
            losses.push((model.loss(x, y)?, n));
        }
        Ok(weighted_mean(losses))
    }

    fn targets_per_step(&self) -> usize {
        self.batching.batch_size * self.batching.seq_len
    }
}
