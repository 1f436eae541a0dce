//! The compression section: `sweep.json` of `bench/compress_sweep.py` (one row per model,
//! parameter fraction and whitening) as the table of `docs/compression.md` and a plot per model of
//! validation loss against the whole-model compression ratio, plain vs whitened SVD.

use super::{ReportError, Result, Section, read_json, relative};
use serde::Deserialize;
use spectral::plot::{Chart, Mark, Series, write_chart};
use std::path::Path;

/// One row of `sweep.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct SweepRow {
    pub model: String,
    /// Fraction of the block matrices' parameters kept (`spectral compress --params`).
    pub fraction: f64,
    pub whiten: bool,
    /// Block-matrix parameters before / after.
    pub matrix_ratio: f64,
    /// Whole-model parameters before / after.
    pub model_ratio: f64,
    /// Validation loss (nats) before and after compression.
    pub val_before: f64,
    pub val_after: f64,
}

/// The section and the number of figure files written.
pub fn section(path: &Path, root: &Path, out: &Path) -> Result<(Section, usize)> {
    let rows: Vec<SweepRow> = read_json(path)?;
    if rows.is_empty() {
        return Err(ReportError::EmptySweep(path.display().to_string()));
    }
    let mut models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    models.dedup();
    let mut md = format!(
        "## Compression\n\nFrom `{}` (`python3 bench/compress_sweep.py`: `spectral compress --params F`, plain and `--whiten --calib 64`). Loss in nats on the checkpoint config's validation windows; the change from the uncompressed model in brackets. Both columns keep the same number of parameters; whitened SVD truncates the singular values of LᵀW (L the Cholesky factor of the layer's input Gram matrix on the calibration windows), so its spectrum, and an `--energy P` cut of it, measures the energy of the layer's outputs on that data, not of the weights.\n\n| model | block params kept | ratio (blocks / whole model) | val loss before | plain SVD | whitened SVD |\n|---|---|---|---|---|---|\n",
        relative(path, root)
    );
    let find = |model: &str, fraction: f64, whiten: bool| {
        rows.iter()
            .find(|r| r.model == model && r.fraction == fraction && r.whiten == whiten)
    };
    let mut figures = 0;
    let mut links = String::new();
    for model in &models {
        let mut fractions: Vec<f64> = rows
            .iter()
            .filter(|r| r.model == *model)
            .map(|r| r.fraction)
            .collect();
        fractions.sort_by(|a, b| b.total_cmp(a));
        fractions.dedup();
        for &fraction in &fractions {
            let (plain, white) = (find(model, fraction, false), find(model, fraction, true));
            let any = plain.or(white).expect("a row for each listed fraction");
            let cell = |r: Option<&SweepRow>| {
                r.map_or("–".into(), |r| {
                    format!("{:.4} ({:+.4})", r.val_after, r.val_after - r.val_before)
                })
            };
            md += &format!(
                "| {model} | {:.0}% | {:.2}x / {:.2}x | {:.4} | {} | {} |\n",
                100.0 * fraction,
                any.matrix_ratio,
                any.model_ratio,
                any.val_before,
                cell(plain),
                cell(white)
            );
        }
        let curve = |whiten: bool| -> Vec<(f64, f64)> {
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.model == *model && r.whiten == whiten)
                .map(|r| (r.model_ratio, r.val_after))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            points
        };
        let before = rows
            .iter()
            .find(|r| r.model == *model)
            .map_or(f64::NAN, |r| r.val_before);
        let (plain, white) = (curve(false), curve(true));
        let span = plain.iter().chain(&white).map(|p| p.0);
        let (lo, hi) = span.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let chart = Chart::new(
            format!("{model}: validation loss vs compression"),
            "whole-model compression ratio (params before / after)",
            "validation loss (nats)",
            vec![
                Series::new("plain SVD", plain, Mark::Line),
                Series::new("whitened SVD", white, Mark::Line),
                Series::new(
                    "uncompressed",
                    vec![(lo.min(1.0), before), (hi, before)],
                    Mark::Line,
                )
                .colour(7)
                .dashed(),
            ],
        );
        let name = format!(
            "compress_{}",
            model
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                })
                .collect::<String>()
        );
        figures += write_chart(&out.join(&name), &chart)?.len();
        links += &format!("![{model} compression]({name}.png)\n");
    }
    md += "\n";
    md += &links;
    Ok((
        Section {
            title: "Compression",
            markdown: md,
        },
        figures,
    ))
}
