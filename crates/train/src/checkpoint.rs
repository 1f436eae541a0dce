//! Checkpoints: one safetensors file holding the model's parameters (`model/<path>`), the
//! optimizer's state (`optim/<name>`), and as metadata the step, the best validation loss and
//! the run's whole config (TOML). One file, written atomically (temporary file in the same
//! directory, then rename), so a crash leaves the previous checkpoint intact; readable from
//! Python with `safetensors.numpy.load_file`.
//!
//! The data position needs no state of its own: training windows are a pure function of
//! (seed, step) (`data::sampling`), so the step is the position.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use spectral::optim::state::StateDict;
use std::path::Path;

/// What can go wrong reading or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("reading checkpoint {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("writing checkpoint {path}: {message}")]
    Write { path: String, message: String },
    #[error("checkpoint {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Prefixes of the two parts of a checkpoint.
pub const MODEL: &str = "model/";
const OPTIM: &str = "optim/";

/// Every float parameter of `module` under `model/<dotted path>`.
pub fn module_state<B: Backend, M: Module<B>>(module: &M, dict: &mut StateDict) {
    struct Export<'a> {
        path: Vec<String>,
        dict: &'a mut StateDict,
    }
    impl<B: Backend> ModuleVisitor<B> for Export<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let name = format!("{MODEL}{}", self.path.join("."));
            self.dict.insert_tensor(name, &param.val());
        }
    }
    module.visit(&mut Export {
        path: Vec::new(),
        dict,
    });
}

/// `module` with every float parameter replaced by `model/<path>` from `dict` (same shape
/// required; `require_grad` kept). Fails naming the first missing or mis-shaped parameter,
/// and on arrays in the dict that the module does not have.
pub fn load_module_state<B: Backend, M: Module<B>>(
    module: M,
    dict: &StateDict,
) -> Result<M, String> {
    struct Import<'a> {
        path: Vec<String>,
        dict: &'a StateDict,
        used: usize,
        error: Option<String>,
    }
    impl<B: Backend> ModuleMapper<B> for Import<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let name = format!("{MODEL}{}", self.path.join("."));
            let want: Vec<usize> = tensor.dims().to_vec();
            let loaded = match self.dict.tensors.get(&name) {
                None => Err(format!("parameter `{name}` is missing")),
                Some((shape, _)) if *shape != want => Err(format!(
                    "parameter `{name}` has shape {shape:?} in the file, {want:?} in the model"
                )),
                Some((shape, values)) => Ok(Tensor::<B, D>::from_data(
                    TensorData::new(values.clone(), shape.clone()),
                    &tensor.device(),
                )),
            };
            let tensor = match loaded {
                Ok(value) => {
                    self.used += 1;
                    if tensor.is_require_grad() {
                        value.require_grad()
                    } else {
                        value
                    }
                }
                Err(message) => {
                    self.error.get_or_insert(message);
                    tensor
                }
            };
            Param::from_mapped_value(id, tensor, mapper)
        }
    }
    let mut import = Import {
        path: Vec::new(),
        dict,
        used: 0,
        error: None,
    };
    let module = module.map(&mut import);
    if let Some(error) = import.error {
        return Err(error);
    }
    let in_file = dict.tensors.keys().filter(|k| k.starts_with(MODEL)).count();
    if in_file != import.used {
        return Err(format!(
            "the file has {in_file} model parameters, the model {}",
            import.used
        ));
    }
    Ok(module)
}

/// A checkpoint's contents apart from the model: optimizer state and run metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Steps completed.
    pub step: u64,
    /// Best validation loss so far (nats), if any evaluation ran.
    pub best_val_loss: Option<f64>,
    /// The run's config, TOML.
    pub config_toml: String,
    /// The optimizer's state dict.
    pub optimizer: StateDict,
}

/// Writes `model` and `checkpoint` to `path` atomically.
pub fn save<B: Backend, M: Module<B>>(
    path: &Path,
    model: &M,
    checkpoint: &Checkpoint,
) -> Result<(), CheckpointError> {
    let mut dict = StateDict::default();
    module_state(model, &mut dict);
    save_state(path, dict, checkpoint)
}

/// Writes a model's parameters (`model`: `model/<path>` entries, as [`module_state`] makes
/// them) and `checkpoint` to `path` atomically: [`save`] for a model that is not a burn
/// module (the CUDA engine's).
pub fn save_state(
    path: &Path,
    model: StateDict,
    checkpoint: &Checkpoint,
) -> Result<(), CheckpointError> {
    let mut dict = model;
    for (name, tensor) in &checkpoint.optimizer.tensors {
        dict.tensors
            .insert(format!("{OPTIM}{name}"), tensor.clone());
    }
    for (key, value) in &checkpoint.optimizer.metadata {
        dict.metadata.insert(format!("{OPTIM}{key}"), value.clone());
    }
    dict.metadata
        .insert("step".into(), checkpoint.step.to_string());
    if let Some(loss) = checkpoint.best_val_loss {
        dict.metadata
            .insert("best_val_loss".into(), format!("{loss:e}"));
    }
    dict.metadata
        .insert("config".into(), checkpoint.config_toml.clone());
    let write_error = |message: String| CheckpointError::Write {
        path: path.display().to_string(),
        message,
    };
    let bytes = dict
        .to_safetensors()
        .map_err(|e| write_error(e.to_string()))?;
    spectral_io::write_atomic(path, &bytes).map_err(|e| write_error(e.to_string()))
}

