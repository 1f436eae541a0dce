//! `spectral eval`: every metric of the design notes on the validation split of one run.

use super::crps::mixture_crps;
use super::load::{EvalError, EvalSettings};
use super::memory_attention::{MemoryAttention, memory_attention};
use super::mixture::HostMixtures;
use super::pit::{PitHistogram, pit_histogram};
use super::rollout::{Feed, RolloutSet, drift_at, err_at, rollout, rollout_set, two_sample_ks};
use crate::data::SpacingDataset;
use crate::spacing_eval::spacing_metrics;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use spectral_io::progress::Progress;
use spectral_models::{MemoryEdit, SpacingMdn};
use spectral_zeta::stats::distance::ks_distance;
use spectral_zeta::stats::gaudin::gaudin_cdf;

/// Rollout errors at one horizon (mean-spacing units; see [`super::rollout`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HorizonErrors {
    /// H.
    pub h: usize,
    /// Err@H feeding back the mixture mean.
    pub err: f64,
    /// drift@H feeding back the mixture mean.
    pub drift: f64,
    /// Err@H feeding back mixture samples.
    pub err_sampled: f64,
    /// drift@H feeding back mixture samples.
    pub drift_sampled: f64,
}

/// The distribution of sampled rollout spacings against the truth and GUE.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RolloutDistribution {
    /// Spacings sampled (rollouts × max horizon).
    pub samples: usize,
    pub mean: f64,
    pub variance: f64,
    /// Two-sample KS distance to the true continuations of the same seeds.
    pub ks_vs_truth: f64,
    /// KS distance to Gaudin's GUE law.
    pub ks_vs_gue: f64,
    /// The true continuations' KS distance to GUE (the floor a perfect model would reach).
    pub truth_ks_vs_gue: f64,
}

/// Everything `spectral eval` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalReport {
    pub settings: EvalSettings,
    /// One-step targets scored.
    pub targets: usize,
    /// Mean NLL of the next spacing (nats).
    pub nll: f64,
    /// Mean |E[s] − s| of the mixture mean.
    pub mae: f64,
    /// Mean CRPS of the mixture (mean-spacing units).
    pub crps: f64,
    pub pit: PitHistogram,
    /// Rollouts run.
    pub rollouts: usize,
    pub horizons: Vec<HorizonErrors>,
    pub distribution: RolloutDistribution,
    /// Attention on the memory slots; `None` without memory.
    pub memory: Option<MemoryAttention>,
}

/// The predicted means and the true next spacings over the one-step validation windows,
/// row-major `[window][position]`, under `edit`.
pub fn predicted_means<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    settings: &EvalSettings,
    edit: &MemoryEdit,
    device: &B::Device,
) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
    let (mut means, mut targets) = (Vec::new(), Vec::new());
    for (x, y) in
        data.val_batches::<B>(settings.batch, settings.context, settings.windows, device)?
    {
        let out = model.forward_with(x, edit)?;
        means.extend(host(out.mean()));
        targets.extend(host(y));
    }
    Ok((means, targets))
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().to_vec().expect("f64")
}

/// Rollout seeds for `settings`, with a clear error when the validation split is too short.
pub fn rollout_seeds(
    data: &SpacingDataset,
    settings: &EvalSettings,
) -> Result<RolloutSet, EvalError> {
    let need = settings.context + settings.max_horizon();
    let set = if data.split().val().len() > need {
        rollout_set(
            data,
            settings.rollouts,
            settings.context,
            settings.max_horizon(),
        )?
    } else {
        RolloutSet {
            seeds: vec![],
            truth: vec![],
        }
    };
    if set.seeds.is_empty() {
        return Err(EvalError::TooLittleData(format!(
            "the validation split ({} spacings) holds no window of {} + {} spacings for a rollout",
            data.split().val().len(),
            settings.context,
            settings.max_horizon()
        )));
    }
    Ok(set)
}

/// Mean-feed Err@H at each of `settings.horizons` under `edit`, and the rollouts themselves.
pub fn rollout_errors<B: Backend>(
    model: &SpacingMdn<B>,
    set: &RolloutSet,
    settings: &EvalSettings,
    edit: &MemoryEdit,
    device: &B::Device,
) -> Result<Vec<f64>, EvalError> {
    let pred = rollout(
        model,
        &set.seeds,
        settings.max_horizon(),
        Feed::Mean,
        edit,
        device,
    )?;
    Ok(settings
        .horizons
        .iter()
        .map(|&h| err_at(&pred, &set.truth, h))
        .collect())
}

