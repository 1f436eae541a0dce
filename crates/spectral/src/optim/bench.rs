//! The cost of one optimizer step on GPT-2 small's hidden matrices (`spectral bench optim`).
//!
//! [`BenchModel`] holds only the matrices a transformer's optimizer shapes, with the parameter
//! paths of this workspace's models and the default [group rules](super::transformer_rules),
//! in burn's `[d_in, d_out]` layout:
//!
//! ```text
//! blocks.{i}.attn.{q,k,v,o}.weight   [width, width]       i = 0 .. layers
//! blocks.{i}.mlp.fc.weight           [width, 4·width]
//! blocks.{i}.mlp.proj.weight         [4·width, width]
//! ```
//!
//! With `layers = 12, width = 768` these are GPT-2 small's 72 hidden matrices, 84.9 M values
//! (PyTorch's `[out, in]` weights are their transposes). No biases: with `method = adamw`,
//! AdamW runs over the same matrices, which is AdamW's cost on these shapes.
//!
//! [`bench_optimizer`] gives every matrix a fixed Gaussian gradient, runs `warmup` steps, then
//! times `steps` steps one by one, each from a fresh [`GradientsParams`] holding clones of the
//! same gradients, the device synchronized before the clock is read. Weights and gradients
//! are drawn on the host ([`gaussian_matrix`]), so a seed gives the same problem on every
//! backend.

use super::groups::named_params;
use super::{Method, OptimError, OptimizerConfig, SpectralOptimizer};
use crate::linalg::gaussian_matrix;
use crate::{CpuBackend, DeviceError, DeviceKind};
use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Standard deviation of the initial weights (GPT-2's 0.02).
const WEIGHT_STD: f64 = 0.02;
/// Standard deviation of the gradients (any scale: every method normalizes or adapts to it).
const GRAD_STD: f64 = 0.01;
/// Offset of the gradient seeds from the weight seeds.
const GRAD_SEED: u64 = 1 << 32;

/// A bias-free linear map's weight `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct Matrix<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
}

/// Attention projections, `[width, width]` each.
#[derive(Module, Debug)]
pub struct BenchAttention<B: Backend> {
    pub q: Matrix<B>,
    pub k: Matrix<B>,
    pub v: Matrix<B>,
    pub o: Matrix<B>,
}

/// MLP: `fc [width, 4·width]`, `proj [4·width, width]`.
#[derive(Module, Debug)]
pub struct BenchMlp<B: Backend> {
    pub fc: Matrix<B>,
    pub proj: Matrix<B>,
}

/// One transformer block's matrices.
#[derive(Module, Debug)]
pub struct BenchBlock<B: Backend> {
    pub attn: BenchAttention<B>,
    pub mlp: BenchMlp<B>,
}

/// The hidden matrices of a `layers`-block transformer of model width `width` (module doc).
#[derive(Module, Debug)]
pub struct BenchModel<B: Backend> {
    pub blocks: Vec<BenchBlock<B>>,
}

impl<B: Backend> BenchModel<B> {
    /// Weights `N(0, 0.02²)`, matrix `j` (in path order) drawn with seed `seed + j`.
    pub fn new(layers: usize, width: usize, seed: u64, device: &B::Device) -> Self {
        let mut next = seed;
        let mut matrix = |d_in: usize, d_out: usize| {
            let weight = gaussian_matrix::<B>(d_in, d_out, next, device).mul_scalar(WEIGHT_STD);
            next += 1;
            Matrix {
                weight: Param::from_tensor(weight),
            }
        };
        let blocks = (0..layers)
            .map(|_| BenchBlock {
                attn: BenchAttention {
                    q: matrix(width, width),
                    k: matrix(width, width),
                    v: matrix(width, width),
                    o: matrix(width, width),
                },
                mlp: BenchMlp {
                    fc: matrix(width, 4 * width),
                    proj: matrix(4 * width, width),
                },
            })
            .collect();
        Self { blocks }
    }

    /// The matrices, in path order.
    pub fn matrices(&self) -> Vec<Tensor<B, 2>> {
        self.blocks
            .iter()
            .flat_map(|b| {
                [
                    &b.attn.q,
                    &b.attn.k,
                    &b.attn.v,
                    &b.attn.o,
                    &b.mlp.fc,
                    &b.mlp.proj,
                ]
            })
            .map(|m| m.weight.val())
            .collect()
    }
}

