//! Auxiliary losses and regularizers of the SpacingMDN with memory (design notes, §memory):
//! slot regression onto window statistics, the drift loss of a differentiable rollout, and
//! five ramped regularizers. All off by default; `configs/mdn_*.toml` turn them on.
//!
//! Total training loss: `NLL + Σ weight(step)·term`. Where the notes name a regularizer but
//! not its sign, this implementation reads the entropy terms as anti-collapse (raising
//! entropy is rewarded) and says so at each term.

pub mod window_stats;

use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use spectral_models::{MdnOutput, SpacingMdn};

/// A weight that moves linearly from `start` (step 0) to `end` (step `steps`), then stays.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    pub start: f64,
    pub end: f64,
    /// Steps of the ramp; 0 jumps to `end` at once.
    pub steps: u64,
    /// Hold at 0 until this step, then jump to the ramp (the notes' "step at 1k" mass cap).
    #[serde(default)]
    pub delay: u64,
}

impl Ramp {
    pub fn at(&self, step: u64) -> f64 {
        if step < self.delay {
            return 0.0;
        }
        let step = step - self.delay;
        if self.steps == 0 || step >= self.steps {
            return self.end;
        }
        self.start + (self.end - self.start) * step as f64 / self.steps as f64
    }
}

/// The notes' regularizers, "all on from step 0, with ramps".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Regularizers {
    /// ‖ŜŜᵀ − I‖²_F / M² of the unit-normalized slot tokens Ŝ: slots pointing apart.
    pub orthogonality: Ramp,
    /// `ln M − H`, H the entropy of the attention data positions give the slots (renormalized
    /// over slots, mean over layers, heads, positions): rewards spreading over the slots.
    pub attention_entropy: Ramp,
    /// `mean(relu(mass − cap)²)`, mass the attention share data positions put on memory.
    pub mass_cap: Ramp,
    /// The share of attention above which `mass_cap` penalizes (0.3 in the notes).
    pub mass_cap_share: f64,
    /// After each step, slots with ‖slot‖ > this are projected back to it (0 = off).
    pub slot_norm_cap: f64,
    /// `ln K − H(π)`: rewards using the mixture's components (constant weight).
    pub mdn_entropy: f64,
}

impl Default for Regularizers {
    fn default() -> Self {
        Self {
            orthogonality: Ramp {
                start: 1e-4,
                end: 1e-2,
                steps: 5000,
                delay: 0,
            },
            attention_entropy: Ramp {
                start: 0.0,
                end: 0.005,
                steps: 2000,
                delay: 0,
            },
            mass_cap: Ramp {
                start: 0.01,
                end: 0.01,
                steps: 0,
                delay: 1000,
            },
            mass_cap_share: 0.3,
            slot_norm_cap: 5.0,
            mdn_entropy: 0.005,
        }
    }
}

/// The drift loss: every `every` steps, a differentiable rollout of `horizon` steps on
/// `batch` training windows, feeding back the mixture mean; `mean |cumsum(pred) − cumsum(true)|`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Drift {
    /// Weight in the total loss (0 = off). The notes' E1: 0.01, E2: 0.1.
    pub weight: f64,
    /// Steps between drift losses (E1: 20, E2: 10).
    pub every: u64,
    /// Rollout length H (E1: 10, E2: 20).
    pub horizon: usize,
    /// Windows per drift loss (E1: 16, E2: 32).
    pub batch: usize,
}

impl Default for Drift {
    fn default() -> Self {
        Self {
            weight: 0.0,
            every: 20,
            horizon: 10,
            batch: 16,
        }
    }
}

/// `[aux]` of a training config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuxConfig {
    /// Weight of the MSE of slot i's aux-head prediction against window statistic M_i
    /// (0 = off; needs `[model.memory] aux_head = true` and at least 8 slots).
    pub window_stats_weight: f64,
    pub drift: Drift,
    /// The ramped regularizers; absent = off.
    pub regularizers: Option<Regularizers>,
}

impl AuxConfig {
    /// Whether the forward pass must return attention maps.
    pub fn needs_attention(&self) -> bool {
        self.regularizers.is_some()
    }
}

