//! `spectral plot RUN…`: the loss curves of run directories in one chart, from each run's
//! `metrics.jsonl` alone (no report needed): the training loss as a line and the validation
//! loss as dots, one colour per run, named by the run's directory. Runs whose configs differ
//! only in the seed ([`seed_groups`]) are one curve: the mean over the seeds at the steps all
//! of them logged, with a band (training) and error bars (validation) of ± the sample std,
//! named by the directory without its `_s<seed>` suffix ([`stem`]). Runs in progress plot
//! what they have logged.

use crate::mean_std::mean_std;
use serde::{Deserialize, Serialize};
use spectral::plot::{Chart, Mark, PlotError, Series, write_chart_in};
use spectral_train::runs::{RunsError, TrainRun};
use std::collections::BTreeMap;
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

/// Runs whose configs differ only in the seed (and the output directory and length), in the
/// order their first member appears. Runs with the same seed and configuration (e.g. the same
/// model on the engine and on burn) stay apart: they are not seed replicates.
pub fn seed_groups(runs: &[TrainRun]) -> Vec<Vec<&TrainRun>> {
    let mut groups: Vec<(serde_json::Value, Vec<&TrainRun>)> = Vec::new();
    for run in runs {
        let mut key = run.config.trajectory_key();
        key["seed"] = serde_json::Value::Null;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(run),
            None => groups.push((key, vec![run])),
        }
    }
    let mut out = Vec::new();
    for (_, members) in groups {
        let mut seeds: Vec<u64> = members.iter().map(|r| r.config.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.len() == members.len() {
            out.push(members);
        } else {
            out.extend(members.into_iter().map(|r| vec![r]));
        }
    }
    out
}

/// A run's name without a trailing `_s<seed>`: the name of its seed group.
pub fn stem(name: &str) -> &str {
    match name.rsplit_once("_s") {
        Some((head, seed)) if !seed.is_empty() && seed.chars().all(|c| c.is_ascii_digit()) => head,
        _ => name,
    }
}

/// Mean and sample std over `curves` (step → loss) at each step every curve has.
fn mean_and_std(curves: &[BTreeMap<u64, f64>]) -> (Vec<(f64, f64)>, Vec<f64>) {
    let Some(first) = curves.first() else {
        return (Vec::new(), Vec::new());
    };
    first
        .keys()
        .filter_map(|step| {
            let at: Vec<f64> = curves.iter().filter_map(|c| c.get(step).copied()).collect();
            let v = mean_std(&at).filter(|_| at.len() == curves.len())?;
            Some(((*step as f64, v.mean), v.std))
        })
        .unzip()
}

