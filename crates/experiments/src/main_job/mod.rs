//! The main job (`spectral run`): zeros → unfolded spacings → GUE statistics → a SpacingMDN
//! with memory and a no-memory baseline trained the same way → validation NLL and MAE,
//! rollouts → `OUT/report.md` with its figures.
//!
//! Files under `OUT`: `zeros.f64`, `spacings.f64`, `summary.json` ([`ZerosSummary`]),
//! `stats/` (as `spectral stats`), `memory/` and `baseline/` (training runs),
//! `loss_curves.{svg,png}`, `rollouts.{svg,png}`, `report.md`.

pub mod evaluate;
pub mod figures;
pub mod markdown;
pub mod timestamp;

use crate::zeros_file::write_zeros;
use crate::zeta_stats::{self, StatsError};
use evaluate::{Evaluated, evaluate};
use serde::{Deserialize, Serialize};
use spectral_io::{IoError, write_atomic};
use spectral_train::config::ConfigError;
use spectral_train::run_dir::run_files_in;
use spectral_train::{ModelConfig, Start, TrainConfig, TrainError, TrainSummary};
use spectral_zeta::ZetaError;
use spectral_zeta::series_file::Format;
use spectral_zeta::stats::report::StatsReport;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The SpacingMDN both arms of the main job train (with and without its memory bank).
const QUICK_MDN: &str = include_str!("../../../../configs/quick_mdn.toml");

/// Model arms of the main job: (name, with memory bank).
pub const ARMS: [(&str, bool); 2] = [("memory", true), ("baseline", false)];

/// How many zeros, how long each arm trains, where the outputs go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory for the outputs (created if missing).
    pub out: PathBuf,
    /// Zeros to compute, from γ_1 (the statistics need at least 1001).
    pub count: u64,
    /// Training steps of each SpacingMDN (with memory, and the no-memory baseline).
    pub steps: u64,
}

/// The zeros and their unfolded spacings (`OUT/summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZerosSummary {
    /// Zeros computed, from γ_1.
    pub zeros: u64,
    /// Wall time of computing them, seconds.
    pub seconds: f64,
    /// Turing's verification line.
    pub verified: String,
    pub spacings: SpacingSummary,
}

/// Count, mean, population variance, min and max of the unfolded spacings (mean spacing 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpacingSummary {
    pub count: u64,
    pub mean: f64,
    pub variance: f64,
    pub min: f64,
    pub max: f64,
}

/// One trained and evaluated arm.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Arm {
    pub name: String,
    pub trained: TrainSummary,
    pub evaluated: Evaluated,
}

/// What the main job did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub zeros: ZerosSummary,
    pub stats: StatsReport,
    pub arms: Vec<Arm>,
    /// `OUT/report.md`.
    pub report: PathBuf,
    /// Wall time of the whole job, seconds.
    pub seconds: f64,
}

/// A stage the job has reached, for a caller that shows progress.
pub enum Progress<'a> {
    /// The zeros are computed and unfolded.
    Zeros(&'a ZerosSummary),
    /// The GUE statistics are written.
    Stats(&'a StatsReport),
    /// An arm starts training.
    Training { arm: &'a str, steps: u64 },
}

/// What can stop the main job.
#[derive(Debug, thiserror::Error)]
pub enum MainJobError {
    #[error("{0} holds the runs of an earlier `spectral run`; give another --out")]
    OutHoldsRuns(String),
    #[error("creating {path}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Zeta(#[from] ZetaError),
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Evaluate(#[from] evaluate::EvaluateError),
    #[error(transparent)]
    Plot(#[from] spectral::plot::PlotError),
    #[error(transparent)]
    Output(#[from] IoError),
}

/// Runs the whole job (module doc).
pub fn run(config: &Config) -> Result<Report, MainJobError> {
    run_with_progress(config, |_| {})
}

/// [`run`], telling `progress` each stage it reaches.
pub fn run_with_progress(
    config: &Config,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Report, MainJobError> {
    let out = &config.out;
    // Before the zeros: an arm's directory holding a run would stop the job minutes in.
    for (name, _) in ARMS {
        if !run_files_in(&out.join(name)).is_empty() {
            return Err(MainJobError::OutHoldsRuns(out.display().to_string()));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| MainJobError::CreateDir {
        path: out.display().to_string(),
        source,
    })?;
    let zeros_path = out.join("zeros.f64");
    let spacings_path = out.join("spacings.f64");
    let started = Instant::now();
    let verification = write_zeros(
        1,
        config.count,
        Format::F64,
        &zeros_path,
        &mut spectral_zeta::batch::Cpu::default(),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let spacings = spectral_zeta::unfold::unfold_file(&zeros_path, &spacings_path)?;
    let zeros = ZerosSummary {
        zeros: config.count,
        seconds,
        verified: verification.summary(),
        spacings: SpacingSummary {
            count: spacings.count,
            mean: spacings.mean,
            variance: spacings.variance,
            min: spacings.min,
            max: spacings.max,
        },
    };
    let json = serde_json::to_string_pretty(&zeros).expect("a summary always serializes");
    write_atomic(out.join("summary.json"), format!("{json}\n").as_bytes())?;
    progress(Progress::Zeros(&zeros));
    let stats = zeta_stats::run(&zeta_stats::Config {
        spacings: spacings_path.clone(),
        out: out.join("stats"),
        seed: 1,
        height_blocks: 10,
    })?
    .stats;
    progress(Progress::Stats(&stats));

    let mut arms = Vec::new();
    for (name, memory) in ARMS {
        let train_config = arm_config(name, memory, &spacings_path, out, config.steps)?;
        progress(Progress::Training {
            arm: name,
            steps: config.steps,
        });
        let trained = spectral_train::train_on_device(&train_config, Start::Fresh)?;
        let evaluated = evaluate(&train_config)?;
        arms.push(Arm {
            name: name.to_string(),
            trained,
            evaluated,
        });
    }
    let figures = figures::write_run_figures(out, &arms)?;
    let report = out.join("report.md");
    write_atomic(
        &report,
        markdown::report_markdown(config.count, &arms, &figures).as_bytes(),
    )?;
    Ok(Report {
        zeros,
        stats,
        arms,
        report,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The training config of one arm: `configs/quick_mdn.toml` on `spacings`, for `steps`
/// steps ([`TrainConfig::set_steps`]), without the memory bank
/// unless `memory`; its run directory is `out/name`.
fn arm_config(
    name: &str,
    memory: bool,
    spacings: &Path,
    out: &Path,
    steps: u64,
) -> Result<TrainConfig, ConfigError> {
    let mut config = TrainConfig::from_toml(QUICK_MDN, "configs/quick_mdn.toml")?;
    config.data.spacings = Some(spacings.to_path_buf());
    config.out = out.join(name);
    config.set_steps(steps);
    if let ModelConfig::SpacingMdn(model) = &mut config.model
        && !memory
    {
        model.memory = None;
    }
    Ok(config)
}
