//! What the main job measures of a trained SpacingMDN: validation NLL and MAE of the mixture
//! mean, and free-running rollouts (the model fed its own samples) whose spacing
//! distribution can be set beside the true one and the GUE law. The full evaluation suite
//! (CRPS, Err@H, calibration, slot ablations) is [`crate::eval`]'s.

use crate::data::SpacingDataset;
use crate::eval::rollout::{Feed, rollout, rollout_set};
use crate::task::TaskError;
use burn::tensor::ElementConversion;
use burn::tensor::backend::Backend;
use spectral_models::{MemoryEdit, SpacingMdn};

/// Validation metrics of a SpacingMDN.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct SpacingMetrics {
    /// Mean negative log-likelihood of the next spacing (nats).
    pub nll: f64,
    /// Mean |E[δ] − δ| of the mixture mean (mean-spacing units).
    pub mae: f64,
    /// Spacings scored.
    pub targets: usize,
}

/// NLL and MAE over the fixed validation windows (`max_windows` of `seq_len`).
pub fn spacing_metrics<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    batch: usize,
    seq_len: usize,
    max_windows: usize,
    device: &B::Device,
) -> Result<SpacingMetrics, TaskError> {
    let (mut nll, mut abs_error, mut targets) = (0.0, 0.0, 0usize);
    for (x, y) in data.val_batches::<B>(batch, seq_len, max_windows, device)? {
        let n: usize = y.dims().iter().product();
        let out = model.forward(x)?;
        nll += out.nll(y.clone()).into_scalar().elem::<f64>() * n as f64;
        abs_error += (out.mean() - y).abs().sum().into_scalar().elem::<f64>();
        targets += n;
    }
    Ok(SpacingMetrics {
        nll: nll / targets as f64,
        mae: abs_error / targets as f64,
        targets,
    })
}

/// Samples `horizon` spacings per rollout, `rollouts` rollouts in parallel, each seeded with a
/// validation window of `context` true spacings and then fed its own samples (the context
/// slides; [`rollout`] with [`Feed::Sample`]). Deterministic for `seed`. Returns every
/// sample, step-major (the `rollouts` samples of step 1, then of step 2, …).
pub fn rollout_samples<B: Backend>(
    model: &SpacingMdn<B>,
    data: &SpacingDataset,
    rollouts: usize,
    context: usize,
    horizon: usize,
    seed: u64,
    device: &B::Device,
) -> Result<Vec<f64>, TaskError> {
    // Seeds only: a rollout set with no continuation has the same windows.
    let seeds = rollout_set(data, rollouts, context, 0)?.seeds;
    let rows = rollout(
        model,
        &seeds,
        horizon,
        Feed::Sample { seed },
        &MemoryEdit::none(),
        device,
    )?;
    Ok((0..horizon)
        .flat_map(|h| rows.iter().map(move |row| row[h]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;
    use spectral_models::SpacingMdnConfig;

    fn setup() -> (SpacingMdn<CpuBackend>, SpacingDataset) {
        let device = Default::default();
        let model = SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(16)
            .with_n_components(2);
        let model = spectral::device::seeded::<CpuBackend, _>(&device, 0, || {
            spectral::device::materialized(model.init::<CpuBackend>(&device).unwrap())
        });
        let values = spectral_zeta::stats::gue_sample::gue_spacings(600, 3);
        (model, SpacingDataset::from_values(values, 1, 0.5).unwrap())
    }

    #[test]
    fn metrics_match_a_direct_computation() {
        let device = Default::default();
        let (model, data) = setup();
        let metrics = spacing_metrics(&model, &data, 4, 16, 6, &device).unwrap();
        assert_eq!(metrics.targets, 6 * 16);
        // The same windows in one batch give the same numbers.
        let (x, y) = data
            .val_batches::<CpuBackend>(6, 16, 6, &device)
            .unwrap()
            .remove(0);
        let out = model.forward(x).unwrap();
        let nll: f64 = out.nll(y.clone()).into_scalar().into();
        let mae: f64 = (out.mean() - y).abs().mean().into_scalar().into();
        assert!((metrics.nll - nll).abs() < 1e-5, "{} vs {nll}", metrics.nll);
        assert!((metrics.mae - mae).abs() < 1e-5, "{} vs {mae}", metrics.mae);
    }

    #[test]
    fn rollouts_are_deterministic_positive_and_of_the_asked_size() {
        let device = Default::default();
        let (model, data) = setup();
        let a = rollout_samples(&model, &data, 3, 16, 5, 9, &device).unwrap();
        let b = rollout_samples(&model, &data, 3, 16, 5, 9, &device).unwrap();
        let c = rollout_samples(&model, &data, 3, 16, 5, 10, &device).unwrap();
        assert_eq!(a.len(), 15);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
