//! The text tables `spectral eval`, `slots` and `diagnose` print (their JSON is the serde
//! form of the same structs).

use super::diagnostics::Diagnostics;
use super::slots::SlotReport;
use super::suite::EvalReport;
use std::fmt::Write as _;

/// `spectral eval`'s table.
pub fn eval_table(r: &EvalReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<28} {:>10}", "metric", "value");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(s, "{name:<28} {value:>10}");
    };
    row("val NLL (nats)", format!("{:.4}", r.nll));
    row("val MAE", format!("{:.4}", r.mae));
    row("val CRPS", format!("{:.4}", r.crps));
    row("PIT chi2 (bins-1 dof)", format!("{:.1}", r.pit.chi2));
    row(
        "PIT max bin deviation",
        format!("{:.1}%", 100.0 * r.pit.max_rel_dev),
    );
    for h in &r.horizons {
        row(&format!("Err@{} (mean feed)", h.h), format!("{:.4}", h.err));
        row(
            &format!("Err@{} (sampled)", h.h),
            format!("{:.4}", h.err_sampled),
        );
        row(
            &format!("drift@{} (mean feed)", h.h),
            format!("{:.4}", h.drift),
        );
    }
    let d = &r.distribution;
    row("rollout spacing mean", format!("{:.4}", d.mean));
    row("rollout spacing variance", format!("{:.4}", d.variance));
    row("KS rollouts vs truth", format!("{:.4}", d.ks_vs_truth));
    row("KS rollouts vs GUE", format!("{:.4}", d.ks_vs_gue));
    row("KS truth vs GUE", format!("{:.4}", d.truth_ks_vs_gue));
    match &r.memory {
        Some(m) => {
            row(
                "mem_entropy (max)",
                format!("{:.3} ({:.3})", m.mem_entropy, m.mem_entropy_max),
            );
            row(
                "attention share on memory",
                format!("{:.1}%", 100.0 * m.memory_share),
            );
        }
        None => row("mem_entropy", "no memory".into()),
    }
    let pit: Vec<String> = r.pit.fractions.iter().map(|f| format!("{f:.3}")).collect();
    let _ = writeln!(s, "PIT histogram: {}", pit.join(" "));
    let _ = writeln!(
        s,
        "({} targets in {} windows of {}; {} rollouts)",
        r.targets, r.settings.windows, r.settings.context, r.rollouts
    );
    s
}

/// `spectral slots`' table.
pub fn slots_table(r: &SlotReport) -> String {
    let mut s = String::new();
    let errs: Vec<String> = r
        .horizons
        .iter()
        .zip(&r.baseline_err)
        .map(|(h, e)| format!("Err@{h} {e:.4}"))
        .collect();
    let _ = writeln!(
        s,
        "baseline: MAE {:.4}, {}",
        r.baseline_mae,
        errs.join(", ")
    );
    let _ = write!(
        s,
        "{:>4} {:>8} {:>9} {:>8} {:<10}",
        "slot", "ablation", "effect", "eff%", "label"
    );
    for h in &r.horizons {
        let _ = write!(s, " {:>9}", format!("Δ@{h}"));
    }
    let _ = writeln!(s, " reading");
    for row in &r.rows {
        let _ = write!(
            s,
            "{:>4} {:>8} {:>9.5} {:>7.2}% {:<10}",
            row.slot,
            row.ablation,
            row.effect,
            row.eff_pct,
            row.label.name()
        );
        for d in &row.rollout_delta_pct {
            let _ = write!(s, " {:>8.2}%", d);
        }
        let _ = writeln!(s, " {}", row.reading.name());
    }
    let _ = writeln!(
        s,
        "model: eff% {:.2} ({}), best rollout Δ@{} {:.2}% ({})",
        r.max_eff_pct,
        r.label.name(),
        r.horizons.first().copied().unwrap_or(0),
        r.max_rollout_delta_pct,
        r.reading.name()
    );
    s
}

/// `spectral diagnose`'s table.
pub fn diagnostics_table(d: &Diagnostics) -> String {
    let mut s = String::new();
    for (name, f) in [
        ("A shortcut (joint eff%)", &d.shortcut),
        ("B symmetry (mean cos)", &d.symmetry),
        ("C co-adaptation (ratio)", &d.co_adaptation),
        ("D gradient correlation", &d.gradient_correlation),
        ("E train vs rollout", &d.train_vs_rollout),
        ("F slot-effect norm (%)", &d.slot_effect_norm),
    ] {
        let _ = writeln!(s, "{name:<26} {:>9.4}  {}", f.value, f.reading);
    }
    s
}
