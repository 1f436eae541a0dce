//! [`SpectralOptimizer`]: one optimizer for a whole burn module. Matrix parameters (by the
//! [group rules](super::groups)) go to the [`MatrixMethod`] of the configured [`Method`](super::Method)
//! (batched as [`super::method`] describes); every other parameter gets AdamW
//! ([`super::adamw`]) with the settings of its [`Role`]. All state is keyed by parameter path
//! (not by burn's random `ParamId`), so it survives a checkpoint round trip.

use super::OptimError;
use super::config::OptimizerConfig;
use super::groups::{ParamSlot, Role, param_groups};
use super::method::{Batch, BatchShape, MatrixMethod, group_indices};
use super::momentum::Momenta;
use super::registry::matrix_method;
use super::shard::{MatrixExchange, Shard, SingleDevice, assign_owners, shaping_cost};
use super::state::StateDict;
use super::teon::{split_mode1, stack_mode1};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWState, AdaptiveMomentumState, GradientsParams};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use std::collections::HashMap;

/// Momenta, the matrix methods' per-group state and AdamW moments, by parameter path.
struct OptimState<B: Backend> {
    step: u64,
    /// Momentum buffer of each matrix parameter.
    momentum: Momenta<B>,
    /// The method's state of each group (Spectra's V, Manifold Muon's Λ), by group key (the
    /// member paths joined by `+`).
    groups: HashMap<String, Tensor<B, 2>>,
    /// AdamW state of each AdamW-trained parameter, flattened to 1-D (AdamW is elementwise).
    adamw: HashMap<String, AdamWState<B, 1>>,
}

impl<B: Backend> Default for OptimState<B> {
    fn default() -> Self {
        Self {
            step: 0,
            momentum: Momenta::default(),
            groups: HashMap::new(),
            adamw: HashMap::new(),
        }
    }
}

/// The optimizer. `B` is the inner (non-autodiff) backend the parameters live on.
///
/// One Muon step of a two-layer module: each weight `[d_in, d_out]` moves by
/// `lr·s·msign(G)`, with `s = √max(1, d_out/d_in)` (burn's layout), so its update has
/// `min(d_in, d_out)` singular values `lr·s`; the biases take an AdamW step.
///
/// ```
/// use burn::backend::Autodiff;
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::optim::GradientsParams;
/// use burn::tensor::activation::relu;
/// use burn::tensor::backend::Backend;
/// use spectral::CpuBackend;
/// use spectral::linalg::{MsignMethod, exact, gaussian_matrix, to_faer};
/// use spectral::optim::{GroupRule, OptimizerConfig, Role, SpectralOptimizer};
///
/// #[derive(Module, Debug)]
/// struct Mlp<B: Backend> {
///     fc1: Linear<B>, // [8, 16]
///     fc2: Linear<B>, // [16, 4]
/// }
///
/// type Ad = Autodiff<CpuBackend>;
/// let device = Default::default();
/// let model = Mlp::<Ad> {
///     fc1: LinearConfig::new(8, 16).init(&device),
///     fc2: LinearConfig::new(16, 4).init(&device),
/// };
/// let mut config = OptimizerConfig {
///     rules: vec![
///         GroupRule::new("*.weight", Role::Matrix),
///         GroupRule::new("*.bias", Role::Bias),
///     ],
///     ..Default::default() // Muon, lr 0.02
/// };
/// // Polar Express instead of the default quintic, so the singular values are exactly 1.
/// config.muon.msign = MsignMethod::PolarExpress { steps: 8 };
/// let mut optimizer = SpectralOptimizer::<CpuBackend>::new(config);
/// assert_eq!(optimizer.plan::<Ad, _>(&model).unwrap().len(), 4);
///
/// let x = gaussian_matrix::<Ad>(32, 8, 1, &device); // [batch, d_in]
/// let loss = model.fc2.forward(relu(model.fc1.forward(x))).powf_scalar(2.0).mean();
/// let grads = GradientsParams::from_grads(loss.backward(), &model);
/// let before = [model.fc1.weight.val().inner(), model.fc2.weight.val().inner()];
/// let model = optimizer.step(1.0, model, grads).unwrap();
/// let after = [model.fc1.weight.val().inner(), model.fc2.weight.val().inner()];
/// for ((before, after), (rank, scale)) in before.into_iter().zip(after).zip([(8, 2f64.sqrt()), (4, 1.0)]) {
///     let shape = before.dims();
///     let update = before - after; // lr·s·msign(G), [d_in, d_out]
///     assert_eq!(update.dims(), shape);
///     let sigma = exact::singular_values(&to_faer(update)).unwrap();
///     assert_eq!(sigma.len(), rank);
///     for s in sigma {
///         assert!((s - 0.02 * scale).abs() < 1e-5 * scale, "{shape:?}: {s}");
///     }
/// }
/// assert_eq!(optimizer.steps(), 1);
/// ```
pub struct SpectralOptimizer<B: Backend> {
    config: OptimizerConfig,
    state: OptimState<B>,
}

