//! `spectral train --config FILE.toml`: one training run; flags override the file.

use anyhow::Result;
use spectral::optim::Method;
use spectral_train::config::EnginePrecision;
use spectral_train::{EngineChoice, TrainConfig};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The run's TOML config (see configs/; every field has a default).
    #[arg(long)]
    pub config: PathBuf,
    /// Continue from OUT/last.safetensors (same model, data, optimizer and seed).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace the run OUT holds (its metrics, checkpoints and evaluations); without it a
    /// fresh run into a directory holding one is refused.
    #[arg(long)]
    pub overwrite: bool,
    /// The run's optimizer steps; the learning-rate schedule fits them (the cosine ends at the
    /// last step, the warmup is at most a tenth of the run), as for `spectral run --steps`.
    #[arg(long)]
    pub steps: Option<u64>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long)]
    pub device: Option<String>,
    /// Data-parallel on these devices, comma-separated (`cpu:0,cpu:1`, `cuda:0,cuda:1`):
    /// the batch is split among them; replaces `--device`.
    #[arg(long, value_delimiter = ',')]
    pub devices: Option<Vec<String>>,
    /// What trains on a CUDA device: `auto` (the CUDA engine where it runs the config, burn
    /// otherwise, saying why), `engine` (or an error saying why not), `burn`.
    #[arg(long)]
    pub engine: Option<EngineChoice>,
    /// The CUDA engine's precision: `bf16` activations (the default; f32 master weights),
    /// `tf32` (every tensor f32, products on TF32 tensor cores: for precision-bound models such
    /// as the SpacingMDN) or `f32` (TF32 off too: the slowest, for parity checks).
    #[arg(long)]
    pub engine_precision: Option<EnginePrecision>,
    /// Output directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Optimizer of the matrices: adamw, muon, teon, spectra, spectra_teon, manifold_muon.
    #[arg(long)]
    pub optimizer: Option<Method>,
    /// Peak learning rate of the matrix group.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed of the model init and the training windows.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sequences per step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Spacing file (SpacingMDN runs).
    #[arg(long)]
    pub spacings: Option<PathBuf>,
    /// Weight init: `default` (the model's own) or m23_seed, m23_preserving, he, xavier,
    /// orthogonal, gaussian_m23_scale, orthogonal_m23_scale (redrawn from the seed).
    #[arg(long)]
    pub init: Option<spectral_train::model_init::ModelInit>,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

pub fn run(args: Args) -> Result<()> {
    args.kernels.apply()?;
    let mut config = TrainConfig::load(&args.config)?;
    if let Some(steps) = args.steps {
        config.set_steps(steps);
    }
    if let Some(device) = args.device {
        config.device = device;
    }
    if let Some(devices) = args.devices {
        config.devices = devices;
    }
    if let Some(engine) = args.engine {
        config.engine = engine;
    }
    if let Some(precision) = args.engine_precision {
        config.engine_precision = precision;
    }
    if let Some(out) = args.out {
        config.out = out;
    }
    if let Some(method) = args.optimizer {
        config.optimizer.method = method;
    }
    if let Some(lr) = args.lr {
        config.optimizer.lr = lr;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(batch_size) = args.batch_size {
        config.batch_size = batch_size;
    }
    if let Some(spacings) = args.spacings {
        config.data.spacings = Some(spacings);
    }
    if let Some(init) = args.init {
        config.init = init;
    }
    let start = match (args.resume, args.overwrite) {
        (true, _) => spectral_train::Start::Resume,
        (false, true) => spectral_train::Start::Overwrite,
        (false, false) => spectral_train::Start::Fresh,
    };
    let summary = spectral_train::train_on_device(&config, start)?;
    println!(
        "{} steps in {:.1} s: train loss {:.4}, val loss {:.4} (best {:.4}); {} parameters; outputs in {}",
        summary.steps,
        summary.seconds,
        summary.final_train_loss,
        summary.final_val_loss,
        summary.best_val_loss,
        summary.params,
        summary.out.display()
    );
    Ok(())
}
