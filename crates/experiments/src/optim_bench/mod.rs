//! The cost of one optimizer step on GPT-2 small's hidden matrices (`spectral bench optim`).
//!
//! [`GptMatrices`] ([`gpt_matrices`]) holds only the matrices a transformer's optimizer shapes, with the parameter
//! paths of this workspace's models and the default
//! [group rules](spectral::optim::transformer_rules),
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
//! times `steps` steps one by one, each from a fresh `GradientsParams` holding clones of the
//! same gradients, the device synchronized before the clock is read. Weights and gradients
//! are drawn on the host ([`spectral::linalg::gaussian_matrix`]), so a seed gives the same problem on every
//! backend. [`run`] times each method of a [`Config`] in turn and returns the [`Report`] that
//! `spectral bench optim --json` writes.

pub mod engine;
pub mod gpt_matrices;

pub use gpt_matrices::{BenchGradients, GptMatrices};

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};
use spectral::optim::{Method, OptimError, OptimizerConfig, SpectralOptimizer};
use spectral::{DeviceError, DeviceKind};
use spectral_io::{IoError, write_json};
use spectral_train::config::EnginePrecision;
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
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

impl Default for Options {
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
    #[error("bench optim {method}")]
    Method {
        method: &'static str,
        source: Box<BenchError>,
    },
    #[error(transparent)]
    Output(#[from] IoError),
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

/// Times `options.steps` steps of `method` on a [`GptMatrices`] living on `device`, after
/// `options.warmup` untimed ones (module doc).
pub fn bench_optimizer<B: Backend>(
    method: Method,
    options: &Options,
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
        GptMatrices::<Autodiff<B>>::new(options.layers, options.width, options.seed, device);
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
    options: &Options,
) -> Result<StepTiming, BenchError> {
    on_devices(&DeviceSet::one(device)?, Step { method, options })
}

/// One [`bench_optimizer`] call as a [`DeviceJob`].
struct Step<'a> {
    method: Method,
    options: &'a Options,
}

impl DeviceJob for Step<'_> {
    type Output = Result<StepTiming, BenchError>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Self::Output {
        bench_optimizer::<B>(self.method, self.options, &devices.devices[0])
    }
}

/// `spectral bench optim`: which methods, where, at what size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `cpu`, or `cuda[:N]` in a build with the `cuda` feature.
    #[serde(with = "crate::device::by_name")]
    pub device: DeviceKind,
    /// Methods timed, in this order (default: all).
    #[serde(with = "methods_by_name")]
    pub methods: Vec<Method>,
    pub options: Options,
    /// Time the CUDA engine's optimizer kernels ([`engine`]) with iterates of this type
    /// instead of burn's optimizer; `None`: burn.
    pub engine: Option<EnginePrecision>,
    /// Where the [`Report`] is (re)written after every method, so a run cut short keeps the
    /// methods it finished; `None`: nowhere.
    pub json: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            device: DeviceKind::Cpu,
            methods: Method::ALL.to_vec(),
            options: Options::default(),
            engine: None,
            json: None,
        }
    }
}

/// What `spectral bench optim --json` writes: the device, where msign's matmuls ran
/// (`--msign-gemm` for burn; `engine bf16` or `engine f32` for the CUDA engine's kernels),
/// the options and one timing per finished method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub device: String,
    pub msign_gemm: String,
    pub options: Options,
    pub results: Vec<StepTiming>,
}

/// Times every method of `config` in turn (one progress line on stderr before and after
/// each), writing the report to `config.json` after each.
pub fn run(config: &Config) -> Result<Report, BenchError> {
    let device = config.device.check_built()?;
    let options = &config.options;
    let engine = match (config.engine, device) {
        (None, _) => None,
        (Some(precision), DeviceKind::Cuda(ordinal)) => Some((precision, ordinal)),
        (Some(_), DeviceKind::Cpu) => {
            return Err(BenchError::Options(
                "the CUDA engine's optimizers run on a CUDA device (--device cuda)".into(),
            ));
        }
    };
    let mut report = Report {
        device: device.to_string(),
        msign_gemm: match engine {
            Some((precision, _)) => format!("engine {}", precision.name()),
            None => spectral::linalg::msign_gemm().to_string(),
        },
        options: *options,
        results: Vec::with_capacity(config.methods.len()),
    };
    for &method in &config.methods {
        eprintln!(
            "bench optim: {} on {device}, {} warmup + {} timed steps ...",
            method.name(),
            options.warmup,
            options.steps
        );
        let timing = match engine {
            Some((precision, ordinal)) => {
                engine::bench_engine_optimizer(method, options, ordinal, precision)
            }
            None => bench_optimizer_on(device, method, options),
        }
        .map_err(|source| BenchError::Method {
            method: method.name(),
            source: Box::new(source),
        })?;
        eprintln!(
            "bench optim: {} median {:.2} ms/step",
            method.name(),
            timing.median_ms
        );
        report.results.push(timing);
        if let Some(path) = &config.json {
            write_json(path, &report)?;
        }
    }
    Ok(report)
}

/// A [`Method`] as its CLI name. (`Method`'s own serde form is snake case of the variant,
/// `adam_w` for AdamW, unlike its name `adamw`.)
pub(crate) mod method_by_name {
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

/// Several [`Method`]s as their CLI names.
mod methods_by_name {
    use super::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(methods: &[Method], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(methods.iter().map(|m| m.name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Method>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|name| name.parse().map_err(serde::de::Error::custom))
            .collect()
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
    use spectral::CpuBackend;

    #[test]
    fn every_method_gives_finite_times_and_moves_the_weights() {
        let options = Options {
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
    fn the_engine_times_adamw_and_muon_on_a_cuda_device() {
        let on_cpu = Config {
            engine: Some(EnginePrecision::Bf16),
            methods: vec![Method::Muon],
            ..Config::default()
        };
        assert!(
            matches!(run(&on_cpu), Err(BenchError::Options(m)) if m.contains("CUDA device")),
            "{:?}",
            run(&on_cpu)
        );
        // Refused before any device is opened.
        let spectra = engine::bench_engine_optimizer(
            Method::Spectra,
            &Options::default(),
            0,
            EnginePrecision::Bf16,
        );
        assert!(
            matches!(&spectra, Err(BenchError::Options(m)) if m.contains("not spectra")),
            "{spectra:?}"
        );
    }

    #[test]
    fn zero_steps_is_an_error() {
        let options = Options {
            steps: 0,
            ..Default::default()
        };
        let error = bench_optimizer::<CpuBackend>(Method::Muon, &options, &Default::default());
        assert!(matches!(error, Err(BenchError::Options(_))));
    }
}
