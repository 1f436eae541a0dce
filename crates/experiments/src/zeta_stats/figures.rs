//! The figures of `spectral stats`: each statistic of the zeros beside the GUE control and
//! the GUE prediction, as SVG and PNG. Measured values are points, predictions lines.

use spectral::plot::{Chart, Mark, Series, write_chart};
use spectral_zeta::stats::report::{Point, StatsReport};
use spectral_zeta::stats::{gaudin, gue, surmise};
use std::path::{Path, PathBuf};

fn measured(points: &[Point]) -> Vec<(f64, f64)> {
    points.iter().map(|p| (p.x, p.measured)).collect()
}

fn curve(f: impl Fn(f64) -> f64, from: f64, to: f64) -> Vec<(f64, f64)> {
    (0..=300)
        .map(|i| from + (to - from) * i as f64 / 300.0)
        .map(|x| (x, f(x)))
        .collect()
}

/// Writes every figure of the report into `out`; returns the files written.
pub fn write_figures(
    report: &StatsReport,
    out: &Path,
) -> Result<Vec<PathBuf>, spectral::plot::PlotError> {
    let (z, g) = (&report.zeros, &report.gue_control);
    let width = z.histogram.get(1).map_or(0.05, |p| p.x) - z.histogram.first().map_or(0.0, |p| p.x);
    let l_max = z.number_variance.last().map_or(20.0, |p| p.x);
    let charts = [
        (
            "spacing_distribution",
            Chart::new(
                "Nearest-neighbour spacings",
                "s (mean spacings)",
                "density p(s)",
                vec![
                    Series::new("zeta zeros", measured(&z.histogram), Mark::Bars(width)),
                    Series::new("GUE control", measured(&g.histogram), Mark::Dots),
                    Series::new(
                        "Gaudin (GUE)",
                        curve(gaudin::gaudin_density, 0.0, 3.0),
                        Mark::Line,
                    ),
                    Series::new(
                        "Wigner surmise",
                        curve(surmise::wigner_density, 0.0, 3.0),
                        Mark::Line,
                    )
                    .dashed(),
                    Series::new(
                        "Poisson",
                        curve(surmise::poisson_density, 0.0, 3.0),
                        Mark::Line,
                    ),
                ],
            ),
        ),
        (
            "pair_correlation",
            Chart::new(
                "Pair correlation",
                "r (mean spacings)",
                "R₂(r)",
                vec![
                    Series::new("zeta zeros", measured(&z.pair_correlation), Mark::Dots),
                    Series::new("GUE control", measured(&g.pair_correlation), Mark::Dots),
                    Series::new(
                        "1 − (sin πr / πr)²",
                        curve(gue::pair_correlation, 0.0, 3.0),
                        Mark::Line,
                    ),
                ],
            ),
        ),
        (
            "number_variance",
            Chart::new(
                "Number variance",
                "L (mean spacings)",
                "Σ²(L)",
                vec![
                    Series::new("zeta zeros", measured(&z.number_variance), Mark::Dots),
                    Series::new("GUE control", measured(&g.number_variance), Mark::Dots),
                    Series::new("GUE", curve(gue::number_variance, 0.05, l_max), Mark::Line),
                ],
            ),
        ),
        (
            "rigidity",
            Chart::new(
                "Spectral rigidity",
                "L (mean spacings)",
                "Δ₃(L)",
                vec![
                    Series::new("zeta zeros", measured(&z.rigidity), Mark::Dots),
                    Series::new("GUE control", measured(&g.rigidity), Mark::Dots),
                    Series::new(
                        "GUE",
                        (1..=40)
                            .map(|i| i as f64 * l_max / 40.0)
                            .map(|l| (l, gue::rigidity(l)))
                            .collect(),
                        Mark::Line,
                    ),
                ],
            ),
        ),
        (
            "autocorrelation",
            Chart::new(
                "Autocorrelation of consecutive spacings",
                "lag k",
                "corr(δₙ, δₙ₊ₖ)",
                vec![
                    Series::new("zeta zeros", lags(&z.autocorrelation), Mark::Dots),
                    Series::new("GUE control", lags(&g.autocorrelation), Mark::Dots),
                ],
            ),
        ),
        (
            "height_drift",
            Chart::new(
                "Finite-height drift of the spacing variance",
                "height t",
                "variance of δ",
                vec![
                    Series::new(
                        "zeta zeros, per block",
                        report
                            .height_drift
                            .iter()
                            .map(|b| (b.height, b.variance))
                            .collect(),
                        Mark::Dots,
                    ),
                    Series::new(
                        format!("GUE ({:.5})", gaudin::gaudin_variance()),
                        report
                            .height_drift
                            .iter()
                            .map(|b| (b.height, gaudin::gaudin_variance()))
                            .collect(),
                        Mark::Line,
                    ),
                ],
            ),
        ),
        (
            "height_drift_ks",
            Chart::new(
                "Finite-height drift of the KS distance to Gaudin",
                "height t",
                "KS distance",
                vec![Series::new(
                    "zeta zeros, per block",
                    report
                        .height_drift
                        .iter()
                        .map(|b| (b.height, b.ks_gaudin))
                        .collect(),
                    Mark::Dots,
                )],
            ),
        ),
    ];
    let mut written = Vec::new();
    for (name, chart) in &charts {
        written.extend(write_chart(&out.join(name), chart)?);
    }
    Ok(written)
}

fn lags(values: &[f64]) -> Vec<(f64, f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| ((i + 1) as f64, v))
        .collect()
}
