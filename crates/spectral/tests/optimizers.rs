//! Every optimizer on a small fixed task (a deep linear net learning an orthogonal map), and
//! the identities the design promises: TEON with K = 1 is Muon, SpectraTeon with K = 1 is
//! Spectra, Manifold Muon stays on the Stiefel manifold, and save → load → step equals an
//! uninterrupted step. (The 2-layer transformer task lives in crates/train, which has the
//! models.)

use burn::backend::Autodiff;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use spectral::CpuBackend;
use spectral::linalg::{exact, from_faer, gaussian_matrix, to_faer};
use spectral::optim::state::StateDict;
use spectral::optim::{
    GroupRule, MatrixExchange, Method, OptimizerConfig, Role, Shard, SpectralOptimizer,
};

type Ad = Autodiff<CpuBackend>;

const WIDTH: usize = 16;
const DEPTH: usize = 4;

#[derive(Module, Debug)]
struct DeepLinear<B: Backend> {
    layers: Vec<Linear<B>>,
}

impl<B: Backend> DeepLinear<B> {
    /// Deterministic weights (host-seeded, so parallel tests do not share an RNG), scaled to be
    /// near-orthogonal so the product neither explodes nor vanishes.
    fn new(device: &B::Device) -> Self {
        let layers = (0..DEPTH)
            .map(|i| {
                let w = gaussian_matrix::<B>(WIDTH, WIDTH, 100 + i as u64, device)
                    .div_scalar((WIDTH as f32).sqrt());
                Linear {
                    weight: Param::from_tensor(w),
                    bias: Some(Param::from_tensor(Tensor::zeros([WIDTH], device))),
                }
            })
            .collect();
        Self { layers }
    }

    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.layers.iter().fold(x, |x, layer| layer.forward(x))
    }
}

fn config(method: Method) -> OptimizerConfig {
    let mut config = OptimizerConfig {
        method,
        rules: vec![
            GroupRule::new("layers.*.weight", Role::Matrix),
            GroupRule::new("**.bias", Role::Bias),
        ],
        ..Default::default()
    };
    config.teon.targets = vec!["layers.*.weight".into()];
    config.lr = match method {
        Method::AdamW | Method::Spectra | Method::SpectraTeon => 1e-2,
        Method::Muon | Method::Teon | Method::ManifoldMuon => 0.05,
    };
    config.adamw.lr = 1e-2;
    config
}

/// Inputs and targets of the task: y = x·Q for a fixed orthogonal Q (so every method,
/// Manifold Muon with its orthogonal layers included, can represent the answer).
fn task(device: &burn::tensor::Device<Ad>) -> (Tensor<Ad, 2>, Tensor<Ad, 2>) {
    let x = gaussian_matrix::<Ad>(64, WIDTH, 1, device);
    let g = gaussian_matrix::<CpuBackend>(WIDTH, WIDTH, 2, &Default::default());
    let (q, _) = exact::qr(&to_faer(g)).unwrap();
    let y = x.clone().matmul(from_faer::<Ad>(&q, device));
    (x, y)
}

fn loss(model: &DeepLinear<Ad>, x: &Tensor<Ad, 2>, y: &Tensor<Ad, 2>) -> Tensor<Ad, 1> {
    (model.forward(x.clone()) - y.clone())
        .powf_scalar(2.0)
        .mean()
}

fn train(
    optimizer: &mut SpectralOptimizer<CpuBackend>,
    mut model: DeepLinear<Ad>,
    steps: usize,
) -> (DeepLinear<Ad>, Vec<f32>) {
    let device = Default::default();
    let (x, y) = task(&device);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let loss = loss(&model, &x, &y);
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1.0, model, grads).unwrap();
    }
    (model, losses)
}

fn weights(model: &DeepLinear<Ad>) -> Vec<f32> {
    model
        .layers
        .iter()
        .flat_map(|l| l.weight.val().into_data().to_vec::<f32>().unwrap())
        .collect()
}