impl<B: Backend> SpectralOptimizer<B> {
    pub fn new(config: OptimizerConfig) -> Self {
        Self {
            config,
            state: OptimState::default(),
        }
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.state.step
    }

    /// Checks the routing on `module` and returns the parameter slots (print them at start).
    pub fn plan<AB, M>(&self, module: &M) -> Result<Vec<ParamSlot>, OptimError>
    where
        AB: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<AB>,
    {
        param_groups::<AB, M>(module, &self.config.rules)
    }

    /// One step: every parameter with a gradient in `grads` is updated with its group's
    /// learning rate times `lr_factor` (the schedule's factor). Parameters without a gradient
    /// are left alone.
    pub fn step<AB, M>(
        &mut self,
        lr_factor: f64,
        module: M,
        grads: GradientsParams,
    ) -> Result<M, OptimError>
    where
        AB: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<AB>,
    {
        self.step_sharded(lr_factor, module, grads, Shard::SINGLE, &mut SingleDevice)
    }

    /// [`step`](Self::step) as device `shard.rank` of `shard.world` devices that hold the same
    /// weights, gradients (already all-reduced) and optimizer state. Momenta and AdamW are
    /// elementwise and run on every device; the shaping of each matrix group (`msign`,
    /// Spectra, the Manifold Muon retraction) runs only on the group's owner
    /// ([`assign_owners`]) and reaches the other devices through `exchange`, together with
    /// the group's state (Spectra's V, Manifold Muon's Λ). Every device ends the step with
    /// the same weights and state as an unsharded step.
    pub fn step_sharded<AB, M, X>(
        &mut self,
        lr_factor: f64,
        module: M,
        mut grads: GradientsParams,
        shard: Shard,
        exchange: &mut X,
    ) -> Result<M, OptimError>
    where
        AB: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<AB>,
        X: MatrixExchange<B>,
    {
        let slots = param_groups::<AB, M>(&module, &self.config.rules)?;
        let method = matrix_method::<B>(&self.config);
        let spectral = method.is_some();
        let mut new_matrices = HashMap::new();
        if let Some(method) = &method {
            // The matrices with a gradient; group indices point into this list.
            let mut grads_2d = HashMap::new();
            let mut matrix_slots = Vec::new();
            for slot in slots.iter().filter(|s| s.role == Role::Matrix) {
                if let Some(grad) = grads.remove::<B, 2>(slot.id) {
                    grads_2d.insert(slot.id, grad);
                    matrix_slots.push(slot.clone());
                }
            }
            if !matrix_slots.is_empty() {
                let weights = matrix_values::<AB, M>(&module, &matrix_slots);
                let lr = self.config.lr * lr_factor;
                new_matrices = self.matrix_step(
                    method.as_ref(),
                    lr,
                    &matrix_slots,
                    weights,
                    grads_2d,
                    shard,
                    exchange,
                )?;
            }
        }
        let adamw_slots: HashMap<ParamId, ParamSlot> = slots
            .into_iter()
            .filter(|s| !(spectral && s.role == Role::Matrix))
            .map(|s| (s.id, s))
            .collect();
        let mut mapper = StepMapper::<B> {
            new_matrices,
            adamw_slots,
            grads,
            config: &self.config,
            state: &mut self.state.adamw,
            lr_factor,
        };
        let module = module.map(&mut mapper);
        self.state.step += 1;
        Ok(module)
    }

