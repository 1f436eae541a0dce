//! `spectral bench train`: SpacingMDN training steps per second and peak memory.

use anyhow::Result;
use models::{MemoryConfig, SpacingMdnConfig};
use spectral::DeviceKind;
use spectral::optim::{Method, OptimizerConfig};
use std::path::PathBuf;
use train::bench::{TrainBench, bench_train_on};
use zeta::atomic_file::AtomicFile;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Sequences per step (the reference run uses 512; CPUs want far fewer).
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    /// Spacings per sequence T (the reference 255: 8 memory slots + 255 = 263 positions).
    #[arg(long, default_value_t = 255)]
    pub seq_len: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Untimed steps first (allocation, autotuning).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Optimizer of the matrices.
    #[arg(long, default_value = "muon")]
    pub optimizer: Method,
    /// Leave the memory bank out (the default model has 8 slots).
    #[arg(long)]
    pub no_memory: bool,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// The default SpacingMDN (6 layers, 256 wide, 8 heads, K = 8) with its memory bank.
pub fn train(args: TrainArgs) -> Result<()> {
    let device = args.device.check_built()?;
    let model = SpacingMdnConfig::new()
        .with_block_size(args.seq_len.max(1))
        .with_memory((!args.no_memory).then(MemoryConfig::new));
    let optimizer = OptimizerConfig {
        method: args.optimizer,
        ..Default::default()
    };
    eprintln!(
        "bench train: SpacingMDN ({} parameters) on {device}, batch {} × T {}, {} warmup + {} timed steps ...",
        model.param_count(),
        args.batch_size,
        args.seq_len,
        args.warmup,
        args.steps
    );
    let result: TrainBench = bench_train_on(
        device,
        &model,
        &optimizer,
        args.batch_size,
        args.seq_len,
        args.warmup,
        args.steps,
    )?;
    println!(
        "{:>10} {:>12} {:>14} {:>14}  device",
        "params", "steps/s", "spacings/s", "peak RSS MiB"
    );
    println!(
        "{:>10} {:>12.3} {:>14.0} {:>14}  {device}",
        result.parameters,
        result.steps_per_s,
        result.tokens_per_s,
        result
            .peak_rss_mib
            .map_or("n/a".into(), |m| format!("{m:.0}"))
    );
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "device": device.to_string(), "optimizer": args.optimizer.name(), "result": result });
        let mut file = AtomicFile::create(path)?;
        file.write_all(serde_json::to_string_pretty(&json)?.as_bytes())?;
        file.commit()?;
    }
    Ok(())
}