/// Fixed gradients of every matrix of a [`BenchModel`], on the inner backend.
pub struct BenchGradients<B: Backend> {
    grads: Vec<(ParamId, Tensor<B, 2>)>,
}

impl<B: Backend> BenchGradients<B> {
    /// Gradients `N(0, 0.01²)`, matrix `j` drawn with seed `seed + 2³² + j`.
    pub fn new<M: AutodiffModule<Autodiff<B>>>(model: &M, seed: u64, device: &B::Device) -> Self {
        let grads = named_params::<Autodiff<B>, M>(model)
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                let [rows, cols] = [p.shape[0], p.shape[1]];
                let g = gaussian_matrix::<B>(rows, cols, seed + GRAD_SEED + j as u64, device);
                (p.id, g.mul_scalar(GRAD_STD))
            })
            .collect();
        Self { grads }
    }

    /// A fresh [`GradientsParams`] holding clones of the gradients.
    pub fn params(&self) -> GradientsParams {
        let mut params = GradientsParams::new();
        for (id, g) in &self.grads {
            params.register::<B, 2>(*id, g.clone());
        }
        params
    }
}

/// What to time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchOptions {
    /// Transformer blocks (GPT-2 small: 12).
    pub layers: usize,
    /// Model width (GPT-2 small: 768); the MLP is 4× wider.
    pub width: usize,
    /// Timed steps; the median and minimum are over these.
    pub steps: usize,
    /// Untimed steps first: kernel compilation, autotuning, cold caches, the optimizer's
    /// cold start (Spectra's randomized SVD, Manifold Muon's first dual solve).
    pub warmup: usize,
    /// Seed of the weights and gradients.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            layers: 12,
            width: 768,
            steps: 10,
            warmup: 3,
            seed: 0,
        }
    }
}

/// Per-step wall time of one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepTiming {
    /// By [`Method::name`] (`adamw`, `spectra_teon`, ...).
    #[serde(with = "method_by_name")]
    pub method: Method,
    /// Median over the timed steps, milliseconds.
    pub median_ms: f64,
    /// Fastest timed step, milliseconds.
    pub min_ms: f64,
    /// Every timed step, milliseconds, in order.
    pub times_ms: Vec<f64>,
    pub warmup: usize,
    /// Matrices and their total number of values.
    pub matrices: usize,
    pub parameters: usize,
    /// `‖W_end − W_start‖_F / ‖W_start‖_F` over all matrices: proof the steps did something.
    pub weight_change: f64,
}

/// What can stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bench options: {0}")]
    Options(String),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error(transparent)]
    DeviceChoice(#[from] DeviceError),
    #[error("device synchronization failed: {0}")]
    Device(String),
}

/// The optimizer configuration benchmarked for `method`: the defaults, with the learning
/// rate on the method's scale (0.02 for Muon, TEON, Manifold Muon; 1e-3 for the rest).
pub fn bench_config(method: Method) -> OptimizerConfig {
    let lr = match method {
        Method::Muon | Method::Teon | Method::ManifoldMuon => 0.02,
        Method::AdamW | Method::Spectra | Method::SpectraTeon => 1e-3,
    };
    OptimizerConfig {
        method,
        lr,
        ..OptimizerConfig::default()
    }
}

