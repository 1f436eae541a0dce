//! The engine's weights and optimizer moments in a checkpoint, in the format the burn trainer
//! writes (`crate::checkpoint`, `SpectralOptimizer::state_dict`), so that either side resumes
//! the other's checkpoints:
//!
//! ```text
//! model/<name>          each parameter, burn's shape
//! optim/momentum/<name>  Muon's (TEON's) momentum buffer of a hidden matrix, [d_in, d_out]
//! optim/adamw_m1/<name>  AdamW's first moment, flattened [len]; adamw_m2/<name> the second
//! metadata: optim/method, optim/step, optim/adamw_time/<name> (AdamW's steps: the run's)
//! ```

use crate::checkpoint::MODEL;
use spectral::optim::Method;
use spectral::optim::state::StateDict;
use spectral_cuda::models::engine::{EngineOptimizer, Moments};
use spectral_cuda::params::{Group, ParamTable};

/// The engine's parameters (`(name, values)` as `Engine::params` returns them) as a
/// checkpoint's `model/<name>` entries with `table`'s shapes.
pub fn model_dict(table: &ParamTable, params: Vec<(String, Vec<f32>)>) -> StateDict {
    let mut dict = StateDict::default();
    for (param, (name, values)) in table.params().iter().zip(params) {
        debug_assert_eq!(param.name, name);
        dict.tensors
            .insert(format!("{MODEL}{name}"), (param.shape.clone(), values));
    }
    dict
}

/// A checkpoint's `model/…` entries as `(name, values)` for `Engine::set_params` (which names
/// any parameter that is missing or mis-sized).
pub fn model_values(dict: &StateDict) -> Vec<(String, Vec<f32>)> {
    dict.tensors
        .iter()
        .filter_map(|(key, (_, values))| {
            key.strip_prefix(MODEL)
                .map(|name| (name.to_string(), values.clone()))
        })
        .collect()
}

/// Whether `optimizer` trains parameters of `group` with Muon's (TEON's) momentum, and not
/// AdamW. TEON keeps one buffer per matrix as Muon does (burn splits its stacks when it
/// saves them), so the two write the same entries.
fn muon_trained(optimizer: &EngineOptimizer, group: Group) -> bool {
    optimizer.orthogonalizes() && group == Group::Matrix
}

/// The name of `optimizer`'s method in checkpoints.
fn method_name(optimizer: &EngineOptimizer) -> &'static str {
    match optimizer {
        EngineOptimizer::AdamW(_) => Method::AdamW,
        EngineOptimizer::Muon { .. } => Method::Muon,
        EngineOptimizer::Teon { .. } => Method::Teon,
    }
    .name()
}

/// The engine's moments after `step` steps as the optimizer state dict burn's
/// `SpectralOptimizer` writes and reads.
pub fn optimizer_dict(
    table: &ParamTable,
    optimizer: &EngineOptimizer,
    step: u64,
    moments: Vec<Moments>,
) -> StateDict {
    let mut dict = StateDict::default();
    dict.metadata
        .insert("method".into(), method_name(optimizer).into());
    dict.metadata.insert("step".into(), step.to_string());
    for (param, m) in table.params().iter().zip(moments) {
        debug_assert_eq!(param.name, m.name);
        let name = &param.name;
        if muon_trained(optimizer, param.group) {
            dict.tensors
                .insert(format!("momentum/{name}"), (param.shape.clone(), m.first));
        } else {
            let len = vec![param.len()];
            dict.tensors
                .insert(format!("adamw_m1/{name}"), (len.clone(), m.first));
            dict.tensors
                .insert(format!("adamw_m2/{name}"), (len, m.second));
            dict.metadata
                .insert(format!("adamw_time/{name}"), step.to_string());
        }
    }
    dict
}

