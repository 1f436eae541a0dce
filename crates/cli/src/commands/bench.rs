//! `spectral bench ...`: end-to-end benchmarks, each a subcommand.

use anyhow::{Context, Result};
use spectral::DeviceKind;
use spectral::optim::Method;
use spectral::optim::bench::{BenchOptions, StepTiming, bench_optimizer_on};
use std::path::PathBuf;
use zeta::atomic_file::AtomicFile;

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
    #[arg(long, default_value_t = BenchOptions::default().layers)]
    pub layers: usize,
    /// Model width w.
    #[arg(long, default_value_t = BenchOptions::default().width)]
    pub width: usize,
    /// Timed steps per optimizer.
    #[arg(long, default_value_t = BenchOptions::default().steps)]
    pub steps: usize,
    /// Untimed steps first (compilation, autotuning, cold starts).
    #[arg(long, default_value_t = BenchOptions::default().warmup)]
    pub warmup: usize,
    /// Optimizers to time, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', default_values_t = Method::ALL.map(|m| m.name().to_string()))]
    pub methods: Vec<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
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
    let device = args.device.check_built()?;
    let methods = args
        .methods
        .iter()
        .map(|m| m.parse::<Method>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let options = BenchOptions {
        layers: args.layers,
        width: args.width,
        steps: args.steps,
        warmup: args.warmup,
        ..BenchOptions::default()
    };
    let mut timings = Vec::with_capacity(methods.len());
    for method in methods {
        eprintln!(
            "bench optim: {} on {device}, {} warmup + {} timed steps ...",
            method.name(),
            options.warmup,
            options.steps
        );
        let timing = bench_optimizer_on(device, method, &options)
            .with_context(|| format!("bench optim {}", method.name()))?;
        eprintln!(
            "bench optim: {} median {:.2} ms/step",
            method.name(),
            timing.median_ms
        );
        timings.push(timing);
        // Rewritten after every method, so a run cut short keeps the methods it finished.
        if let Some(path) = &args.json {
            write_optim_json(path, device, &options, &timings)?;
        }
    }
    println!(
        "{:<14} {:>12} {:>12} {:>12}  device",
        "method", "median ms", "min ms", "parameters"
    );
    for t in &timings {
        println!(
            "{:<14} {:>12.3} {:>12.3} {:>12}  {device}",
            t.method.name(),
            t.median_ms,
            t.min_ms,
            t.parameters
        );
    }
    if let Some(path) = &args.json {
        eprintln!("bench optim: wrote {}", path.display());
    }
    Ok(())
}

/// The `--json` report of `bench optim`: the device, where msign's matmuls ran
/// (`--msign-gemm`), the options and one record per finished method.
fn write_optim_json(
    path: &std::path::Path,
    device: DeviceKind,
    options: &BenchOptions,
    timings: &[StepTiming],
) -> Result<()> {
    let report = serde_json::json!({
        "device": device.to_string(),
        "msign_gemm": spectral::linalg::msign_gemm().to_string(),
        "options": options,
        "results": timings,
    });
    let mut file = AtomicFile::create(path)?;
    file.write_all(serde_json::to_string_pretty(&report)?.as_bytes())?;
    file.commit()?;
    Ok(())
}
