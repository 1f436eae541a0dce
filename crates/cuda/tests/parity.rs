//! The engine's models against burn's (`spectral_models::gpt`, `spectral_models::spacing_mdn`
//! on NdArray f32, on the CPU) on the same weights and batch: the loss and every gradient, in
//! the all-f32 mode and in bf16; then graph replay against eager execution, bit for bit, over
//! a few AdamW steps.

mod common;

use burn::backend::Autodiff;
use burn::backend::NdArray;
use burn::module::ModuleMapper;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use spectral_cuda::DType;
use spectral_cuda::models::engine::{Batch, Engine, EngineModel, EngineOptimizer, StepValues};
use spectral_cuda::models::gpt::GptShape;
use spectral_cuda::models::spacing_mdn::MdnShape;
use spectral_cuda::ops::adamw::Hyper;
use spectral_models::gpt::{Gpt, GptConfig};
use spectral_models::memory::MemoryConfig;
use spectral_models::spacing_mdn::{SpacingMdn, SpacingMdnConfig};

/// The reference runs in f64 on weights that are f32 values, so it is exact to the engine's
/// inputs: the engine's error is its own, not the sum of two f32 implementations'.
type B = Autodiff<NdArray<f64>>;
/// burn in f32, the arithmetic the engine's parity mode uses.
type B32 = Autodiff<NdArray<f32>>;

/// Every parameter's name, f32 value and f64 gradient, in visiting order.
type Reference = Vec<(String, Vec<f32>, Vec<f64>)>;

/// Rounds every parameter to its f32 value (the engine's master weights hold f32).
struct RoundToF32;

impl ModuleMapper<B> for RoundToF32 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let rounded: Vec<f64> = tensor
            .to_data()
            .convert::<f32>()
            .convert::<f64>()
            .to_vec::<f64>()
            .unwrap();
        let value =
            Tensor::<B, D>::from_data(TensorData::new(rounded, tensor.shape()), &tensor.device());
        Param::from_mapped_value(id, value.require_grad(), mapper)
    }
}

/// Sets every parameter to the value of the same path in `values` (f32, as the engine has them).
struct Load<'a> {
    path: Vec<String>,
    values: &'a [(String, Vec<f32>)],
}

impl<BB: burn::tensor::backend::Backend> ModuleMapper<BB> for Load<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.into());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<BB, D>>) -> Param<Tensor<BB, D>> {
        let (id, tensor, mapper) = param.consume();
        let name = self.path.join(".");
        let (_, v) = self
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .expect("the same paths");
        let value = Tensor::<BB, D>::from_data(
            TensorData::new(v.clone(), tensor.shape()),
            &tensor.device(),
        );
        Param::from_mapped_value(id, value.require_grad(), mapper)
    }
}

/// burn in f32 on the same weights and batch: every gradient, by path. f32 arithmetic alone
/// is this far from the exact (f64) gradient; the engine's f32 mode is held to the same
/// distance (twice burn's, or the test's tolerance where burn does better).
fn burn_f32_grads<M>(
    model: M,
    loss: impl Fn(&M) -> Tensor<B32, 1>,
    reference: &Reference,
) -> Vec<(String, Vec<f32>)>
where
    M: Module<B32>,
{
    let values: Vec<(String, Vec<f32>)> = reference
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let model = model.map(&mut Load {
        path: Vec::new(),
        values: &values,
    });
    let grads = loss(&model).backward();
    let mut collect = Collect::<B32> {
        path: Vec::new(),
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut collect);
    collect
        .out
        .into_iter()
        .map(|(name, _, g)| (name, g.iter().map(|&x| x as f32).collect()))
        .collect()
}

fn shape() -> GptShape {
    // Head width 32, T not a multiple of any tile, V the byte vocabulary.
    GptShape {
        vocab: 256,
        layers: 2,
        heads: 4,
        width: 128,
        block_size: 80,
        batch: 3,
        seq: 77,
    }
}

/// Every parameter's values and gradient, by dotted path.
struct Collect<'a, BB: AutodiffBackend> {
    path: Vec<String>,
    grads: &'a BB::Gradients,
    out: Reference,
}

