//! Finished training runs read back from disk: a run directory is one that holds the
//! `config.toml` and `metrics.jsonl` that [`crate::train`] writes (checkpoints are not needed,
//! so run directories can be committed without them).

use crate::config::{ModelConfig, TrainConfig};
use crate::metrics::{MetricsLog, Record};
use std::path::{Path, PathBuf};

/// What can go wrong reading run directories; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("reading {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One run: its resolved config and its metrics log.
#[derive(Clone, Debug)]
pub struct TrainRun {
    pub dir: PathBuf,
    pub config: TrainConfig,
    pub metrics: Vec<Record>,
}

/// One evaluation of a run: steps done, seconds since the start, validation loss (nats).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ValPoint {
    pub step: u64,
    pub wall_s: f64,
    pub val_loss: f64,
}

impl TrainRun {
    /// Reads `dir/config.toml` and `dir/metrics.jsonl`.
    pub fn open(dir: &Path) -> Result<Self, RunsError> {
        let config_path = dir.join("config.toml");
        let config = TrainConfig::load(&config_path).map_err(|e| RunsError::Invalid {
            path: config_path.display().to_string(),
            message: format!("not a training config ({e})"),
        })?;
        let metrics_path = dir.join("metrics.jsonl");
        let metrics = MetricsLog::read(&metrics_path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                RunsError::Io {
                    path: metrics_path.display().to_string(),
                    source,
                }
            } else {
                RunsError::Invalid {
                    path: metrics_path.display().to_string(),
                    message: format!("not a metrics log ({source})"),
                }
            }
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            metrics,
        })
    }

    /// `"gpt"` or `"spacing_mdn"`, as `[model] kind` spells it.
    pub fn model_kind(&self) -> &'static str {
        match self.config.model {
            ModelConfig::Gpt(_) => "gpt",
            ModelConfig::SpacingMdn(_) => "spacing_mdn",
        }
    }

    /// The evaluations in step order.
    pub fn val_curve(&self) -> Vec<ValPoint> {
        self.metrics
            .iter()
            .filter_map(|r| {
                r.val_loss.map(|val_loss| ValPoint {
                    step: r.step,
                    wall_s: r.wall_s,
                    val_loss,
                })
            })
            .collect()
    }

    /// The last evaluation's validation loss, when the run finished its steps; `None` for a
    /// run that stopped early (diverged or killed), so it cannot pass for a finished one.
    pub fn final_val_loss(&self) -> Option<f64> {
        let last = self.metrics.last()?;
        if last.step < self.config.steps {
            return None;
        }
        last.val_loss.filter(|v| v.is_finite())
    }

    /// Mean wall seconds per step over the run (evaluations included), and mean seconds in
    /// the optimizer's step (`None` in logs that do not record it).
    pub fn seconds_per_step(&self) -> Option<(f64, Option<f64>)> {
        let last = self.metrics.last().filter(|r| r.step > 0)?;
        let steps = last.step as f64;
        Some((
            last.wall_s / steps,
            (last.optim_s > 0.0).then(|| last.optim_s / steps),
        ))
    }
}

/// Every run directory under `root` (itself included), sorted by path; the walk does not
/// descend into a run directory. Hidden directories are skipped.
pub fn run_dirs(root: &Path) -> Result<Vec<PathBuf>, RunsError> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("config.toml").is_file() && dir.join("metrics.jsonl").is_file() {
            found.push(dir);
            continue;
        }
        let entries = std::fs::read_dir(&dir).map_err(|source| RunsError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if path.is_dir() && !hidden {
                stack.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricsLog;

    fn write_run(dir: &Path, steps: u64, vals: &[(u64, f64)]) {
        std::fs::create_dir_all(dir).unwrap();
        let config = TrainConfig {
            model: ModelConfig::Gpt(spectral_models::GptConfig::new()),
            steps,
            ..TrainConfig::default()
        };
        std::fs::write(dir.join("config.toml"), config.to_toml()).unwrap();
        let mut log = MetricsLog::open(&dir.join("metrics.jsonl"), 0).unwrap();
        for &(step, val) in vals {
            log.write(&Record {
                step,
                train_loss: val + 0.1,
                val_loss: Some(val),
                lr: 0.01,
                grad_norm: 1.0,
                tokens_per_s: 100.0,
                wall_s: step as f64 * 0.5,
                optim_s: step as f64 * 0.1,
            })
            .unwrap();
        }
    }

    #[test]
    fn finds_runs_and_reads_their_numbers() {
        let root = tempfile::tempdir().unwrap();
        write_run(&root.path().join("a/b/run1"), 20, &[(10, 2.0), (20, 1.5)]);
        write_run(&root.path().join("a/run2"), 20, &[(10, 2.5)]);
        std::fs::create_dir_all(root.path().join("empty")).unwrap();
        let dirs = run_dirs(root.path()).unwrap();
        assert_eq!(
            dirs,
            [root.path().join("a/b/run1"), root.path().join("a/run2")]
        );
        let run = TrainRun::open(&dirs[0]).unwrap();
        assert_eq!(run.model_kind(), "gpt");
        assert_eq!(run.final_val_loss(), Some(1.5));
        assert_eq!(run.val_curve()[0].wall_s, 5.0);
        let (wall, optim) = run.seconds_per_step().unwrap();
        assert!((wall - 0.5).abs() < 1e-12 && (optim.unwrap() - 0.1).abs() < 1e-12);
        // Stopped at step 10 of 20: no final loss.
        assert_eq!(TrainRun::open(&dirs[1]).unwrap().final_val_loss(), None);
    }

    #[test]
    fn malformed_files_are_named() {
        let root = tempfile::tempdir().unwrap();
        write_run(root.path(), 10, &[(10, 1.0)]);
        std::fs::write(root.path().join("metrics.jsonl"), "{not json\n").unwrap();
        let error = TrainRun::open(root.path()).unwrap_err().to_string();
        assert!(error.contains("metrics.jsonl"), "{error}");
        std::fs::write(root.path().join("config.toml"), "steps = \"x\"").unwrap();
        let error = TrainRun::open(root.path()).unwrap_err().to_string();
        assert!(error.contains("config.toml"), "{error}");
    }
}