/// A burn optimizer state dict (after `step` steps) as the engine's moments, or what does not
/// fit: another method's state, a missing or mis-sized entry, an AdamW step count that is not
/// the run's (the engine keeps one).
pub fn moments(
    dict: &StateDict,
    table: &ParamTable,
    optimizer: &EngineOptimizer,
    step: u64,
) -> Result<Vec<Moments>, String> {
    let method = dict
        .metadata
        .get("method")
        .map(String::as_str)
        .unwrap_or("none");
    if method != method_name(optimizer) {
        return Err(format!(
            "the checkpoint holds {method}'s optimizer state; the engine runs {}",
            method_name(optimizer)
        ));
    }
    let tensor = |key: String, len: usize| -> Result<Vec<f32>, String> {
        match dict.tensors.get(&key) {
            None => Err(format!("the optimizer state has no {key}")),
            Some((_, values)) if values.len() != len => Err(format!(
                "{key} holds {} values, the parameter {len}",
                values.len()
            )),
            Some((_, values)) => Ok(values.clone()),
        }
    };
    table
        .params()
        .iter()
        .map(|param| {
            let (name, len) = (&param.name, param.len());
            if muon_trained(optimizer, param.group) {
                return Ok(Moments {
                    name: name.clone(),
                    first: tensor(format!("momentum/{name}"), len)?,
                    second: vec![0.0; len],
                });
            }
            let time = dict.metadata.get(&format!("adamw_time/{name}"));
            if time.map(String::as_str) != Some(step.to_string().as_str()) {
                return Err(format!(
                    "AdamW's step count of {name} is {time:?}, the run's {step} (the engine keeps one)"
                ));
            }
            Ok(Moments {
                name: name.clone(),
                first: tensor(format!("adamw_m1/{name}"), len)?,
                second: tensor(format!("adamw_m2/{name}"), len)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::module_state;
    use crate::config::{ModelConfig, TrainConfig};
    use crate::engine::EnginePlan;
    use burn::backend::Autodiff;
    use burn::optim::GradientsParams;
    use burn::tensor::{Int, Tensor, TensorData};
    use spectral::device::{CpuBackend, materialized, seeded};
    use spectral::optim::SpectralOptimizer;
    use spectral_models::{Gpt, GptConfig, MemoryConfig, SpacingMdn, SpacingMdnConfig};

    type B = Autodiff<CpuBackend>;

    /// A small config of each model the engine runs.
    fn configs(method: Method) -> Vec<TrainConfig> {
        let gpt = GptConfig::new()
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(64)
            .with_block_size(16);
        let mdn = SpacingMdnConfig::new()
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(64)
            .with_block_size(16)
            .with_n_components(3)
            .with_memory(Some(MemoryConfig::new().with_n_slots(3)));
        [ModelConfig::Gpt(gpt), ModelConfig::SpacingMdn(mdn)]
            .into_iter()
            .map(|model| {
                let mut config = TrainConfig {
                    model,
                    batch_size: 2,
                    seq_len: 16,
                    device: "cuda".into(),
                    ..TrainConfig::default()
                };
                config.optimizer.method = method;
                config
            })
            .collect()
    }

    /// burn's model of `config` after one optimizer step on a batch of ones, with the
    /// optimizer's state: what a burn checkpoint of step 1 holds.
    fn burn_after_one_step(config: &TrainConfig) -> (StateDict, StateDict) {
        let device = Default::default();
        let mut optimizer = SpectralOptimizer::<CpuBackend>::new(config.optimizer.clone());
        let (b, t) = (config.batch_size, config.seq_len);
        let mut model_dict = StateDict::default();
        match &config.model {
            ModelConfig::Gpt(m) => {
                let model: Gpt<B> =
                    seeded::<B, _>(&device, 3, || materialized(m.init(&device).unwrap()));
                let ids = || {
                    Tensor::<B, 2, Int>::from_data(
                        TensorData::new(vec![1i64; b * t], [b, t]),
                        &device,
                    )
                };
                let loss = model.loss(ids(), ids()).unwrap();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let model = optimizer.step(1.0, model, grads).unwrap();
                module_state(&model, &mut model_dict);
            }
            ModelConfig::SpacingMdn(m) => {
                let model: SpacingMdn<B> =
                    seeded::<B, _>(&device, 3, || materialized(m.init(&device).unwrap()));
                let ones = || {
                    Tensor::<B, 2>::from_data(TensorData::new(vec![1f32; b * t], [b, t]), &device)
                };
                let loss = model.loss(ones(), ones()).unwrap();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                let model = optimizer.step(1.0, model, grads).unwrap();
                module_state(&model, &mut model_dict);
            }
        }
        (model_dict, optimizer.state_dict())
    }

    /// A burn checkpoint's model and optimizer state, read into the engine's tables and
    /// written back, is the same file's content: same names, shapes, values and metadata.
    /// This pins the engine's parameter groups to burn's routing (Muon's matrices, AdamW's
    /// rest) for both models and the three optimizers.
    #[test]
    fn a_burn_checkpoint_round_trips_through_the_engine_s_tables() {
        for method in [Method::Muon, Method::Teon, Method::AdamW] {
            for config in configs(method) {
                let plan = EnginePlan::of(&config).unwrap();
                let table = plan.model.params();
                let (model, optim) = burn_after_one_step(&config);
                let values = model_values(&model);
                // set_params takes the values by name; params() returns them in table order.
                let ordered: Vec<(String, Vec<f32>)> = table
                    .params()
                    .iter()
                    .map(|p| values.iter().find(|(n, _)| *n == p.name).unwrap().clone())
                    .collect();
                assert_eq!(model_dict(&table, ordered), model, "{method:?}");
                let moments = moments(&optim, &table, &plan.optimizer, 1).unwrap();
                assert_eq!(
                    optimizer_dict(&table, &plan.optimizer, 1, moments),
                    optim,
                    "{method:?}"
                );
            }
        }
    }

    #[test]
    fn state_that_does_not_fit_is_named() {
        let config = &configs(Method::Muon)[0];
        let plan = EnginePlan::of(config).unwrap();
        let table = plan.model.params();
        let (_, optim) = burn_after_one_step(config);
        let error = moments(&optim, &table, &plan.optimizer, 2).unwrap_err();
        assert!(error.contains("step count"), "{error}");
        let mut missing = optim.clone();
        missing.tensors.remove("momentum/blocks.0.attn.q.weight");
        let error = moments(&missing, &table, &plan.optimizer, 1).unwrap_err();
        assert!(error.contains("momentum/blocks.0.attn.q.weight"), "{error}");
        let adamw = EnginePlan::of(&configs(Method::AdamW)[0]).unwrap();
        let error = moments(&optim, &table, &adamw.optimizer, 1).unwrap_err();
        assert!(error.contains("muon"), "{error}");
        // Same entries, other method: refused, as burn refuses it.
        let teon = EnginePlan::of(&configs(Method::Teon)[0]).unwrap();
        let error = moments(&optim, &table, &teon.optimizer, 1).unwrap_err();
        assert!(error.contains("engine runs teon"), "{error}");
    }
}
