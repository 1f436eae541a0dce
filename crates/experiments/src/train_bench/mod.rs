//! `spectral bench train` ([`run`]): training steps per second and peak memory of a SpacingMDN
//! or a char-GPT, on one device or data-parallel on several. The timed steps are those of
//! [`timing`]; [`run`] picks the model a [`Config`] names, times it and returns the [`Report`]
//! that `spectral bench train --json` writes.

pub mod engine;
pub mod timing;

pub use timing::{
    BENCH_GRAD_CLIP, BenchRun, TimedModel, TrainBench, bench_train, bench_train_on,
    bench_train_parallel, bench_train_parallel_on,
};

use serde::{Deserialize, Serialize};
use spectral::device::Precision;
use spectral::optim::{Method, OptimizerConfig};
use spectral::{DeviceError, DeviceKind};
use spectral_io::{IoError, write_json};
use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};
use spectral_train::TrainError;
use spectral_train::config::{EngineChoice, EnginePrecision};
use spectral_train::engine::Choice;
use std::path::PathBuf;

/// The model `spectral bench train` times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The default SpacingMDN (6 layers, 256 wide, 8 heads, K = 8) with its memory bank.
    #[default]
    Mdn,
    /// A char-GPT of GPT-2 small's shape: 12 layers, 768 wide, 12 heads, byte vocabulary,
    /// learned positions, tied head.
    Gpt,
}

impl ModelKind {
    /// `mdn` or `gpt`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mdn => "mdn",
            Self::Gpt => "gpt",
        }
    }

    /// The reference batch (sequences, targets per sequence): 512 × 255 spacings (8 memory
    /// slots + 255 = 263 positions), or 64 × 256 bytes.
    pub fn default_batch(self) -> (usize, usize) {
        match self {
            Self::Mdn => (512, 255),
            Self::Gpt => (64, 256),
        }
    }

    /// The model of this kind for sequences of `seq_len` targets (its context length);
    /// `memory` gives the SpacingMDN its memory bank (the GPT has none).
    pub fn timed_model(self, seq_len: usize, memory: bool) -> TimedModel {
        let context = seq_len.max(1);
        match self {
            Self::Mdn => TimedModel::SpacingMdn(
                SpacingMdnConfig::new()
                    .with_block_size(context)
                    .with_memory(memory.then(MemoryConfig::new)),
            ),
            Self::Gpt => TimedModel::Gpt(
                GptConfig::new()
                    .with_n_layer(12)
                    .with_n_head(12)
                    .with_n_embd(768)
                    .with_block_size(context),
            ),
        }
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mdn" => Ok(Self::Mdn),
            "gpt" => Ok(Self::Gpt),
            _ => Err(format!("unknown model {s:?}; expected mdn or gpt")),
        }
    }
}

/// What to time, where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub model: ModelKind,
    /// `cpu`, or `cuda[:N]` in a build with the `cuda` feature; unused when `devices` is set.
    #[serde(with = "crate::device::by_name")]
    pub device: DeviceKind,
    /// Data-parallel through burn's collective on these devices (`cuda:0`, `cpu:1`, ...), the
    /// batch split among them; `Some(["cuda:0"])` against `device = cuda:0` is the cost of the
    /// collective path. `None`: `device` alone.
    pub devices: Option<Vec<String>>,
    /// Sequences per step; `None`: the model's reference batch ([`ModelKind::default_batch`]).
    pub batch_size: Option<usize>,
    /// Targets per sequence T, also the model's context length; `None`: the reference one.
    pub seq_len: Option<usize>,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps first (allocation, kernel compilation, autotuning).
    pub warmup: usize,
    /// Optimizer of the matrices, at its default config.
    #[serde(with = "crate::optim_bench::method_by_name")]
    pub optimizer: Method,
    /// Float type of the run's tensors on the device (`bf16`: cuda only).
    #[serde(with = "crate::device::by_name")]
    pub precision: Precision,
    /// The SpacingMDN's memory bank (mdn only; `false` leaves it out).
    pub memory: bool,
    /// What runs the steps on a CUDA device: `auto` (the CUDA engine where it runs the model
    /// and optimizer, burn otherwise), `engine` or `burn`. On the engine, `precision` is the
    /// activations' type (bf16 with f32 master weights, or all f32 with TF32 off).
    pub engine: EngineChoice,
    /// Where the [`Report`] is written as JSON; `None`: nowhere.
    pub json: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: ModelKind::Mdn,
            device: DeviceKind::Cpu,
            devices: None,
            batch_size: None,
            seq_len: None,
            steps: 5,
            warmup: 2,
            optimizer: Method::Muon,
            precision: Precision::F32,
            memory: true,
            engine: EngineChoice::Auto,
            json: None,
        }
    }
}

