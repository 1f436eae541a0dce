//! The optimizer shoot-out's numbers from finished runs ([`spectral_train::runs`]): runs split
//! into studies ([`studies`]: equal configs but for optimizer method, lr, seed and output
//! directory), within a study grouped by (method, lr, seed), each method's lr chosen on the
//! grid, mean ± std over seeds at that lr, steps and seconds to a target validation loss,
//! optimizer-step cost, and the verdicts on the notes' claims.
//!
//! Rules, in one place:
//! - **study**: runs whose configs agree in everything that changes their numbers or their
//!   timing (model, data by sha256, optimizer settings, schedule, steps, batch, evaluation,
//!   device and engine) except the optimizer's method and lr and the seed. Two GPT runs that
//!   differ only in steps are two studies, never one grid.
//! - **best lr**: the lr whose seed-0 run has the lowest final validation loss (a method
//!   without a seed-0 run: its lowest seed); a run that diverged or stopped early counts as +∞.
//! - **mean ± std**: over the seeds at the best lr; std is the sample standard deviation
//!   (n − 1 in the denominator), 0 for one seed.
//! - **mean curve**: validation loss and wall seconds averaged over those seeds at each
//!   evaluation step that every seed logged.
//! - **steps (seconds) to target**: the first evaluation step of the mean curve at or below
//!   the target, and the mean wall seconds at that step. The default target is the worst
//!   method's mean final loss, so every method reaches it.
//! - **verdict** `A vs B`: d = mean_A − mean_B, σ_d = √(s_A²/n_A + s_B²/n_B); |d|/σ_d ≥ 3 is
//!   read as a difference, below that as "not shown". With 3 seeds each s is itself uncertain
//!   by roughly ±50 %, so a ratio near 3 is weak evidence either way.

pub mod verdicts;

pub use verdicts::{Comparison, Verdict, compare, verdicts};

use crate::mean_std::{MeanStd, mean_std};
use serde::{Deserialize, Serialize};
use spectral::optim::Method;
use spectral_train::TrainConfig;
use spectral_train::config::flat_fields;
use spectral_train::runs::{RunsError, TrainRun, ValPoint, run_dirs};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which runs, and the target losses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory searched (recursively) for run directories of `spectral train`
    /// (`config.toml` + `metrics.jsonl`): the grid `bench/shootout.sh` writes.
    pub runs: PathBuf,
    #[serde(default)]
    pub targets: Targets,
}

/// Target validation losses of the shoot-out per model kind (`None`: the worst optimizer's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    /// Of the char-GPT, nats.
    pub gpt: Option<f64>,
    /// Of the SpacingMDN, nats.
    pub mdn: Option<f64>,
}

impl Targets {
    /// The target of model kind `kind` (`gpt` or `spacing_mdn`), when one is given.
    pub fn for_kind(&self, kind: &str) -> Option<f64> {
        match kind {
            "gpt" => self.gpt,
            "spacing_mdn" => self.mdn,
            _ => None,
        }
    }
}

/// Every study's shoot-out. Serialized only: an lr that diverged has a final loss of +∞,
/// which JSON writes as `null`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// By model kind, sorted by its name, then by study.
    pub kinds: Vec<KindShootout>,
}

