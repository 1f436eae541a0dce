//! Every method of `SpectralOptimizer` against an independent implementation: three steps
//! recorded by `bench/optim_fixtures.py` (PyTorch 2.11 on the CPU, float32) and replayed here
//! with the same config, gradients and initial state, compared in burn's `[d_in, d_out]`
//! layout (the script transposes PyTorch's `[out, in]`).
//!
//! References: `torch.optim.Muon` (both `adjust_lr_fn`s, a tall and a wide matrix; its
//! Newton–Schulz iterate kept in f32), `torch.optim.AdamW`, and PyTorch transcriptions of
//! TEON, Spectra, SpectraTeon and Manifold Muon.
//!
//! The error of a step is `‖W − W_ref‖_F / ‖W_ref − W_ref,prev‖_F`: the distance to the
//! reference relative to the size of that step's update, worst over parameters and steps.
//! Measured: 2–3.5e-6 for every method. That is the size of one f32 rounding of the weights
//! (6e-8 relative) seen against an update 50–100 times smaller than the weight: the two
//! implementations agree to f32 precision. [`TOLERANCE`] is 5e-6.

use burn::backend::Autodiff;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;
use spectral::CpuBackend;
use spectral::optim::state::StateDict;
use spectral::optim::{OptimizerConfig, SpectralOptimizer};
use std::collections::BTreeMap;

type Ad = Autodiff<CpuBackend>;

/// The largest error (module doc) any fixture may show.
const TOLERANCE: f64 = 5e-6;

#[derive(Deserialize)]
struct Fixture {
    reference: String,
    /// The optimizer's settings, as `spectral`'s own config (the TOML table in JSON).
    optimizer: OptimizerConfig,
    /// State to load before the first step (Spectra's warm-start V), burn's layout.
    state: BTreeMap<String, Array>,
    params: Vec<FixtureParam>,
}

#[derive(Deserialize)]
struct Array {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// One parameter: burn shape, row-major values before the first step, the gradient of each
/// step and the value after it.
#[derive(Deserialize)]
struct FixtureParam {
    path: String,
    shape: Vec<usize>,
    initial: Vec<f32>,
    grads: Vec<Vec<f32>>,
    after: Vec<Vec<f32>>,
}

/// `layers.{i}.weight` (`[d_in, d_out]`) and `layers.{i}.bias`, as the fixtures name them.
#[derive(Module, Debug)]
struct Layers<B: Backend> {
    layers: Vec<Linear<B>>,
}

fn load(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/optim/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn tensor<const D: usize>(values: &[f32], shape: &[usize]) -> Tensor<CpuBackend, D> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), shape.to_vec()),
        &Default::default(),
    )
}

impl Fixture {
    fn param(&self, path: &str) -> Option<&FixtureParam> {
        self.params.iter().find(|p| p.path == path)
    }

    fn model(&self) -> Layers<Ad> {
        let mut layers = Vec::new();
        while let Some(weight) = self.param(&format!("layers.{}.weight", layers.len())) {
            let bias = self.param(&format!("layers.{}.bias", layers.len()));
            layers.push(Linear {
                weight: Param::from_tensor(Tensor::from_inner(tensor(
                    &weight.initial,
                    &weight.shape,
                ))),
                bias: bias
                    .map(|b| Param::from_tensor(Tensor::from_inner(tensor(&b.initial, &b.shape)))),
            });
        }
        assert_eq!(
            self.params.len(),
            layers.len() + layers.iter().filter(|l| l.bias.is_some()).count(),
            "every fixture parameter is in the model"
        );
        Layers { layers }
    }

    /// The gradients of step `t`, keyed by the model's parameter ids.
    fn grads(&self, model: &Layers<Ad>, t: usize) -> GradientsParams {
        let mut grads = GradientsParams::new();
        for (i, layer) in model.layers.iter().enumerate() {
            let w = self.param(&format!("layers.{i}.weight")).unwrap();
            grads.register(layer.weight.id, tensor::<2>(&w.grads[t], &w.shape));
            if let Some(bias) = &layer.bias {
                let b = self.param(&format!("layers.{i}.bias")).unwrap();
                grads.register(bias.id, tensor::<1>(&b.grads[t], &b.shape));
            }
        }
        grads
    }

    fn initial_state(&self) -> Option<StateDict> {
        if self.state.is_empty() {
            return None;
        }
        let mut dict = StateDict::default();
        dict.metadata
            .insert("method".into(), self.optimizer.method.name().into());
        dict.metadata.insert("step".into(), "0".into());
        for (key, array) in &self.state {
            dict.tensors
                .insert(key.clone(), (array.shape.clone(), array.values.clone()));
        }
        Some(dict)
    }
}

