//! `spectral plot RUN… --out FILE`: the loss curves of run directories in one chart.

use anyhow::Result;
use spectral_experiments::curves::{Config, run as draw};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Run directories (each with config.toml and metrics.jsonl, finished or running).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The chart's path without extension (FILE.svg and FILE.png).
    #[arg(long, default_value = "curves")]
    pub out: PathBuf,
    /// The chart's title (default: the runs' model kinds).
    #[arg(long)]
    pub title: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let report = draw(&Config {
        runs: args.runs,
        out: args.out,
        title: args.title,
    })?;
    for file in report.files {
        println!("{}", file.display());
    }
    Ok(())
}