/// What can stop the shoot-out's summary.
#[derive(Debug, thiserror::Error)]
pub enum ShootoutError {
    #[error(transparent)]
    Runs(#[from] RunsError),
    #[error("no run directories under {0}")]
    NoRuns(String),
}

/// Reads every run directory under `config.runs` and summarizes them ([`shootout`]).
pub fn run(config: &Config) -> Result<Report, ShootoutError> {
    let runs = run_dirs(&config.runs)?
        .iter()
        .map(|dir| TrainRun::open(dir))
        .collect::<Result<Vec<_>, _>>()?;
    if runs.is_empty() {
        return Err(ShootoutError::NoRuns(config.runs.display().to_string()));
    }
    let kinds = shootout(&runs, |kind| config.targets.for_kind(kind));
    Ok(Report { kinds })
}

/// One method of one model kind, at its chosen lr.
#[derive(Clone, Debug, Serialize)]
pub struct MethodResult {
    /// By [`Method::name`].
    #[serde(with = "crate::optim_bench::method_by_name")]
    pub method: Method,
    pub lr: f64,
    /// Every lr tried and its selection run's final validation loss (+∞: diverged/unfinished).
    pub lr_grid: Vec<(f64, f64)>,
    /// Seeds at the chosen lr.
    pub seeds: Vec<u64>,
    /// Final validation loss over the finished seeds at the chosen lr (`None`: none finished).
    pub final_val: Option<MeanStd>,
    /// Seed-mean validation curve at the chosen lr.
    pub mean_curve: Vec<ValPoint>,
    /// Steps of those runs (equal for a fair shoot-out).
    pub steps: u64,
    /// Wall milliseconds per step, evaluations included.
    pub ms_per_step: Option<MeanStd>,
    /// Milliseconds per step inside the optimizer's `step`.
    pub optim_ms_per_step: Option<MeanStd>,
    /// The run directories at the chosen lr.
    pub dirs: Vec<PathBuf>,
}

impl MethodResult {
    /// (step, mean wall seconds) where the mean curve first reaches `target`.
    pub fn to_target(&self, target: f64) -> Option<(u64, f64)> {
        steps_to_target(&self.mean_curve, target)
    }

    /// The mean curve's loss at the last evaluation within `seconds` of wall time.
    pub fn val_at_wall(&self, seconds: f64) -> Option<f64> {
        self.mean_curve
            .iter()
            .take_while(|p| p.wall_s <= seconds)
            .last()
            .map(|p| p.val_loss)
    }

    /// Mean wall seconds of the whole run (the mean curve's last point).
    pub fn total_wall_s(&self) -> Option<f64> {
        self.mean_curve.last().map(|p| p.wall_s)
    }
}

/// The first point of `curve` at or below `target`: (step, wall seconds).
pub fn steps_to_target(curve: &[ValPoint], target: f64) -> Option<(u64, f64)> {
    curve
        .iter()
        .find(|p| p.val_loss <= target)
        .map(|p| (p.step, p.wall_s))
}

/// Every method's result for one study of one model kind, with the target used.
#[derive(Clone, Debug, Serialize)]
pub struct KindShootout {
    /// `"gpt"` or `"spacing_mdn"`.
    pub kind: String,
    /// What sets the study apart from the kind's others ([`Study::distinct`]).
    pub study: Vec<String>,
    /// In [`Method::ALL`] order.
    pub methods: Vec<MethodResult>,
    pub target: f64,
    /// True when the target was given, false when it is the worst method's final mean.
    pub target_given: bool,
    /// Runs left out as repeats of a run in the grid.
    pub repeats: Vec<Repeat>,
}

impl KindShootout {
    pub fn method(&self, method: Method) -> Option<&MethodResult> {
        self.methods.iter().find(|m| m.method == method)
    }

    /// The shortest mean total wall time over the methods: the equal-wall-clock budget.
    pub fn equal_wall_s(&self) -> Option<f64> {
        self.methods
            .iter()
            .filter_map(MethodResult::total_wall_s)
            .min_by(f64::total_cmp)
    }
}

/// One study ([`studies`]): runs of one model kind on one config but for method, lr and seed.
pub struct Study<'a> {
    /// `"gpt"` or `"spacing_mdn"`.
    pub kind: &'a str,
    /// `field = value` for the config fields that set this study apart from its nearest other
    /// studies of its kind (those it differs from in the fewest fields), where it ran first,
    /// at most 5 and then how many more; empty when the kind has one study.
    pub distinct: Vec<String>,
    pub runs: Vec<&'a TrainRun>,
}

impl Study<'_> {
    /// Whether the runs span more than one (method, lr): an optimizer grid rather than one
    /// setting's seeds.
    pub fn is_grid(&self) -> bool {
        let first = &self.runs[0].config.optimizer;
        self.runs
            .iter()
            .any(|r| r.config.optimizer.method != first.method || r.config.optimizer.lr != first.lr)
    }
}

