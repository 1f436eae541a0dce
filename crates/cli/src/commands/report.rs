//! `spectral report --runs DIR [--out OUTDIR]`: the results page (`OUTDIR/RESULTS.md` with
//! its tables and SVG/PNG plots) from the run directories and result files under DIR, after
//! evaluating the SpacingMDN runs that lack `eval.json`; see `spectral_experiments::report` for
//! what each section reads.

use anyhow::Result;
use spectral_experiments::report::{self, Config, Targets};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Directory searched (recursively) for run directories and result files.
    #[arg(long)]
    pub runs: PathBuf,
    /// Where RESULTS.md and its figures go (default: DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Shoot-out target validation loss of the char-GPT (default: the worst optimizer's mean final loss).
    #[arg(long)]
    pub target_gpt: Option<f64>,
    /// Shoot-out target validation loss of the SpacingMDN (default: as for the GPT).
    #[arg(long)]
    pub target_mdn: Option<f64>,
    /// Do not evaluate SpacingMDN runs that lack eval.json (the main job's arms, memory
    /// variants); name the `spectral eval` commands instead. By default they are evaluated on
    /// the CPU and RUN/eval.json is written.
    #[arg(long)]
    pub no_evaluate: bool,
}

pub fn run(args: Args) -> Result<()> {
    let written = report::run(&Config {
        out: args.out.unwrap_or_else(|| args.runs.clone()),
        runs: args.runs,
        targets: Targets {
            gpt: args.target_gpt,
            mdn: args.target_mdn,
        },
        evaluate: !args.no_evaluate,
    })?;
    println!(
        "wrote {} ({}) and {} figure files",
        written.page.display(),
        written.sections.join(", "),
        written.figures
    );
    Ok(())
}
