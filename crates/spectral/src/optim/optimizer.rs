//! [`SpectralOptimizer`]: one optimizer for a whole burn module. Matrix parameters (by the
//! [group rules](super::groups)) get the chosen [`Method`]; every other parameter gets burn's
//! AdamW with the settings of its [`Role`]. All state is keyed by parameter path (not by
//! burn's random `ParamId`), so it survives a checkpoint round trip.

use super::groups::{ParamSlot, Role, param_groups, transformer_rules};
use super::manifold_muon::{ManifoldMuonConfig, manifold_muon_step};
use super::muon::{MuonConfig, apply_update, group_indices, momentum_direction, msign_all};
use super::shard::{MatrixExchange, Shard, SingleDevice, assign_owners, shaping_cost};
use super::spectra::{SpectraConfig, spectra_direction};
use super::state::StateDict;
use super::teon::{TeonConfig, split_mode1, stack_mode1, teon_groups};
use super::{GroupRule, OptimError};
use crate::linalg::{msign, msign_batched};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, GradientsParams, SimpleOptimizer,
};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The optimizer of the matrix parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[serde(rename = "adamw")]
    AdamW,
    Muon,
    Teon,
    Spectra,
    SpectraTeon,
    ManifoldMuon,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::AdamW,
        Method::Muon,
        Method::Teon,
        Method::Spectra,
        Method::SpectraTeon,
        Method::ManifoldMuon,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::AdamW => "adamw",
            Method::Muon => "muon",
            Method::Teon => "teon",
            Method::Spectra => "spectra",
            Method::SpectraTeon => "spectra_teon",
            Method::ManifoldMuon => "manifold_muon",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown optimizer {text:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// AdamW for the parameters that are not matrices (all of them when `method = "adamw"`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWSettings {
    /// Peak learning rate per step of the non-matrix parameters.
    pub lr: f64,
    pub beta1: f64,
    /// 0.95, the usual choice for transformers (GPT-2, nanoGPT), rather than 0.999.
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay of 2-D non-matrix parameters (embeddings, heads, memory);
    /// norms and biases get none unless a role override says so.
    pub weight_decay: f64,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        }
    }
}

/// A role's own learning rate and weight decay, overriding [`AdamWSettings`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleOverride {
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
}

/// Everything the optimizer needs; a TOML table (`[optimizer]`) in the training configs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Optimizer of the matrix parameters.
    pub method: Method,
    /// Peak learning rate per step of the matrix parameters. Scale by method: Muon, TEON
    /// (Keller Jordan scaling) and ManifoldMuon ~0.02; Spectra, SpectraTeon, AdamW and
    /// Moonlight-scaled Muon ~1e-3 (their updates have AdamW's RMS).
    pub lr: f64,
    pub adamw: AdamWSettings,
    pub muon: MuonConfig,
    pub teon: TeonConfig,
    pub spectra: SpectraConfig,
    pub manifold_muon: ManifoldMuonConfig,
    /// Per-role learning rate and weight decay for the AdamW roles.
    pub roles: BTreeMap<Role, RoleOverride>,
    /// Ordered routing rules; the default fits this workspace's transformers.
    pub rules: Vec<GroupRule>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            method: Method::Muon,
            lr: 0.02,
            adamw: AdamWSettings::default(),
            muon: MuonConfig::default(),
            teon: TeonConfig::default(),
            spectra: SpectraConfig::default(),
            manifold_muon: ManifoldMuonConfig::default(),
            roles: BTreeMap::new(),
            rules: transformer_rules(),
        }
    }
}

impl OptimizerConfig {
    /// Learning rate and weight decay of an AdamW-trained parameter.
    fn adamw_hyper(&self, role: Role, rank: usize) -> (f64, f64) {
        let over = self.roles.get(&role).copied().unwrap_or_default();
        let default_lr = if role == Role::Matrix {
            self.lr
        } else {
            self.adamw.lr
        };
        let default_decay = if rank >= 2 {
            self.adamw.weight_decay
        } else {
            0.0
        };
        (
            over.lr.unwrap_or(default_lr),
            over.weight_decay.unwrap_or(default_decay),
        )
    }
}