/// What `spectral bench train --json` writes: where it ran, what, and the measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The device (`cpu`, `cuda:0`), or `parallel:` and the devices of a data-parallel run.
    pub device: String,
    pub model: ModelKind,
    /// By [`Method::name`].
    pub optimizer: String,
    pub precision: String,
    /// `engine` (the CUDA engine) or `burn`.
    #[serde(default = "burn_name")]
    pub engine: String,
    /// Where the models' matmuls and msign's matmuls ran (`--matmul-gemm`, `--msign-gemm`).
    pub matmul_gemm: String,
    pub msign_gemm: String,
    pub result: TrainBench,
}

impl Report {
    /// The result as a header line and one row: parameters, steps/s, tokens/s, peak RSS and
    /// GPU pool (MiB; `n/a` where not measured), device.
    pub fn table(&self) -> String {
        let r = &self.result;
        let mib = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.0}"));
        format!(
            "{:>10} {:>12} {:>14} {:>14} {:>14}  device\n{:>10} {:>12.3} {:>14.0} {:>14} {:>14}  {}",
            "params",
            "steps/s",
            "tokens/s",
            "peak RSS MiB",
            "GPU pool MiB",
            r.parameters,
            r.steps_per_s,
            r.tokens_per_s,
            mib(r.peak_rss_mib),
            mib(r.gpu_memory_reserved_mib),
            self.device,
        )
    }
}

fn burn_name() -> String {
    "burn".into()
}

/// What can stop the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum TrainBenchError {
    #[error("bench train: {0}")]
    Config(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Output(#[from] IoError),
}

/// Times the configured model (one progress line on stderr first) on the CUDA engine where
/// [`engine::engine_choice`] picks it, on burn otherwise (precision set, device checked), and
/// writes the report to `config.json`.
pub fn run(config: &Config) -> Result<Report, TrainBenchError> {
    if !config.memory && config.model != ModelKind::Mdn {
        return Err(TrainBenchError::Config(
            "leaving the memory bank out applies to the mdn model only".into(),
        ));
    }
    let (default_batch, default_seq_len) = config.model.default_batch();
    let run = BenchRun {
        batch_size: config.batch_size.unwrap_or(default_batch),
        seq_len: config.seq_len.unwrap_or(default_seq_len),
        warmup: config.warmup,
        steps: config.steps,
    };
    let model = config.model.timed_model(run.seq_len, config.memory);
    let optimizer = OptimizerConfig {
        method: config.optimizer,
        ..Default::default()
    };
    // On the engine, the precision is the activations' type.
    let engine_precision = match config.precision {
        Precision::Bf16 => EnginePrecision::Bf16,
        Precision::F32 => EnginePrecision::F32,
    };
    let choice = match &config.devices {
        Some(devices) if config.engine == EngineChoice::Engine => {
            return Err(TrainBenchError::Config(format!(
                "the CUDA engine runs on one GPU; --devices lists {}",
                devices.len()
            )));
        }
        Some(_) => Choice::Burn { why: None },
        None => engine::engine_choice(
            &model,
            &optimizer,
            run,
            &config.device.to_string(),
            (config.engine, engine_precision),
        )?,
    };
    let on_engine = matches!(choice, Choice::Engine { .. });
    let engine_name = if on_engine { "the CUDA engine" } else { "burn" };
    if let Choice::Burn { why: Some(why) } = &choice {
        eprintln!("{why}: timing burn's backend");
    }
    eprintln!(
        "bench train: {} ({} parameters) on {} with {engine_name} in {}, batch {} × T {}, {} warmup + {} timed steps ...",
        config.model.name(),
        model.param_count(),
        config.device,
        config.precision,
        run.batch_size,
        run.seq_len,
        run.warmup,
        run.steps
    );
    let (result, device) = match (&choice, &config.devices) {
        (Choice::Engine { plan, ordinal }, _) => (
            engine::bench_engine(&model, plan, *ordinal, run)?,
            config.device.to_string(),
        ),
        (Choice::Burn { .. }, Some(devices)) => {
            config.device.set_precision(config.precision)?;
            eprintln!("data-parallel on {}", devices.join(","));
            (
                bench_train_parallel_on(devices, &model, &optimizer, run)?,
                format!("parallel:{}", devices.join(",")),
            )
        }
        (Choice::Burn { .. }, None) => {
            config.device.set_precision(config.precision)?;
            let device = config.device.check_built()?;
            (
                bench_train_on(device, &model, &optimizer, run)?,
                device.to_string(),
            )
        }
    };
    let report = Report {
        device,
        model: config.model,
        optimizer: config.optimizer.name().to_string(),
        precision: config.precision.to_string(),
        engine: if on_engine { "engine" } else { "burn" }.into(),
        matmul_gemm: spectral::linalg::matmul_gemm().to_string(),
        msign_gemm: spectral::linalg::msign_gemm().to_string(),
        result,
    };
    if let Some(path) = &config.json {
        write_json(path, &report)?;
    }
    Ok(report)
}
