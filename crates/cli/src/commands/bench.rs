//! `spectral bench ...`: end-to-end benchmarks, each a subcommand.

use anyhow::Result;
use spectral::DeviceKind;
use spectral::optim::Method;
use spectral_experiments::optim_bench::{self, Options};
use spectral_train::config::EnginePrecision;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Time one optimizer step over GPT-2-small matrix shapes, for each optimizer.
    Optim(OptimArgs),
    /// Training steps per second and peak memory: SpacingMDN with memory (`--model mdn`) or
    /// char-GPT 12 × 768 (`--model gpt`).
    Train(super::bench_train::TrainArgs),
    /// Init benchmark on a deep char-GPT (M23-Spectrum vs He, Xavier, orthogonal), or
    /// `--qr-cost`: the time of an M23 init of large square layers.
    Init(super::bench_init::InitArgs),
    /// Frame interpolation on a synthetic video with the notes' FrameGenerator: PSNR and SSIM
    /// on held-out clips per init, beside the average-of-inputs baseline.
    Frames(super::bench_frames::FramesArgs),
}

#[derive(clap::Args)]
pub struct OptimArgs {
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Transformer blocks (each: Q, K, V, O [w, w], MLP fc [w, 4w], proj [4w, w]).
    #[arg(long, default_value_t = Options::default().layers)]
    pub layers: usize,
    /// Model width w.
    #[arg(long, default_value_t = Options::default().width)]
    pub width: usize,
    /// Timed steps per optimizer.
    #[arg(long, default_value_t = Options::default().steps)]
    pub steps: usize,
    /// Untimed steps first (compilation, autotuning, cold starts).
    #[arg(long, default_value_t = Options::default().warmup)]
    pub warmup: usize,
    /// Optimizers to time, comma-separated (default: all six; with `--engine`, adamw and
    /// muon).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Time the CUDA engine's optimizer kernels (one captured graph per step, Newton–Schulz
    /// iterates and compute copy in bf16, or f32 with TF32 or true f32 products) instead of
    /// burn's optimizer; needs
    /// `--device cuda`.
    #[arg(long, value_name = "bf16|tf32|f32")]
    pub engine: Option<EnginePrecision>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        BenchCommand::Optim(args) => optim(args),
        BenchCommand::Train(args) => super::bench_train::train(args),
        BenchCommand::Init(args) => super::bench_init::init(args),
        BenchCommand::Frames(args) => super::bench_frames::frames(args),
    }
}

fn optim(args: OptimArgs) -> Result<()> {
    args.kernels.apply()?;
    let methods = match (args.methods.is_empty(), args.engine) {
        (false, _) => args
            .methods
            .iter()
            .map(|m| m.parse::<Method>().map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?,
        (true, None) => Method::ALL.to_vec(),
        (true, Some(_)) => vec![Method::AdamW, Method::Muon],
    };
    let config = optim_bench::Config {
        device: args.device,
        methods,
        engine: args.engine,
        options: Options {
            layers: args.layers,
            width: args.width,
            steps: args.steps,
            warmup: args.warmup,
            ..Options::default()
        },
        json: args.json,
    };
    let report = optim_bench::run(&config)?;
    println!(
        "{:<14} {:>12} {:>12} {:>12}  device",
        "method", "median ms", "min ms", "parameters"
    );
    for t in &report.results {
        println!(
            "{:<14} {:>12.3} {:>12.3} {:>12}  {}",
            t.method.name(),
            t.median_ms,
            t.min_ms,
            t.parameters,
            report.device
        );
    }
    if let Some(path) = &config.json {
        eprintln!("bench optim: wrote {}", path.display());
    }
    Ok(())
}