/// The whole suite on `model` (see [`EvalReport`]).
pub fn evaluate<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    settings: &EvalSettings,
    device: &B::Device,
) -> Result<EvalReport, EvalError> {
    let progress = Progress::new("eval", 4, "passes");
    progress.set_message("one step ahead".into());
    let one_step = spacing_metrics(
        model,
        data,
        settings.batch,
        settings.context,
        settings.windows,
        device,
    )?;
    progress.inc(1);
    progress.set_message("CRPS and PIT".into());
    let (mut crps, mut pits) = (0.0, Vec::with_capacity(one_step.targets));
    for (x, y) in
        data.val_batches::<B>(settings.batch, settings.context, settings.windows, device)?
    {
        let out = model.forward(x)?;
        let mixtures = HostMixtures::from_tensors(out.log_pi, out.mu, out.sigma);
        for (i, y) in host(y).into_iter().enumerate() {
            let (pi, mu, sigma) = mixtures.target(i);
            crps += mixture_crps(pi, mu, sigma, y);
            pits.push(mixtures.cdf(i, y));
        }
    }
    progress.inc(1);
    progress.set_message(format!("{} mean-feed rollouts", settings.rollouts));
    let set = rollout_seeds(data, settings)?;
    let horizon = settings.max_horizon();
    let none = MemoryEdit::none();
    let mean_feed = rollout(model, &set.seeds, horizon, Feed::Mean, &none, device)?;
    progress.inc(1);
    progress.set_message(format!("{} sampled rollouts", settings.rollouts));
    let sampled = rollout(
        model,
        &set.seeds,
        horizon,
        Feed::Sample {
            seed: settings.seed,
        },
        &none,
        device,
    )?;
    progress.inc(1);
    progress.finish();
    let horizons = settings
        .horizons
        .iter()
        .map(|&h| HorizonErrors {
            h,
            err: err_at(&mean_feed, &set.truth, h),
            drift: drift_at(&mean_feed, &set.truth, h),
            err_sampled: err_at(&sampled, &set.truth, h),
            drift_sampled: drift_at(&sampled, &set.truth, h),
        })
        .collect();
    let samples: Vec<f64> = sampled.concat();
    let truth: Vec<f64> = set.truth.concat();
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let distribution = RolloutDistribution {
        samples: samples.len(),
        mean,
        variance: samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n,
        ks_vs_truth: two_sample_ks(&samples, &truth),
        ks_vs_gue: ks_distance(&sorted(&samples), gaudin_cdf),
        truth_ks_vs_gue: ks_distance(&sorted(&truth), gaudin_cdf),
    };
    let memory = if model.n_slots() > 0 {
        let rows = settings.attention_windows.max(1);
        let starts = data.split().val_starts(settings.context, rows)?;
        let flat: Vec<f32> = starts
            .iter()
            .flat_map(|&s| data.values()[s..s + settings.context].to_vec())
            .collect();
        let x = Tensor::<B, 2>::from_data(
            TensorData::new(flat, [starts.len(), settings.context]),
            device,
        );
        let (_, maps) = model.forward_with_attention(x, &none)?;
        Some(memory_attention(&maps, model.n_slots()))
    } else {
        None
    };
    Ok(EvalReport {
        settings: settings.clone(),
        targets: one_step.targets,
        nll: one_step.nll,
        mae: one_step.mae,
        crps: crps / pits.len().max(1) as f64,
        pit: pit_histogram(&pits, settings.pit_bins),
        rollouts: set.seeds.len(),
        horizons,
        distribution,
        memory,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use spectral::CpuBackend;
    use spectral_models::{MemoryConfig, SpacingMdnConfig};

    /// A tiny SpacingMDN with 3 memory slots and GUE data: shared by the slot and
    /// diagnostic tests.
    pub(crate) fn tiny<B: Backend>() -> (SpacingMdn<B>, SpacingDataset, EvalSettings) {
        let config = SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(16)
            .with_n_components(2)
            .with_memory(Some(MemoryConfig::new().with_n_slots(3)));
        let device = Default::default();
        let model = spectral::device::seeded::<B, _>(&device, 0, || {
            spectral::device::materialized(config.init::<B>(&device).unwrap())
        });
        let values = spectral_zeta::stats::gue_sample::gue_spacings(3000, 5);
        let data = SpacingDataset::from_values(values, 1, 0.5).unwrap();
        let settings = EvalSettings {
            windows: 6,
            batch: 4,
            context: 16,
            rollouts: 4,
            horizons: vec![3, 12],
            pit_bins: 5,
            attention_windows: 3,
            gradient_batches: 2,
            seed: 7,
        };
        (model, data, settings)
    }

    #[test]
    fn suite_agrees_with_independent_pieces() {
        let device = Default::default();
        let (model, data, settings) = tiny::<CpuBackend>();
        let report = evaluate(&model, &data, &settings, &device).unwrap();
        assert_eq!(report.targets, 6 * 16);
        assert_eq!(report.pit.count, 6 * 16);
        assert_eq!(report.rollouts, 4);
        // MAE from predicted_means equals spacing_metrics' (a separate code path).
        let (means, targets) =
            predicted_means(&model, &data, &settings, &MemoryEdit::none(), &device).unwrap();
        let mae = means
            .iter()
            .zip(&targets)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
            / means.len() as f64;
        assert!((mae - report.mae).abs() < 1e-6, "{mae} vs {}", report.mae);
        // CRPS ≤ MAE of the mean is not a law, but CRPS ≤ E|X − y| is, and both are ≥ 0.
        assert!(report.crps > 0.0 && report.crps.is_finite());
        let errs = rollout_errors(
            &model,
            &rollout_seeds(&data, &settings).unwrap(),
            &settings,
            &MemoryEdit::none(),
            &device,
        )
        .unwrap();
        assert_eq!(errs, vec![report.horizons[0].err, report.horizons[1].err]);
        let memory = report.memory.unwrap();
        assert!(memory.mem_entropy > 0.0 && memory.mem_entropy <= 3f64.ln() + 1e-9);
        assert!(memory.memory_share > 0.0 && memory.memory_share < 1.0);
        let d = report.distribution;
        assert_eq!(d.samples, 4 * 12);
        assert!((0.0..=1.0).contains(&d.ks_vs_truth) && (0.0..=1.0).contains(&d.ks_vs_gue));
    }

    #[test]
    fn a_short_validation_split_is_a_clear_error() {
        let device = Default::default();
        let (model, data, mut settings) = tiny::<CpuBackend>();
        settings.horizons = vec![10, 5000];
        let error = evaluate(&model, &data, &settings, &device).unwrap_err();
        assert!(error.to_string().contains("no window"), "{error}");
    }
}