/// What a run's config holds besides the grid's coordinates (optimizer method and lr, seed)
/// and where it is written: the fields that must agree within a study, as JSON.
fn study_key(config: &TrainConfig) -> serde_json::Value {
    let mut key = config.trajectory_key();
    key["seed"] = serde_json::Value::Null;
    key["optimizer"]["method"] = serde_json::Value::Null;
    key["optimizer"]["lr"] = serde_json::Value::Null;
    key["steps"] = config.steps.into();
    key["eval_interval"] = config.eval_interval.into();
    key["eval_windows"] = config.eval_windows.into();
    key["device"] = config.device.clone().into();
    key["devices"] = config.devices.join(",").into();
    key["engine"] = serde_json::json!(config.engine);
    key["engine_precision"] = serde_json::json!(config.engine_precision);
    key
}

/// `runs` split into studies, by model kind and then in the order their first run appears.
pub fn studies(runs: &[TrainRun]) -> Vec<Study<'_>> {
    let mut groups: Vec<(&str, serde_json::Value, Vec<&TrainRun>)> = Vec::new();
    for run in runs {
        let key = study_key(&run.config);
        match groups
            .iter_mut()
            .find(|(kind, k, _)| *kind == run.model_kind() && *k == key)
        {
            Some((_, _, members)) => members.push(run),
            None => groups.push((run.model_kind(), key, vec![run])),
        }
    }
    groups.sort_by_key(|(kind, _, _)| *kind);
    let fields: Vec<BTreeMap<String, String>> =
        groups.iter().map(|(_, key, _)| flat_fields(key)).collect();
    (0..groups.len())
        .map(|i| {
            let (kind, _, members) = &groups[i];
            let differing = |j: usize| -> Vec<&String> {
                let (mine, theirs) = (&fields[i], &fields[j]);
                mine.keys()
                    .chain(theirs.keys().filter(|k| !mine.contains_key(*k)))
                    .filter(|k| mine.get(*k) != theirs.get(*k))
                    .collect()
            };
            let others: Vec<Vec<&String>> = (0..groups.len())
                .filter(|&j| j != i && groups[j].0 == *kind)
                .map(differing)
                .collect();
            // What sets the study apart from its nearest neighbours (fewest differing fields).
            let nearest = others.iter().map(Vec::len).min().unwrap_or(0);
            let mut apart: Vec<&String> = others
                .iter()
                .filter(|d| d.len() == nearest)
                .flatten()
                .copied()
                .collect();
            apart.sort_by_key(|field| (heading_rank(field), field.as_str()));
            apart.dedup();
            let mut distinct: Vec<String> = apart
                .iter()
                .take(HEADING_FIELDS)
                .map(|field| {
                    let value = fields[i].get(*field).map_or("(none)", String::as_str);
                    format!("{field} = {}", shorten(value))
                })
                .collect();
            if apart.len() > HEADING_FIELDS {
                distinct.push(format!("{} more fields", apart.len() - HEADING_FIELDS));
            }
            Study {
                kind,
                distinct,
                runs: members.clone(),
            }
        })
        .collect()
}

/// Fields named in a study's heading, at most.
const HEADING_FIELDS: usize = 5;

/// Where a field comes in a study's heading: where and how it ran first, then its length
/// and shapes, then the rest in name order.
fn heading_rank(field: &str) -> usize {
    const FIRST: [&str; 8] = [
        "device",
        "devices",
        "engine",
        "engine_precision",
        "steps",
        "batch_size",
        "seq_len",
        "data.sha256",
    ];
    FIRST
        .iter()
        .position(|f| *f == field)
        .unwrap_or(FIRST.len())
}

