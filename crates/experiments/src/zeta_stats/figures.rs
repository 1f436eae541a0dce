//! The figures of `spectral stats`: each statistic of the zeros beside the GUE control and
//! the GUE prediction, as SVG and PNG.

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
            Chart {
                title: "Nearest-neighbour spacings".into(),
                x_label: "s (mean spacings)".into(),
                y_label: "density p(s)".into(),
                series: vec![
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
                    ),
                    Series::new(
                        "Poisson",
                        curve(surmise::poisson_density, 0.0, 3.0),
                        Mark::Line,
                    ),
                ],
            },
        ),
        (
            "pair_correlation",
            Chart {
                title: "Pair correlation".into(),
                x_label: "r (mean spacings)".into(),
                y_label: "R2(r)".into(),
                series: vec![
                    Series::new("zeta zeros", measured(&z.pair_correlation), Mark::Dots),
                    Series::new("GUE control", measured(&g.pair_correlation), Mark::Dots),
                    Series::new(
                        "1 - (sin πr/πr)²",
                        curve(gue::pair_correlation, 0.0, 3.0),
                        Mark::Line,
                    ),
                ],
            },
        ),
        (
            "number_variance",
            Chart {
                title: "Number variance".into(),
                x_label: "L (mean spacings)".into(),
                y_label: "Σ²(L)".into(),
                series: vec![
                    Series::new("zeta zeros", measured(&z.number_variance), Mark::Dots),
                    Series::new("GUE control", measured(&g.number_variance), Mark::Dots),
                    Series::new("GUE", curve(gue::number_variance, 0.05, l_max), Mark::Line),
                ],
            },
        ),
        (
            "rigidity",
            Chart {
                title: "Spectral rigidity".into(),
                x_label: "L (mean spacings)".into(),
                y_label: "Δ3(L)".into(),
                series: vec![
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
            },
        ),
        (
            "autocorrelation",
            Chart {
                title: "Autocorrelation of consecutive spacings".into(),
                x_label: "lag k".into(),
                y_label: "corr(δn, δn+k)".into(),
                series: vec![
                    Series::new("zeta zeros", lags(&z.autocorrelation), Mark::Line),
                    Series::new("GUE control", lags(&g.autocorrelation), Mark::Line),
                ],
            },
        ),
        (
            "height_drift",
            Chart {
                title: "Finite-height drift of the spacing variance".into(),
                x_label: "height t".into(),
                y_label: "variance of δ".into(),
                series: vec![
                    Series::new(
                        "zeta zeros, per block",
                        report
                            .height_drift
                            .iter()
                            .map(|b| (b.height, b.variance))
                            .collect(),
                        Mark::Line,
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
            },
        ),
        (
            "height_drift_ks",
            Chart {
                title: "Finite-height drift of the KS distance to Gaudin".into(),
                x_label: "height t".into(),
                y_label: "KS distance".into(),
                series: vec![Series::new(
                    "zeta zeros, per block",
                    report
                        .height_drift
                        .iter()
                        .map(|b| (b.height, b.ks_gaudin))
                        .collect(),
                    Mark::Line,
                )],
            },
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