impl<BB: AutodiffBackend> ModuleVisitor<BB> for Collect<'_, BB> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.into());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<BB, D>>) {
        let value = param
            .val()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap();
        let grad = param
            .val()
            .grad(self.grads)
            .expect("every parameter has a gradient");
        self.out.push((
            self.path.join("."),
            value,
            grad.into_data().convert::<f64>().to_vec::<f64>().unwrap(),
        ));
    }
}

fn batch(shape: &GptShape, seed: u64) -> (Vec<i32>, Vec<i32>) {
    let n = shape.rows();
    let draw = |s| {
        uniform(n, 1.0, s)
            .iter()
            .map(|x| ((x + 1.0) * 127.99) as i32)
            .collect::<Vec<_>>()
    };
    (draw(seed), draw(seed + 1))
}

/// burn's loss and (name, value, gradient) of every parameter.
fn gpt_config(shape: &GptShape) -> GptConfig {
    GptConfig::new()
        .with_vocab_size(shape.vocab)
        .with_n_layer(shape.layers)
        .with_n_head(shape.heads)
        .with_n_embd(shape.width)
        .with_block_size(shape.block_size)
}

fn ids<BB: burn::tensor::backend::Backend>(shape: &GptShape, v: &[i32]) -> Tensor<BB, 2, Int> {
    Tensor::from_data(
        TensorData::new(v.to_vec(), [shape.batch, shape.seq]),
        &Default::default(),
    )
}

/// burn's f32 gradients of the GPT on `reference`'s weights and this batch.
fn gpt_burn_f32(
    shape: &GptShape,
    idx: &[i32],
    targets: &[i32],
    reference: &Reference,
) -> Vec<(String, Vec<f32>)> {
    let model: Gpt<B32> = gpt_config(shape).init(&Default::default()).unwrap();
    burn_f32_grads(
        model,
        |m| m.loss(ids(shape, idx), ids(shape, targets)).unwrap(),
        reference,
    )
}

fn burn_reference(shape: &GptShape, idx: &[i32], targets: &[i32]) -> (f64, Reference) {
    let device = Default::default();
    let model: Gpt<B> = spectral::device::seeded::<B, _>(&device, 7, || {
        gpt_config(shape).init::<B>(&device).unwrap()
    })
    .map(&mut RoundToF32);
    let ids = |v: &[i32]| ids::<B>(shape, v);
    let loss = model.loss(ids(idx), ids(targets)).unwrap();
    let value = loss
        .clone()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap()[0];
    let grads = loss.backward();
    let mut collect = Collect::<B> {
        path: Vec::new(),
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut collect);
    (value, collect.out)
}

