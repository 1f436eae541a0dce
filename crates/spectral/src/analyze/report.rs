//! A file's spectral report: per-matrix statistics and the modular norm; the terminal table
//! (one file, or two side by side), JSON and charts.

use super::AnalyzeError;
use super::modular::{ModularNorm, modular_norm};
use super::source::{Layout, Role, read_matrices};
use super::stats::MatrixStats;
use crate::plot::{Chart, Mark, Series, write_chart};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The analysis of one file.
#[derive(Clone, Debug, Serialize)]
pub struct SpectrumReport {
    pub file: String,
    pub layout: Layout,
    pub matrices: Vec<MatrixReport>,
    pub modular_norm: ModularNorm,
}

/// One matrix: its role and statistics.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixReport {
    pub role: Role,
    #[serde(flatten)]
    pub stats: MatrixStats,
}

/// Reads and analyzes `path`.
pub fn analyze_file(path: &Path) -> Result<SpectrumReport, AnalyzeError> {
    let (layout, matrices) = read_matrices(path)?;
    let mut reports = Vec::new();
    let mut max_rows = Vec::new();
    for m in &matrices {
        reports.push(MatrixReport {
            role: m.role,
            stats: MatrixStats::of(m.name.clone(), &m.w).map_err(|e| AnalyzeError::File {
                path: path.display().to_string(),
                message: format!("tensor {}: {e}", m.name),
            })?,
        });
        let max_row = (0..m.w.nrows())
            .map(|i| {
                (0..m.w.ncols())
                    .map(|j| m.w[(i, j)].powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0, f64::max);
        max_rows.push(max_row);
    }
    let atoms: Vec<_> = reports
        .iter()
        .zip(&max_rows)
        .map(|(r, &row)| (&r.stats, r.role, row))
        .collect();
    let modular = modular_norm(&atoms);
    Ok(SpectrumReport {
        file: path.display().to_string(),
        layout,
        matrices: reports,
        modular_norm: modular,
    })
}

fn row(st: &MatrixStats) -> String {
    format!(
        "{:>9} {:>8.3} {:>10.3e} {:>7.2} {:>7.2} {:>4}/{:>4}/{:>4}",
        format!("{}x{}", st.d_in, st.d_out),
        st.spectral_norm,
        st.condition_number,
        st.stable_rank,
        st.effective_rank,
        st.rank_90,
        st.rank_95,
        st.rank_99
    )
}

/// The terminal table: one line per matrix (with `compare`, the second file's line below each
/// matrix both files have), then the modular norms.
pub fn table(report: &SpectrumReport, compare: Option<&SpectrumReport>) -> String {
    let width = report
        .matrices
        .iter()
        .map(|m| m.stats.name.len())
        .max()
        .unwrap_or(4)
        .max(4)
        + 4;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} {:>9} {:>8} {:>10} {:>7} {:>7} {:>14}",
        "matrix", "d_in×d_out", "‖W‖₂", "cond", "stable", "eff", "r90/r95/r99"
    );
    for m in &report.matrices {
        let tag = if compare.is_some() { " [A]" } else { "" };
        let _ = writeln!(
            out,
            "{:<width$} {}",
            format!("{}{tag}", m.stats.name),
            row(&m.stats)
        );
        if let Some(other) = compare
            && let Some(o) = other.matrices.iter().find(|o| o.stats.name == m.stats.name)
        {
            let _ = writeln!(
                out,
                "{:<width$} {}",
                format!("{} [B]", m.stats.name),
                row(&o.stats)
            );
        }
    }
    let norm = |r: &SpectrumReport| {
        format!(
            "modular norm {:.4} (max at {}, {} atoms of unit mass)",
            r.modular_norm.norm,
            r.modular_norm.argmax,
            r.modular_norm.terms.len()
        )
    };
    match compare {
        None => {
            let _ = writeln!(out, "{}", norm(report));
        }
        Some(other) => {
            let _ = writeln!(out, "[A] {}: {}", report.file, norm(report));
            let _ = writeln!(out, "[B] {}: {}", other.file, norm(other));
        }
    }
    out
}

/// The report as pretty JSON (with `compare`, `{"a": report, "b": compare}`).
pub fn to_json(report: &SpectrumReport, compare: Option<&SpectrumReport>) -> String {
    match compare {
        None => serde_json::to_string_pretty(report),
        Some(other) => serde_json::to_string_pretty(&serde_json::json!({"a": report, "b": other})),
    }
    .expect("reports serialize")
}

/// Writes the charts `dir/singular_values.{svg,png}` (log10 σ_i / σ_1 against i / r, every
/// Linear weight) and `dir/energy.{svg,png}` (cumulative energy against i / r); with `compare`,
/// both files' curves, prefixed `A:` and `B:`. Returns the paths written.
pub fn write_outputs(
    dir: &Path,
    report: &SpectrumReport,
    compare: Option<&SpectrumReport>,
) -> Result<Vec<PathBuf>, AnalyzeError> {
    std::fs::create_dir_all(dir).map_err(|e| AnalyzeError::File {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut written = Vec::new();
    let mut sv = Vec::new();
    let mut energy = Vec::new();
    let sides: Vec<(&str, &SpectrumReport)> = match compare {
        None => vec![("", report)],
        Some(other) => vec![("A: ", report), ("B: ", other)],
    };
    for (tag, r) in sides {
        for m in r.matrices.iter().filter(|m| m.role == Role::Linear) {
            let s = &m.stats.singular_values;
            let (top, n) = (s[0].max(f64::MIN_POSITIVE), s.len() as f64);
            let at = |i: usize| (i + 1) as f64 / n;
            sv.push(Series::new(
                format!("{tag}{}", m.stats.name),
                s.iter()
                    .enumerate()
                    .filter(|(_, x)| **x > 0.0)
                    .map(|(i, x)| (at(i), (x / top).log10()))
                    .collect(),
                Mark::Line,
            ));
            energy.push(Series::new(
                format!("{tag}{}", m.stats.name),
                m.stats
                    .energy_curve()
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (at(i), e))
                    .collect(),
                Mark::Line,
            ));
        }
    }
    let chart = |title: &str, y: &str, series: Vec<Series>| Chart {
        title: title.into(),
        x_label: "index i / r".into(),
        y_label: y.into(),
        series,
    };
    written.extend(write_chart(
        &dir.join("singular_values"),
        &chart(
            "singular values of the Linear weights",
            "log10 σ_i / σ_1",
            sv,
        ),
    )?);
    written.extend(write_chart(
        &dir.join("energy"),
        &chart(
            "cumulative energy Σ_{j≤i} σ_j² / Σσ²",
            "energy fraction",
            energy,
        ),
    )?);
    Ok(written)
}
