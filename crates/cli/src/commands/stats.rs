//! `spectral stats --spacings FILE`: the GUE statistics of a spacings file
//! (`spectral_experiments::zeta_stats`), printed as a table.

use crate::output::Console;
use anyhow::Result;
use spectral_experiments::zeta_stats;
use spectral_zeta::stats::gaudin::gaudin_variance;
use spectral_zeta::stats::report::StatsReport;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Spacings file written by `spectral unfold` (or `spectral run`).
    #[arg(long)]
    pub spacings: PathBuf,
    /// Directory for stats.json (created if missing).
    #[arg(long, default_value = "stats")]
    pub out: PathBuf,
    /// Seed of the GUE control sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report (as OUT/stats.json) to FILE (`-`: stdout, the table then on
    /// stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Blocks of heights for the finite-height drift.
    #[arg(long, default_value_t = 10)]
    pub height_blocks: usize,
}

/// The table of `spectral stats` (and the main job): each statistic of the zeros beside the
/// GUE control and GUE theory.
pub fn print_summary(report: &StatsReport, console: Console) {
    let (z, g) = (&report.zeros, &report.gue_control);
    console.line(&format!(
        "{:<26} {:>12} {:>12} {:>12}",
        "", "zeros", "GUE control", "GUE theory"
    ));
    console.line(&format!(
        "{:<26} {:>12} {:>12} {:>12}",
        "spacings", z.count, g.count, ""
    ));
    for row in report.comparison_rows() {
        let theory = row.theory.map_or(String::new(), |t| format!("{t:.5}"));
        console.line(&format!(
            "{:<26} {:>12.5} {:>12.5} {theory:>12}",
            row.label, row.zeros, row.control
        ));
    }
    if let (Some(first), Some(last)) = (report.height_drift.first(), report.height_drift.last()) {
        console.line(&format!(
            "height drift: variance {:.5} at t ≈ {:.0} → {:.5} at t ≈ {:.0} (GUE {:.5})",
            first.variance,
            first.height,
            last.variance,
            last.height,
            gaudin_variance()
        ));
    }
}

pub fn run(args: Args) -> Result<()> {
    crate::output::check_output_dirs(&[args.json.as_deref()])?;
    let report = zeta_stats::run(&zeta_stats::Config {
        spacings: args.spacings,
        out: args.out.clone(),
        seed: args.seed,
        height_blocks: args.height_blocks,
    })?;
    let console = Console::for_outputs(&[args.json.as_deref()]);
    print_summary(&report.stats, console);
    console.write_json(args.json.as_deref(), &report.stats)?;
    console.line(&format!(
        "wrote {} and {} figures (SVG + PNG) to {} in {:.2} s",
        report.json.display(),
        report.figures.len() / 2,
        args.out.display(),
        report.stats.seconds
    ));
    Ok(())
}