fn adamw() -> EngineOptimizer {
    EngineOptimizer::AdamW(Hyper {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    })
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn loss_and_gradients_match_burn() {
    let shape = shape();
    let (idx, targets) = batch(&shape, 1);
    let (want_loss, reference) = burn_reference(&shape, &idx, &targets);
    let values: Vec<(String, Vec<f32>)> = reference
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    // f32: the same arithmetic in another order (cuBLAS without TF32, f32 accumulation);
    // bf16: activations and weights rounded to 8 bits of mantissa.
    let burn_f32 = gpt_burn_f32(&shape, &idx, &targets, &reference);
    let mut failures = Vec::new();
    for (act, loss_tol, grad_tol) in [(DType::F32, 1e-5, 1e-5), (DType::BF16, 1e-2, 2e-2)] {
        let floors = if act == DType::F32 {
            &burn_f32[..]
        } else {
            &[]
        };
        let mut engine = Engine::new(gpu(), EngineModel::Gpt(shape), act, adamw(), 1.0).unwrap();
        engine.set_params(&values).unwrap();
        let batch = Batch::Tokens {
            idx: &idx,
            targets: &targets,
        };
        engine.set_step(batch, FROZEN).unwrap();
        if let Err(e) = matches_reference(
            &engine,
            act,
            want_loss,
            &reference,
            (loss_tol, grad_tol),
            floors,
            true,
        ) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn graph_replay_equals_eager_steps_bit_for_bit() {
    let shape = shape();
    let (_, reference) = burn_reference(&shape, &batch(&shape, 1).0, &batch(&shape, 1).1);
    let values: Vec<(String, Vec<f32>)> = reference
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let run = |graph: bool| -> (Vec<f32>, Vec<(String, Vec<f32>)>) {
        let mut engine =
            Engine::new(gpu(), EngineModel::Gpt(shape), DType::BF16, adamw(), 1.0).unwrap();
        engine.set_params(&values).unwrap();
        if graph {
            engine.capture().unwrap();
        }
        let mut losses = Vec::new();
        for step in 1..=4 {
            let (idx, targets) = batch(&shape, 10 + step as u64);
            engine
                .set_step(
                    Batch::Tokens {
                        idx: &idx,
                        targets: &targets,
                    },
                    StepValues {
                        matrix_lr: 0.02,
                        other_lr: 1e-3,
                        step,
                    },
                )
                .unwrap();
            engine.step().unwrap();
            losses.push(engine.loss().unwrap());
        }
        (losses, engine.params().unwrap())
    };
    let (eager_losses, eager_params) = run(false);
    let (graph_losses, graph_params) = run(true);
    assert_eq!(eager_losses, graph_losses);
    for ((name, e), (_, g)) in eager_params.iter().zip(&graph_params) {
        assert!(
            e.iter().zip(g).all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name} differs"
        );
    }
    // The steps trained: the loss of a repeated batch would fall; here, at least, the weights
    // moved and stayed finite.
    let moved = eager_params
        .iter()
        .zip(&values)
        .any(|((_, e), (_, v))| e != v);
    assert!(
        moved
            && eager_params
                .iter()
                .all(|(_, e)| e.iter().all(|x| x.is_finite()))
    );
}

/// What a checkpoint holds (the master weights and the optimizer's moments), loaded into a
/// second engine, continues the run bit for bit; and a forward pass alone reports the losses
/// per target whose mean is the training step's loss.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn weights_and_moments_resume_a_run_exactly() {
    let shape = shape();
    let (_, reference) = burn_reference(&shape, &batch(&shape, 1).0, &batch(&shape, 1).1);
    let values: Vec<(String, Vec<f32>)> = reference
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let new_engine = || {
        let mut engine =
            Engine::new(gpu(), EngineModel::Gpt(shape), DType::BF16, adamw(), 1.0).unwrap();
        engine.capture().unwrap();
        engine
    };
    let train = |engine: &Engine, steps: std::ops::RangeInclusive<i32>| {
        for step in steps {
            let (idx, targets) = batch(&shape, 10 + step as u64);
            let batch = Batch::Tokens {
                idx: &idx,
                targets: &targets,
            };
            let values = StepValues {
                matrix_lr: 0.02,
                other_lr: 1e-3,
                step,
            };
            engine.set_step(batch, values).unwrap();
            engine.step().unwrap();
        }
    };
    let mut first = new_engine();
    first.set_params(&values).unwrap();
    train(&first, 1..=2);
    let (params, moments) = (first.params().unwrap(), first.moments().unwrap());
    assert!(moments.iter().all(|m| m.second.iter().all(|&x| x >= 0.0)));
    assert!(moments.iter().any(|m| m.first.iter().any(|&x| x != 0.0)));
    let mut second = new_engine();
    second.set_params(&params).unwrap();
    second.set_moments(&moments).unwrap();
    train(&first, 3..=4);
    train(&second, 3..=4);
    for ((name, a), (_, b)) in first
        .params()
        .unwrap()
        .iter()
        .zip(&second.params().unwrap())
    {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} differs after the resumed steps"
        );
    }

    let (idx, targets) = batch(&shape, 99);
    let batch = Batch::Tokens {
        idx: &idx,
        targets: &targets,
    };
    let rows = first.row_losses(batch).unwrap();
    assert_eq!(rows.len(), shape.rows());
    first.set_step(batch, FROZEN).unwrap();
    first.forward_backward().unwrap();
    let mean = rows.iter().map(|&x| x as f64).sum::<f64>() / rows.len() as f64;
    let loss = first.loss().unwrap() as f64;
    assert!(
        (mean - loss).abs() <= 1e-6 * loss,
        "row mean {mean} vs loss {loss}"
    );
    assert!(rows.iter().all(|&x| x.is_finite() && x >= 0.0));
}