fn dir_name(run: &TrainRun) -> String {
    run.dir.file_name().map_or_else(
        || run.dir.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
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
    let mut seeded = false;
    for (colour, group) in seed_groups(&runs).into_iter().enumerate() {
        let mut train = Vec::new();
        let mut val = Vec::new();
        for run in &group {
            let curve: BTreeMap<u64, f64> = run
                .metrics
                .iter()
                .filter(|r| r.train_loss.is_finite())
                .map(|r| (r.step, r.train_loss))
                .collect();
            if curve.is_empty() {
                return Err(CurvesError::Empty(run.dir.display().to_string()));
            }
            train.push(curve);
            val.push(
                run.val_curve()
                    .iter()
                    .map(|p| (p.step, p.val_loss))
                    .collect::<BTreeMap<_, _>>(),
            );
        }
        let (train, train_std) = mean_and_std(&train);
        let (val, val_std) = mean_and_std(&val);
        let last_step = train.last().map_or(0.0, |p| p.0);
        for &(step, loss) in train.iter().chain(&val) {
            if step >= 0.05 * last_step {
                low = low.min(loss);
                high = high.max(loss);
            }
        }
        let (name, seeds) = match group.as_slice() {
            [one] => (dir_name(one), String::new()),
            many => {
                seeded = true;
                (
                    stem(&dir_name(many[0])).to_string(),
                    format!(" ({} seeds)", many.len()),
                )
            }
        };
        let (mut train, mut val) = (
            Series::new(format!("{name} train{seeds}"), train, Mark::Line).colour(colour),
            Series::new(format!("{name} val{seeds}"), val, Mark::Dots).colour(colour),
        );
        if group.len() > 1 {
            (train, val) = (train.with_spread(train_std), val.with_spread(val_std));
        }
        series.push(train);
        if !val.points.is_empty() {
            series.push(val);
        }
    }
    let pad = 0.05 * (high - low).max(1e-6);
    let title = config.title.clone().unwrap_or_else(|| {
        let mut kinds: Vec<&str> = runs.iter().map(TrainRun::model_kind).collect();
        kinds.dedup();
        format!("{} training: loss per target", kinds.join(", "))
    });
    let mut chart = Chart::new(title, "step", "loss (nats)", series);
    if seeded {
        chart = chart.with_note(
            "over seeds: the mean at the steps every seed logged; band and bars ± the sample std (n − 1)",
        );
    }
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
        seeded_run(dir, name, base, steps, TrainConfig::default().seed)
    }

    fn seeded_run(dir: &std::path::Path, name: &str, base: f64, steps: u64, seed: u64) -> PathBuf {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        let config = TrainConfig {
            seed,
            ..TrainConfig::default()
        };
        std::fs::write(run.join("config.toml"), config.to_toml()).unwrap();
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

    #[test]
    fn seeds_of_one_config_are_a_mean_with_a_band() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<PathBuf> = [(0.5, 1), (0.7, 2), (0.9, 3)]
            .iter()
            .map(|&(base, seed)| seeded_run(dir.path(), &format!("mdn_s{seed}"), base, 40, seed))
            .chain([seeded_run(dir.path(), "engine", 0.6, 30, 1)])
            .collect();
        let opened: Vec<TrainRun> = runs.iter().map(|d| TrainRun::open(d).unwrap()).collect();
        let sizes =
            |runs: &[TrainRun]| -> Vec<usize> { seed_groups(runs).iter().map(Vec::len).collect() };
        assert_eq!(sizes(&opened[..3]), [3]);
        // A second run of seed 1 with the same config is not a seed replicate: all apart.
        assert_eq!(sizes(&opened), [1, 1, 1, 1]);
        // Three seeds alone: one group, mean 0.7 + 1/step, sample std 0.2 at every step.
        let report = run(&Config {
            runs: runs[..3].to_vec(),
            out: dir.path().join("c"),
            title: None,
        })
        .unwrap();
        let svg = std::fs::read_to_string(&report.files[0]).unwrap();
        assert!(svg.contains("mdn train (3 seeds)"), "{svg}");
        assert!(svg.contains("mdn val (3 seeds)"));
        assert!(svg.contains("<polygon"), "the training band is drawn");
        assert!(
            !svg.contains("mdn_s1"),
            "the seeds are not listed one by one"
        );
        let curves: Vec<BTreeMap<u64, f64>> = opened[..3]
            .iter()
            .map(|r| r.metrics.iter().map(|m| (m.step, m.train_loss)).collect())
            .collect();
        let (mean, std) = mean_and_std(&curves);
        assert_eq!(mean.len(), 40);
        for (&(step, m), s) in mean.iter().zip(std) {
            assert!((m - (0.7 + 1.0 / step)).abs() < 1e-12, "{m} at {step}");
            assert!((s - 0.2).abs() < 1e-12, "{s}");
        }
        // One run alone: no band.
        let report = run(&Config {
            runs: vec![runs[3].clone()],
            out: dir.path().join("d"),
            title: None,
        })
        .unwrap();
        let svg = std::fs::read_to_string(&report.files[0]).unwrap();
        assert!(svg.contains("engine train") && !svg.contains("<polygon"));
    }

    #[test]
    fn stems_drop_only_a_seed_suffix() {
        assert_eq!(stem("muon_s12"), "muon");
        assert_eq!(stem("muon_small"), "muon_small");
        assert_eq!(stem("muon_s"), "muon_s");
    }
}