/// Targets `[B, 8]` for the window-statistics regression, from the input windows `x` `[B, T]`.
pub fn window_stat_targets<B: Backend>(x: &Tensor<B, 2>) -> Tensor<B, 2> {
    let [b, t] = x.dims();
    let values: Vec<f64> = x.to_data().convert::<f64>().to_vec().expect("f64");
    let targets: Vec<f32> = values
        .chunks(t)
        .flat_map(|w| window_stats::window_stats(w).map(|v| v as f32))
        .collect();
    Tensor::from_data(
        TensorData::new(targets, [b, window_stats::N_STATS]),
        &x.device(),
    )
}

/// Mean squared error of the first 8 slots' aux predictions against the window statistics.
pub fn window_stats_loss<B: Backend>(
    model: &SpacingMdn<B>,
    out: &MdnOutput<B>,
    x: &Tensor<B, 2>,
) -> Option<Tensor<B, 1>> {
    let memory = model.memory.as_ref()?;
    let predictions = memory.aux_predictions(out.memory_out.clone()?)?; // [B, M]
    let [b, m] = predictions.dims();
    if m < window_stats::N_STATS {
        return None;
    }
    let predictions = predictions.slice([0..b, 0..window_stats::N_STATS]);
    Some(
        (predictions - window_stat_targets(x))
            .powf_scalar(2.0)
            .mean(),
    )
}

/// Drift loss of a rollout from windows `x0` `[b, T]` against the true continuations `truth`
/// `[b, H]`: the model's mixture mean is fed back H times (the window slides), and the loss
/// is `mean |cumsum(pred) − cumsum(truth)|` over the b rollouts and H steps.
pub fn drift_loss<B: Backend>(
    model: &SpacingMdn<B>,
    x0: Tensor<B, 2>,
    truth: Tensor<B, 2>,
) -> Result<Tensor<B, 1>, spectral_models::ModelError> {
    let [b, t] = x0.dims();
    let [_, horizon] = truth.dims();
    let mut window = x0;
    let mut predictions = Vec::with_capacity(horizon);
    for _ in 0..horizon {
        let mean = model.forward(window.clone())?.mean(); // [b, T]
        let next = mean.slice([0..b, t - 1..t]); // [b, 1]
        window = Tensor::cat(vec![window.slice([0..b, 1..t]), next.clone()], 1); // [b, T]
        predictions.push(next);
    }
    let predictions = Tensor::cat(predictions, 1); // [b, H]
    Ok((predictions.cumsum(1) - truth.cumsum(1)).abs().mean())
}

