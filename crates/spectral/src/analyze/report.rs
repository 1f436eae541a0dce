//! A file's spectral report: per-matrix statistics and the modular norm; the terminal table
//! (one file, or two side by side), JSON and charts.

use super::AnalyzeError;
use super::modular::{ModularNorm, modular_norm};
use super::source::{Layout, Role, read_matrices};
use super::stats::MatrixStats;
use crate::plot::{Chart, Mark, Series, write_figure};
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

/// Singular values at most this multiple of `max(d_in, d_out)·σ_1` are zero to the precision
/// of f32 weights (the tolerance of a numerical rank): a compressed layer's product of factors,
/// rounded to f32, has its exact zeros at about 1e-8·σ_1, and they are drawn as zeros.
const F32_FLOOR: f64 = f32::EPSILON as f64;

/// Most curves in one panel: beyond that colours stop being told apart.
const PER_PANEL: usize = 8;

/// A matrix's place in the network: its name with the block index replaced by `*` and that
/// index (`blocks.3.attn.q.weight` → `blocks.*.attn.q.weight`, 3); `None` without one.
fn place(name: &str) -> (String, Option<usize>) {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.iter().position(|p| p.parse::<usize>().is_ok()) {
        Some(at) => {
            let index = parts[at].parse().ok();
            let mut pattern = parts.clone();
            pattern[at] = "*";
            (pattern.join("."), index)
        }
        None => (name.to_string(), None),
    }
}

/// The matrices by role, in order of first appearance: one group per block-indexed pattern
/// (`blocks.*.attn.q.weight`: the q projections of every block), then the other Linear
/// weights together, then the embeddings. Each group lists `(matrix name, legend label)`.
fn roles(names: &[(&str, Role)]) -> Vec<(String, Vec<(String, String)>)> {
    let mut blocks: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let (mut other, mut embeddings) = (Vec::new(), Vec::new());
    for &(name, role) in names {
        let entry = (name.to_string(), name.to_string());
        match (role, place(name)) {
            (Role::Embedding, _) => embeddings.push(entry),
            (Role::Linear, (pattern, Some(index))) => {
                let entry = (name.to_string(), format!("block {index}"));
                match blocks.iter_mut().find(|(p, _)| *p == pattern) {
                    Some((_, members)) => members.push(entry),
                    None => blocks.push((pattern, vec![entry])),
                }
            }
            (Role::Linear, (_, None)) => other.push(entry),
        }
    }
    for (title, members) in [("other Linear weights", other), ("embeddings", embeddings)] {
        if !members.is_empty() {
            blocks.push((title.to_string(), members));
        }
    }
    blocks
}

/// Writes two figures into `dir`, one panel per matrix role (see [`roles`]) with at most 8
/// curves each (a role with more is split over several panels): `singular_values.{svg,png}`,
/// `σ_i / σ_1` on a log axis against `i / r` (values below the f32 floor, [`F32_FLOOR`], are
/// zeros, left out with a note), and `energy.{svg,png}`, the cumulative energy
/// `Σ_{j≤i} σ_j² / Σ_j σ_j²` against `i / r`. With `compare`, each matrix has its curve from
/// both files, `A` solid and `B` dashed in one colour. Returns the paths written.
pub fn write_outputs(
    dir: &Path,
    report: &SpectrumReport,
    compare: Option<&SpectrumReport>,
) -> Result<Vec<PathBuf>, AnalyzeError> {
    std::fs::create_dir_all(dir).map_err(|e| AnalyzeError::File {
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let sides: Vec<(&str, &SpectrumReport)> = match compare {
        None => vec![("", report)],
        Some(other) => vec![("A: ", report), ("B: ", other)],
    };
    let mut names: Vec<(&str, Role)> = Vec::new();
    for (_, r) in &sides {
        for m in &r.matrices {
            if !names.iter().any(|(n, _)| *n == m.stats.name) {
                names.push((&m.stats.name, m.role));
            }
        }
    }
    let (mut sv_panels, mut energy_panels) = (Vec::new(), Vec::new());
    for (role, members) in roles(&names) {
        // As many panels as needed, their sizes as equal as can be (5 blocks: 3 and 2).
        let panels = members.len().div_ceil(PER_PANEL / sides.len());
        let chunks: Vec<&[(String, String)]> =
            members.chunks(members.len().div_ceil(panels)).collect();
        for chunk in &chunks {
            let title = match chunk {
                _ if chunks.len() == 1 => role.clone(),
                [(_, only)] => format!("{role}, {only}"),
                [(_, first), .., (_, last)] => format!("{role}, {first} to {last}"),
                [] => unreachable!("chunks are not empty"),
            };
            let (mut sv, mut energy, mut zeros) = (Vec::new(), Vec::new(), false);
            for (colour, (name, label)) in chunk.iter().enumerate() {
                for (side, (tag, r)) in sides.iter().enumerate() {
                    let Some(m) = r.matrices.iter().find(|m| m.stats.name == *name) else {
                        continue;
                    };
                    let st = &m.stats;
                    let s = &st.singular_values;
                    let top = s.first().copied().unwrap_or(0.0);
                    let floor = F32_FLOOR * st.d_in.max(st.d_out) as f64 * top;
                    let at = |i: usize| (i + 1) as f64 / s.len() as f64;
                    zeros |= s.iter().any(|&x| x <= floor);
                    let style = |series: Series| {
                        let series = series.colour(colour);
                        if side == 1 { series.dashed() } else { series }
                    };
                    sv.push(style(Series::new(
                        format!("{tag}{label}"),
                        s.iter()
                            .enumerate()
                            .map(|(i, &x)| (at(i), if x > floor { x / top } else { 0.0 }))
                            .collect(),
                        Mark::Line,
                    )));
                    energy.push(style(Series::new(
                        format!("{tag}{label}"),
                        st.energy_curve()
                            .into_iter()
                            .enumerate()
                            .map(|(i, e)| (at(i), e))
                            .collect(),
                        Mark::Line,
                    )));
                }
            }
            let mut chart =
                Chart::new(&title, "i / r (r = min(d_in, d_out))", "σᵢ / σ₁", sv).log_y();
            if zeros {
                chart = chart
                    .with_note("σᵢ ≤ max(d_in, d_out)·2⁻²³·σ₁ (the f32 rounding floor) count as 0");
            }
            sv_panels.push(chart);
            energy_panels.push(Chart::new(
                title,
                "i / r (r = min(d_in, d_out))",
                "share of Σσ² in σ₁…σᵢ",
                energy,
            ));
        }
    }
    let files = match compare {
        None => format!(" of {}", report.file),
        Some(other) => format!(": A {} (solid), B {} (dashed)", report.file, other.file),
    };
    let mut written = Vec::new();
    written.extend(write_figure(
        &dir.join("singular_values"),
        &format!("Singular values by matrix role{files}"),
        &sv_panels,
    )?);
    written.extend(write_figure(
        &dir.join("energy"),
        &format!("Cumulative energy of the singular values{files}"),
        &energy_panels,
    )?);
    Ok(written)
}
