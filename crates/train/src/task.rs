//! What a training loop needs from a (model, data) pair: build the model, the loss of the
//! training batch at a step, the validation loss. One implementation per model kind.

use crate::data::{DataError, SpacingDataset, TextDataset};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use models::{Gpt, GptConfig, ModelError, SpacingMdn, SpacingMdnConfig};

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
    /// Mean loss over the fixed validation windows, weighted by targets.
    fn val_loss(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        device: &<B::InnerBackend as burn::tensor::backend::BackendTypes>::Device,
    ) -> Result<f64, TaskError>;
    /// Targets per training step (batch × T).
    fn targets_per_step(&self) -> usize;
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

/// SpacingMDN on unfolded zeta spacings: NLL of the next spacing.
pub struct SpacingTask {
    pub model: SpacingMdnConfig,
    pub data: SpacingDataset,
    pub batching: Batching,
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
        let b = &self.batching;
        let (x, y) = self
            .data
            .train_batch::<B>(step, b.batch_size, b.seq_len, b.seed, device)?;
        Ok(model.loss(x, y)?)
    }

    fn val_loss(
        &self,
        model: &SpacingMdn<B::InnerBackend>,
        device: &<B::InnerBackend as burn::tensor::backend::BackendTypes>::Device,
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
        let b = &self.batching;
        let (x, y) = self
            .data
            .train_batch::<B>(step, b.batch_size, b.seq_len, b.seed, device)?;
        Ok(model.loss(x, y)?)
    }

    fn val_loss(
        &self,
        model: &Gpt<B::InnerBackend>,
        device: &<B::InnerBackend as burn::tensor::backend::BackendTypes>::Device,
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
