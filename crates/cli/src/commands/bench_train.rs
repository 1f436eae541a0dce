//! `spectral bench train`: training steps per second and peak memory of a SpacingMDN or a
//! char-GPT (the same step for both: `spectral_experiments::train_bench`).

use anyhow::Result;
use spectral::DeviceKind;
use spectral::device::Precision;
use spectral::optim::Method;
use spectral_experiments::train_bench::{self, Config, ModelKind};
use spectral_train::EngineChoice;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// `mdn` (SpacingMDN with memory: 6 layers, 256 wide, 8 heads, K = 8) or `gpt` (char-GPT
    /// of GPT-2 small's shape, 12 × 768).
    #[arg(long, default_value = "mdn")]
    pub model: ModelKind,
    /// `cpu`, or `cuda[:N]` (the CUDA engine in any build; burn's CUDA backend in a binary
    /// built with `--features cuda`).
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Data-parallel through burn's collective on these devices, comma-separated
    /// (`cuda:0,cuda:1`, `cpu:0,cpu:1`), the batch split among them; replaces `--device`.
    /// `--devices cuda:0` against `--device cuda:0` is the cost of the collective path.
    #[arg(long, value_delimiter = ',')]
    pub devices: Option<Vec<String>>,
    /// Sequences per step [default: 512 for mdn, 64 for gpt; CPUs want far fewer].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Targets per sequence T [default: 255 for mdn (8 memory slots + 255 = 263 positions),
    /// 256 for gpt]; also the model's context length.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Timed steps.
    #[arg(long, default_value_t = Config::default().steps)]
    pub steps: usize,
    /// Untimed steps first (allocation, kernel compilation, autotuning).
    #[arg(long, default_value_t = Config::default().warmup)]
    pub warmup: usize,
    /// Optimizer of the matrices.
    #[arg(long, default_value = "muon")]
    pub optimizer: Method,
    /// Float type on the device: `f32`, or `bf16` (cuda only). On the CUDA engine the
    /// activations' type (bf16 with f32 master weights, as autocast; f32 with TF32 off); on
    /// burn every tensor's (weights, activations, gradients, optimizer state: no autocast).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// What runs the steps on a CUDA device: `auto` (the CUDA engine where it runs the model
    /// and optimizer, burn otherwise), `engine`, `burn`.
    #[arg(long, default_value = "auto")]
    pub engine: EngineChoice,
    /// Leave the memory bank out (mdn only; the default model has 8 slots).
    #[arg(long)]
    pub no_memory: bool,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

pub fn train(args: TrainArgs) -> Result<()> {
    args.kernels.apply()?;
    let report = train_bench::run(&Config {
        model: args.model,
        device: args.device,
        devices: args.devices,
        batch_size: args.batch_size,
        seq_len: args.seq_len,
        steps: args.steps,
        warmup: args.warmup,
        optimizer: args.optimizer,
        precision: args.precision,
        memory: !args.no_memory,
        engine: args.engine,
        json: args.json,
    })?;
    println!("{}", report.table());
    Ok(())
}