/// A config value for a heading, without JSON's quotes; a long one (a sha256, a path) cut to
/// its first 12 characters.
fn shorten(value: &str) -> String {
    let value = value.trim_matches('"');
    match value.char_indices().nth(12) {
        Some((cut, _)) if value.chars().count() > 24 => format!("{}…", &value[..cut]),
        _ => value.to_string(),
    }
}

/// Splits `runs` into studies ([`studies`]), groups each by (method, lr, seed) and summarizes
/// it; `target(kind)` gives a kind's target loss when the user set one. A second run of one
/// study with the same (method, lr, seed) is a repeat: left out of the grid and listed in
/// [`KindShootout::repeats`].
pub fn shootout(runs: &[TrainRun], target: impl Fn(&str) -> Option<f64>) -> Vec<KindShootout> {
    // method -> lr (bits) -> seed -> run
    type Grid<'a> = BTreeMap<usize, BTreeMap<u64, BTreeMap<u64, &'a TrainRun>>>;
    studies(runs)
        .into_iter()
        .map(|study| {
            let mut grid: Grid = BTreeMap::new();
            let mut repeats = Vec::new();
            for &run in &study.runs {
                let method = run.config.optimizer.method;
                let index = Method::ALL
                    .iter()
                    .position(|&m| m == method)
                    .expect("listed");
                let seeds = grid
                    .entry(index)
                    .or_default()
                    .entry(run.config.optimizer.lr.to_bits())
                    .or_default();
                match seeds.get(&run.config.seed) {
                    Some(kept) => repeats.push(Repeat {
                        left_out: run.dir.clone(),
                        kept: kept.dir.clone(),
                        differences: kept.config.differences(&run.config),
                    }),
                    None => {
                        seeds.insert(run.config.seed, run);
                    }
                }
            }
            let methods: Vec<MethodResult> = grid
                .into_iter()
                .map(|(index, lrs)| method_result(Method::ALL[index], &lrs))
                .collect();
            let given = target(study.kind);
            let worst = methods
                .iter()
                .filter_map(|m| m.final_val.map(|v| v.mean))
                .max_by(f64::total_cmp);
            KindShootout {
                kind: study.kind.to_string(),
                study: study.distinct,
                target: given.or(worst).unwrap_or(f64::NAN),
                target_given: given.is_some(),
                methods,
                repeats,
            }
        })
        .collect()
}

/// A run left out of its study's grid: another run of the study has its (method, lr, seed).
#[derive(Clone, Debug, Serialize)]
pub struct Repeat {
    pub left_out: PathBuf,
    /// The run in the grid (the first in directory order).
    pub kept: PathBuf,
    /// `field: kept vs left out` for the config fields they differ in that change no numbers
    /// (logging, checkpoints, the data file's path); empty for the same config.
    pub differences: Vec<String>,
}

fn method_result(method: Method, grid: &BTreeMap<u64, BTreeMap<u64, &TrainRun>>) -> MethodResult {
    let final_or_inf = |run: &TrainRun| run.final_val_loss().unwrap_or(f64::INFINITY);
    let lr_grid: Vec<(f64, f64)> = grid
        .iter()
        .map(|(&lr, seeds)| {
            let (_, selection) = seeds.iter().next().expect("a seed per lr entry");
            (f64::from_bits(lr), final_or_inf(selection))
        })
        .collect();
    let selection_seed = |seeds: &BTreeMap<u64, &TrainRun>| *seeds.keys().next().expect("seed");
    // Prefer lrs that have a seed-0 run; among them, the lowest seed-0 final loss.
    let has_zero = grid.values().any(|s| selection_seed(s) == 0);
    let (best_bits, seeds) = grid
        .iter()
        .filter(|(_, s)| !has_zero || selection_seed(s) == 0)
        .min_by(|a, b| {
            final_or_inf(a.1.values().next().unwrap())
                .total_cmp(&final_or_inf(b.1.values().next().unwrap()))
        })
        .expect("a method has at least one lr");
    let runs: Vec<&TrainRun> = seeds.values().copied().collect();
    let finals: Vec<f64> = runs.iter().filter_map(|r| r.final_val_loss()).collect();
    let per_step: Vec<(f64, Option<f64>)> =
        runs.iter().filter_map(|r| r.seconds_per_step()).collect();
    let ms: Vec<f64> = per_step.iter().map(|p| 1e3 * p.0).collect();
    let optim_ms: Vec<f64> = per_step
        .iter()
        .filter_map(|p| p.1)
        .map(|s| 1e3 * s)
        .collect();
    MethodResult {
        method,
        lr: f64::from_bits(*best_bits),
        lr_grid,
        seeds: seeds.keys().copied().collect(),
        final_val: mean_std(&finals),
        mean_curve: mean_curve(&runs),
        steps: runs.iter().map(|r| r.config.steps).max().unwrap_or(0),
        ms_per_step: mean_std(&ms),
        optim_ms_per_step: if optim_ms.len() == ms.len() {
            mean_std(&optim_ms)
        } else {
            None
        },
        dirs: runs.iter().map(|r| r.dir.clone()).collect(),
    }
}

