//! One arm of the main job measured from its final checkpoint, on the CPU.

use spectral::CpuBackend;
use spectral_models::SpacingMdn;
use spectral_train::checkpoint::CheckpointError;
use spectral_train::data::{DataError, SpacingDataset};
use spectral_train::metrics::MetricsLog;
use spectral_train::spacing_eval::{SpacingMetrics, rollout_samples, spacing_metrics};
use spectral_train::task::TaskError;
use spectral_train::{ModelConfig, TrainConfig};

/// Rollouts: how many, seeded with how many true spacings, for how many steps.
pub const ROLLOUTS: usize = 64;
pub const ROLLOUT_HORIZON: usize = 100;

/// What one arm measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Evaluated {
    pub metrics: SpacingMetrics,
    /// The spacings of [`ROLLOUTS`] free-running rollouts of [`ROLLOUT_HORIZON`] steps.
    pub rollouts: Vec<f64>,
    /// (step, train loss) and (step, val loss) from metrics.jsonl.
    pub train_curve: Vec<(f64, f64)>,
    pub val_curve: Vec<(f64, f64)>,
    /// True validation spacings (for the histogram).
    pub truth: Vec<f64>,
}

/// What can stop the evaluation of an arm.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    State(String),
    #[error(transparent)]
    Model(#[from] spectral_models::ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("reading {path}")]
    Metrics {
        path: String,
        source: std::io::Error,
    },
}

/// Loads the run's final checkpoint on the CPU and measures it: validation NLL and MAE over
/// 256 windows, the rollouts, the logged curves.
pub fn evaluate(config: &TrainConfig) -> Result<Evaluated, EvaluateError> {
    let device = Default::default();
    let ModelConfig::SpacingMdn(model_config) = &config.model else {
        unreachable!("the main job trains SpacingMDNs")
    };
    let (dict, _) = spectral_train::checkpoint::load(&config.out.join("last.safetensors"))?;
    // Drawn under the seed lock, then replaced: loading reads every lazily drawn parameter,
    // and a draw outside the lock would shift a concurrent seeded one.
    let model: SpacingMdn<CpuBackend> =
        spectral::device::seeded::<CpuBackend, _>(&device, 0, || {
            model_config
                .init(&device)
                .map(spectral::device::materialized)
        })?;
    let model = spectral_train::checkpoint::load_module_state(model, &dict)
        .map_err(EvaluateError::State)?;
    let data = SpacingDataset::open(
        config.data.spacings.as_ref().expect("set"),
        config.data.val_fraction,
    )?;
    let metrics = spacing_metrics(
        &model,
        &data,
        config.batch_size,
        config.seq_len,
        256,
        &device,
    )?;
    let rollouts = rollout_samples(
        &model,
        &data,
        ROLLOUTS,
        config.seq_len,
        ROLLOUT_HORIZON,
        config.seed,
        &device,
    )?;
    let metrics_path = config.out.join("metrics.jsonl");
    let records = MetricsLog::read(&metrics_path).map_err(|source| EvaluateError::Metrics {
        path: metrics_path.display().to_string(),
        source,
    })?;
    let truth = data.values()[data.split().val()]
        .iter()
        .map(|&v| v as f64)
        .collect();
    Ok(Evaluated {
        metrics,
        rollouts,
        train_curve: records
            .iter()
            .map(|r| (r.step as f64, r.train_loss))
            .collect(),
        val_curve: records
            .iter()
            .filter_map(|r| r.val_loss.map(|v| (r.step as f64, v)))
            .collect(),
        truth,
    })
}
