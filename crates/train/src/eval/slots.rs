//! `spectral slots`: ablate each memory slot and measure what changes (design notes 002).
//!
//! For slot m and an ablation a ∈ {zero, mean} ([`spectral_models::SlotAblation`]):
//!
//! ```text
//! effect(m, a)         = mean over validation targets |ŝ_a − ŝ|        ŝ the mixture mean
//! eff%(m, a)           = effect(m, a) / baseline_MAE × 100
//! rollout_effect(m, a) = Err@H(ablated) − Err@H(base)                   mean-feed rollouts
//! rollout Δ%(m, a)     = rollout_effect / Err@H(base) × 100
//! ```
//!
//! The model's `eff%` is the largest over slots and ablations (`max_slot_effect /
//! baseline_MAE`). Labels by the notes' thresholds: [`effect_label`] for eff% and
//! [`rollout_reading`] for the rollout Δ% at the first horizon (the notes' Err@10).

use super::load::{EvalError, EvalSettings};
use super::suite::{predicted_means, rollout_errors, rollout_seeds};
use crate::data::SpacingDataset;
use burn::tensor::backend::Backend;
use spectral_io::progress::Progress;
use spectral_models::{MemoryEdit, SlotAblation, SpacingMdn};

/// What one slot's one-step effect says, by eff% (thresholds of the design notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EffectLabel {
    /// eff% < 1: the slot is dead weight.
    Ballast,
    /// 1 ≤ eff% < 3: weak influence.
    Marginal,
    /// 3 ≤ eff% < 10: a working influence.
    Useful,
    /// 10 ≤ eff% < 30: strong (the notes' ideal).
    Strong,
    /// eff% ≥ 30: the prediction leans on the slot (overfitting to the slots).
    Dominant,
}

impl EffectLabel {
    /// The notes' name: `BALLAST`, `MARGINAL`, `USEFUL`, `STRONG`, `DOMINANT`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ballast => "BALLAST",
            Self::Marginal => "MARGINAL",
            Self::Useful => "USEFUL",
            Self::Strong => "STRONG",
            Self::Dominant => "DOMINANT",
        }
    }
}

/// The label of `eff_pct` (percent of the baseline MAE); lower bounds inclusive.
pub fn effect_label(eff_pct: f64) -> EffectLabel {
    match eff_pct {
        e if e < 1.0 => EffectLabel::Ballast,
        e if e < 3.0 => EffectLabel::Marginal,
        e if e < 10.0 => EffectLabel::Useful,
        e if e < 30.0 => EffectLabel::Strong,
        _ => EffectLabel::Dominant,
    }
}

/// What a slot's rollout Δ% says (positive: removing the slot hurts the rollout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutReading {
    /// Δ < 0 %: the rollout is better without the slot; it hinders.
    Ballast,
    /// 0 ≤ Δ ≤ 2 %: hardly matters to the rollout.
    Marginal,
    /// 2 < Δ ≤ 5 %: some hold (the notes name no band here).
    Partial,
    /// Δ > 5 %: the slot holds the rollout's focus (a "global lens").
    HoldsFocus,
}

impl RolloutReading {
    /// `BALLAST`, `MARGINAL`, `PARTIAL` or `HOLDS_FOCUS` (as in the JSON).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ballast => "BALLAST",
            Self::Marginal => "MARGINAL",
            Self::Partial => "PARTIAL",
            Self::HoldsFocus => "HOLDS_FOCUS",
        }
    }
}

/// The reading of a rollout Δ% (percent of the baseline Err@H).
pub fn rollout_reading(delta_pct: f64) -> RolloutReading {
    match delta_pct {
        d if d < 0.0 => RolloutReading::Ballast,
        d if d <= 2.0 => RolloutReading::Marginal,
        d if d <= 5.0 => RolloutReading::Partial,
        _ => RolloutReading::HoldsFocus,
    }
}

/// One (slot, ablation) measurement.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotAblationRow {
    pub slot: usize,
    /// `"zero"` or `"mean"`.
    pub ablation: String,
    /// Mean |Δ predicted mean| (mean-spacing units).
    pub effect: f64,
    pub eff_pct: f64,
    pub label: EffectLabel,
    /// Err@H under the ablation, per horizon.
    pub err: Vec<f64>,
    /// Err@H(ablated) − Err@H(base), per horizon.
    pub rollout_effect: Vec<f64>,
    /// rollout_effect / Err@H(base) × 100, per horizon.
    pub rollout_delta_pct: Vec<f64>,
    /// Reading of the first horizon's Δ%.
    pub reading: RolloutReading,
}

/// Everything `spectral slots` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotReport {
    pub horizons: Vec<usize>,
    /// One-step MAE of the unablated model.
    pub baseline_mae: f64,
    /// Err@H of the unablated model, per horizon.
    pub baseline_err: Vec<f64>,
    pub rows: Vec<SlotAblationRow>,
    /// The model's eff%: the largest over rows.
    pub max_eff_pct: f64,
    pub label: EffectLabel,
    /// The largest rollout Δ% at the first horizon over rows.
    pub max_rollout_delta_pct: f64,
    pub reading: RolloutReading,
}

