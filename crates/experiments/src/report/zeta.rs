//! The zeta-statistics section: `stats.json` of `spectral stats` as a table against GUE (with
//! its GUE control sample), the per-height-block drift, and the figures of `spectral stats`
//! ([`crate::zeta_stats::figures`]) redrawn from the JSON.

use super::{Result, Section, io, read_json, relative};
use crate::zeta_stats::figures::write_figures;
use spectral_zeta::stats::gaudin::gaudin_variance;
use spectral_zeta::stats::report::StatsReport;
use std::path::Path;

/// The section and the number of figure files written into `out/figure_dir`.
pub fn section(path: &Path, root: &Path, out: &Path, figure_dir: &str) -> Result<(Section, usize)> {
    let report: StatsReport = read_json(path)?;
    let z = &report.zeros;
    let mut md = format!(
        "## Zeta statistics\n\nFrom `{}`: {} spacings from zero index {} (`{}`), against GUE theory and a GUE control sample of as many spacings (bulk of random Hermitian matrices).\n\n| statistic | zeros | GUE control | GUE theory |\n|---|---|---|---|\n",
        relative(path, root),
        z.count,
        report.first_index,
        report.source
    );
    for row in report.comparison_rows() {
        md += &format!(
            "| {} | {:.5} | {:.5} | {} |\n",
            row.label,
            row.zeros,
            row.control,
            row.theory.map_or("–".into(), |t| format!("{t:.5}"))
        );
    }
    md += &format!(
        "\nFinite-height drift ({} blocks of consecutive spacings; GUE variance {:.5}):\n\n| first index | spacings | height t | variance | KS to Gaudin |\n|---|---|---|---|---|\n",
        report.height_drift.len(),
        gaudin_variance()
    );
    for b in &report.height_drift {
        md += &format!(
            "| {} | {} | {:.0} | {:.5} | {:.5} |\n",
            b.first_index, b.count, b.height, b.variance, b.ks_gaudin
        );
    }
    let dir = out.join(figure_dir);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let figures = write_figures(&report, &dir)?;
    md += "\n";
    for name in ["spacing_distribution", "number_variance", "height_drift"] {
        md += &format!("![{name}]({figure_dir}/{name}.png)\n");
    }
    Ok((
        Section {
            title: "Zeta statistics",
            markdown: md,
        },
        figures.len(),
    ))
}
