//! `spectral diagnose`: the six memory phenomena of the design notes, each one number and a
//! one-line reading. They are features to measure, not bugs to fix.
//!
//! | phenomenon | number |
//! |---|---|
//! | A shortcut | eff% of zeroing all slots at once (how much of the prediction goes through memory), beside the share of attention data positions put on the slots |
//! | B symmetry | mean pairwise cosine similarity of the slot tokens `slots + slot_id` |
//! | C co-adaptation | joint effect / Σ single effects (zero ablations): > 1 synergy, < 1 redundancy |
//! | D gradient correlation | mean pairwise Pearson correlation of the per-slot NLL gradients `∂L/∂slots[m]`, each concatenated over a few validation batches |
//! | E train vs rollout | Err@H₁ / one-step MAE: how much the free-running error exceeds the teacher-forced one |
//! | F slot-effect norm | `‖(eff%_m)_m‖₂` of the single zero ablations |
//!
//! The reading thresholds of A, C, F reuse the eff% bands of [`super::slots`]; those of B,
//! D, E are this module's (stated at each reading function).

use super::load::{EvalError, EvalSettings};
use super::memory_attention::memory_attention;
use super::slots::{effect_label, mean_abs_diff};
use super::suite::{predicted_means, rollout_errors, rollout_seeds};
use crate::data::SpacingDataset;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use spectral_io::progress::Progress;
use spectral_models::{MemoryEdit, SlotAblation, SpacingMdn};

/// One phenomenon's number and its reading.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Finding {
    pub value: f64,
    pub reading: String,
}

/// The six phenomena, plus the raw numbers the readings quote.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostics {
    pub shortcut: Finding,
    pub symmetry: Finding,
    pub co_adaptation: Finding,
    pub gradient_correlation: Finding,
    pub train_vs_rollout: Finding,
    pub slot_effect_norm: Finding,
    /// Fraction of the data positions' attention on the slots (mean over layers and heads).
    pub memory_share: f64,
    /// eff% of each single zero ablation.
    pub single_eff_pct: Vec<f64>,
    /// eff% of zeroing all slots.
    pub joint_eff_pct: f64,
    /// Largest pairwise cosine similarity of slot tokens.
    pub max_cosine: f64,
    /// Largest pairwise gradient correlation.
    pub max_gradient_correlation: f64,
    /// One-step MAE, and Err@H for the settings' horizons.
    pub mae: f64,
    pub err: Vec<f64>,
}

/// `(mean, max)` over pairs i < j of `f(v_i, v_j)`; `(0, 0)` with fewer than two vectors.
fn pairwise(vectors: &[Vec<f64>], f: impl Fn(&[f64], &[f64]) -> f64) -> (f64, f64) {
    let (mut sum, mut max, mut n) = (0.0, f64::NEG_INFINITY, 0usize);
    for i in 0..vectors.len() {
        for j in 0..i {
            let v = f(&vectors[i], &vectors[j]);
            sum += v;
            max = max.max(v);
            n += 1;
        }
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (sum / n as f64, max)
    }
}

/// Cosine similarity `a·b / (‖a‖‖b‖)` (0 when either is zero).
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Pearson correlation: the cosine of the centred vectors.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let centre = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
        v.iter().map(|x| x - m).collect::<Vec<f64>>()
    };
    cosine(&centre(a), &centre(b))
}

/// `(mean, max)` pairwise cosine similarity.
pub fn pairwise_cosine(vectors: &[Vec<f64>]) -> (f64, f64) {
    pairwise(vectors, cosine)
}

/// `(mean, max)` pairwise Pearson correlation.
pub fn pairwise_pearson(vectors: &[Vec<f64>]) -> (f64, f64) {
    pairwise(vectors, pearson)
}

/// A: eff% of the joint ablation `joint_pct`, with the attention share on memory.
pub fn read_shortcut(joint_pct: f64, share: f64) -> String {
    let share = 100.0 * share;
    match joint_pct {
        p if p < 1.0 => format!(
            "data path carries the prediction: removing all memory moves it {p:.2}% of MAE although {share:.0}% of attention lands on the slots"
        ),
        p if p >= 30.0 => format!(
            "shortcut through memory: removing all slots moves the prediction {p:.1}% of MAE ({share:.0}% of attention on the slots)"
        ),
        p => format!(
            "both paths used: all memory off moves the prediction {p:.1}% of MAE ({}; {share:.0}% of attention on the slots)",
            effect_label(p).name()
        ),
    }
}

/// B: slots with mean |cosine| < 0.2 are distinct, any pair above 0.9 nearly identical.
pub fn read_symmetry(mean: f64, max: f64) -> String {
    if max > 0.9 {
        format!("symmetric: some slots are nearly identical (max cosine {max:.2})")
    } else if mean.abs() < 0.2 {
        format!("slots are distinct (mean cosine {mean:.2}, max {max:.2})")
    } else {
        format!("slots partly alike (mean cosine {mean:.2}, max {max:.2})")
    }
}

