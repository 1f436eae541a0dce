//! Free-running rollouts of a SpacingMDN and their errors against the true continuation.
//!
//! A rollout is seeded with `context` true spacings; at each of `horizon` steps the model's
//! mixture at the last position gives the next spacing ŝ, which is appended while the oldest
//! spacing drops out (the context slides, so its length stays `context ≤ block_size`). ŝ is
//! either the mixture mean `Σ π μ` (deterministic) or a draw from the mixture (seeded), and is
//! clamped at 0 (spacings are non-negative).
//!
//! Errors of rollouts `ŝ_{r,h}` against the truth `s_{r,h}`, `r = 1..R`, `h = 1..H`, in
//! mean-spacing units (the design notes' Err@H and drift loss):
//!
//! ```text
//! Err@H   = (1/RH) Σ_r Σ_{h≤H} |ŝ_{r,h} − s_{r,h}|          mean absolute error over the H steps
//! drift@H = (1/R)  Σ_r |Σ_{h≤H} ŝ_{r,h} − Σ_{h≤H} s_{r,h}|   position error of zero number H
//! ```

use crate::data::sampling::splitmix64;
use crate::data::{DataError, SpacingDataset};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use spectral_models::{MemoryEdit, ModelError, SpacingMdn};

/// What a rollout feeds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// The mixture mean (deterministic).
    Mean,
    /// A draw from the mixture: a component by π, then a Gaussian (Box–Muller); the draw of
    /// row `r` at step `h` depends only on `(seed, h, r)`.
    Sample { seed: u64 },
}

/// Validation seeds and their true continuations.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutSet {
    /// `R` seed windows of `context` true spacings.
    pub seeds: Vec<Vec<f32>>,
    /// The `horizon` true spacings that follow each seed.
    pub truth: Vec<Vec<f64>>,
}

/// Up to `rollouts` non-overlapping validation windows of `context + horizon` spacings, split
/// into seed and continuation. Errors when the validation split holds none.
pub fn rollout_set(
    data: &SpacingDataset,
    rollouts: usize,
    context: usize,
    horizon: usize,
) -> Result<RolloutSet, DataError> {
    let starts = data.split().val_starts(context + horizon, rollouts)?;
    let values = data.values();
    Ok(RolloutSet {
        seeds: starts
            .iter()
            .map(|&s| values[s..s + context].to_vec())
            .collect(),
        truth: starts
            .iter()
            .map(|&s| {
                values[s + context..s + context + horizon]
                    .iter()
                    .map(|&v| v as f64)
                    .collect()
            })
            .collect(),
    })
}

/// A uniform in [0, 1) from a 64-bit key.
fn uniform(key: u64) -> f64 {
    (splitmix64(key) >> 11) as f64 / (1u64 << 53) as f64
}

/// One draw from the mixture `(log π, μ, σ)` (each of length K) for the key of row `row` at
/// step `h` under `seed`.
pub fn sample_mixture(
    log_pi: &[f32],
    mu: &[f32],
    sigma: &[f32],
    seed: u64,
    h: usize,
    row: usize,
) -> f64 {
    let k = log_pi.len();
    let key = seed ^ ((h as u64) << 32) ^ row as u64;
    let u = uniform(key.wrapping_mul(3));
    let mut acc = 0.0;
    let mut component = k - 1;
    for (j, lp) in log_pi.iter().enumerate() {
        acc += (*lp as f64).exp();
        if u < acc {
            component = j;
            break;
        }
    }
    let (u1, u2) = (
        uniform(key.wrapping_mul(5)).max(1e-300),
        uniform(key.wrapping_mul(7)),
    );
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    mu[component] as f64 + sigma[component] as f64 * z
}

/// Rolls every seed window (all of one length ≤ `block_size`) forward `horizon` steps under
/// the memory `edit`, in one batch. Returns `ŝ` per row, `[R][horizon]`.
pub fn rollout<B: Backend>(
    model: &SpacingMdn<B>,
    seeds: &[Vec<f32>],
    horizon: usize,
    feed: Feed,
    edit: &MemoryEdit,
    device: &B::Device,
) -> Result<Vec<Vec<f64>>, ModelError> {
    let n = seeds.len();
    let mut out = vec![Vec::with_capacity(horizon); n];
    if n == 0 {
        return Ok(out);
    }
    let context = seeds[0].len();
    let mut windows: Vec<Vec<f32>> = seeds.to_vec();
    for h in 0..horizon {
        let flat: Vec<f32> = windows.iter().flatten().copied().collect();
        let x = Tensor::<B, 2>::from_data(TensorData::new(flat, [n, context]), device);
        let mixture = model.forward_with(x, edit)?;
        let [_, t, k] = mixture.mu.dims();
        let last = |p: Tensor<B, 3>| -> Vec<f32> {
            p.slice([0..n, t - 1..t, 0..k])
                .into_data()
                .convert::<f32>()
                .to_vec()
                .expect("f32")
        };
        let (log_pi, mu, sigma) = (last(mixture.log_pi), last(mixture.mu), last(mixture.sigma));
        for (row, window) in windows.iter_mut().enumerate() {
            let r = row * k..(row + 1) * k;
            let value = match feed {
                Feed::Mean => log_pi[r.clone()]
                    .iter()
                    .zip(&mu[r])
                    .map(|(lp, m)| (*lp as f64).exp() * *m as f64)
                    .sum::<f64>(),
                Feed::Sample { seed } => {
                    sample_mixture(&log_pi[r.clone()], &mu[r.clone()], &sigma[r], seed, h, row)
                }
            }
            .max(0.0);
            out[row].push(value);
            window.remove(0);
            window.push(value as f32);
        }
    }
    Ok(out)
}