/// The ramped regularizers at `step`, given this batch's forward pass and attention maps
/// (`[B, H, M+T, M+T]` per layer, slots first).
pub fn regularizer_loss<B: Backend>(
    regs: &Regularizers,
    step: u64,
    model: &SpacingMdn<B>,
    out: &MdnOutput<B>,
    attention: &[Tensor<B, 4>],
) -> Option<Tensor<B, 1>> {
    let mut terms: Vec<Tensor<B, 1>> = Vec::new();
    let [_, _, k] = out.log_pi.dims();
    if regs.mdn_entropy > 0.0 {
        let entropy = (out.log_pi.clone().exp() * out.log_pi.clone())
            .sum_dim(2)
            .neg()
            .mean();
        terms.push(
            entropy
                .neg()
                .add_scalar((k as f64).ln())
                .mul_scalar(regs.mdn_entropy),
        );
    }
    let Some(memory) = &model.memory else {
        return terms.into_iter().reduce(|a, b| a + b);
    };
    let m = memory.n_slots();
    let w = regs.orthogonality.at(step);
    if w > 0.0 {
        let tokens = memory.tokens(&spectral_models::MemoryEdit::none()).ok()?; // [M, C]
        let norms = tokens
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .sqrt()
            .add_scalar(1e-8); // [M, 1]
        let unit = tokens / norms;
        let gram = unit.clone().matmul(unit.transpose()); // [M, M]
        let eye = Tensor::eye(m, &gram.device());
        terms.push(
            (gram - eye)
                .powf_scalar(2.0)
                .sum()
                .div_scalar((m * m) as f64)
                .mul_scalar(w),
        );
    }
    let (w_entropy, w_mass) = (regs.attention_entropy.at(step), regs.mass_cap.at(step));
    if (w_entropy > 0.0 || w_mass > 0.0) && !attention.is_empty() {
        let mut entropy_terms = Vec::new();
        let mut mass_terms = Vec::new();
        for attn in attention {
            let [b, h, s, _] = attn.dims();
            let to_slots = attn.clone().slice([0..b, 0..h, m..s, 0..m]); // [B, H, T, M]
            let mass = to_slots.clone().sum_dim(3).add_scalar(1e-12); // [B, H, T, 1]
            let p = to_slots / mass.clone();
            let entropy = (p.clone() * p.add_scalar(1e-12).log())
                .sum_dim(3)
                .neg()
                .mean();
            entropy_terms.push(entropy.neg().add_scalar((m as f64).ln()));
            mass_terms.push(
                relu(mass.add_scalar(-regs.mass_cap_share))
                    .powf_scalar(2.0)
                    .mean(),
            );
        }
        let layers = attention.len() as f64;
        if w_entropy > 0.0 {
            let sum = entropy_terms.into_iter().reduce(|a, b| a + b)?;
            terms.push(sum.div_scalar(layers).mul_scalar(w_entropy));
        }
        if w_mass > 0.0 {
            let sum = mass_terms.into_iter().reduce(|a, b| a + b)?;
            terms.push(sum.div_scalar(layers).mul_scalar(w_mass));
        }
    }
    terms.into_iter().reduce(|a, b| a + b)
}