/// No update: the parity tests compare one forward and backward pass.
const FROZEN: StepValues = StepValues {
    matrix_lr: 0.0,
    other_lr: 0.0,
    step: 1,
};

/// Runs `engine`'s forward and backward pass and checks its loss and every gradient against
/// burn's: relative errors (Frobenius) below the tolerances (loss, gradients), or what was
/// off. A gradient's bound is at least twice burn's own f32 error on it (`burn_f32`).
fn matches_reference(
    engine: &Engine,
    act: DType,
    want_loss: f64,
    reference: &[(String, Vec<f32>, Vec<f64>)],
    (loss_tol, grad_tol): (f64, f64),
    burn_f32: &[(String, Vec<f32>)],
    key_bias_vanishes: bool,
) -> Result<(), String> {
    engine.forward_backward().unwrap();
    let loss = engine.loss().unwrap();
    let loss_err = ((loss as f64 - want_loss) / want_loss).abs();
    println!("{act:?}: loss {loss} vs burn {want_loss} (relative {loss_err:.2e})");
    if loss_err >= loss_tol {
        return Err(format!("{act:?}: loss {loss} vs {want_loss}"));
    }
    let grads = engine.grads().unwrap();
    let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let norm64 = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut worst = (0.0f64, 0.0f64, String::new());
    for (name, _, want) in reference {
        let find = |list: &[(String, Vec<f32>)]| -> Option<Vec<f32>> {
            list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        };
        let got = find(&grads).expect("the same names");
        let error = |v: &[f32]| -> f64 {
            if key_bias_vanishes && name.ends_with("attn.k.bias") {
                // Without RoPE the key bias adds q·b_k to every score of a query row: softmax
                // cancels it, so its gradient is zero and any implementation holds rounding
                // noise. Measured against the query bias's gradient of the same block.
                let q_name = name.replace("attn.k.bias", "attn.q.bias");
                let (_, _, q_bias) = reference.iter().find(|(n, _, _)| *n == q_name).unwrap();
                norm(v) / norm64(q_bias)
            } else {
                relative_error(v, want)
            }
        };
        let err = error(&got);
        let bound = match find(burn_f32) {
            Some(burn) => grad_tol.max(2.0 * error(&burn)),
            None => grad_tol,
        };
        println!("{act:?} {name}: {err:.2e} (bound {bound:.2e})");
        if err / bound > worst.0 / worst.1.max(f64::MIN_POSITIVE) {
            worst = (err, bound, name.clone());
        }
    }
    let (err, bound, name) = worst;
    println!("{act:?}: the gradient nearest its bound: {name}, {err:.2e} of {bound:.2e}");
    if err < bound {
        Ok(())
    } else {
        Err(format!(
            "{act:?}: gradient of {name} off by {err:.2e} (bound {bound:.2e})"
        ))
    }
}

fn mdn_shape() -> MdnShape {
    // Head width 32, M + T = 43 positions (no tile multiple), RoPE, slots with IDs.
    MdnShape {
        layers: 2,
        heads: 4,
        width: 128,
        slots: 3,
        slot_id: true,
        components: 5,
        sigma_floor: 1e-3,
        batch: 3,
        seq: 40,
    }
}

/// burn's SpacingMDN loss and (name, value, gradient) of every parameter, on spacings drawn
/// uniform in [0.2, 2).
fn mdn_config(shape: &MdnShape) -> SpacingMdnConfig {
    let memory = MemoryConfig::new()
        .with_n_slots(shape.slots)
        .with_slot_id(shape.slot_id)
        .with_film(false)
        .with_gate(false)
        .with_summary_to_head(false);
    SpacingMdnConfig::new()
        .with_n_layer(shape.layers)
        .with_n_head(shape.heads)
        .with_n_embd(shape.width)
        .with_block_size(shape.seq)
        .with_n_components(shape.components)
        .with_rope(true)
        .with_memory(Some(memory))
}

/// Spacings `[B, T]` as a tensor of `BB`'s float type.
fn spacings<BB: burn::tensor::backend::Backend>(shape: &MdnShape, v: &[f32]) -> Tensor<BB, 2> {
    let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
    Tensor::from_data(
        TensorData::new(v, [shape.batch, shape.seq]).convert::<BB::FloatElem>(),
        &Default::default(),
    )
}