    /// New values of the matrix parameters `slots` (all with gradients), batch by batch: each
    /// batch is shaped on its owner among `shard.world` devices and shared through `exchange`.
    #[allow(clippy::too_many_arguments)]
    fn matrix_step(
        &mut self,
        method: &dyn MatrixMethod<B>,
        lr: f64,
        slots: &[ParamSlot],
        mut weights: HashMap<ParamId, Tensor<B, 2>>,
        mut grads: HashMap<ParamId, Tensor<B, 2>>,
        shard: Shard,
        exchange: &mut impl MatrixExchange<B>,
    ) -> Result<HashMap<ParamId, Tensor<B, 2>>, OptimError> {
        let groups = method.groups(slots);
        // Member shape [d_in, d_out] and size k of each group.
        let shapes: Vec<(usize, usize, usize)> = groups
            .iter()
            .map(|g| (g.len(), slots[g[0]].shape[0], slots[g[0]].shape[1]))
            .collect();
        let costs: Vec<f64> = shapes
            .iter()
            .map(|&(k, d_in, d_out)| shaping_cost(k * d_in, d_out))
            .collect();
        let owners = assign_owners(&costs, shard.world);
        // Batches: the groups of one shape and owner, or each group alone.
        let batches: Vec<Vec<usize>> = if method.stack_by_shape() {
            let keys = shapes.iter().zip(&owners);
            group_indices(keys).into_iter().map(|(_, gs)| gs).collect()
        } else {
            (0..groups.len()).map(|g| vec![g]).collect()
        };
        let (momentum, nesterov) = method.momentum();
        let state_name = method.state_name();
        let mut out = HashMap::new();
        for batch in batches {
            let (k, d_in, d_out) = shapes[batch[0]];
            let shape = BatchShape {
                n: batch.len(),
                k,
                d_in,
                d_out,
            };
            let owner = owners[batch[0]];
            let members: Vec<usize> = batch.iter().flat_map(|&g| groups[g].clone()).collect();
            let paths: Vec<&str> = members.iter().map(|&i| slots[i].path.as_str()).collect();
            let take = |map: &mut HashMap<ParamId, Tensor<B, 2>>| {
                let parts = members
                    .iter()
                    .map(|&i| map.remove(&slots[i].id).expect("a matrix with a gradient"))
                    .collect();
                stack_mode1(parts) // [n·k·d_in, d_out]
            };
            let grad = take(&mut grads);
            let weight = take(&mut weights);
            let direction =
                self.state
                    .momentum
                    .step(&paths.join("+"), &paths, grad, momentum, nesterov);
            let keys: Vec<String> = batch
                .iter()
                .map(|&g| group_key(slots, &groups[g]))
                .collect();
            let shaped = if owner == shard.rank {
                let state = keys
                    .iter()
                    .map(|key| self.state.groups.remove(key))
                    .collect();
                let batch = Batch {
                    shape,
                    direction,
                    weight: &weight,
                    state,
                    lr,
                };
                Some(method.shape(batch))
            } else {
                None
            };
            let (result, mut states) = match shaped {
                Some(shaped) => (
                    Some(shaped.result),
                    shaped.state.into_iter().map(Some).collect(),
                ),
                None => (None, Vec::new()),
            };
            let result = exchange.share(owner, result)?;
            if state_name.is_some() {
                states.resize_with(keys.len(), || None);
                for (key, group_state) in keys.into_iter().zip(states) {
                    let group_state = exchange.share(owner, group_state)?;
                    self.state.groups.insert(key, group_state);
                }
            }
            let weight = method.apply(weight, result, shape, lr);
            for (&i, part) in members.iter().zip(split_mode1(weight, members.len())) {
                out.insert(slots[i].id, part);
            }
        }
        Ok(out)
    }

    /// All state, for a checkpoint.
    pub fn state_dict(&self) -> StateDict {
        let mut dict = StateDict::default();
        dict.metadata
            .insert("method".into(), self.config.method.name().into());
        dict.metadata
            .insert("step".into(), self.state.step.to_string());
        self.state.momentum.write(&mut dict);
        if let Some(name) = matrix_method::<B>(&self.config).and_then(|m| m.state_name()) {
            for (key, t) in &self.state.groups {
                dict.insert_tensor(format!("{name}/{key}"), t);
            }
        }
        for (path, s) in &self.state.adamw {
            dict.insert_tensor(format!("adamw_m1/{path}"), &s.momentum.moment_1);
            dict.insert_tensor(format!("adamw_m2/{path}"), &s.momentum.moment_2);
            dict.metadata
                .insert(format!("adamw_time/{path}"), s.momentum.time.to_string());
        }
        dict
    }