/// C: ratio > 1.5 synergy, < 0.67 redundancy, between roughly additive.
pub fn read_co_adaptation(ratio: f64) -> String {
    if ratio > 1.5 {
        format!(
            "co-adapted: all slots together matter {ratio:.2}× the sum of each alone (they act as one)"
        )
    } else if ratio < 0.67 {
        format!(
            "redundant: all slots together matter {ratio:.2}× the sum of each alone (they cover for each other)"
        )
    } else {
        format!("roughly additive: joint / sum of single effects = {ratio:.2}")
    }
}

/// D: mean correlation > 0.5 the slots learn together, < 0.1 independently.
pub fn read_gradient_correlation(mean: f64, max: f64) -> String {
    if mean > 0.5 {
        format!(
            "slots learn together (mean gradient correlation {mean:.2}): they may collapse into one"
        )
    } else if mean.abs() < 0.1 {
        format!("slots learn independently (mean gradient correlation {mean:.2}, max {max:.2})")
    } else {
        format!("slots partly learn together (mean gradient correlation {mean:.2}, max {max:.2})")
    }
}

/// E: ratio ≤ 1.2 stable, ≤ 2 moderate growth, above errors compound.
pub fn read_train_vs_rollout(ratio: f64, growth: f64) -> String {
    let tail = format!("Err@H grows {growth:.2}× from the first horizon to the last");
    if ratio <= 1.2 {
        format!("stable: free-running error {ratio:.2}× the teacher-forced MAE; {tail}")
    } else if ratio <= 2.0 {
        format!("errors grow when free-running: {ratio:.2}× the teacher-forced MAE; {tail}")
    } else {
        format!("errors compound (exposure bias): {ratio:.2}× the teacher-forced MAE; {tail}")
    }
}

/// F: the norm read with the eff% bands.
pub fn read_slot_effect_norm(norm: f64, slots: usize) -> String {
    format!(
        "{}: the {slots} slots together move the prediction ‖eff%‖₂ = {norm:.2}% of MAE",
        effect_label(norm).name()
    )
}

/// Per-slot gradients of the validation NLL, `[M][batches·C]`: the rows of `∂L/∂slots`,
/// each batch's concatenated.
pub fn slot_gradients<B: AutodiffBackend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    settings: &EvalSettings,
    device: &B::Device,
) -> Result<Vec<Vec<f64>>, EvalError> {
    let memory = model
        .memory
        .as_ref()
        .expect("checked: the model has memory");
    let m = model.n_slots();
    let mut per_slot = vec![Vec::new(); m];
    let windows = settings.batch * settings.gradient_batches.max(1);
    for (x, y) in data.val_batches::<B>(settings.batch, settings.context, windows, device)? {
        let grads = model.loss(x, y)?.backward();
        let g = memory
            .slots
            .grad(&grads)
            .expect("slots take part in the loss"); // [M, C]
        let [_, c] = g.dims();
        let values: Vec<f64> = g.into_data().convert::<f64>().to_vec().expect("f64");
        for (slot, acc) in per_slot.iter_mut().enumerate() {
            acc.extend_from_slice(&values[slot * c..(slot + 1) * c]);
        }
    }
    Ok(per_slot)
}

