//! The optimizer shoot-out section: per study (a model kind on one config, [`crate::shootout::studies`])
//! a table of the methods at their chosen lr (numbers and rules from [`crate::shootout`]), the lr grid, validation loss against steps
//! and against wall-clock (seed means, bands ± std over the seeds), and the verdicts on the notes' claims.

use super::{Result, Section, Targets, relative};
use crate::mean_std::mean_std;
use crate::shootout::{KindShootout, MethodResult, shootout, verdicts};
use spectral::plot::{Chart, Mark, Series, write_chart_in};
use spectral_train::runs::TrainRun;
use std::path::Path;

fn kind_title(kind: &str) -> &'static str {
    match kind {
        "gpt" => "char-GPT on Shakespeare",
        _ => "SpacingMDN on zeta spacings",
    }
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "–".into())
}

/// The section, and the number of figure files written into `out`.
pub fn section(
    runs: &[TrainRun],
    root: &Path,
    out: &Path,
    targets: Targets,
) -> Result<(Section, usize)> {
    let kinds = shootout(runs, |kind| targets.for_kind(kind));
    let mut md = format!(
        "## Optimizer shoot-out\n\n{} run directories. Rules: each optimizer's lr is the one whose seed-0 run has the lowest final validation loss on the grid; mean ± std (sample std, n − 1) over the seeds at that lr; curves are seed means at each evaluation step; steps/seconds to target are where the mean curve first reaches the target; a verdict's σ is √(s_A²/n_A + s_B²/n_B), and only |difference| ≥ 3 σ is read as a difference (with 3 seeds each std is itself uncertain by about ±50 %).\n\n",
        runs.len()
    );
    let mut figures = 0;
    for (i, kind) in kinds.iter().enumerate() {
        md += &kind_markdown(kind, root);
        // Numbered within the kind when it has several studies.
        let of_kind = |k: &KindShootout| k.kind == kind.kind;
        let stem = if kinds.iter().filter(|k| of_kind(k)).count() == 1 {
            format!("shootout_{}", kind.kind)
        } else {
            let n = kinds[..=i].iter().filter(|k| of_kind(k)).count();
            format!("shootout_{}_{n}", kind.kind)
        };
        for (suffix, x_label, x) in [
            (
                "val_vs_step",
                "step",
                (|p: &spectral_train::runs::ValPoint| p.step as f64) as fn(&_) -> f64,
            ),
            (
                "val_vs_wall",
                "wall-clock seconds (mean over seeds)",
                |p: &spectral_train::runs::ValPoint| p.wall_s,
            ),
        ] {
            let series = kind
                .methods
                .iter()
                .map(|m| {
                    let points = m.mean_curve.iter().map(|p| (x(p), p.val_loss)).collect();
                    match m.dirs.len() {
                        1 => Series::new(
                            format!("{} lr {}", m.method.name(), m.lr),
                            points,
                            Mark::Line,
                        ),
                        n => Series::new(
                            format!("{} lr {} ({n} seeds)", m.method.name(), m.lr),
                            points,
                            Mark::Line,
                        )
                        .with_spread(seed_std(m, runs)),
                    }
                })
                .collect();
            let mut chart = Chart::new(
                match kind.study.as_slice() {
                    [] => format!("{}: validation loss", kind_title(&kind.kind)),
                    study => format!(
                        "{} ({}): validation loss",
                        kind_title(&kind.kind),
                        study.join(", ")
                    ),
                },
                x_label,
                "validation loss (nats)",
                series,
            );
            if kind.methods.iter().any(|m| m.dirs.len() > 1) {
                chart =
                    chart.with_note("seed means; bands ± the sample std over the seeds (n − 1)");
            }
            let name = format!("{stem}_{suffix}");
            figures += write_chart_in(&out.join(&name), &chart, zoom(kind))?.len();
            md += &format!(
                "![{} {suffix}]({name}.png)\n",
                stem.trim_start_matches("shootout_")
            );
        }
        md += "\n";
    }
    Ok((
        Section {
            title: "Optimizer shoot-out",
            markdown: md,
        },
        figures,
    ))
}

/// The sample std over `m`'s seed runs of the validation loss at each point of its mean
/// curve (the runs are those of `m.dirs`; 0 where fewer than two have the step).
fn seed_std(m: &MethodResult, runs: &[TrainRun]) -> Vec<f64> {
    let curves: Vec<Vec<spectral_train::runs::ValPoint>> = runs
        .iter()
        .filter(|r| m.dirs.contains(&r.dir))
        .map(TrainRun::val_curve)
        .collect();
    m.mean_curve
        .iter()
        .map(|p| {
            let at: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.iter().find(|q| q.step == p.step).map(|q| q.val_loss))
                .collect();
            mean_std(&at).map_or(0.0, |v| v.std)
        })
        .collect()
}

