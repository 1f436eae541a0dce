//! `spectral plot RUN…`: the loss curves of run directories in one chart, from each run's
//! `metrics.jsonl`: the training loss as a line and the validation loss as dots, one colour
//! per run, named by the run's directory. Runs in progress plot what they have logged.

use serde::{Deserialize, Serialize};
use spectral::plot::{Chart, Mark, PlotError, Series, write_chart_in};
use spectral_train::runs::{RunsError, TrainRun};
use std::path::PathBuf;

/// Which runs, where the chart goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Run directories (each with config.toml and metrics.jsonl).
    pub runs: Vec<PathBuf>,
    /// The chart's path without extension: `OUT.svg` and `OUT.png` are written.
    pub out: PathBuf,
    /// The chart's title; by default the runs' model kinds.
    #[serde(default)]
    pub title: Option<String>,
}

/// The files written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The SVG and the PNG.
    pub files: [PathBuf; 2],
}

/// What can stop `spectral plot`.
#[derive(Debug, thiserror::Error)]
pub enum CurvesError {
    #[error("no run directory given")]
    NoRuns,
    #[error(transparent)]
    Run(#[from] RunsError),
    #[error("{0}: metrics.jsonl has no training loss yet")]
    Empty(String),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Draws the curves of `config.runs` into `config.out` (`.svg` and `.png`).
///
/// The y axis spans the curves after their first 5 % of steps (the start of a loss curve is
/// far above the rest); earlier points above that are left out.
pub fn run(config: &Config) -> Result<Report, CurvesError> {
    if config.runs.is_empty() {
        return Err(CurvesError::NoRuns);
    }
    let runs = config
        .runs
        .iter()
        .map(|dir| TrainRun::open(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let mut series = Vec::new();
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for run in &runs {
        let name = run.dir.file_name().map_or_else(
            || run.dir.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        let train: Vec<(f64, f64)> = run
            .metrics
            .iter()
            .filter(|r| r.train_loss.is_finite())
            .map(|r| (r.step as f64, r.train_loss))
            .collect();
        let val: Vec<(f64, f64)> = run
            .val_curve()
            .iter()
            .map(|p| (p.step as f64, p.val_loss))
            .collect();
        let Some(&(last_step, _)) = train.last() else {
            return Err(CurvesError::Empty(run.dir.display().to_string()));
        };
        for &(step, loss) in train.iter().chain(&val) {
            if step >= 0.05 * last_step {
                low = low.min(loss);
                high = high.max(loss);
            }
        }
        series.push(Series::new(format!("{name} train"), train, Mark::Line));
        if !val.is_empty() {
            series.push(Series::new(format!("{name} val"), val, Mark::Dots));
        }
    }
    let pad = 0.05 * (high - low).max(1e-6);
    let title = config.title.clone().unwrap_or_else(|| {
        let mut kinds: Vec<&str> = runs.iter().map(TrainRun::model_kind).collect();
        kinds.dedup();
        format!("{} training: loss per target", kinds.join(", "))
    });
    let chart = Chart {
        title,
        x_label: "step".into(),
        y_label: "loss (nats)".into(),
        series,
    };
    let files = write_chart_in(&config.out, &chart, Some((low - pad, high + pad)))?;
    Ok(Report { files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral_train::TrainConfig;
    use spectral_train::metrics::{MetricsLog, Record};

    /// A run directory with `steps` metrics lines of loss `base + 1/step` and a validation
    /// loss every 10 steps.
    fn fake_run(dir: &std::path::Path, name: &str, base: f64, steps: u64) -> PathBuf {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("config.toml"), TrainConfig::default().to_toml()).unwrap();
        let mut log = MetricsLog::open(&run.join("metrics.jsonl"), 0).unwrap();
        for step in 1..=steps {
            log.write(&Record {
                step,
                train_loss: base + 1.0 / step as f64,
                val_loss: step.is_multiple_of(10).then_some(base + 0.1),
                lr: 1e-3,
                grad_norm: 1.0,
                tokens_per_s: 1.0,
                wall_s: step as f64,
                optim_s: 0.0,
            })
            .unwrap();
        }
        run
    }

    #[test]
    fn the_chart_names_every_run_and_both_curves() {
        let dir = tempfile::tempdir().unwrap();
        let runs = vec![
            fake_run(dir.path(), "mdn_engine", 0.5, 40),
            fake_run(dir.path(), "mdn_burn", 0.6, 40),
        ];
        let out = dir.path().join("curves");
        let report = run(&Config {
            runs,
            out: out.clone(),
            title: None,
        })
        .unwrap();
        let svg = std::fs::read_to_string(&report.files[0]).unwrap();
        for label in [
            "mdn_engine train",
            "mdn_engine val",
            "mdn_burn train",
            "mdn_burn val",
        ] {
            assert!(svg.contains(label), "{label} missing from the legend");
        }
        assert!(
            svg.contains("spacing_mdn training"),
            "the title names the model"
        );
        assert!(report.files[1].exists());
    }

    #[test]
    fn bad_input_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config = |runs| Config {
            runs,
            out: dir.path().join("c"),
            title: None,
        };
        assert!(matches!(run(&config(vec![])), Err(CurvesError::NoRuns)));
        let error = run(&config(vec![dir.path().join("missing")])).unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
        let empty = fake_run(dir.path(), "empty", 1.0, 0);
        let error = run(&config(vec![empty])).unwrap_err();
        assert!(error.to_string().contains("no training loss"), "{error}");
    }
}