/// Momenta, subspace caches, dual variables and AdamW moments, by parameter path.
struct OptimState<B: Backend> {
    step: u64,
    /// Momentum buffer of each matrix parameter.
    momentum: HashMap<String, Tensor<B, 2>>,
    /// Momentum buffers of same-shape matrices that Muon and TEON step as one stack
    /// ([`SpectralOptimizer::muon_by_shape`]): the members' `[d_in, d_out]` buffers concatenated
    /// along rows, `[k·d_in, d_out]`, keyed by their paths joined with `+`.
    momentum_stacks: HashMap<String, Tensor<B, 2>>,
    /// Spectra's cached right singular subspace, by group key (the member paths joined by `+`).
    v_cache: HashMap<String, Tensor<B, 2>>,
    /// Manifold Muon's dual variable, by parameter path.
    lambda: HashMap<String, Tensor<B, 2>>,
    /// AdamW state of each AdamW-trained parameter, flattened to 1-D (AdamW is elementwise).
    adamw: HashMap<String, AdamWState<B, 1>>,
}

impl<B: Backend> Default for OptimState<B> {
    fn default() -> Self {
        Self {
            step: 0,
            momentum: HashMap::new(),
            momentum_stacks: HashMap::new(),
            v_cache: HashMap::new(),
            lambda: HashMap::new(),
            adamw: HashMap::new(),
        }
    }
}

impl<B: Backend> OptimState<B> {
    /// The momentum stack `key` of members `paths`, each `[d_in, d_out]`: the stack a previous
    /// step left, else the members' own buffers stacked (zeros for a member without one: the
    /// same first step as no buffer), else `None` when no member has a buffer.
    fn take_momentum_stack(
        &mut self,
        key: &str,
        paths: &[&str],
        shape: [usize; 2],
    ) -> Option<Tensor<B, 2>> {
        if let Some(stack) = self.momentum_stacks.remove(key) {
            return Some(stack);
        }
        self.unstack_momentum();
        let parts: Vec<Option<Tensor<B, 2>>> =
            paths.iter().map(|&p| self.momentum.remove(p)).collect();
        let device = parts.iter().flatten().next()?.device();
        let parts = parts
            .into_iter()
            .map(|p| p.unwrap_or_else(|| Tensor::zeros(shape, &device)))
            .collect();
        Some(stack_mode1(parts))
    }

    /// Splits every momentum stack back into its members' buffers.
    fn unstack_momentum(&mut self) {
        for (key, stack) in std::mem::take(&mut self.momentum_stacks) {
            for (path, part) in split_stack(&key, stack) {
                self.momentum.insert(path.to_string(), part);
            }
        }
    }
}

/// A stack `[k·d_in, d_out]` keyed `p1+…+pk` as its members' `(path, [d_in, d_out])`.
fn split_stack<B: Backend>(key: &str, stack: Tensor<B, 2>) -> Vec<(&str, Tensor<B, 2>)> {
    let paths: Vec<&str> = key.split('+').collect();
    let k = paths.len();
    paths.into_iter().zip(split_mode1(stack, k)).collect()
}

