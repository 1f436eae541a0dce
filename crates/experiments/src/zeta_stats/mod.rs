//! `spectral stats`: the random-matrix statistics of a spacings file against GUE and a GUE
//! control sample ([`spectral_zeta::stats::report::StatsReport`]), written as `OUT/stats.json` with
//! its figures ([`figures`]) beside it.

pub mod figures;

use serde::{Deserialize, Serialize};
use spectral::plot::PlotError;
use spectral_io::progress::Progress;
use spectral_io::{IoError, write_json};
use spectral_zeta::ZetaError;
use spectral_zeta::stats::report::StatsReport;
use std::path::PathBuf;

/// Which spacings, where the results go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Spacings file written by `spectral unfold` (or the main job).
    pub spacings: PathBuf,
    /// Directory for `stats.json` and the figures (created if missing).
    pub out: PathBuf,
    /// Seed of the GUE control sample.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Blocks of heights for the finite-height drift.
    #[serde(default = "default_height_blocks")]
    pub height_blocks: usize,
}

fn default_seed() -> u64 {
    1
}

fn default_height_blocks() -> usize {
    10
}

/// The statistics and the files written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub stats: StatsReport,
    /// `OUT/stats.json`.
    pub json: PathBuf,
    /// Every figure file (an SVG and a PNG per figure).
    pub figures: Vec<PathBuf>,
}

/// What can stop `spectral stats`.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error(transparent)]
    Zeta(#[from] ZetaError),
    #[error("creating {path}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] IoError),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Measures `config.spacings` and writes `stats.json` and the figures into `config.out`
/// (nothing is created when the file is not a usable spacings file).
pub fn run(config: &Config) -> Result<Report, StatsError> {
    let progress = Progress::new("stats", 2, "stages");
    progress.set_message("statistics of the spacings and a GUE control".into());
    let stats = StatsReport::of_file(&config.spacings, config.seed, config.height_blocks)?;
    progress.inc(1);
    progress.set_message("figures".into());
    std::fs::create_dir_all(&config.out).map_err(|source| StatsError::CreateDir {
        path: config.out.display().to_string(),
        source,
    })?;
    let json = config.out.join("stats.json");
    write_json(&json, &stats)?;
    let figures = figures::write_figures(&stats, &config.out)?;
    progress.inc(1);
    progress.finish();
    Ok(Report {
        stats,
        json,
        figures,
    })
}
