//! The main job's figures: loss curves of both arms (training a line, validation dots, one
//! colour an arm), and the rollouts' spacing distribution beside the zeros' and GUE's.

use super::Arm;
use super::evaluate::{ROLLOUT_HORIZON, ROLLOUTS};
use spectral::plot::{Chart, Mark, PlotError, Series, write_chart};
use std::path::Path;

/// Normalized histogram of `values` on `[0, 4)` in bins of 0.1: `(bin centre, density)`.
pub fn density_histogram(values: &[f64]) -> Vec<(f64, f64)> {
    const WIDTH: f64 = 0.1;
    let mut counts = [0usize; 40];
    for &v in values {
        if (0.0..4.0).contains(&v) {
            counts[(v / WIDTH) as usize] += 1;
        }
    }
    let total = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| ((i as f64 + 0.5) * WIDTH, c as f64 / (total * WIDTH)))
        .collect()
}

/// Writes `OUT/loss_curves` (train and validation loss of every arm) and `OUT/rollouts` (the
/// rollouts' spacing density beside the true validation spacings and GUE), SVG and PNG;
/// returns the PNG names.
pub fn write_run_figures(out: &Path, arms: &[Arm]) -> Result<Vec<String>, PlotError> {
    let mut loss = Chart::new(
        "SpacingMDN training: NLL per spacing",
        "step",
        "loss (nats)",
        Vec::new(),
    );
    for (
        colour,
        Arm {
            name, evaluated, ..
        },
    ) in arms.iter().enumerate()
    {
        loss.series.push(
            Series::new(
                format!("{name} train"),
                evaluated.train_curve.clone(),
                Mark::Line,
            )
            .colour(colour),
        );
        loss.series.push(
            Series::new(
                format!("{name} val"),
                evaluated.val_curve.clone(),
                Mark::Dots,
            )
            .colour(colour),
        );
    }
    let mut spacings = Chart::new(
        "Next-spacing distribution: model rollouts vs the zeros vs GUE",
        "spacing s (mean 1)",
        "density",
        vec![Series::new(
            "true validation spacings",
            density_histogram(&arms[0].evaluated.truth),
            Mark::Bars(0.1),
        )],
    );
    for Arm {
        name, evaluated, ..
    } in arms
    {
        spacings.series.push(Series::new(
            format!("{name} rollouts ({}×{})", ROLLOUTS, ROLLOUT_HORIZON),
            density_histogram(&evaluated.rollouts),
            Mark::Dots,
        ));
    }
    let gue: Vec<(f64, f64)> = (0..=160)
        .map(|i| {
            let s = i as f64 * 0.025;
            (s, spectral_zeta::stats::gaudin::gaudin_density(s))
        })
        .collect();
    spacings
        .series
        .push(Series::new("GUE (Gaudin)", gue, Mark::Line));
    write_chart(&out.join("loss_curves"), &loss)?;
    write_chart(&out.join("rollouts"), &spacings)?;
    Ok(vec!["loss_curves.png".into(), "rollouts.png".into()])
}