/// The optimizer. `B` is the inner (non-autodiff) backend the parameters live on.
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
        let spectral = self.config.method != Method::AdamW;
        let matrix_slots: Vec<ParamSlot> = slots
            .iter()
            .filter(|s| spectral && s.role == Role::Matrix)
            .cloned()
            .collect();
        let mut new_matrices = HashMap::new();
        if !matrix_slots.is_empty() {
            let weights = matrix_values::<AB, M>(&module, &matrix_slots);
            let mut grads_2d = HashMap::new();
            for slot in &matrix_slots {
                if let Some(grad) = grads.remove::<B, 2>(slot.id) {
                    grads_2d.insert(slot.id, grad);
                }
            }
            new_matrices =
                self.matrix_step(lr_factor, &matrix_slots, weights, grads_2d, shard, exchange)?;
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

    /// New values of the matrix parameters that have gradients; each group is shaped on its
    /// owner among `shard.world` devices and shared through `exchange`.
    fn matrix_step(
        &mut self,
        lr_factor: f64,
        slots: &[ParamSlot],
        mut weights: HashMap<ParamId, Tensor<B, 2>>,
        mut grads: HashMap<ParamId, Tensor<B, 2>>,
        shard: Shard,
        exchange: &mut impl MatrixExchange<B>,
    ) -> Result<HashMap<ParamId, Tensor<B, 2>>, OptimError> {
        let config = self.config.clone();
        let lr = config.lr * lr_factor;
        let (momentum, nesterov) = match config.method {
            Method::Muon | Method::Teon => (config.muon.momentum, config.muon.nesterov),
            Method::Spectra | Method::SpectraTeon => {
                (config.spectra.momentum, config.spectra.nesterov)
            }
            Method::ManifoldMuon => (config.manifold_muon.momentum, config.manifold_muon.nesterov),
            Method::AdamW => unreachable!("AdamW matrices go through the mapper"),
        };
        // Only matrices with a gradient take part; group indices point into this list.
        let slots: Vec<ParamSlot> = slots
            .iter()
            .filter(|s| grads.contains_key(&s.id))
            .cloned()
            .collect();
        let slots = slots.as_slice();
        let groups: Vec<Vec<usize>> = match config.method {
            Method::Teon | Method::SpectraTeon => teon_groups(slots, &config.teon),
            _ => (0..slots.len()).map(|i| vec![i]).collect(),
        };
        let muon_like = matches!(config.method, Method::Muon | Method::Teon);
        if muon_like && shard.world == 1 && config.muon.stack_by_shape {
            return Ok(self.muon_by_shape(lr, slots, &groups, weights, grads));
        }
        // Buffers a one-device Muon or TEON step left stacked go back to one per matrix.
        self.state.unstack_momentum();
        // Momentum per matrix, then one direction per group (stacked for TEON).
        let mut directions = Vec::with_capacity(groups.len());
        for group in &groups {
            let mut parts = Vec::with_capacity(group.len());
            for &i in group {
                let slot = &slots[i];
                let grad = grads
                    .remove(&slot.id)
                    .expect("grouped only matrices with gradients");
                let previous = self.state.momentum.remove(&slot.path);
                let (buffer, direction) = momentum_direction(previous, grad, momentum, nesterov);
                self.state.momentum.insert(slot.path.clone(), buffer);
                parts.push(direction);
            }
            directions.push(if parts.len() == 1 {
                parts.pop().expect("one")
            } else {
                stack_mode1(parts)
            });
        }
        let costs: Vec<f64> = directions
            .iter()
            .map(|d| {
                let [rows, cols] = d.dims();
                shaping_cost(rows, cols)
            })
            .collect();
        let owners = assign_owners(&costs, shard.world);
        let mine = |g: usize| owners[g] == shard.rank;
        let mut out = HashMap::new();
        match config.method {
            Method::Muon | Method::Teon => {
                // This device's groups, orthogonalized in one batch per shape.
                let owned: Vec<usize> = (0..groups.len()).filter(|&g| mine(g)).collect();
                let mut directions: Vec<Option<Tensor<B, 2>>> =
                    directions.into_iter().map(Some).collect();
                let owned_directions = owned
                    .iter()
                    .map(|&g| directions[g].take().expect("each group once"))
                    .collect();
                let mut shaped: HashMap<usize, Tensor<B, 2>> = owned
                    .into_iter()
                    .zip(msign_all(owned_directions, config.muon.msign))
                    .collect();
                for (g, group) in groups.iter().enumerate() {
                    let update = exchange.share(owners[g], shaped.remove(&g))?;
                    let k = group.len();
                    for (&i, part) in group.iter().zip(split_mode1(update, k)) {
                        let slot = &slots[i];
                        let scale = (k as f64).sqrt()
                            * config.muon.scaling.factor(slot.shape[0], slot.shape[1]);
                        let weight = weights.remove(&slot.id).expect("weight collected");
                        out.insert(
                            slot.id,
                            apply_update(weight, part, lr, scale, config.muon.weight_decay),
                        );
                    }
                }
            }
            Method::Spectra | Method::SpectraTeon => {
                for (g, (group, direction)) in groups.iter().zip(directions).enumerate() {
                    let key = group_key(slots, group);
                    let cache = self.state.v_cache.remove(&key);
                    let (update, v) = if mine(g) {
                        let (update, v) = spectra_direction(direction, &config.spectra, cache);
                        (Some(update), Some(v))
                    } else {
                        (None, None)
                    };
                    let update = exchange.share(owners[g], update)?;
                    let v = exchange.share(owners[g], v)?;
                    self.state.v_cache.insert(key, v);
                    for (&i, part) in group.iter().zip(split_mode1(update, group.len())) {
                        let slot = &slots[i];
                        let weight = weights.remove(&slot.id).expect("weight collected");
                        let scale = config.spectra.rms_target;
                        out.insert(
                            slot.id,
                            apply_update(weight, part, lr, scale, config.spectra.weight_decay),
                        );
                    }
                }
            }
            Method::ManifoldMuon => {
                for (g, (group, direction)) in groups.iter().zip(directions).enumerate() {
                    let slot = &slots[group[0]];
                    let weight = weights.remove(&slot.id).expect("weight collected");
                    let lambda = self.state.lambda.remove(&slot.path);
                    let (weight, lambda) = if mine(g) {
                        let step = manifold_muon_step(
                            weight,
                            direction,
                            lambda,
                            lr,
                            &config.manifold_muon,
                        );
                        (Some(step.weight), Some(step.lambda))
                    } else {
                        (None, None)
                    };
                    let weight = exchange.share(owners[g], weight)?;
                    let lambda = exchange.share(owners[g], lambda)?;
                    self.state.lambda.insert(slot.path.clone(), lambda);
                    out.insert(slot.id, weight);
                }
            }
            Method::AdamW => unreachable!(),
        }
        Ok(out)
    }

    /// Muon and TEON on one device, the `groups` of each shape stepped as one stack (TEON's
    /// mode-1 layout): the `n` groups of `k` matrices of burn shape `[d_in, d_out]` (`k = 1` for
    /// Muon, each TEON group a stack `[k·d_in, d_out]`) form one `[n·k·d_in, d_out]` stack, with
    /// one momentum update, one batched `msign` over the `n` groups and one weight update. The
    /// arithmetic is the one-group-at-a-time step's, element for element (the same batches
    /// reach `msign_batched`); what changes is that the host queues a few operations per shape
    /// rather than ~10 per matrix, which is what a GPU step waits on.
    fn muon_by_shape(
        &mut self,
        lr: f64,
        slots: &[ParamSlot],
        groups: &[Vec<usize>],
        mut weights: HashMap<ParamId, Tensor<B, 2>>,
        mut grads: HashMap<ParamId, Tensor<B, 2>>,
    ) -> HashMap<ParamId, Tensor<B, 2>> {
        let muon = self.config.muon;
        let shapes = groups
            .iter()
            .map(|g| (g.len(), slots[g[0]].shape[0], slots[g[0]].shape[1]));
        let mut out = HashMap::new();
        for ((k, d_in, d_out), same_shape) in group_indices(shapes) {
            let n = same_shape.len();
            let members: Vec<usize> = same_shape
                .iter()
                .flat_map(|&g| groups[g].iter().copied())
                .collect();
            let paths: Vec<&str> = members.iter().map(|&i| slots[i].path.as_str()).collect();
            let key = group_key(slots, &members);
            let take = |map: &mut HashMap<ParamId, Tensor<B, 2>>| {
                let parts = members
                    .iter()
                    .map(|&i| map.remove(&slots[i].id).expect("a matrix with a gradient"))
                    .collect();
                stack_mode1(parts) // [n·k·d_in, d_out]
            };
            let grad = take(&mut grads);
            let previous = self.state.take_momentum_stack(&key, &paths, [d_in, d_out]);
            let (buffer, direction) =
                momentum_direction(previous, grad, muon.momentum, muon.nesterov);
            self.state.momentum_stacks.insert(key, buffer);
            let update = if n == 1 {
                msign(direction, muon.msign)
            } else {
                let batch = direction.reshape([n, k * d_in, d_out]);
                msign_batched(batch, muon.msign).reshape([n * k * d_in, d_out])
            };
            let scale = (k as f64).sqrt() * muon.scaling.factor(d_in, d_out);
            let weight = apply_update(take(&mut weights), update, lr, scale, muon.weight_decay);
            for (&i, part) in members.iter().zip(split_mode1(weight, n * k)) {
                out.insert(slots[i].id, part);
            }
        }
        out
    }

    /// All state, for a checkpoint.
    pub fn state_dict(&self) -> StateDict {
        let mut dict = StateDict::default();
        dict.metadata
            .insert("method".into(), self.config.method.name().into());
        dict.metadata
            .insert("step".into(), self.state.step.to_string());
        for (path, t) in &self.state.momentum {
            dict.insert_tensor(format!("momentum/{path}"), t);
        }
        for (key, stack) in &self.state.momentum_stacks {
            for (path, t) in split_stack(key, stack.clone()) {
                dict.insert_tensor(format!("momentum/{path}"), &t);
            }
        }
        for (key, t) in &self.state.v_cache {
            dict.insert_tensor(format!("v_cache/{key}"), t);
        }
        for (path, t) in &self.state.lambda {
            dict.insert_tensor(format!("lambda/{path}"), t);
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
        let mut state = OptimState::<B> {
            step: dict.parse("step")?,
            ..Default::default()
        };
        for name in dict.tensors.keys() {
            let (kind, key) = name
                .split_once('/')
                .ok_or_else(|| OptimError::State(format!("unexpected array `{name}`")))?;
            match kind {
                "momentum" => {
                    state
                        .momentum
                        .insert(key.into(), dict.tensor(name, device)?);
                }
                "v_cache" => {
                    state.v_cache.insert(key.into(), dict.tensor(name, device)?);
                }
                "lambda" => {
                    state.lambda.insert(key.into(), dict.tensor(name, device)?);
                }
                "adamw_m1" => {
                    let moments = AdaptiveMomentumState::new(
                        dict.parse(&format!("adamw_time/{key}"))?,
                        dict.tensor(name, device)?,
                        dict.tensor(&format!("adamw_m2/{key}"), device)?,
                    );
                    state.adamw.insert(key.into(), AdamWState::new(moments));
                }
                "adamw_m2" => {}
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
            let adamw: AdamW = AdamWConfig::new()
                .with_beta_1(self.config.adamw.beta1 as f32)
                .with_beta_2(self.config.adamw.beta2 as f32)
                .with_epsilon(self.config.adamw.eps as f32)
                .with_weight_decay(weight_decay as f32)
                .build();
            let numel = shape.num_elements();
            let previous = self.state.remove(&slot.path);
            let (flat, state) = adamw.step(
                lr * self.lr_factor,
                tensor.clone().inner().reshape([numel]),
                grad.reshape([numel]),
                previous,
            );
            if let Some(state) = state {
                self.state.insert(slot.path.clone(), state);
            }
            Some(flat.reshape(shape))
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