fn mdn_reference(shape: &MdnShape) -> (Vec<f32>, Vec<f32>, f64, Reference) {
    let device = Default::default();
    let model: SpacingMdn<B> = spectral::device::seeded::<B, _>(&device, 11, || {
        mdn_config(shape).init::<B>(&device).unwrap()
    })
    .map(&mut RoundToF32);
    let n = shape.batch * shape.seq;
    let stream: Vec<f32> = uniform(n + shape.batch, 1.0, 3)
        .iter()
        .map(|u| 1.1 + 0.9 * u)
        .collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for b in 0..shape.batch {
        let s = &stream[b * (shape.seq + 1)..(b + 1) * (shape.seq + 1)];
        x.extend_from_slice(&s[..shape.seq]);
        y.extend_from_slice(&s[1..]);
    }
    let loss = model
        .loss(spacings::<B>(shape, &x), spacings::<B>(shape, &y))
        .unwrap();
    let value = loss
        .clone()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap()[0];
    let grads = loss.backward();
    let mut collect = Collect::<B> {
        path: Vec::new(),
        grads: &grads,
        out: Vec::new(),
    };
    model.visit(&mut collect);
    (x, y, value, collect.out)
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn spacing_mdn_loss_and_gradients_match_burn() {
    let shape = mdn_shape();
    let (x, y, want_loss, reference) = mdn_reference(&shape);
    let values: Vec<(String, Vec<f32>)> = reference
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let model: SpacingMdn<B32> = mdn_config(&shape).init(&Default::default()).unwrap();
    let loss = |m: &SpacingMdn<B32>| m.loss(spacings(&shape, &x), spacings(&shape, &y)).unwrap();
    let burn_f32 = burn_f32_grads(model, loss, &reference);
    let mut failures = Vec::new();
    for (act, loss_tol, grad_tol) in [(DType::F32, 1e-5, 1e-5), (DType::BF16, 1e-2, 2e-2)] {
        let floors = if act == DType::F32 {
            &burn_f32[..]
        } else {
            &[]
        };
        let mut engine =
            Engine::new(gpu(), EngineModel::SpacingMdn(shape), act, adamw(), 1.0).unwrap();
        engine.set_params(&values).unwrap();
        engine
            .set_step(Batch::Spacings { x: &x, y: &y }, FROZEN)
            .unwrap();
        if let Err(e) = matches_reference(
            &engine,
            act,
            want_loss,
            &reference,
            (loss_tol, grad_tol),
            floors,
            false,
        ) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// burn's own f32 arithmetic against its f64 on the same weights (no GPU): the distance the
/// engine's f32 parity mode is held to. Both models, every gradient within 1e-3 (the
/// reference and the f32 path are one model), the loss within 1e-6.
#[test]
fn burn_in_f32_is_near_its_f64_reference() {
    let shape = shape();
    let (idx, targets) = batch(&shape, 1);
    let (_, reference) = burn_reference(&shape, &idx, &targets);
    let mdn = mdn_shape();
    let (x, y, _, mdn_reference) = mdn_reference(&mdn);
    let model: SpacingMdn<B32> = mdn_config(&mdn).init(&Default::default()).unwrap();
    let mdn_loss = |m: &SpacingMdn<B32>| m.loss(spacings(&mdn, &x), spacings(&mdn, &y)).unwrap();
    for (what, reference, grads) in [
        (
            "GPT",
            &reference,
            gpt_burn_f32(&shape, &idx, &targets, &reference),
        ),
        (
            "SpacingMDN",
            &mdn_reference,
            burn_f32_grads(model, mdn_loss, &mdn_reference),
        ),
    ] {
        let mut worst = (0.0, String::new());
        for (name, got) in &grads {
            let (_, _, want) = reference.iter().find(|(n, _, _)| n == name).unwrap();
            let err = relative_error(got, want);
            if err > worst.0 && !name.ends_with("attn.k.bias") {
                worst = (err, name.clone());
            }
        }
        println!(
            "burn f32 against f64, {what}: worst gradient {} at {:.2e}",
            worst.1, worst.0
        );
        assert!(worst.0 < 1e-3, "{what}: {} off by {:.2e}", worst.1, worst.0);
    }
}
