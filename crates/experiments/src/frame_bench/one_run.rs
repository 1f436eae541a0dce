//! One run of the frame benchmark: the notes' [`FrameGenerator`] trained on
//! [`synthetic_video`](spectral_train::data::synthetic_video) triplets `(f0, f2) → f1` with one
//! (init, seed), scored by PSNR and SSIM ([`image_quality`](crate::image_quality)) on held-out
//! clips.
//!
//! What is the same for every init: the training triplets (clip seeds `0..train_clips`), the
//! held-out triplets (clip seeds from [`HELD_OUT_SEEDS`]), the batches of a given seed
//! (stateless, [`window_starts`]), the optimizer (AdamW, burn's defaults β = 0.9/0.999,
//! weight decay 1e-4), the schedule (linear warmup, cosine to 0.1× at the last step),
//! global-norm clipping at 1.0 and the MSE loss. What differs: every conv weight is redrawn by
//! `spectral::init::apply_init(model, init, seed)` (biases zeroed) before step 1.
//!
//! Predictions are clamped to `[0, 1]` before scoring (the network's output is unbounded).
//! The naive baseline, `(f0 + f2) / 2`, is scored on the same held-out triplets.

use std::time::Instant;

use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use spectral::CpuBackend;
use spectral::device::{materialized, seeded};
use spectral::init::{Init, apply_init};
use spectral::optim::Schedule;
use spectral_models::{FrameGenerator, FrameGeneratorConfig, ModelError};

use crate::image_quality::{psnr, ssim};
use spectral_train::TrainError;
use spectral_train::data::sampling::window_starts;
use spectral_train::data::synthetic_video::{FrameTriplets, HELD_OUT_SEEDS, VideoConfig};
use spectral_train::train_loop::{Hooks, LossValue, Plan, StepLoss, StepReport, fit};

type B = Autodiff<CpuBackend>;

/// Everything that sets up the benchmark except the init and the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameBenchOptions {
    /// Hidden channels h of the FrameGenerator.
    pub hidden: usize,
    /// Optimizer steps per run.
    pub steps: u64,
    /// Triplets per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Linear warmup steps.
    pub warmup: u64,
    /// Training clips (seeds `0..train_clips`).
    pub train_clips: u64,
    /// Held-out clips (seeds `HELD_OUT_SEEDS..HELD_OUT_SEEDS + test_clips`).
    pub test_clips: u64,
    /// Frames per clip (`frames − 2` triplets each).
    pub frames_per_clip: usize,
    /// The video's look and motion.
    pub video: VideoConfig,
}

impl Default for FrameBenchOptions {
    /// h = 8, 150 steps of batch 4 at lr 5e-3 (15 warmup steps), 48 training and 8 held-out
    /// clips of 8 frames at 64×64: sized so that 3 inits × 3 seeds take about 6 minutes on a
    /// 2-core CPU (≈ 36 s a run; burn's NdArray conv2d is the cost). The notes' h is 256
    /// (≈ 1000× the conv work).
    fn default() -> Self {
        Self {
            hidden: 8,
            steps: 150,
            batch: 4,
            lr: 5e-3,
            warmup: 15,
            train_clips: 48,
            test_clips: 8,
            frames_per_clip: 8,
            video: VideoConfig::default(),
        }
    }
}

/// The training and held-out triplets, generated once and shared by every run.
pub struct FrameData {
    pub train: FrameTriplets,
    pub test: FrameTriplets,
}

impl FrameData {
    pub fn generate(options: &FrameBenchOptions) -> Self {
        let video = &options.video;
        Self {
            train: FrameTriplets::generate(video, 0..options.train_clips, options.frames_per_clip),
            test: FrameTriplets::generate(
                video,
                HELD_OUT_SEEDS..HELD_OUT_SEEDS + options.test_clips,
                options.frames_per_clip,
            ),
        }
    }
}

/// Mean PSNR (dB) and mean SSIM over the held-out triplets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameScores {
    pub psnr: f64,
    pub ssim: f64,
}