/// The value of parameter `path` of `model`, row-major.
fn value(model: &Layers<Ad>, path: &str) -> Vec<f32> {
    let (i, kind) = path
        .strip_prefix("layers.")
        .and_then(|rest| rest.split_once('.'))
        .unwrap();
    let layer = &model.layers[i.parse::<usize>().unwrap()];
    let data = match kind {
        "weight" => layer.weight.val().into_data(),
        _ => layer.bias.as_ref().unwrap().val().into_data(),
    };
    data.to_vec().unwrap()
}

fn frobenius(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Replays the fixture `name` with its config changed by `adjust`; returns the worst error
/// (module doc) over its parameters and steps.
fn replay(name: &str, adjust: impl FnOnce(&mut OptimizerConfig)) -> f64 {
    let fixture = load(name);
    let mut config = fixture.optimizer.clone();
    adjust(&mut config);
    let mut optimizer = SpectralOptimizer::<CpuBackend>::new(config);
    if let Some(state) = fixture.initial_state() {
        optimizer
            .load_state_dict(&state, &Default::default())
            .unwrap();
    }
    let mut model = fixture.model();
    let mut worst = 0.0_f64;
    for t in 0..fixture.params[0].grads.len() {
        let grads = fixture.grads(&model, t);
        model = optimizer.step(1.0, model, grads).unwrap();
        for param in &fixture.params {
            let before = if t == 0 {
                &param.initial
            } else {
                &param.after[t - 1]
            };
            let update = frobenius(&param.after[t], before);
            assert!(update > 0.0, "{name}: {} did not move", param.path);
            let error = frobenius(&value(&model, &param.path), &param.after[t]) / update;
            worst = worst.max(error);
        }
    }
    eprintln!("{name} vs {}: worst error {worst:.2e}", fixture.reference);
    worst
}

#[test]
fn muon_matches_torch_optim_muon_with_keller_jordan_scaling() {
    // torch.optim.Muon keeps the momentum as an EMA, (1 − μ) times spectral's heavy-ball
    // buffer: msign cancels the factor. What remains is f32 rounding in the five Newton–Schulz
    // steps (different matmul summation orders, ~1e-7 relative each) and in the weights.
    for stack_by_shape in [true, false] {
        let error = replay("muon_original", |c| c.muon.stack_by_shape = stack_by_shape);
        assert!(
            error < TOLERANCE,
            "stack_by_shape {stack_by_shape}: {error:e}"
        );
    }
}

#[test]
fn muon_matches_torch_optim_muon_with_moonlight_scaling() {
    // As above, with `adjust_lr_fn = "match_rms_adamw"`: 0.2·√max(d_in, d_out).
    for stack_by_shape in [true, false] {
        let error = replay("muon_match_rms_adamw", |c| {
            c.muon.stack_by_shape = stack_by_shape
        });
        assert!(
            error < TOLERANCE,
            "stack_by_shape {stack_by_shape}: {error:e}"
        );
    }
}

#[test]
fn adamw_matches_torch_optim_adamw() {
    // Matrices with weight decay, biases (their own lr, no decay) too. burn forms the bias
    // corrections in f32, PyTorch in f64: a few f32 ulps in the update.
    let error = replay("adamw", |_| {});
    assert!(error < TOLERANCE, "{error:e}");
}

#[test]
fn teon_matches_a_pytorch_transcription() {
    // One K = 2 stack and an odd one out; f32 rounding in Newton–Schulz as for Muon.
    for stack_by_shape in [true, false] {
        let error = replay("teon", |c| c.muon.stack_by_shape = stack_by_shape);
        assert!(
            error < TOLERANCE,
            "stack_by_shape {stack_by_shape}: {error:e}"
        );
    }
}

#[test]
fn spectra_matches_a_pytorch_transcription() {
    // One subspace-iteration pass per step from the loaded V (PyTorch orthonormalizes by
    // Householder QR, spectral by CholeskyQR: the same spans to f32 rounding), a k × k
    // Rayleigh–Ritz SVD (f64 here, f32 there).
    let error = replay("spectra", |_| {});
    assert!(error < TOLERANCE, "{error:e}");
}

#[test]
fn spectra_teon_matches_a_pytorch_transcription() {
    let error = replay("spectra_teon", |_| {});
    assert!(error < TOLERANCE, "{error:e}");
}

#[test]
fn manifold_muon_matches_a_pytorch_transcription() {
    // 20 dual-ascent iterations per step (none stops early: the residuals stay far above
    // the tolerance), each one Polar Express msign; then the retraction.
    let error = replay("manifold_muon", |_| {});
    assert!(error < TOLERANCE, "{error:e}");
}