fn max_difference(a: &DeepLinear<Ad>, b: &DeepLinear<Ad>) -> f32 {
    weights(a)
        .iter()
        .zip(weights(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn every_optimizer_lowers_the_loss_of_a_deep_linear_net() {
    let device = Default::default();
    for method in Method::ALL {
        let mut optimizer = SpectralOptimizer::new(config(method));
        let (_, losses) = train(&mut optimizer, DeepLinear::new(&device), 60);
        let (first, last) = (losses[0], *losses.last().unwrap());
        println!("{:>13}: loss {first:.4} -> {last:.4}", method.name());
        assert!(last < 0.3 * first, "{}: {first} -> {last}", method.name());
    }
}

#[test]
fn teon_with_k_1_is_muon_and_spectra_teon_with_k_1_is_spectra() {
    let device = Default::default();
    for (stacked, single) in [
        (Method::Teon, Method::Muon),
        (Method::SpectraTeon, Method::Spectra),
    ] {
        let mut k1 = config(stacked);
        k1.teon.k = 1;
        let (a, _) = train(&mut SpectralOptimizer::new(k1), DeepLinear::new(&device), 5);
        let (b, _) = train(
            &mut SpectralOptimizer::new(config(single)),
            DeepLinear::new(&device),
            5,
        );
        assert_eq!(
            max_difference(&a, &b),
            0.0,
            "{} K=1 vs {}",
            stacked.name(),
            single.name()
        );
        // And K = 2 really is different: the stacking is not a no-op.
        let (c, _) = train(
            &mut SpectralOptimizer::new(config(stacked)),
            DeepLinear::new(&device),
            5,
        );
        assert!(
            max_difference(&a, &c) > 1e-4,
            "{} K=2 equals K=1",
            stacked.name()
        );
    }
}

#[test]
fn manifold_muon_stays_on_the_stiefel_manifold_for_100_steps() {
    let device = Default::default();
    let mut optimizer = SpectralOptimizer::new(config(Method::ManifoldMuon));
    let mut model = DeepLinear::<Ad>::new(&device);
    let (x, y) = task(&device);
    let eye = Tensor::<CpuBackend, 2>::eye(WIDTH, &Default::default());
    for step in 0..100 {
        let loss = loss(&model, &x, &y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1.0, model, grads).unwrap();
        for (i, layer) in model.layers.iter().enumerate() {
            let w = layer.weight.val().inner();
            let gram = w.clone().transpose().matmul(w);
            // The Frobenius norm bounds the spectral norm of WᵀW − I.
            let error: f32 = (gram - eye.clone())
                .powf_scalar(2.0)
                .sum()
                .sqrt()
                .into_scalar();
            assert!(
                error <= 1e-4,
                "step {step}, layer {i}: ‖WᵀW − I‖_F = {error}"
            );
        }
    }
}

#[test]
fn save_load_step_equals_an_uninterrupted_step() {
    let device = Default::default();
    for method in Method::ALL {
        let mut straight = SpectralOptimizer::new(config(method));
        let (model, _) = train(&mut straight, DeepLinear::new(&device), 3);
        let (uninterrupted, _) = train(&mut straight, model, 1);

        let mut first = SpectralOptimizer::new(config(method));
        let (model, _) = train(&mut first, DeepLinear::new(&device), 3);
        let bytes = first.state_dict().to_safetensors().unwrap();
        drop(first);
        let mut resumed = SpectralOptimizer::<CpuBackend>::new(config(method));
        let dict = StateDict::from_safetensors(&bytes).unwrap();
        resumed.load_state_dict(&dict, &Default::default()).unwrap();
        assert_eq!(resumed.steps(), 3);
        let (after, _) = train(&mut resumed, model, 1);
        assert_eq!(
            max_difference(&uninterrupted, &after),
            0.0,
            "{}",
            method.name()
        );
    }
}

#[test]
fn loading_another_methods_state_is_an_error() {
    let device = Default::default();
    let mut muon = SpectralOptimizer::new(config(Method::Muon));
    train(&mut muon, DeepLinear::new(&device), 1);
    let mut adamw = SpectralOptimizer::<CpuBackend>::new(config(Method::AdamW));
    let error = adamw
        .load_state_dict(&muon.state_dict(), &Default::default())
        .unwrap_err();
    assert!(error.to_string().contains("muon"), "{error}");
}

#[test]
fn rules_that_miss_the_model_fail_before_any_step() {
    let device = Default::default();
    let model = DeepLinear::<Ad>::new(&device);
    let mut config = config(Method::Muon);
    config.rules = vec![GroupRule::new("layer.*.weight", Role::Matrix)];
    let optimizer = SpectralOptimizer::<CpuBackend>::new(config);
    let error = optimizer.plan::<Ad, _>(&model).unwrap_err();
    assert!(error.to_string().contains("layers.0.weight"), "{error}");
}

/// The exchange of two device threads of one test: the owner writes its result, both wait,
/// both read it, both wait again (so the next result cannot overwrite one still being read).
/// It counts the results this device shaped itself.
struct ThreadExchange {
    rank: usize,
    slot: std::sync::Arc<std::sync::Mutex<Option<burn::tensor::TensorData>>>,
    barrier: std::sync::Arc<std::sync::Barrier>,
    shaped_here: usize,
}

impl MatrixExchange<CpuBackend> for ThreadExchange {
    fn share(
        &mut self,
        owner: usize,
        tensor: Option<Tensor<CpuBackend, 2>>,
    ) -> Result<Tensor<CpuBackend, 2>, spectral::optim::OptimError> {
        assert_eq!(
            tensor.is_some(),
            owner == self.rank,
            "only the owner shapes"
        );
        if let Some(tensor) = tensor {
            *self.slot.lock().unwrap() = Some(tensor.into_data());
            self.shaped_here += 1;
        }
        self.barrier.wait();
        let data = self.slot.lock().unwrap().clone().expect("the owner wrote");
        self.barrier.wait();
        Ok(Tensor::from_data(data, &Default::default()))
    }
}

/// The same gradients again (a `GradientsParams` cannot be cloned): what every device holds
/// after the gradient all-reduce.
fn copy_grads(grads: &GradientsParams, model: &DeepLinear<Ad>) -> GradientsParams {
    let mut copy = GradientsParams::new();
    for layer in &model.layers {
        let w = grads.get::<CpuBackend, 2>(layer.weight.id).unwrap();
        copy.register(layer.weight.id, w);
        let bias = layer.bias.as_ref().unwrap();
        copy.register(bias.id, grads.get::<CpuBackend, 1>(bias.id).unwrap());
    }
    copy
}

#[test]
fn a_step_sharded_over_two_devices_equals_the_unsharded_step() {
    let device = Default::default();
    let (x, y) = task(&device);
    for method in [
        Method::Muon,
        Method::Teon,
        Method::Spectra,
        Method::SpectraTeon,
        Method::ManifoldMuon,
    ] {
        let mut reference = SpectralOptimizer::<CpuBackend>::new(config(method));
        let mut optimizers = [0, 1].map(|_| SpectralOptimizer::<CpuBackend>::new(config(method)));
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let mut exchanges = [0, 1].map(|rank| ThreadExchange {
            rank,
            slot: slot.clone(),
            barrier: barrier.clone(),
            shaped_here: 0,
        });
        let mut model = DeepLinear::<Ad>::new(&device);
        let mut replicas = [model.clone(), model.clone()];
        for _ in 0..3 {
            let grads = GradientsParams::from_grads(loss(&model, &x, &y).backward(), &model);
            let copies = [0, 1].map(|_| copy_grads(&grads, &model));
            model = reference.step(1.0, model, grads).unwrap();
            replicas = std::thread::scope(|scope| {
                let handles: Vec<_> = replicas
                    .into_iter()
                    .zip(copies)
                    .zip(optimizers.iter_mut().zip(exchanges.iter_mut()))
                    .enumerate()
                    .map(|(rank, ((replica, grads), (optimizer, exchange)))| {
                        scope.spawn(move || {
                            let shard = Shard { rank, world: 2 };
                            optimizer
                                .step_sharded(1.0, replica, grads, shard, exchange)
                                .unwrap()
                        })
                    })
                    .collect();
                let mut done = handles.into_iter().map(|h| h.join().unwrap());
                [done.next().unwrap(), done.next().unwrap()]
            });
            // Both devices applied the same shared results to the same state: bit for bit.
            assert_eq!(weights(&replicas[0]), weights(&replicas[1]), "{method:?}");
            // Against one device: only the batching of msign by shape differs (f32 rounding).
            let gap = max_difference(&replicas[0], &model);
            assert!(gap < 1e-6, "{method:?}: sharded vs unsharded {gap}");
        }
        let [a, b] = &exchanges;
        // Muon/Spectra: 4 single matrices; TEON: 2 stacks of K = 2; each device shaped half.
        assert!(
            a.shaped_here > 0 && b.shaped_here > 0,
            "{method:?}: work split"
        );
        assert_eq!(
            a.shaped_here, b.shaped_here,
            "{method:?}: equal-cost groups split evenly"
        );
        let states = [
            reference.state_dict(),
            optimizers[0].state_dict(),
            optimizers[1].state_dict(),
        ];
        for state in &states[1..] {
            assert_eq!(
                state.tensors.keys().collect::<Vec<_>>(),
                states[0].tensors.keys().collect::<Vec<_>>(),
                "{method:?}: every device holds the whole state"
            );
        }
    }
}

/// Linear maps of three shapes in burn's `[d_in, d_out]`: `[16, 16]` twice, `[16, 32]` and
/// `[32, 16]`, so one-device Muon stacks a pair and two single matrices.
fn funnel(device: &burn::tensor::Device<Ad>) -> DeepLinear<Ad> {
    let shapes = [(16, 16), (16, 16), (16, 32), (32, 16)];
    let layers = shapes
        .iter()
        .enumerate()
        .map(|(i, &(d_in, d_out))| Linear {
            weight: Param::from_tensor(
                gaussian_matrix::<Ad>(d_in, d_out, 200 + i as u64, device)
                    .div_scalar((d_in as f32).sqrt()),
            ),
            bias: Some(Param::from_tensor(Tensor::zeros([d_out], device))),
        })
        .collect();
    DeepLinear { layers }
}

#[test]
fn stacking_by_shape_equals_one_group_at_a_time() {
    // On one device Muon steps each shape's matrices as one stack, and TEON each shape's
    // stacks; `stack_by_shape = false` steps one group at a time. The funnel has a pair of
    // equal matrices and two single ones (TEON, K = 2: one stack, two singles); the deep net
    // four equal ones (two TEON stacks, batched together). Step 2 leaves one matrix without
    // a gradient (its stack splits), step 3 brings it back (its buffer rejoins the stack).
    let device = Default::default();
    let (x, y) = task(&device);
    type Model = fn(&burn::tensor::Device<Ad>) -> DeepLinear<Ad>;
    let models: [Model; 2] = [funnel, |device| DeepLinear::new(device)];
    for method in [Method::Muon, Method::Teon] {
        for model in models {
            let mut one_at_a_time = config(method);
            one_at_a_time.muon.stack_by_shape = false;
            let mut reference = SpectralOptimizer::<CpuBackend>::new(one_at_a_time);
            let mut stacked = SpectralOptimizer::<CpuBackend>::new(config(method));
            assert!(stacked.config().muon.stack_by_shape, "the default stacks");
            let (mut a, mut b) = (model(&device), model(&device));
            for step in 0..4 {
                let grads = |model: &DeepLinear<Ad>| {
                    let mut grads =
                        GradientsParams::from_grads(loss(model, &x, &y).backward(), model);
                    if step == 1 {
                        grads.remove::<CpuBackend, 2>(model.layers[1].weight.id);
                    }
                    grads
                };
                let (ga, gb) = (grads(&a), grads(&b));
                a = reference.step(1.0, a, ga).unwrap();
                b = stacked.step(1.0, b, gb).unwrap();
                assert_eq!(max_difference(&a, &b), 0.0, "{method:?} step {step}");
            }
            assert!(
                max_difference(&a, &model(&device)) > 1e-3,
                "{method:?}: the steps moved the weights"
            );
        }
    }
}
