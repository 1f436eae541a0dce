use crate::output::{Console, check_binary_stdout};
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Zeros file written by `spectral zeros --format f64`.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Spacings file to write (same f64 format, kind = spacings; `-`: stdout, when it is not
    /// a terminal).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the summary (count, mean, variance, min, max) as JSON to FILE (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    check_binary_stdout(&args.out, true)?;
    let console = Console::for_outputs(&[Some(&args.out), args.json.as_deref()]);
    let summary = spectral_zeta::unfold::unfold_file(&args.input, &args.out)?;
    console.line(&format!(
        "{} spacings: mean {:.6}, variance {:.6}, min {:.6}, max {:.6} → {}",
        summary.count,
        summary.mean,
        summary.variance,
        summary.min,
        summary.max,
        args.out.display()
    ));
    console.write_json(args.json.as_deref(), &summary)
}