/// Validation loss and wall seconds averaged over `runs` at each step every run evaluated.
pub fn mean_curve(runs: &[&TrainRun]) -> Vec<ValPoint> {
    let curves: Vec<Vec<ValPoint>> = runs.iter().map(|r| r.val_curve()).collect();
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter_map(|p| {
            let at: Vec<&ValPoint> = curves
                .iter()
                .filter_map(|c| c.iter().find(|q| q.step == p.step))
                .collect();
            (at.len() == curves.len()).then(|| {
                let n = at.len() as f64;
                ValPoint {
                    step: p.step,
                    wall_s: at.iter().map(|q| q.wall_s).sum::<f64>() / n,
                    val_loss: at.iter().map(|q| q.val_loss).sum::<f64>() / n,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral_train::config::{ModelConfig, TrainConfig};
    use spectral_train::metrics::Record;

    /// A finished GPT run whose val loss at eval step s (every 10 steps) is `curve(s)`, with
    /// wall 0.1 s and optimizer 0.02 s per step × `slow`.
    fn run(method: Method, lr: f64, seed: u64, curve: impl Fn(u64) -> f64, slow: f64) -> TrainRun {
        let mut config = TrainConfig {
            model: ModelConfig::Gpt(spectral_models::GptConfig::new()),
            steps: 30,
            seed,
            ..TrainConfig::default()
        };
        config.optimizer.method = method;
        config.optimizer.lr = lr;
        let metrics = (1..=3)
            .map(|i| {
                let step = 10 * i;
                Record {
                    step,
                    train_loss: 9.0,
                    val_loss: Some(curve(step)),
                    lr,
                    grad_norm: 1.0,
                    tokens_per_s: 1.0,
                    wall_s: 0.1 * slow * step as f64,
                    optim_s: 0.02 * slow * step as f64,
                }
            })
            .collect();
        TrainRun {
            dir: format!("{}_lr{lr}_s{seed}", method.name()).into(),
            config,
            metrics,
        }
    }

    #[test]
    fn picks_the_lr_by_seed_zero_and_averages_the_seeds_there() {
        let runs = vec![
            // AdamW grid on seed 0: lr 1e-3 ends at 2.0, 3e-3 at 1.8, 1e-2 diverges.
            run(Method::AdamW, 1e-3, 0, |s| 3.0 - s as f64 / 30.0, 1.0),
            run(Method::AdamW, 3e-3, 0, |s| 2.4 - s as f64 / 50.0, 1.0),
            run(Method::AdamW, 1e-2, 0, |_| f64::NAN, 1.0),
            // Seeds 1, 2 at 3e-3: finals 1.9, 2.0; and at 1e-3 a seed-1 run that is better
            // but must not move the choice (selection is by seed 0).
            run(Method::AdamW, 3e-3, 1, |s| 2.5 - s as f64 / 50.0, 1.0),
            run(Method::AdamW, 3e-3, 2, |s| 2.6 - s as f64 / 50.0, 1.0),
            run(Method::AdamW, 1e-3, 1, |_| 0.5, 1.0),
            // Muon, one lr, three seeds, twice as slow: finals 1.5, 1.6, 1.7.
            run(Method::Muon, 0.02, 0, |s| 1.5 + (30 - s) as f64 / 10.0, 2.0),
            run(Method::Muon, 0.02, 1, |s| 1.6 + (30 - s) as f64 / 10.0, 2.0),
            run(Method::Muon, 0.02, 2, |s| 1.7 + (30 - s) as f64 / 10.0, 2.0),
        ];
        let result = shootout(&runs, |_| None);
        assert_eq!(result.len(), 1);
        let gpt = &result[0];
        assert_eq!(gpt.kind, "gpt");
        let adamw = gpt.method(Method::AdamW).unwrap();
        assert_eq!(adamw.lr, 3e-3);
        assert_eq!(adamw.seeds, [0, 1, 2]);
        assert_eq!(adamw.lr_grid.len(), 3);
        assert!(adamw.lr_grid[2].1.is_infinite());
        let v = adamw.final_val.unwrap();
        // Finals 1.8, 1.9, 2.0: mean 1.9, sample std 0.1.
        assert!(
            (v.mean - 1.9).abs() < 1e-12 && (v.std - 0.1).abs() < 1e-12,
            "{v:?}"
        );
        assert!((adamw.ms_per_step.unwrap().mean - 100.0).abs() < 1e-9);
        assert!((adamw.optim_ms_per_step.unwrap().mean - 20.0).abs() < 1e-9);
        // Default target: the worst method's final mean (AdamW's 1.9). Muon's mean curve is
        // 1.6 + (30 − s)/10: 3.6, 2.6, 1.6 → first ≤ 1.9 at step 30, wall 2 × 0.1 × 30 = 6 s.
        assert!(!gpt.target_given);
        assert!((gpt.target - 1.9).abs() < 1e-12);
        let muon = gpt.method(Method::Muon).unwrap();
        let (step, wall) = muon.to_target(gpt.target).unwrap();
        assert_eq!(step, 30);
        assert!((wall - 6.0).abs() < 1e-12);
        // AdamW's mean curve 2.5 − s/50: 2.3, 2.1, 1.9 (up to rounding) → step 30.
        assert_eq!(adamw.to_target(gpt.target + 1e-12).unwrap().0, 30);
        // Equal wall clock: AdamW's 3 s; Muon's last eval within 3 s is step 10 (2 s): 3.6.
        assert_eq!(gpt.equal_wall_s(), Some(3.0));
        assert!((muon.val_at_wall(3.0).unwrap() - 3.6).abs() < 1e-12);
        // Verdict: d = 1.6 − 1.9 = −0.3, σ_d = √(0.01/3 + 0.01/3) = 0.08165 → 3.67 σ.
        let verdicts = verdicts(gpt);
        assert_eq!(verdicts.len(), 1);
        assert!(
            verdicts[0]
                .finding
                .contains("muon lower by 0.3000 = 3.7 σ: a difference"),
            "{}",
            verdicts[0].finding
        );
        // A given target wins over the default.
        let given = shootout(&runs, |k| (k == "gpt").then_some(2.2));
        assert!(given[0].target_given && given[0].target == 2.2);
        assert_eq!(
            given[0]
                .method(Method::AdamW)
                .unwrap()
                .to_target(2.2)
                .unwrap()
                .0,
            20
        );
    }

    #[test]
    fn spectra_sooner_counts_steps_on_the_mean_curves() {
        let runs = vec![
            run(Method::AdamW, 1e-3, 0, |s| 3.0 - s as f64 / 30.0, 1.0), // 2.67, 2.33, 2.0
            run(
                Method::Spectra,
                1e-3,
                0,
                |s| 2.0 + (30 - s) as f64 / 100.0,
                1.0,
            ), // 2.2, 2.1, 2.0
        ];
        let result = shootout(&runs, |_| None);
        let v = verdicts(&result[0]);
        assert_eq!(v.len(), 1);
        // AdamW reaches 2.0 at step 30, Spectra at 30 too (2.0 exactly): 0 % sooner.
        assert!(
            v[0].finding
                .contains("at step 30, adamw's at 30 → 0 % sooner"),
            "{}",
            v[0].finding
        );
        let faster = vec![
            run(Method::AdamW, 1e-3, 0, |s| 3.0 - s as f64 / 30.0, 1.0),
            run(Method::Spectra, 1e-3, 0, |s| 2.5 - s as f64 / 20.0, 1.0), // 2.0 at step 10
        ];
        let result = shootout(&faster, |_| None);
        let v = verdicts(&result[0]);
        assert!(
            v[0].finding
                .contains("at step 10, adamw's at 30 → 67 % sooner"),
            "{}",
            v[0].finding
        );
    }

    /// The committed shoot-out (`docs/results/shootout`, 60 run directories) read back: the
    /// numbers of its committed results page, `docs/results/report/RESULTS.md`.
    #[test]
    fn run_summarizes_the_committed_shootout() {
        let runs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/results/shootout");
        let report = super::run(&Config {
            runs,
            targets: Targets::default(),
        })
        .unwrap();
        let kinds: Vec<&str> = report.kinds.iter().map(|k| k.kind.as_str()).collect();
        assert_eq!(kinds, ["gpt", "spacing_mdn"]);
        assert!(
            report
                .kinds
                .iter()
                .all(|k| k.methods.len() == Method::ALL.len())
        );
        // The page: "muon 0.1313 ± 0.0036 vs adamw 0.2214 ± 0.0126 (n = 3 / 3 seeds, ...)".
        let mdn = &report.kinds[1];
        let muon = mdn.method(Method::Muon).unwrap().final_val.unwrap();
        let adamw = mdn.method(Method::AdamW).unwrap().final_val.unwrap();
        assert_eq!((muon.n, adamw.n), (3, 3));
        assert_eq!(muon.pm(4), "0.1313 ± 0.0036");
        assert_eq!(adamw.pm(4), "0.2214 ± 0.0126");
    }

    #[test]
    fn a_repeated_run_is_left_out_and_named() {
        let mut again = run(Method::Muon, 0.02, 0, |_| 2.0, 1.0);
        again.dir = "again".into();
        let runs = vec![run(Method::Muon, 0.02, 0, |_| 1.0, 1.0), again];
        let result = shootout(&runs, |_| None);
        assert_eq!(result.len(), 1);
        let [repeat] = result[0].repeats.as_slice() else {
            panic!("{:?}", result[0].repeats)
        };
        assert_eq!(repeat.left_out, std::path::Path::new("again"));
        assert!(repeat.differences.is_empty(), "{repeat:?}");
        // The grid holds the first run only.
        let muon = result[0].method(Method::Muon).unwrap();
        assert_eq!(muon.final_val.unwrap().mean, 1.0);
        // Two runs that differ in their length are two studies, each named by that field.
        let mut longer = run(Method::Muon, 0.02, 0, |_| 1.0, 1.0);
        longer.config.steps = 60;
        let runs = vec![run(Method::Muon, 0.02, 0, |_| 1.0, 1.0), longer];
        let result = shootout(&runs, |_| None);
        assert!(result.iter().all(|k| k.repeats.is_empty()));
        let studies: Vec<&[String]> = result.iter().map(|k| k.study.as_slice()).collect();
        assert_eq!(
            studies,
            [["steps = 30".to_string()], ["steps = 60".to_string()]]
        );
        // Runs of one config that differ only in how often they log are one run, repeated.
        let mut quieter = run(Method::Muon, 0.02, 0, |_| 1.0, 1.0);
        quieter.config.log_interval = 5;
        let result = shootout(&[run(Method::Muon, 0.02, 0, |_| 1.0, 1.0), quieter], |_| {
            None
        });
        assert_eq!(result[0].repeats[0].differences, ["log_interval: 10 vs 5"]);
    }
}