/// All six phenomena (see the module doc). The model must have memory; it runs on an
/// autodiff backend for D, and through `valid()` for the rest.
pub fn diagnose<B: AutodiffBackend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    settings: &EvalSettings,
    device: &B::Device,
) -> Result<Diagnostics, EvalError> {
    let m = model.n_slots();
    // The slot gradients, the unablated means, each slot zeroed, all zeroed, the rollouts.
    let progress = Progress::new("diagnose", 4 + m as u64, "passes");
    progress.set_message("slot gradients".into());
    let gradients = slot_gradients(model, data, settings, device)?;
    progress.inc(1);
    let (grad_mean, grad_max) = pairwise_pearson(&gradients);
    let model = model.valid();
    let device: &<B::InnerBackend as burn::tensor::backend::BackendTypes>::Device = device;
    let none = MemoryEdit::none();
    progress.set_message("slot ablations".into());
    let (base, targets) = predicted_means(&model, data, settings, &none, device)?;
    progress.inc(1);
    let mae = mean_abs_diff(&base, &targets);
    let pct = |means: &[f64]| 100.0 * mean_abs_diff(means, &base) / mae;
    let mut single_eff_pct = Vec::with_capacity(m);
    for slot in 0..m {
        single_eff_pct.push(pct(&predicted_means(
            &model,
            data,
            settings,
            &MemoryEdit::zero(slot),
            device,
        )?
        .0));
        progress.inc(1);
    }
    let all = MemoryEdit {
        ablations: (0..m).map(|s| (s, SlotAblation::Zero)).collect(),
    };
    let joint_eff_pct = pct(&predicted_means(&model, data, settings, &all, device)?.0);
    progress.inc(1);
    progress.set_message("rollouts".into());
    let sum_single: f64 = single_eff_pct.iter().sum();
    let ratio = if sum_single > 0.0 {
        joint_eff_pct / sum_single
    } else {
        0.0
    };
    let norm = single_eff_pct.iter().map(|e| e * e).sum::<f64>().sqrt();

    let memory = model
        .memory
        .as_ref()
        .expect("checked: the model has memory");
    let tokens = memory.tokens(&none)?; // [M, C]
    let [_, c] = tokens.dims();
    let values: Vec<f64> = tokens.into_data().convert::<f64>().to_vec().expect("f64");
    let rows: Vec<Vec<f64>> = values.chunks(c).map(<[f64]>::to_vec).collect();
    let (cos_mean, cos_max) = pairwise_cosine(&rows);

    let starts = data
        .split()
        .val_starts(settings.context, settings.attention_windows.max(1))?;
    let flat: Vec<f32> = starts
        .iter()
        .flat_map(|&s| data.values()[s..s + settings.context].to_vec())
        .collect();
    let x = Tensor::from_data(
        TensorData::new(flat, [starts.len(), settings.context]),
        device,
    );
    let (_, maps) = model.forward_with_attention(x, &none)?;
    let share = memory_attention(&maps, m).memory_share;

    let set = rollout_seeds(data, settings)?;
    let err = rollout_errors(&model, &set, settings, &none, device)?;
    progress.inc(1);
    progress.finish();
    let first = err.first().copied().unwrap_or(0.0);
    let last = err.last().copied().unwrap_or(0.0);
    Ok(Diagnostics {
        shortcut: Finding {
            value: joint_eff_pct,
            reading: read_shortcut(joint_eff_pct, share),
        },
        symmetry: Finding {
            value: cos_mean,
            reading: read_symmetry(cos_mean, cos_max),
        },
        co_adaptation: Finding {
            value: ratio,
            reading: read_co_adaptation(ratio),
        },
        gradient_correlation: Finding {
            value: grad_mean,
            reading: read_gradient_correlation(grad_mean, grad_max),
        },
        train_vs_rollout: Finding {
            value: first / mae,
            reading: read_train_vs_rollout(first / mae, last / first),
        },
        slot_effect_norm: Finding {
            value: norm,
            reading: read_slot_effect_norm(norm, m),
        },
        memory_share: share,
        single_eff_pct,
        joint_eff_pct,
        max_cosine: cos_max,
        max_gradient_correlation: grad_max,
        mae,
        err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::suite::tests::tiny;
    use burn::backend::Autodiff;
    use spectral::CpuBackend;

    #[test]
    fn similarity_measures_of_known_vectors() {
        let v = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 2.0, 0.0],
            vec![3.0, 0.0, 0.0],
        ];
        // Pairs: (1,0) 0, (2,0) 1, (2,1) 0.
        let (mean, max) = pairwise_cosine(&v);
        assert!((mean - 1.0 / 3.0).abs() < 1e-15 && max == 1.0);
        // Pearson is shift- and scale-invariant and −1 for a reversed line.
        assert!((pearson(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-15);
        assert!((pearson(&[1.0, 2.0, 3.0], &[5.0, 4.0, 3.0]) + 1.0).abs() < 1e-15);
        assert_eq!(pairwise_pearson(&v[..1]), (0.0, 0.0));
    }

    #[test]
    fn readings_name_the_regime() {
        assert!(read_shortcut(0.5, 0.4).starts_with("data path"));
        assert!(read_shortcut(45.0, 0.4).starts_with("shortcut"));
        assert!(read_shortcut(5.0, 0.4).contains("USEFUL"));
        assert!(read_symmetry(0.95, 0.99).starts_with("symmetric"));
        assert!(read_symmetry(0.05, 0.3).starts_with("slots are distinct"));
        assert!(read_co_adaptation(2.0).starts_with("co-adapted"));
        assert!(read_co_adaptation(0.3).starts_with("redundant"));
        assert!(read_co_adaptation(1.0).starts_with("roughly additive"));
        assert!(read_gradient_correlation(0.8, 0.9).starts_with("slots learn together"));
        assert!(read_train_vs_rollout(3.0, 1.1).starts_with("errors compound"));
        assert!(read_slot_effect_norm(12.0, 8).starts_with("STRONG"));
    }

    #[test]
    fn diagnose_a_tiny_model() {
        let device = Default::default();
        let (model, data, settings) = tiny::<Autodiff<CpuBackend>>();
        let d = diagnose(&model, &data, &settings, &device).unwrap();
        assert_eq!(d.single_eff_pct.len(), 3);
        let sum: f64 = d.single_eff_pct.iter().sum();
        assert!((d.co_adaptation.value - d.joint_eff_pct / sum).abs() < 1e-12);
        let norm = d.single_eff_pct.iter().map(|e| e * e).sum::<f64>().sqrt();
        assert!((d.slot_effect_norm.value - norm).abs() < 1e-12);
        assert!((-1.0..=1.0).contains(&d.symmetry.value));
        assert!((-1.0..=1.0).contains(&d.gradient_correlation.value));
        assert!(
            d.gradient_correlation.value != 0.0,
            "gradients reach every slot"
        );
        assert!((d.train_vs_rollout.value - d.err[0] / d.mae).abs() < 1e-12);
        assert!(d.memory_share > 0.0 && d.memory_share < 1.0);
    }
}
