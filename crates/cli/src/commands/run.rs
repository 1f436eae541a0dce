//! `spectral run`: the main job (`spectral_experiments::main_job`), its stages and results printed.

use anyhow::Result;
use spectral_experiments::main_job::{self, Progress, timestamp::default_out};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the outputs (created if missing); default `out/run-<UTC time>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Zeros to compute, from γ_1 (the statistics need at least 1001).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1001..))]
    pub count: u64,
    /// Training steps of each SpacingMDN (with memory, and the no-memory baseline).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
}

pub fn run(args: Args) -> Result<()> {
    let config = main_job::Config {
        out: args.out.unwrap_or_else(default_out),
        count: args.count,
        steps: args.steps,
    };
    let report = main_job::run_with_progress(&config, |stage| match stage {
        Progress::Zeros(z) => {
            println!("verified: {}", z.verified);
            println!(
                "{} zeros in {:.2} s; {} unfolded spacings: mean {:.6}, variance {:.6} (GUE: 1, 0.180)",
                z.zeros, z.seconds, z.spacings.count, z.spacings.mean, z.spacings.variance
            );
        }
        Progress::Stats(stats) => {
            crate::commands::stats::print_summary(stats, crate::output::Console::for_outputs(&[]))
        }
        Progress::Training { arm, steps } => {
            println!("training the SpacingMDN {arm} ({steps} steps) ...")
        }
    })?;
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8}",
        "model", "val NLL", "val MAE", "params", "train s"
    );
    for arm in &report.arms {
        println!(
            "{:<10} {:>10.4} {:>10.4} {:>10} {:>8.1}",
            arm.name,
            arm.evaluated.metrics.nll,
            arm.evaluated.metrics.mae,
            arm.trained.params,
            arm.trained.seconds
        );
    }
    println!(
        "wrote {} (zeros, spacings, stats/, memory/, baseline/, figures) in {:.0} s",
        report.report.display(),
        report.seconds
    );
    Ok(())
}