    /// Restores the state written by [`state_dict`](Self::state_dict); the method must match.
    pub fn load_state_dict(
        &mut self,
        dict: &StateDict,
        device: &B::Device,
    ) -> Result<(), OptimError> {
        let method: String = dict.parse("method")?;
        if method != self.config.method.name() {
            return Err(OptimError::State(format!(
                "the saved state is {method}'s, but the optimizer is {}",
                self.config.method.name()
            )));
        }
        let group_state = matrix_method::<B>(&self.config).and_then(|m| m.state_name());
        let mut state = OptimState::<B> {
            step: dict.parse("step")?,
            ..Default::default()
        };
        for name in dict.tensors.keys() {
            let (kind, key) = name
                .split_once('/')
                .ok_or_else(|| OptimError::State(format!("unexpected array `{name}`")))?;
            match kind {
                "momentum" => state
                    .momentum
                    .insert(key.into(), dict.tensor(name, device)?),
                "adamw_m1" => {
                    let moments = AdaptiveMomentumState::new(
                        dict.parse(&format!("adamw_time/{key}"))?,
                        dict.tensor(name, device)?,
                        dict.tensor(&format!("adamw_m2/{key}"), device)?,
                    );
                    state.adamw.insert(key.into(), AdamWState::new(moments));
                }
                "adamw_m2" => {}
                _ if Some(kind) == group_state => {
                    state.groups.insert(key.into(), dict.tensor(name, device)?);
                }
                _ => return Err(OptimError::State(format!("unexpected array `{name}`"))),
            }
        }
        self.state = state;
        Ok(())
    }
}

/// `a+b` for a stack of parameters `a`, `b`: the key of state owned by a group.
fn group_key(slots: &[ParamSlot], group: &[usize]) -> String {
    group
        .iter()
        .map(|&i| slots[i].path.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// Current values of the given matrix parameters, on the inner backend, as `[d_in, d_out]`.
fn matrix_values<AB: AutodiffBackend, M: AutodiffModule<AB>>(
    module: &M,
    slots: &[ParamSlot],
) -> HashMap<ParamId, Tensor<AB::InnerBackend, 2>> {
    struct Collect<'a, B: Backend> {
        wanted: &'a [ParamSlot],
        found: HashMap<ParamId, Tensor<B, 2>>,
    }
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for Collect<'_, AB::InnerBackend> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            if let Some(slot) = self.wanted.iter().find(|s| s.id == param.id) {
                let [rows, cols] = [slot.shape[0], slot.shape[1]];
                self.found
                    .insert(param.id, param.val().inner().reshape([rows, cols]));
            }
        }
    }
    let mut collect = Collect {
        wanted: slots,
        found: HashMap::new(),
    };
    module.visit(&mut collect);
    collect.found
}

/// Writes the new matrices and runs AdamW on the other parameters, keeping `require_grad`.
struct StepMapper<'a, B: Backend> {
    new_matrices: HashMap<ParamId, Tensor<B, 2>>,
    adamw_slots: HashMap<ParamId, ParamSlot>,
    grads: GradientsParams,
    config: &'a OptimizerConfig,
    state: &'a mut HashMap<String, AdamWState<B, 1>>,
    lr_factor: f64,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for StepMapper<'_, AB::InnerBackend> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let require_grad = tensor.is_require_grad();
        let updated = if let Some(matrix) = self.new_matrices.remove(&id) {
            Some(matrix.reshape(shape))
        } else if let (Some(slot), Some(grad)) = (
            self.adamw_slots.get(&id),
            self.grads.remove::<AB::InnerBackend, D>(id),
        ) {
            let (lr, weight_decay) = self.config.adamw_hyper(slot.role, slot.shape.len());
            let previous = self.state.remove(&slot.path);
            let (updated, state) = self.config.adamw.step(
                lr * self.lr_factor,
                weight_decay,
                tensor.clone().inner(),
                grad,
                previous,
            );
            if let Some(state) = state {
                self.state.insert(slot.path.clone(), state);
            }
            Some(updated)
        } else {
            None
        };
        let tensor = match updated {
            Some(inner) => {
                let tensor = Tensor::from_inner(inner);
                if require_grad {
                    tensor.require_grad()
                } else {
                    tensor
                }
            }
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}