/// Mean |a − b|.
pub fn mean_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len().max(1) as f64
}

/// Ablates every slot both ways (see the module doc). The model must have memory.
pub fn slot_ablations<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    settings: &EvalSettings,
    device: &B::Device,
) -> Result<SlotReport, EvalError> {
    let progress = Progress::new("slots", 1 + 2 * model.n_slots() as u64, "ablations");
    progress.set_message("the unablated model".into());
    let none = MemoryEdit::none();
    let (base, targets) = predicted_means(model, data, settings, &none, device)?;
    let baseline_mae = mean_abs_diff(&base, &targets);
    let set = rollout_seeds(data, settings)?;
    let baseline_err = rollout_errors(model, &set, settings, &none, device)?;
    progress.inc(1);
    let mut rows = Vec::new();
    for slot in 0..model.n_slots() {
        for (name, ablation) in [("zero", SlotAblation::Zero), ("mean", SlotAblation::Mean)] {
            progress.set_message(format!("slot {slot} {name}"));
            let edit = MemoryEdit {
                ablations: vec![(slot, ablation)],
            };
            let (means, _) = predicted_means(model, data, settings, &edit, device)?;
            let effect = mean_abs_diff(&means, &base);
            let eff_pct = 100.0 * effect / baseline_mae;
            let err = rollout_errors(model, &set, settings, &edit, device)?;
            let rollout_effect: Vec<f64> =
                err.iter().zip(&baseline_err).map(|(a, b)| a - b).collect();
            let rollout_delta_pct: Vec<f64> = rollout_effect
                .iter()
                .zip(&baseline_err)
                .map(|(d, b)| 100.0 * d / b)
                .collect();
            rows.push(SlotAblationRow {
                slot,
                ablation: name.into(),
                effect,
                eff_pct,
                label: effect_label(eff_pct),
                reading: rollout_reading(rollout_delta_pct[0]),
                err,
                rollout_effect,
                rollout_delta_pct,
            });
            progress.inc(1);
        }
    }
    progress.finish();
    let max_eff_pct = rows.iter().map(|r| r.eff_pct).fold(0.0, f64::max);
    let max_rollout_delta_pct = rows
        .iter()
        .map(|r| r.rollout_delta_pct[0])
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(SlotReport {
        horizons: settings.horizons.clone(),
        baseline_mae,
        baseline_err,
        rows,
        max_eff_pct,
        label: effect_label(max_eff_pct),
        max_rollout_delta_pct,
        reading: rollout_reading(max_rollout_delta_pct),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::suite::tests::tiny;

    #[test]
    fn labels_follow_the_notes_thresholds() {
        use EffectLabel::*;
        for (eff, want) in [
            (0.0, Ballast),
            (0.99, Ballast),
            (1.0, Marginal),
            (2.99, Marginal),
            (3.0, Useful),
            (3.45, Useful), // memory v1
            (9.99, Useful),
            (10.0, Strong),
            (29.9, Strong),
            (30.0, Dominant),
            (250.0, Dominant),
        ] {
            assert_eq!(effect_label(eff), want, "eff% = {eff}");
        }
        use RolloutReading as R;
        for (delta, want) in [
            (-0.16, R::Ballast), // E1
            (0.0, R::Marginal),
            (0.16, R::Marginal), // memory v1
            (2.0, R::Marginal),
            (2.01, R::Partial),
            (5.0, R::Partial),
            (5.01, R::HoldsFocus),
        ] {
            assert_eq!(rollout_reading(delta), want, "Δ = {delta}");
        }
        assert_eq!(
            serde_json::to_string(&R::HoldsFocus).unwrap(),
            "\"HOLDS_FOCUS\""
        );
    }

    #[test]
    fn ablating_every_slot_both_ways() {
        let device = Default::default();
        let (model, data, settings) = tiny::<spectral::CpuBackend>();
        let report = slot_ablations(&model, &data, &settings, &device).unwrap();
        assert_eq!(report.rows.len(), 6);
        // Independent recomputation of one row: zeroing slot 1.
        let none = MemoryEdit::none();
        let (base, _) = predicted_means(&model, &data, &settings, &none, &device).unwrap();
        let (zeroed, _) =
            predicted_means(&model, &data, &settings, &MemoryEdit::zero(1), &device).unwrap();
        let row = &report.rows[2];
        assert_eq!((row.slot, row.ablation.as_str()), (1, "zero"));
        assert!((row.effect - mean_abs_diff(&zeroed, &base)).abs() < 1e-12);
        assert!((row.eff_pct - 100.0 * row.effect / report.baseline_mae).abs() < 1e-9);
        assert!(
            row.effect > 0.0,
            "an untrained slot still moves the prediction"
        );
        assert_eq!(
            report.max_eff_pct,
            report.rows.iter().map(|r| r.eff_pct).fold(0.0, f64::max)
        );
        assert_eq!(report.label, effect_label(report.max_eff_pct));
        for r in &report.rows {
            for (i, d) in r.rollout_effect.iter().enumerate() {
                assert!((r.err[i] - report.baseline_err[i] - d).abs() < 1e-12);
            }
        }
    }
}