/// Times `options.steps` steps of `method` on a [`BenchModel`] living on `device`, after
/// `options.warmup` untimed ones (module doc).
pub fn bench_optimizer<B: Backend>(
    method: Method,
    options: &BenchOptions,
    device: &B::Device,
) -> Result<StepTiming, BenchError> {
    if options.layers == 0 || options.width == 0 || options.steps == 0 {
        return Err(BenchError::Options(format!(
            "layers, width and steps must be at least 1 (got {}, {}, {})",
            options.layers, options.width, options.steps
        )));
    }
    let sync = || B::sync(device).map_err(|e| BenchError::Device(e.to_string()));
    let mut model =
        BenchModel::<Autodiff<B>>::new(options.layers, options.width, options.seed, device);
    let grads = BenchGradients::<B>::new(&model, options.seed, device);
    let start: Vec<Tensor<B, 2>> = model.matrices().into_iter().map(|w| w.inner()).collect();
    let mut optimizer = SpectralOptimizer::<B>::new(bench_config(method));
    optimizer.plan::<Autodiff<B>, _>(&model)?;
    let mut times = Vec::with_capacity(options.steps);
    for step in 0..options.warmup + options.steps {
        let params = grads.params();
        sync()?;
        let clock = Instant::now();
        model = optimizer.step(1.0, model, params)?;
        sync()?;
        let elapsed = clock.elapsed();
        if step >= options.warmup {
            times.push(elapsed);
        }
    }
    let (mut moved, mut norm) = (0.0, 0.0);
    for (after, before) in model.matrices().into_iter().zip(&start) {
        let diff = after.inner() - before.clone();
        moved += diff.square().sum().into_scalar().elem::<f64>();
        norm += before.clone().square().sum().into_scalar().elem::<f64>();
    }
    Ok(StepTiming {
        method,
        median_ms: to_ms(median(&times)),
        min_ms: to_ms(*times.iter().min().expect("steps >= 1")),
        times_ms: times.into_iter().map(to_ms).collect(),
        warmup: options.warmup,
        matrices: start.len(),
        parameters: start.iter().map(|w| w.shape().num_elements()).sum(),
        weight_change: (moved / norm).sqrt(),
    })
}

/// [`bench_optimizer`] on the backend of a device named at run time: burn's NdArray for `cpu`,
/// CUDA (with fusion and autotuning) for `cuda:N` in a build with the `cuda` feature.
pub fn bench_optimizer_on(
    device: DeviceKind,
    method: Method,
    options: &BenchOptions,
) -> Result<StepTiming, BenchError> {
    match device.check_built()? {
        DeviceKind::Cpu => bench_optimizer::<CpuBackend>(method, options, &Default::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(index) => bench_optimizer::<crate::device::CudaBackend>(
            method,
            options,
            &burn::backend::cuda::CudaDevice::new(index),
        ),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => unreachable!("check_built refuses cuda without the feature"),
    }
}

/// A [`Method`] as its CLI name. (`Method`'s own serde form is snake case of the variant,
/// `adam_w` for AdamW, unlike its name `adamw`.)
mod method_by_name {
    use super::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(method.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

fn to_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_shapes_are_gpt2_smalls_in_burns_layout() {
        let model = BenchModel::<Autodiff<CpuBackend>>::new(2, 8, 0, &Default::default());
        let params = named_params::<Autodiff<CpuBackend>, _>(&model);
        let got: Vec<(String, Vec<usize>)> =
            params.into_iter().map(|p| (p.path, p.shape)).collect();
        let mut want = Vec::new();
        for i in 0..2 {
            for name in ["q", "k", "v", "o"] {
                want.push((format!("blocks.{i}.attn.{name}.weight"), vec![8, 8]));
            }
            want.push((format!("blocks.{i}.mlp.fc.weight"), vec![8, 32]));
            want.push((format!("blocks.{i}.mlp.proj.weight"), vec![32, 8]));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn every_method_gives_finite_times_and_moves_the_weights() {
        let options = BenchOptions {
            layers: 2,
            width: 32,
            steps: 2,
            warmup: 1,
            seed: 3,
        };
        for method in Method::ALL {
            let t = bench_optimizer::<CpuBackend>(method, &options, &Default::default()).unwrap();
            let name = method.name();
            assert_eq!(t.times_ms.len(), 2, "{name}");
            assert!(t.min_ms > 0.0 && t.min_ms.is_finite(), "{name}: {t:?}");
            assert!(
                t.min_ms <= t.median_ms && t.median_ms.is_finite(),
                "{name}: {t:?}"
            );
            assert_eq!(
                (t.matrices, t.parameters),
                (12, 2 * (4 * 32 * 32 + 2 * 32 * 128))
            );
            // Three steps at lr 1e-3 (AdamW, Spectra: ~1e-3·√3 per value against weights of
            // 0.02) or 0.02 move the weights by percents, not by rounding.
            assert!(
                t.weight_change > 1e-3 && t.weight_change.is_finite(),
                "{name}: {}",
                t.weight_change
            );
        }
    }

    #[test]
    fn zero_steps_is_an_error() {
        let options = BenchOptions {
            steps: 0,
            ..Default::default()
        };
        let error = bench_optimizer::<CpuBackend>(Method::Muon, &options, &Default::default());
        assert!(matches!(error, Err(BenchError::Options(_))));
    }
}