/// Reads a checkpoint: the model part (apply with [`load_module_state`]) and the rest.
pub fn load(path: &Path) -> Result<(StateDict, Checkpoint), CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let invalid = |message: String| CheckpointError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let dict = StateDict::from_safetensors(&bytes).map_err(|e| invalid(e.to_string()))?;
    let mut model = StateDict::default();
    let mut optimizer = StateDict::default();
    for (name, tensor) in dict.tensors.iter() {
        if name.starts_with(MODEL) {
            model.tensors.insert(name.clone(), tensor.clone());
        } else if let Some(rest) = name.strip_prefix(OPTIM) {
            optimizer.tensors.insert(rest.to_string(), tensor.clone());
        } else {
            return Err(invalid(format!("unexpected array `{name}`")));
        }
    }
    for (key, value) in &dict.metadata {
        if let Some(rest) = key.strip_prefix(OPTIM) {
            optimizer.metadata.insert(rest.to_string(), value.clone());
        }
    }
    let step = dict.parse("step").map_err(|e| invalid(e.to_string()))?;
    let best_val_loss = match dict.metadata.get("best_val_loss") {
        Some(text) => Some(
            text.parse()
                .map_err(|_| invalid(format!("best_val_loss {text:?}")))?,
        ),
        None => None,
    };
    let config_toml = dict
        .metadata
        .get("config")
        .cloned()
        .ok_or_else(|| invalid("no config in the metadata".into()))?;
    Ok((
        model,
        Checkpoint {
            step,
            best_val_loss,
            config_toml,
            optimizer,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use spectral::CpuBackend;

    #[derive(Module, Debug)]
    struct Net<B: Backend> {
        layers: Vec<Linear<B>>,
    }

    fn net(
        device: &<CpuBackend as burn::tensor::backend::BackendTypes>::Device,
    ) -> Net<CpuBackend> {
        spectral::device::seeded::<CpuBackend, _>(device, 0, || {
            spectral::device::materialized(Net {
                layers: vec![
                    LinearConfig::new(3, 4).init(device),
                    LinearConfig::new(4, 2).with_bias(false).init(device),
                ],
            })
        })
    }

    #[test]
    fn save_then_load_restores_every_parameter_exactly() {
        let device = Default::default();
        let original = net(&device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        let mut optimizer = StateDict::default();
        optimizer.metadata.insert("method".into(), "muon".into());
        optimizer.insert_tensor(
            "momentum/layers.0.weight".into(),
            &original.layers[0].weight.val(),
        );
        let checkpoint = Checkpoint {
            step: 17,
            best_val_loss: Some(1.25),
            config_toml: "steps = 20\n".into(),
            optimizer,
        };
        save(&path, &original, &checkpoint).unwrap();
        let (model_dict, loaded) = load(&path).unwrap();
        assert_eq!(loaded, checkpoint);
        let restored = load_module_state(net(&device), &model_dict).unwrap();
        for (a, b) in original.layers.iter().zip(&restored.layers) {
            assert_eq!(a.weight.val().into_data(), b.weight.val().into_data());
            assert_eq!(
                a.bias.as_ref().map(|b| b.val().into_data()),
                b.bias.as_ref().map(|b| b.val().into_data())
            );
        }
        let names: Vec<&String> = model_dict.tensors.keys().collect();
        assert_eq!(
            names,
            [
                "model/layers.0.bias",
                "model/layers.0.weight",
                "model/layers.1.weight"
            ]
        );
    }

    #[test]
    fn a_model_of_another_shape_is_refused_by_name() {
        let device = Default::default();
        let mut dict = StateDict::default();
        module_state(&net(&device), &mut dict);
        let other = spectral::device::seeded::<CpuBackend, _>(&device, 1, || {
            spectral::device::materialized(Net::<CpuBackend> {
                layers: vec![
                    LinearConfig::new(3, 5).init(&device),
                    LinearConfig::new(5, 2).init(&device),
                ],
            })
        });
        let error = load_module_state(other, &dict).unwrap_err();
        assert!(error.contains("model/layers.0.weight"), "{error}");
    }

    #[test]
    fn a_missing_file_and_garbage_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.safetensors");
        assert!(
            load(&missing)
                .unwrap_err()
                .to_string()
                .contains("none.safetensors")
        );
        let garbage = dir.path().join("garbage.safetensors");
        std::fs::write(&garbage, b"garbage").unwrap();
        assert!(matches!(
            load(&garbage),
            Err(CheckpointError::Invalid { .. })
        ));
    }
}
