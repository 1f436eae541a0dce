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
    let (z, g) = (&report.zeros, &report.gue_control);
    let mut md = format!(
        "## Zeta statistics\n\nFrom `{}`: {} spacings from zero index {} (`{}`), against GUE theory and a GUE control sample of as many spacings (bulk of random Hermitian matrices).\n\n| statistic | zeros | GUE control | GUE theory |\n|---|---|---|---|\n",
        relative(path, root),
        z.count,
        report.first_index,
        report.source
    );
    let mut row = |label: &str, zeros: f64, control: f64, theory: Option<f64>| {
        md += &format!(
            "| {label} | {zeros:.5} | {control:.5} | {} |\n",
            theory.map_or("–".into(), |t| format!("{t:.5}"))
        );
    };
    row(
        "variance of δ",
        z.variance,
        g.variance,
        Some(gaudin_variance()),
    );
    row("KS to Gaudin", z.ks.gaudin, g.ks.gaudin, Some(0.0));
    row("KS to Wigner surmise", z.ks.wigner, g.ks.wigner, None);
    row("KS to Poisson", z.ks.poisson, g.ks.poisson, None);
    row("L1 to Gaudin", z.l1.gaudin, g.l1.gaudin, Some(0.0));
    for (name, zs, gs) in [
        ("Σ²", &z.number_variance, &g.number_variance),
        ("Δ₃", &z.rigidity, &g.rigidity),
    ] {
        for (p, q) in zs
            .iter()
            .zip(gs)
            .filter(|(p, _)| [1.0, 5.0, 20.0].contains(&p.x))
        {
            row(
                &format!("{name}(L = {})", p.x),
                p.measured,
                q.measured,
                Some(p.gue),
            );
        }
    }
    if let (Some(a), Some(b)) = (z.autocorrelation.first(), g.autocorrelation.first()) {
        row("autocorrelation, lag 1", *a, *b, None);
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