/// Slot rows `[M, C]` with norm above `cap` scaled back to `cap` (the norm cap projection).
pub fn cap_rows<B: Backend>(slots: Tensor<B, 2>, cap: f64) -> Tensor<B, 2> {
    let norms = slots.clone().powf_scalar(2.0).sum_dim(1).sqrt(); // [M, 1]
    let scale = norms
        .add_scalar(1e-12)
        .recip()
        .mul_scalar(cap)
        .clamp_max(1.0);
    slots * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;

    #[test]
    fn ramps_follow_the_notes_schedules() {
        let regs = Regularizers::default();
        assert_eq!(regs.orthogonality.at(0), 1e-4);
        assert!((regs.orthogonality.at(2500) - (1e-4 + 1e-2) / 2.0).abs() < 1e-15);
        assert_eq!(regs.orthogonality.at(9999), 1e-2);
        assert_eq!(regs.attention_entropy.at(0), 0.0);
        assert_eq!(regs.attention_entropy.at(1000), 0.0025);
        assert_eq!(regs.mass_cap.at(999), 0.0);
        assert_eq!(regs.mass_cap.at(1000), 0.01);
    }

    #[test]
    fn cap_projects_only_long_rows() {
        let device = Default::default();
        let slots = Tensor::<CpuBackend, 2>::from_data(
            TensorData::from([[3.0f32, 4.0], [0.3, 0.4]]),
            &device,
        );
        let capped: Vec<f32> = cap_rows(slots, 1.0).into_data().to_vec().unwrap();
        let want = [0.6, 0.8, 0.3, 0.4];
        assert!(
            capped.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{capped:?}"
        );
    }

    #[test]
    fn targets_are_the_window_statistics() {
        let device = Default::default();
        let x = Tensor::<CpuBackend, 2>::from_data(
            TensorData::from([[1.0f32; 8], [0.5, 1.5, 0.5, 1.5, 0.5, 1.5, 0.5, 1.5]]),
            &device,
        );
        let targets: Vec<f32> = window_stat_targets(&x).into_data().to_vec().unwrap();
        assert_eq!(&targets[..8], &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let second = window_stats::window_stats(&[0.5, 1.5, 0.5, 1.5, 0.5, 1.5, 0.5, 1.5]);
        assert!(
            targets[8..]
                .iter()
                .zip(second)
                .all(|(a, b)| (*a as f64 - b).abs() < 1e-6)
        );
    }

    fn tiny_model(memory: bool) -> SpacingMdn<CpuBackend> {
        let mut config = spectral_models::SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(16)
            .with_n_components(2);
        if memory {
            config = config.with_memory(Some(
                spectral_models::MemoryConfig::new()
                    .with_n_slots(8)
                    .with_aux_head(true),
            ));
        }
        let device = Default::default();
        spectral::device::seeded::<CpuBackend, _>(&device, 0, || {
            spectral::device::materialized(config.init(&device).unwrap())
        })
    }

    #[test]
    fn drift_is_zero_against_the_models_own_rollout_and_positive_otherwise() {
        let device = Default::default();
        let model = tiny_model(false);
        let x0 = Tensor::<CpuBackend, 2>::from_data(
            TensorData::new(vec![1.0f32; 2 * 6], [2, 6]),
            &device,
        );
        // The model's own mean rollout, computed step by step here.
        let mut window = x0.clone();
        let mut own = Vec::new();
        for _ in 0..3 {
            let mean = model.forward(window.clone()).unwrap().mean();
            let next = mean.slice([0..2, 5..6]);
            window = Tensor::cat(vec![window.slice([0..2, 1..6]), next.clone()], 1);
            own.push(next);
        }
        let own = Tensor::cat(own, 1);
        let zero: f32 = drift_loss(&model, x0.clone(), own.clone())
            .unwrap()
            .into_scalar();
        assert!(zero.abs() < 1e-6, "{zero}");
        // Truth shifted by +0.1 at every step: cumulative errors 0.1, 0.2, 0.3 → mean 0.2.
        let shifted: f32 = drift_loss(&model, x0, own.add_scalar(0.1))
            .unwrap()
            .into_scalar();
        assert!((shifted - 0.2).abs() < 1e-5, "{shifted}");
    }

    #[test]
    fn regularizers_vanish_where_they_should() {
        let device = Default::default();
        let model = tiny_model(true);
        let x =
            Tensor::<CpuBackend, 2>::from_data(TensorData::new(vec![1.0f32; 12], [1, 12]), &device);
        let (out, attention) = model
            .forward_with_attention(x.clone(), &spectral_models::MemoryEdit::none())
            .unwrap();
        let only_mdn = Regularizers {
            orthogonality: Ramp {
                start: 0.0,
                end: 0.0,
                steps: 0,
                delay: 0,
            },
            attention_entropy: Ramp {
                start: 0.0,
                end: 0.0,
                steps: 0,
                delay: 0,
            },
            mass_cap: Ramp {
                start: 0.0,
                end: 0.0,
                steps: 0,
                delay: 0,
            },
            mdn_entropy: 1.0,
            ..Default::default()
        };
        // ln K − H(π) ≥ 0, with equality only for uniform π.
        let mdn: f32 = regularizer_loss(&only_mdn, 0, &model, &out, &attention)
            .unwrap()
            .into_scalar();
        assert!(mdn >= 0.0 && mdn < 2f32.ln(), "{mdn}");
        let all = Regularizers::default();
        let total: f32 = regularizer_loss(&all, 3000, &model, &out, &attention)
            .unwrap()
            .into_scalar();
        assert!(total.is_finite() && total > 0.0, "{total}");
        // Mass cap with a share of 1: never exceeded, no penalty.
        let mass_only = Regularizers {
            orthogonality: Ramp {
                start: 0.0,
                end: 0.0,
                steps: 0,
                delay: 0,
            },
            attention_entropy: Ramp {
                start: 0.0,
                end: 0.0,
                steps: 0,
                delay: 0,
            },
            mass_cap: Ramp {
                start: 1.0,
                end: 1.0,
                steps: 0,
                delay: 0,
            },
            mass_cap_share: 1.0,
            mdn_entropy: 0.0,
            ..Default::default()
        };
        let mass: f32 = regularizer_loss(&mass_only, 0, &model, &out, &attention)
            .unwrap()
            .into_scalar();
        assert_eq!(mass, 0.0);
        // The window-statistics loss needs the aux head and exists here.
        assert!(window_stats_loss(&model, &out, &x).is_some());
        assert!(window_stats_loss(&tiny_model(false), &out, &x).is_none());
    }
}