/// Scores of predictions `[N, 3, S, S]` (flattened, clamped to `[0, 1]` here) against the
/// held-out middle frames.
pub fn score(test: &FrameTriplets, predictions: &[f32]) -> FrameScores {
    let n = test.len();
    assert_eq!(
        predictions.len(),
        n * test.frame_len(),
        "score: one prediction per triplet"
    );
    let (mut p, mut s) = (0.0, 0.0);
    for i in 0..n {
        let prediction: Vec<f32> = test
            .frame(predictions, i)
            .iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect();
        let target = test.frame(&test.f1, i);
        p += psnr(&prediction, target);
        s += ssim(&prediction, target, 3, test.size, test.size);
    }
    FrameScores {
        psnr: p / n as f64,
        ssim: s / n as f64,
    }
}

/// The naive interpolation `(f0 + f2) / 2`, scored.
pub fn naive_baseline(test: &FrameTriplets) -> FrameScores {
    let average: Vec<f32> = test
        .f0
        .iter()
        .zip(&test.f2)
        .map(|(a, b)| 0.5 * (a + b))
        .collect();
    score(test, &average)
}

/// One trained run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameRun {
    pub init: String,
    pub seed: u64,
    /// Held-out scores after the last step.
    pub scores: FrameScores,
    /// Held-out scores of the initialized, untrained network.
    pub scores_init: FrameScores,
    /// Training MSE of every step.
    pub train_mse: Vec<f64>,
    pub seconds: f64,
}

/// Predictions of `model` for every held-out triplet, `[N, 3, S, S]` flattened.
fn predict(
    model: &FrameGenerator<CpuBackend>,
    test: &FrameTriplets,
) -> Result<Vec<f32>, ModelError> {
    let device = Default::default();
    let mut out = Vec::with_capacity(test.f1.len());
    let indices: Vec<usize> = (0..test.len()).collect();
    for chunk in indices.chunks(16) {
        let (f0, _, f2) = test.batch::<CpuBackend>(chunk, &device);
        let y = model.forward(f0, f2)?;
        out.extend(y.into_data().iter::<f32>());
    }
    Ok(out)
}