/// The loss axis of the curves: from the lowest point to the highest after the first tenth
/// of the steps (a loss curve's first evaluations would squash the rest), 5 % margins.
fn zoom(kind: &KindShootout) -> Option<(f64, f64)> {
    let points = || kind.methods.iter().flat_map(|m| m.mean_curve.iter());
    let last = points().map(|p| p.step).max()?;
    let low = points().map(|p| p.val_loss).fold(f64::INFINITY, f64::min);
    let high = points()
        .filter(|p| p.step * 10 >= last)
        .map(|p| p.val_loss)
        .fold(f64::NEG_INFINITY, f64::max);
    let margin = 0.05 * (high - low);
    (low.is_finite() && high > low).then_some((low - margin, high + margin))
}

fn method_row(m: &MethodResult, kind: &KindShootout, equal_wall: Option<f64>) -> String {
    let to_target = m.to_target(kind.target);
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        m.method.name(),
        m.lr,
        m.seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(","),
        or_dash(m.final_val.map(|v| v.pm(4))),
        or_dash(to_target.map(|t| t.0.to_string())),
        or_dash(to_target.map(|t| format!("{:.1}", t.1))),
        or_dash(
            equal_wall
                .and_then(|w| m.val_at_wall(w))
                .map(|v| format!("{v:.4}"))
        ),
        or_dash(m.ms_per_step.map(|v| v.pm(1))),
        or_dash(m.optim_ms_per_step.map(|v| v.pm(1))),
    )
}

fn kind_markdown(kind: &KindShootout, root: &Path) -> String {
    let steps: Vec<u64> = kind.methods.iter().map(|m| m.steps).collect();
    let equal_steps = steps.windows(2).all(|w| w[0] == w[1]);
    let equal_wall = kind.equal_wall_s();
    let study = if kind.study.is_empty() {
        String::new()
    } else {
        format!(", {}", kind.study.join(", "))
    };
    let mut md = format!(
        "### {}{study} ({} steps{})\n\nTarget validation loss {:.4} ({}).\n\n",
        kind_title(&kind.kind),
        steps.iter().max().copied().unwrap_or(0),
        if equal_steps {
            ", equal for every optimizer"
        } else {
            "; NOT equal across optimizers"
        },
        kind.target,
        if kind.target_given {
            "given".to_string()
        } else {
            "default: the worst optimizer's mean final loss".to_string()
        },
    );
    md += &format!(
        "| optimizer | lr | seeds | final val loss | steps to target | seconds to target | val loss at {} s (equal wall-clock) | ms/step | optimizer ms/step |\n|---|---|---|---|---|---|---|---|---|\n",
        or_dash(equal_wall.map(|w| format!("{w:.1}")))
    );
    for m in &kind.methods {
        md += &method_row(m, kind, equal_wall);
    }
    md += "\nlr grid (seed-0 final validation loss; ∞ = diverged or unfinished):\n\n";
    for m in &kind.methods {
        let grid: Vec<String> = m
            .lr_grid
            .iter()
            .map(|(lr, v)| {
                let v = if v.is_finite() {
                    format!("{v:.4}")
                } else {
                    "∞".into()
                };
                if *lr == m.lr {
                    format!("**{lr}: {v}**")
                } else {
                    format!("{lr}: {v}")
                }
            })
            .collect();
        let dirs: Vec<String> = m.dirs.iter().map(|d| relative(d, root)).collect();
        let edge = m.lr_grid.len() >= 3
            && [m.lr_grid.first(), m.lr_grid.last()]
                .into_iter()
                .flatten()
                .any(|(lr, _)| *lr == m.lr);
        let grid = if edge {
            format!(
                "{}; best at the grid's edge: the optimum may lie outside it",
                grid.join(", ")
            )
        } else {
            grid.join(", ")
        };
        md += &format!(
            "- {}: {grid} (runs: {})\n",
            m.method.name(),
            dirs.join(", ")
        );
    }
    if !kind.repeats.is_empty() {
        md += "\nLeft out as repeats of a run in the grid (same config and seed):\n\n";
        for r in &kind.repeats {
            let differing = if r.differences.is_empty() {
                String::new()
            } else {
                format!("; differing only in {}", r.differences.join(", "))
            };
            md += &format!(
                "- {} (repeats {}{differing})\n",
                relative(&r.left_out, root),
                relative(&r.kept, root)
            );
        }
    }
    let verdicts = verdicts(kind);
    if !verdicts.is_empty() {
        md += "\nVerdicts (final validation loss at equal steps unless said otherwise):\n\n";
        for v in verdicts {
            md += &format!("- *{}*: {}\n", v.claim, v.finding);
        }
    }
    md += "\n";
    md
}
