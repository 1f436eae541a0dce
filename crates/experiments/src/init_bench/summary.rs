//! The init benchmark's summary: each init at the lr with the lowest mean final validation
//! loss, mean ± std (sample std, [`crate::mean_std`]) over its seeds, as rows and a Markdown
//! table.

use super::config::{Config, InitBenchError};
use super::one_run::RunRecord;
use crate::mean_std::{mean_std_pair, plus_minus};
use serde::{Deserialize, Deserializer, Serialize};
use spectral::init::Init;
use std::path::Path;

/// What `OUT/summary.json` holds: the benchmark's configuration and its rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct Summary {
    pub args: Config,
    pub rows: Vec<Row>,
}

/// One init's row of the summary (at its chosen lr). Pairs are (mean, sample std) over the
/// seeds. JSON writes a non-finite number (no run reached the target; an lr that diverged)
/// as `null`, which reads back as NaN.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub init: String,
    pub lr: f64,
    pub seeds: usize,
    /// Runs that reached the target, and their steps to it (first evaluation at or below).
    pub reached: usize,
    #[serde(deserialize_with = "pair_or_nan")]
    pub steps_to_target: (f64, f64),
    #[serde(deserialize_with = "pair_or_nan")]
    pub final_val: (f64, f64),
    #[serde(deserialize_with = "pair_or_nan")]
    pub grad_cv: (f64, f64),
    #[serde(deserialize_with = "pair_or_nan")]
    pub cond_init: (f64, f64),
    #[serde(deserialize_with = "pair_or_nan")]
    pub cond_final: (f64, f64),
    #[serde(deserialize_with = "pair_or_nan")]
    pub jacobian_spread: (f64, f64),
    /// Mean final validation loss at every lr tried (+∞ for one that diverged).
    #[serde(deserialize_with = "pairs_or_nan")]
    pub lr_grid: Vec<(f64, f64)>,
}

/// A pair of numbers of which either may be JSON's `null` (read as NaN).
fn pair_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<(f64, f64), D::Error> {
    let (a, b) = <(Option<f64>, Option<f64>)>::deserialize(d)?;
    Ok((a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
}

/// [`pair_or_nan`] for a list of pairs.
fn pairs_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
    let pairs = <Vec<(Option<f64>, Option<f64>)>>::deserialize(d)?;
    Ok(pairs
        .into_iter()
        .map(|(a, b)| (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
        .collect())
}

/// The coefficient of variation std/mean (sample std).
pub fn cv(v: &[f64]) -> f64 {
    let (mean, std) = mean_std_pair(v);
    std / mean
}

/// σ_max/σ_min of non-increasing singular values.
pub fn spread(sv: &[f64]) -> f64 {
    sv.first().copied().unwrap_or(f64::NAN) / sv.last().copied().unwrap_or(f64::NAN)
}

/// Every run record (`*.json`) in `dir`; an error when there is none.
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>, InitBenchError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source: std::io::Error| InitBenchError::Io {
            what: "reading",
            path,
            source,
        }
    };
    let mut records: Vec<RunRecord> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            records.push(
                serde_json::from_str(&text).map_err(|source| InitBenchError::Record {
                    path: path.display().to_string(),
                    source,
                })?,
            );
        }
    }
    if records.is_empty() {
        return Err(InitBenchError::NoRuns(dir.display().to_string()));
    }
    Ok(records)
}

/// The summary table (Markdown) of `records` and its rows: each init at the lr with the
/// lowest mean final validation loss, mean ± std (sample std) over its seeds, steps to
/// `target` (nats).
pub fn summary(records: &[RunRecord], target: f64) -> (String, Vec<Row>) {
    let final_val = |r: &RunRecord| r.val_curve.last().map_or(f64::NAN, |v| v.1);
    let mut rows = Vec::new();
    for init in Init::ALL {
        let mine: Vec<&RunRecord> = records.iter().filter(|r| r.init == init.name()).collect();
        if mine.is_empty() {
            continue;
        }
        let mut lrs: Vec<f64> = mine.iter().map(|r| r.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        let lr_grid: Vec<(f64, f64)> = lrs
            .iter()
            .map(|&lr| {
                let v: Vec<f64> = mine
                    .iter()
                    .filter(|r| r.lr == lr)
                    .map(|r| final_val(r))
                    .collect();
                let (m, _) = mean_std_pair(&v);
                (lr, if m.is_finite() { m } else { f64::INFINITY })
            })
            .collect();
        let (lr, _) = *lr_grid
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("at least one lr");
        let at: Vec<&RunRecord> = mine.iter().copied().filter(|r| r.lr == lr).collect();
        let steps: Vec<f64> = at
            .iter()
            .filter_map(|r| {
                r.val_curve
                    .iter()
                    .find(|(_, v)| *v <= target)
                    .map(|(s, _)| *s as f64)
            })
            .collect();
        let stat = |f: &dyn Fn(&RunRecord) -> f64| {
            mean_std_pair(&at.iter().map(|r| f(r)).collect::<Vec<_>>())
        };
        rows.push(Row {
            init: init.name().into(),
            lr,
            seeds: at.len(),
            reached: steps.len(),
            steps_to_target: mean_std_pair(&steps),
            final_val: stat(&|r| final_val(r)),
            grad_cv: stat(&|r| cv(&r.grad_norms)),
            cond_init: stat(&|r| r.cond_init.0),
            cond_final: stat(&|r| r.cond_final.0),
            jacobian_spread: stat(&|r| spread(&r.jacobian_sv)),
            lr_grid,
        });
    }
    let mut md = format!(
        "| init | lr | steps to val ≤ {} (reached) | final val loss | grad-norm std/mean | median cond, init | median cond, end | Jacobian σmax/σmin at init |\n|---|---|---|---|---|---|---|---|\n",
        target
    );
    for r in &rows {
        md += &format!(
            "| {} | {:e} | {} ({}/{}) | {} | {} | {} | {} | {:.3e} ± {:.1e} |\n",
            r.init,
            r.lr,
            if r.reached == 0 {
                "–".to_string() // no run reached the target: no mean
            } else {
                plus_minus(r.steps_to_target, 0)
            },
            r.reached,
            r.seeds,
            plus_minus(r.final_val, 4),
            plus_minus(r.grad_cv, 3),
            plus_minus(r.cond_init, 1),
            plus_minus(r.cond_final, 1),
            r.jacobian_spread.0,
            r.jacobian_spread.1,
        );
    }
    md += "\nMean final validation loss per lr (the grid):\n\n";
    for r in &rows {
        let grid: Vec<String> = r
            .lr_grid
            .iter()
            .map(|(lr, v)| format!("{lr:e}: {v:.4}"))
            .collect();
        md += &format!("- {}: {}\n", r.init, grid.join(", "));
    }
    (md, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_cv() {
        assert_eq!(spread(&[4.0, 2.0, 0.5]), 8.0);
        // Mean 2, sample std √2 (squared deviations 1 + 1, over n − 1 = 1).
        assert!((cv(&[1.0, 3.0]) - 2f64.sqrt() / 2.0).abs() < 1e-15);
    }
}