/// Err@H of the module doc: mean |ŝ − s| over the first `h` steps of every rollout.
pub fn err_at(pred: &[Vec<f64>], truth: &[Vec<f64>], h: usize) -> f64 {
    let mut total = 0.0;
    let mut count = 0usize;
    for (p, t) in pred.iter().zip(truth) {
        for (a, b) in p.iter().zip(t).take(h) {
            total += (a - b).abs();
            count += 1;
        }
    }
    total / count.max(1) as f64
}

/// drift@H of the module doc: mean over rollouts of |Σ_{h≤H} ŝ − Σ_{h≤H} s|.
pub fn drift_at(pred: &[Vec<f64>], truth: &[Vec<f64>], h: usize) -> f64 {
    let total: f64 = pred
        .iter()
        .zip(truth)
        .map(|(p, t)| (p.iter().take(h).sum::<f64>() - t.iter().take(h).sum::<f64>()).abs())
        .sum();
    total / pred.len().max(1) as f64
}

/// Two-sample Kolmogorov–Smirnov distance `sup_s |F_a(s) − F_b(s)|`, both empirical
/// (right-continuous step functions, compared at every sample point of either).
pub fn two_sample_ks(a: &[f64], b: &[f64]) -> f64 {
    let sort = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sort(a), sort(b));
    let cdf = |v: &[f64], s: f64| v.partition_point(|&x| x <= s) as f64 / v.len().max(1) as f64;
    a.iter()
        .chain(&b)
        .map(|&s| (cdf(&a, s) - cdf(&b, s)).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;
    use spectral_models::SpacingMdnConfig;

    #[test]
    fn errors_follow_their_definitions() {
        let pred = vec![vec![1.0, 1.0, 1.0], vec![0.5, 2.0, 1.0]];
        let truth = vec![vec![1.5, 0.5, 1.0], vec![0.5, 1.0, 1.0]];
        // |Δ|: row 0: 0.5, 0.5, 0; row 1: 0, 1, 0.
        assert!((err_at(&pred, &truth, 1) - 0.25).abs() < 1e-15);
        assert!((err_at(&pred, &truth, 3) - 2.0 / 6.0).abs() < 1e-15);
        // Cumulative: row 0 after 2 steps: 2 − 2 = 0; row 1: 2.5 − 1.5 = 1.
        assert!((drift_at(&pred, &truth, 2) - 0.5).abs() < 1e-15);
        assert!((drift_at(&pred, &truth, 1) - 0.25).abs() < 1e-15);
    }

    #[test]
    fn two_sample_ks_of_known_samples() {
        assert_eq!(two_sample_ks(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        // F_a jumps to 1 at 0.5 while F_b is 0 until 1: distance 1.
        assert_eq!(two_sample_ks(&[0.5], &[1.0, 2.0]), 1.0);
        // a = {1, 3}, b = {2, 4}: at s = 1, F_a = ½, F_b = 0.
        assert_eq!(two_sample_ks(&[3.0, 1.0], &[4.0, 2.0]), 0.5);
    }

    fn setup() -> (SpacingMdn<CpuBackend>, SpacingDataset) {
        let config = SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(16)
            .with_n_components(2);
        let device = Default::default();
        let model = spectral::device::seeded::<CpuBackend, _>(&device, 0, || {
            spectral::device::materialized(config.init::<CpuBackend>(&device).unwrap())
        });
        let values = spectral_zeta::stats::gue_sample::gue_spacings(2000, 3);
        (model, SpacingDataset::from_values(values, 1, 0.5).unwrap())
    }

    #[test]
    fn mean_rollout_step_one_is_the_one_step_prediction() {
        let device = Default::default();
        let (model, data) = setup();
        let set = rollout_set(&data, 4, 16, 10).unwrap();
        assert_eq!(set.seeds.len(), 4);
        // The truth follows the seed in the series.
        let v = data.values();
        let start = data.split().val().start;
        assert_eq!(set.seeds[0][..], v[start..start + 16]);
        assert_eq!(set.truth[0][0], v[start + 16] as f64);
        let pred = rollout(
            &model,
            &set.seeds,
            10,
            Feed::Mean,
            &MemoryEdit::none(),
            &device,
        )
        .unwrap();
        assert!(pred.iter().all(|p| p.len() == 10));
        // Independent check of step 1: the mixture mean at the last position of the seed.
        let x = Tensor::<CpuBackend, 2>::from_data(
            TensorData::new(set.seeds.concat(), [4, 16]),
            &device,
        );
        let means: Vec<f32> = model
            .forward(x)
            .unwrap()
            .mean()
            .into_data()
            .to_vec()
            .unwrap();
        for r in 0..4 {
            let want = (means[r * 16 + 15] as f64).max(0.0);
            assert!((pred[r][0] - want).abs() < 1e-6, "{} vs {want}", pred[r][0]);
        }
        // Sampled rollouts are reproducible and differ from the mean feed.
        let a = rollout(
            &model,
            &set.seeds,
            5,
            Feed::Sample { seed: 1 },
            &MemoryEdit::none(),
            &device,
        )
        .unwrap();
        let b = rollout(
            &model,
            &set.seeds,
            5,
            Feed::Sample { seed: 1 },
            &MemoryEdit::none(),
            &device,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a[0][..], pred[0][..5]);
    }
}