/// Trains a FrameGenerator initialized by `init` from `seed` (module doc) and scores it;
/// `on_step(step, mse)` is called after every optimizer step. A NaN or infinite MSE ends the
/// training there (it is the last entry of `train_mse`); the run is scored as it stands.
pub fn train_frames(
    options: &FrameBenchOptions,
    data: &FrameData,
    init: Init,
    seed: u64,
    on_step: impl FnMut(u64, f64),
) -> Result<FrameRun, TrainError> {
    let started = Instant::now();
    let device = Default::default();
    let model = seeded::<B, _>(&device, seed, || {
        let model: FrameGenerator<B> = FrameGeneratorConfig::new()
            .with_hidden(options.hidden)
            .init(&device)?;
        Ok::<_, ModelError>(materialized(apply_init(model, init, seed)))
    })?;
    let scores_init = score(&data.test, &predict(&model.valid(), &data.test)?);
    let plan = Plan {
        steps: 0..options.steps,
        eval_interval: 0,
        grad_clip: 1.0,
        schedule: Schedule {
            warmup_steps: options.warmup,
            total_steps: options.steps,
            min_factor: 0.1,
        },
    };
    let mut hooks = FrameSteps {
        options,
        train: &data.train,
        seed,
        device,
        optimizer: AdamWConfig::new().init::<B, FrameGenerator<B>>(),
        train_mse: Vec::with_capacity(options.steps as usize),
        on_step,
    };
    let model = fit(&plan, model, &mut hooks)?;
    let scores = score(&data.test, &predict(&model.valid(), &data.test)?);
    Ok(FrameRun {
        init: init.name().into(),
        seed,
        scores,
        scores_init,
        train_mse: hooks.train_mse,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The loop's hooks of a frame run: the MSE of the step's triplets (read before the backward
/// pass, recorded), burn's AdamW at the scheduled learning rate, the caller's `on_step`.
struct FrameSteps<'a, O, F> {
    options: &'a FrameBenchOptions,
    train: &'a FrameTriplets,
    seed: u64,
    device: Device<B>,
    optimizer: O,
    /// Training MSE of every step so far.
    train_mse: Vec<f64>,
    on_step: F,
}

impl<O, F> Hooks<B, FrameGenerator<B>> for FrameSteps<'_, O, F>
where
    O: Optimizer<FrameGenerator<B>, B>,
    F: FnMut(u64, f64),
{
    fn loss(
        &mut self,
        model: &FrameGenerator<B>,
        step: u64,
    ) -> Result<Option<StepLoss<B>>, TrainError> {
        let batch = self.options.batch;
        let indices: Vec<usize> = window_starts(self.seed, step, batch, self.train.len() as u64)
            .into_iter()
            .map(|i| i as usize)
            .collect();
        let (f0, f1, f2) = self.train.batch::<B>(&indices, &self.device);
        let loss = model.loss(f0, f1, f2)?;
        let value = loss.clone().into_scalar().elem::<f64>();
        self.train_mse.push(value);
        Ok(value.is_finite().then_some(StepLoss {
            loss,
            value: LossValue::Read(value),
        }))
    }

    fn update(
        &mut self,
        lr_factor: f64,
        model: FrameGenerator<B>,
        grads: GradientsParams,
    ) -> Result<FrameGenerator<B>, TrainError> {
        Ok(self
            .optimizer
            .step(self.options.lr * lr_factor, model, grads))
    }

    fn on_step(
        &mut self,
        _model: &FrameGenerator<B>,
        report: StepReport<CpuBackend>,
    ) -> Result<(), TrainError> {
        (self.on_step)(report.done, report.loss);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> FrameBenchOptions {
        FrameBenchOptions {
            hidden: 4,
            steps: 6,
            batch: 2,
            lr: 1e-2,
            warmup: 1,
            train_clips: 2,
            test_clips: 1,
            frames_per_clip: 4,
            video: VideoConfig {
                size: 16,
                ..VideoConfig::default()
            },
        }
    }

    #[test]
    fn baseline_scores_match_the_metrics_directly() {
        let options = tiny();
        let data = FrameData::generate(&options);
        assert_eq!((data.train.len(), data.test.len()), (4, 2));
        let base = naive_baseline(&data.test);
        let i = 1;
        let (a, b) = (
            data.test.frame(&data.test.f0, i),
            data.test.frame(&data.test.f2, i),
        );
        let avg: Vec<f32> = a.iter().zip(b).map(|(x, y)| 0.5 * (x + y)).collect();
        let target = data.test.frame(&data.test.f1, i);
        let other: Vec<f32> = {
            let (a, b) = (
                data.test.frame(&data.test.f0, 0),
                data.test.frame(&data.test.f2, 0),
            );
            a.iter().zip(b).map(|(x, y)| 0.5 * (x + y)).collect()
        };
        let want_psnr =
            0.5 * (psnr(&avg, target) + psnr(&other, data.test.frame(&data.test.f1, 0)));
        assert!((base.psnr - want_psnr).abs() < 1e-12);
        assert!(base.ssim > 0.0 && base.ssim < 1.0);
        // A perfect prediction: SSIM 1, PSNR ∞.
        let perfect = score(&data.test, &data.test.f1);
        assert_eq!(perfect.psnr, f64::INFINITY);
        assert!((perfect.ssim - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_tiny_run_trains_and_is_deterministic() {
        let options = tiny();
        let data = FrameData::generate(&options);
        let mut steps = Vec::new();
        let a = train_frames(&options, &data, Init::He, 3, |s, _| steps.push(s)).unwrap();
        assert_eq!(steps, (1..=6).collect::<Vec<_>>());
        assert_eq!(a.train_mse.len(), 6);
        assert!(a.train_mse.iter().all(|v| v.is_finite()));
        assert!(a.scores.psnr.is_finite() && a.scores.ssim < 1.0);
        let b = train_frames(&options, &data, Init::He, 3, |_, _| {}).unwrap();
        // Same init and batches: the same training, bit for bit (docs/training.md).
        assert_eq!(a.train_mse, b.train_mse);
        assert_eq!(a.scores.psnr.to_bits(), b.scores.psnr.to_bits());
        let c = train_frames(&options, &data, Init::M23Seed, 3, |_, _| {}).unwrap();
        assert_ne!(a.scores_init.psnr, c.scores_init.psnr);
    }
}
