//! The main job's `report.md`: a table of both arms (validation NLL and MAE, parameters,
//! training time, rollout moments) and the true spacings' moments, with the figures.

use super::Arm;
use std::fmt::Write as _;

/// `report.md` of `count` zeros and the trained `arms`, linking `figures` (PNG names).
pub fn report_markdown(count: u64, arms: &[Arm], figures: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# spectral run\n");
    let _ = writeln!(
        md,
        "The first {count} zeros of ζ, verified complete, unfolded to spacings (`spacings.f64`); \
         their GUE statistics are in `stats/`. Two SpacingMDNs (`configs/quick_mdn.toml`) were \
         trained on the first 90 % of the spacings and evaluated on the last 10 %.\n"
    );
    let _ = writeln!(
        md,
        "| model | val NLL (nats) | val MAE | parameters | steps | train time (s) | rollout mean | rollout variance |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for Arm {
        name,
        trained,
        evaluated,
    } in arms
    {
        let n = evaluated.rollouts.len() as f64;
        let mean = evaluated.rollouts.iter().sum::<f64>() / n;
        let var = evaluated
            .rollouts
            .iter()
            .map(|v| (v - mean).powi(2))
            .sum::<f64>()
            / n;
        let _ = writeln!(
            md,
            "| {name} | {:.4} | {:.4} | {} | {} | {:.1} | {mean:.3} | {var:.3} |",
            evaluated.metrics.nll,
            evaluated.metrics.mae,
            trained.params,
            trained.steps,
            trained.seconds
        );
    }
    let truth = &arms[0].evaluated.truth;
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let var = truth.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let _ = writeln!(
        md,
        "\nTrue validation spacings: mean {mean:.3}, variance {var:.3} (GUE: 1, 0.180).\n"
    );
    for figure in figures {
        let _ = writeln!(md, "![{figure}]({figure})\n");
    }
    md
}
