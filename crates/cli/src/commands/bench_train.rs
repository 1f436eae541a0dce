//! `spectral bench train`: training steps per second and peak memory of a SpacingMDN or a
//! char-GPT (the same step for both: `spectral_train::bench`).

use anyhow::Result;
use spectral::DeviceKind;
use spectral::device::Precision;
use spectral::optim::{Method, OptimizerConfig};
use spectral_models::{GptConfig, MemoryConfig, SpacingMdnConfig};
use spectral_train::bench::{
    BenchRun, TimedModel, TrainBench, bench_train_on, bench_train_parallel_on,
};
use std::path::PathBuf;

/// The model `spectral bench train` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// The default SpacingMDN (6 layers, 256 wide, 8 heads, K = 8) with its memory bank.
    Mdn,
    /// A char-GPT of GPT-2 small's shape: 12 layers, 768 wide, 12 heads, byte vocabulary,
    /// learned positions, tied head.
    Gpt,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            Self::Mdn => "mdn",
            Self::Gpt => "gpt",
        }
    }

    /// The reference batch: 512 × 255 spacings, or 64 × 256 bytes.
    fn default_batch(self) -> (usize, usize) {
        match self {
            Self::Mdn => (512, 255),
            Self::Gpt => (64, 256),
        }
    }
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// `mdn` (SpacingMDN with memory) or `gpt` (char-GPT, 12 × 768).
    #[arg(long, value_enum, default_value = "mdn")]
    pub model: ModelKind,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda`.
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
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first (allocation, kernel compilation, autotuning).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Optimizer of the matrices.
    #[arg(long, default_value = "muon")]
    pub optimizer: Method,
    /// Float type of the run's tensors on the device: `f32`, or `bf16` (cuda only; weights,
    /// activations, gradients and optimizer state all in bf16: burn has no autocast).
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// Leave the memory bank out (mdn only; the default model has 8 slots).
    #[arg(long)]
    pub no_memory: bool,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The model of `kind` for sequences of `seq_len` (its context length).
fn bench_model(kind: ModelKind, seq_len: usize, memory: bool) -> TimedModel {
    let context = seq_len.max(1);
    match kind {
        ModelKind::Mdn => TimedModel::SpacingMdn(
            SpacingMdnConfig::new()
                .with_block_size(context)
                .with_memory(memory.then(MemoryConfig::new)),
        ),
        ModelKind::Gpt => TimedModel::Gpt(
            GptConfig::new()
                .with_n_layer(12)
                .with_n_head(12)
                .with_n_embd(768)
                .with_block_size(context),
        ),
    }
}

pub fn train(args: TrainArgs) -> Result<()> {
    args.device.set_precision(args.precision)?;
    let device = args.device.check_built()?;
    if args.no_memory && args.model != ModelKind::Mdn {
        anyhow::bail!("--no-memory applies to --model mdn only");
    }
    let (default_batch, default_seq_len) = args.model.default_batch();
    let run = BenchRun {
        batch_size: args.batch_size.unwrap_or(default_batch),
        seq_len: args.seq_len.unwrap_or(default_seq_len),
        warmup: args.warmup,
        steps: args.steps,
    };
    let model = bench_model(args.model, run.seq_len, !args.no_memory);
    let optimizer = OptimizerConfig {
        method: args.optimizer,
        ..Default::default()
    };
    eprintln!(
        "bench train: {} ({} parameters) on {device} in {}, batch {} × T {}, {} warmup + {} timed steps ...",
        args.model.name(),
        model.param_count(),
        args.precision,
        run.batch_size,
        run.seq_len,
        run.warmup,
        run.steps
    );
    let result: TrainBench = match &args.devices {
        Some(devices) => {
            eprintln!("data-parallel on {}", devices.join(","));
            bench_train_parallel_on(devices, &model, &optimizer, run)?
        }
        None => bench_train_on(device, &model, &optimizer, run)?,
    };
    let device = args
        .devices
        .as_ref()
        .map_or(device.to_string(), |d| format!("parallel:{}", d.join(",")));
    let mib = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.0}"));
    println!(
        "{:>10} {:>12} {:>14} {:>14} {:>14}  device",
        "params", "steps/s", "tokens/s", "peak RSS MiB", "GPU pool MiB"
    );
    println!(
        "{:>10} {:>12.3} {:>14.0} {:>14} {:>14}  {device}",
        result.parameters,
        result.steps_per_s,
        result.tokens_per_s,
        mib(result.peak_rss_mib),
        mib(result.gpu_memory_reserved_mib),
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "device": device.to_string(),
            "model": args.model.name(),
            "optimizer": args.optimizer.name(),
            "precision": args.precision.to_string(),
            "matmul_gemm": spectral::linalg::matmul_gemm().to_string(),
            "msign_gemm": spectral::linalg::msign_gemm().to_string(),
            "result": result,
        });
        spectral_io::write_json(path, &json)?;
    }
    Ok(())
}
