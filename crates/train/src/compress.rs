//! Compression of a trained checkpoint (`spectral compress`): the hidden matrices of every
//! transformer block (`blocks.{i}.attn.{q,k,v,o}.weight`, `blocks.{i}.mlp.{fc,proj}.weight`)
//! are truncated by SVD, plain or whitened by calibration activations
//! ([`spectral::compress`]); embeddings, heads, norms, biases and the memory bank are kept.
//!
//! The output is a safetensors file in [`spectral::compress::format`]'s layout (the
//! checkpoint's arrays, compressed weights as `lowrank/model/<path>/{a,b}`, the run's config in
//! metadata `config`, the compression in `compression`, no optimizer state). [`load`] rebuilds
//! the dense model from it; [`compress_checkpoint`] builds its in-memory compressed model the
//! same way, so the two give bit-identical outputs.

use crate::activation_grams::{Grams, gpt_grams, spacing_grams};
#[cfg(test)]
use crate::checkpoint;
use crate::checkpoint::{CheckpointError, load_module_state};
use crate::config::{ConfigError, ModelConfig, TrainConfig};
use crate::data::{DataError, SpacingDataset, TextDataset, identity};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};
use serde::Serialize;
use spectral::compress::format::{densify, insert_factors};
use spectral::compress::{CompressError, LayerInput, RankRule, compress_layers};
use spectral::device::{materialized, seeded};
use spectral::optim::state::StateDict;
use spectral_io::progress::Progress;
use spectral_models::{Gpt, ModelError, SpacingMdn};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CompressModelError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Compress(#[from] CompressError),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// How to compress.
#[derive(Clone, Debug)]
pub struct CompressOptions {
    pub rule: RankRule,
    /// Whiten by the Gram matrix of each layer's inputs (SVD-LLM) instead of plain truncation.
    pub whiten: bool,
    /// Calibration windows (of the config's `seq_len`, drawn from the training split like
    /// training batches from step 0 on) for the Gram matrices.
    pub calib_windows: usize,
    /// Relative ridge on the Gram matrices ([`spectral::compress::DEFAULT_DAMPING`]).
    pub damping: f64,
}

/// One compressed (or kept) matrix.
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub d_in: usize,
    pub d_out: usize,
    /// Kept rank; `None` = left dense (factors would not be smaller).
    pub rank: Option<usize>,
    pub params_before: usize,
    pub params_after: usize,
    /// `‖W − A B‖_F / ‖W‖_F`.
    pub rel_error: f64,
    /// `‖X (W − A B)‖_F / ‖X W‖_F` on the calibration data (whitened runs).
    pub rel_output_error: Option<f64>,
}

/// What `spectral compress` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CompressReport {
    pub model: String,
    pub rule: String,
    pub whiten: bool,
    pub layers: Vec<LayerRow>,
    /// Parameters of the compressed matrices, before and after.
    pub matrix_params_before: usize,
    pub matrix_params_after: usize,
    /// Parameters of the whole model (every float array), before and after.
    pub model_params_before: usize,
    pub model_params_after: usize,
    /// Mean validation loss (nats per target) on the config's validation windows.
    pub val_loss_before: f64,
    pub val_loss_after: f64,
    pub out: PathBuf,
}

impl CompressReport {
    /// `model_params_before / model_params_after`.
    pub fn ratio(&self) -> f64 {
        self.model_params_before as f64 / self.model_params_after.max(1) as f64
    }
}

/// A model of either kind, on the CPU backend or any other.
pub enum AnyModel<B: Backend> {
    Gpt(Box<Gpt<B>>),
    SpacingMdn(Box<SpacingMdn<B>>),
}

/// A file's dense model arrays, its config, and its compressed weights `(model/<path>, rank)`.
pub type ReadModel = (StateDict, TrainConfig, Vec<(String, usize)>);

/// Reads a training checkpoint or a compressed file: its dense model arrays (factors
/// multiplied out), its config, and the compressed weights `(model/<path>, rank)`.
pub fn read(path: &Path) -> Result<ReadModel, CompressModelError> {
    let file_error = |message: String| CompressModelError::File {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
    let dict = StateDict::from_safetensors(&bytes).map_err(|e| file_error(e.to_string()))?;
    crate::checkpoint::check_arrays(&dict).map_err(file_error)?;
    let (dense, factored) = densify(&dict)?;
    let toml = dense.metadata.get("config").ok_or_else(|| {
        file_error("no `config` in the metadata: not a spectral checkpoint".into())
    })?;
    let config = TrainConfig::from_toml(toml, &path.display().to_string())?;
    let mut model = StateDict::default();
    for (name, tensor) in dense.tensors {
        if name.starts_with("model/") {
            model.tensors.insert(name, tensor);
        }
    }
    model.metadata = dense.metadata;
    Ok((model, config, factored))
}

/// Builds the config's model from dense `model/<path>` arrays.
pub fn build<B: Backend>(
    config: &TrainConfig,
    dict: &StateDict,
    device: &B::Device,
) -> Result<AnyModel<B>, CompressModelError> {
    let invalid = |message: String| CompressModelError::File {
        path: "checkpoint".into(),
        message,
    };
    // Each model is drawn under the seed lock and then replaced: loading reads every lazily
    // drawn parameter, and a draw outside the lock would shift a concurrent seeded one.
    Ok(match &config.model {
        ModelConfig::Gpt(c) => {
            let model = seeded::<B, _>(device, 0, || c.init::<B>(device).map(materialized))?;
            AnyModel::Gpt(Box::new(load_module_state(model, dict).map_err(invalid)?))
        }
        ModelConfig::SpacingMdn(c) => {
            let model = seeded::<B, _>(device, 0, || c.init::<B>(device).map(materialized))?;
            AnyModel::SpacingMdn(Box::new(load_module_state(model, dict).map_err(invalid)?))
        }
    })
}

/// Loads a compressed file (or a plain checkpoint) as a model on `device`, with its config.
pub fn load<B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(AnyModel<B>, TrainConfig), CompressModelError> {
    let (dict, config, _) = read(path)?;
    Ok((build(&config, &dict, device)?, config))
}

/// The data a config names.
enum Data {
    Text(TextDataset),
    Spacings(SpacingDataset),
}

/// The data a config names, refused when the file is not the one the run read (its sha256).
fn open_data(config: &TrainConfig) -> Result<Data, CompressModelError> {
    let sha256 = config.data.sha256.as_deref();
    Ok(match &config.model {
        ModelConfig::Gpt(_) => Data::Text(match &config.data.text {
            Some(path) => {
                identity::check(path, sha256)?;
                TextDataset::from_file(path)?
            }
            None => TextDataset::embedded(),
        }),
        ModelConfig::SpacingMdn(_) => {
            let path = config
                .data
                .spacings
                .as_ref()
                .ok_or_else(|| CompressModelError::File {
                    path: "config".into(),
                    message: "a SpacingMDN config needs data.spacings".into(),
                })?;
            identity::check(path, sha256)?;
            Data::Spacings(SpacingDataset::open(path, config.data.val_fraction)?)
        }
    })
}

/// Mean loss over the config's validation windows, weighted by targets (as the trainer's).
pub fn val_loss<B: Backend>(
    model: &AnyModel<B>,
    config: &TrainConfig,
    device: &B::Device,
) -> Result<f64, CompressModelError> {
    let (b, t, w) = (config.batch_size, config.seq_len, config.eval_windows);
    let mut total = 0.0;
    let mut count = 0usize;
    let mut add = |loss: Tensor<B, 1>, n: usize| {
        total += loss.into_scalar().elem::<f64>() * n as f64;
        count += n;
    };
    match (model, open_data(config)?) {
        (AnyModel::Gpt(m), Data::Text(data)) => {
            for (x, y) in data.val_batches::<B>(b, t, w, device)? {
                let n = y.dims().iter().product();
                add(m.loss(x, y)?, n);
            }
        }
        (AnyModel::SpacingMdn(m), Data::Spacings(data)) => {
            for (x, y) in data.val_batches::<B>(b, t, w, device)? {
                let n = y.dims().iter().product();
                add(m.loss(x, y)?, n);
            }
        }
        _ => unreachable!("open_data follows the model kind"),
    }
    Ok(total / count.max(1) as f64)
}

/// Gram matrices of the block matrices' inputs over `windows` training windows.
pub fn calibrate<B: Backend>(
    model: &AnyModel<B>,
    config: &TrainConfig,
    windows: usize,
    device: &B::Device,
) -> Result<Grams, CompressModelError> {
    let mut grams = Grams::new();
    let data = open_data(config)?;
    let (batch, t) = (config.batch_size.max(1), config.seq_len);
    let mut done = 0;
    let mut step = 0u64;
    while done < windows {
        let rows = batch.min(windows - done);
        match (model, &data) {
            (AnyModel::Gpt(m), Data::Text(d)) => {
                let (x, _) = d.train_batch::<B>(step, rows, t, config.seed, device)?;
                gpt_grams(m, x, &mut grams);
            }
            (AnyModel::SpacingMdn(m), Data::Spacings(d)) => {
                let (x, _) = d.train_batch::<B>(step, rows, t, config.seed, device)?;
                spacing_grams(m, x, &mut grams)?;
            }
            _ => unreachable!("open_data follows the model kind"),
        }
        done += rows;
        step += 1;
    }
    Ok(grams)
}

/// Is `model/<path>` a hidden matrix of a block (the compression targets)?
fn is_target(name: &str, shape: &[usize]) -> bool {
    let Some(path) = name.strip_prefix("model/blocks.") else {
        return false;
    };
    shape.len() == 2
        && [
            ".attn.q.weight",
            ".attn.k.weight",
            ".attn.v.weight",
            ".attn.o.weight",
            ".mlp.fc.weight",
            ".mlp.proj.weight",
        ]
        .iter()
        .any(|suffix| path.ends_with(suffix))
}

/// Compresses the dense `model/` arrays of `dict`: the compressed dict (factors in place of
/// the target weights) and one row per target. `grams` (by weight path without `model/`)
/// whitens when given.
pub fn compress_state(
    dict: &StateDict,
    grams: Option<&Grams>,
    options: &CompressOptions,
) -> Result<(StateDict, Vec<LayerRow>), CompressModelError> {
    let mut inputs = Vec::new();
    for (name, (shape, values)) in &dict.tensors {
        if !is_target(name, shape) {
            continue;
        }
        let (rows, cols) = (shape[0], shape[1]);
        let weight = faer::Mat::from_fn(rows, cols, |i, j| values[i * cols + j] as f64);
        let path = name.strip_prefix("model/").unwrap_or(name);
        let gram = match grams {
            Some(g) => Some(
                g.get(path)
                    .cloned()
                    .ok_or_else(|| CompressModelError::File {
                        path: "calibration".into(),
                        message: format!("no calibration Gram matrix for `{path}`"),
                    })?,
            ),
            None => None,
        };
        inputs.push(LayerInput {
            name: name.clone(),
            weight,
            gram,
        });
    }
    let layers = compress_layers(&inputs, options.rule, options.damping)?;
    let mut out = dict.clone();
    let mut rows = Vec::new();
    for layer in layers {
        if let Some(f) = &layer.factors {
            insert_factors(&mut out, &layer.name, f);
        }
        rows.push(LayerRow {
            name: layer
                .name
                .strip_prefix("model/")
                .unwrap_or(&layer.name)
                .to_string(),
            d_in: layer.d_in,
            d_out: layer.d_out,
            rank: layer.rank(),
            params_before: layer.params_before,
            params_after: layer.params_after,
            rel_error: layer.rel_error,
            rel_output_error: layer.rel_output_error,
        });
    }
    Ok((out, rows))
}

fn count(dict: &StateDict) -> usize {
    dict.tensors.values().map(|(_, v)| v.len()).sum()
}

/// Reads `ckpt`, compresses it on the CPU, evaluates before and after, writes `out`
/// atomically. Returns the report and the compressed model as loaded from what was written.
pub fn compress_checkpoint<B: Backend>(
    ckpt: &Path,
    out: &Path,
    options: &CompressOptions,
    device: &B::Device,
) -> Result<(CompressReport, AnyModel<B>), CompressModelError> {
    let (dict, config, already) = read(ckpt)?;
    if !already.is_empty() {
        return Err(CompressModelError::File {
            path: ckpt.display().to_string(),
            message: "already compressed; compress the original checkpoint".into(),
        });
    }
    let progress = Progress::new("compress", 3 + u64::from(options.whiten), "stages");
    progress.set_message("validation loss before".into());
    let model = build::<B>(&config, &dict, device)?;
    let val_loss_before = val_loss(&model, &config, device)?;
    progress.inc(1);
    let grams = if options.whiten {
        progress.set_message("calibration (activation Gram matrices)".into());
        let grams = calibrate(&model, &config, options.calib_windows, device)?;
        progress.inc(1);
        Some(grams)
    } else {
        None
    };
    progress.set_message("SVDs".into());
    let (mut compressed, layers) = compress_state(&dict, grams.as_ref(), options)?;
    progress.inc(1);
    progress.set_message("validation loss after".into());
    let (dense, _) = densify(&compressed)?;
    let small = build::<B>(&config, &dense, device)?;
    let val_loss_after = val_loss(&small, &config, device)?;
    progress.inc(1);
    progress.finish();
    let rule = format!("{:?}", options.rule);
    compressed.metadata.insert(
        "compression".into(),
        serde_json::json!({"rule": rule, "whiten": options.whiten,
            "calib_windows": options.calib_windows, "damping": options.damping})
        .to_string(),
    );
    let bytes = compressed
        .to_safetensors()
        .map_err(|e| CompressModelError::File {
            path: out.display().to_string(),
            message: e.to_string(),
        })?;
    spectral_io::write_atomic(out, &bytes).map_err(|e| CompressModelError::File {
        path: out.display().to_string(),
        message: e.to_string(),
    })?;
    let report = CompressReport {
        model: match &config.model {
            ModelConfig::Gpt(_) => "gpt".into(),
            ModelConfig::SpacingMdn(_) => "spacing_mdn".into(),
        },
        rule,
        whiten: options.whiten,
        matrix_params_before: layers.iter().map(|l| l.params_before).sum(),
        matrix_params_after: layers.iter().map(|l| l.params_after).sum(),
        model_params_before: count(&dict),
        model_params_after: count(&compressed),
        layers,
        val_loss_before,
        val_loss_after,
        out: out.to_path_buf(),
    };
    Ok((report, small))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use burn::tensor::{Int, TensorData};
    use spectral::CpuBackend as B;
    use spectral_models::GptConfig;

    fn tiny_config(out: &Path) -> TrainConfig {
        TrainConfig {
            model: ModelConfig::Gpt(
                GptConfig::new()
                    .with_vocab_size(256)
                    .with_n_layer(2)
                    .with_n_head(2)
                    .with_n_embd(16)
                    .with_block_size(16)
                    .with_tie_weights(true),
            ),
            batch_size: 4,
            seq_len: 16,
            eval_windows: 8,
            out: out.to_path_buf(),
            ..TrainConfig::default()
        }
    }

    #[test]
    fn compressed_file_reloads_to_the_in_memory_model() {
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let config = tiny_config(dir.path());
        let ModelConfig::Gpt(gpt) = &config.model else {
            unreachable!()
        };
        let model = seeded::<B, _>(&device, 0, || materialized(gpt.init::<B>(&device).unwrap()));
        let ckpt = dir.path().join("last.safetensors");
        let meta = Checkpoint {
            config_toml: config.to_toml(),
            ..Checkpoint::default()
        };
        checkpoint::save(&ckpt, &model, &meta).unwrap();
        let out = dir.path().join("small.safetensors");
        for whiten in [false, true] {
            let options = CompressOptions {
                rule: RankRule::Fixed(3),
                whiten,
                calib_windows: 6,
                damping: spectral::compress::DEFAULT_DAMPING,
            };
            let (report, in_memory) =
                compress_checkpoint::<B>(&ckpt, &out, &options, &device).unwrap();
            // 2 blocks x (4 attention [16, 16] + fc [16, 64] + proj [64, 16]) matrices.
            assert_eq!(report.layers.len(), 12);
            let attn = report
                .layers
                .iter()
                .find(|l| l.name == "blocks.0.attn.q.weight");
            assert_eq!(attn.unwrap().params_after, 3 * 32);
            assert_eq!(report.matrix_params_before, 2 * (4 * 256 + 2 * 1024));
            assert_eq!(report.matrix_params_after, 2 * (4 * 96 + 2 * 3 * 80));
            assert_eq!(
                report.model_params_before - report.model_params_after,
                report.matrix_params_before - report.matrix_params_after
            );
            assert!(report.val_loss_before.is_finite() && report.val_loss_after.is_finite());
            assert_eq!(report.layers[0].rel_output_error.is_some(), whiten);
            let (reloaded, _) = load::<B>(&out, &device).unwrap();
            let ids: Tensor<B, 2, Int> = Tensor::from_data(
                TensorData::new((0..32).map(|i| i * 37 % 256).collect(), [2, 16]),
                &device,
            );
            let (AnyModel::Gpt(a), AnyModel::Gpt(b)) = (&in_memory, &reloaded) else {
                unreachable!()
            };
            assert_eq!(
                a.forward(ids.clone()).unwrap().into_data(),
                b.forward(ids).unwrap().into_data(),
                "bit-identical outputs"
            );
            // The training loader refuses a compressed file (no resuming from one).
            assert!(checkpoint::load(&out).is_err());
            // And a compressed file is not compressed again.
            assert!(compress_checkpoint::<B>(&out, &out, &options, &device).is_err());
        }
    }
}
