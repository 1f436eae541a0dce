//! Checkpoints: one safetensors file holding the model's parameters (`model/<path>`), the
//! optimizer's state (`optim/<name>`), and as metadata the step, the best validation loss and
//! the run's whole config (TOML). One file, written atomically (temporary file in the same
//! directory, then rename), so a crash leaves the previous checkpoint intact; readable from
//! Python with `safetensors.numpy.load_file`.
//!
//! The data position needs no state of its own: training windows are a pure function of
//! (seed, step) (`data::sampling`), so the step is the position.
//!
//! Safetensors has no checksum, so each array's CRC-32 (of its little-endian f32 bytes, as
//! stored) goes into the metadata as `crc32/<name>` (8 hex digits) and is checked on load: a
//! flipped byte in the data is an error naming the array, not a silently different model.
//! Checkpoints written before the checksums load unchecked. A model or optimizer state with a
//! NaN or an infinity is never written (the previous checkpoint stays the last good one) and
//! never loaded (a file from before this rule).

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
    #[error(
        "checkpoint {path} not written: `{array}` holds {value}; the file on disk is the last finite state"
    )]
    NonFinite {
        path: String,
        array: String,
        value: f32,
    },
}

/// Prefix of the checksum metadata keys.
const CRC32: &str = "crc32/";

/// CRC-32 of `values` as stored (little-endian f32).
fn crc32(values: &[f32]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    for v in values {
        hasher.update(&v.to_le_bytes());
    }
    hasher.finalize()
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
    for (name, (_, values)) in &dict.tensors {
        if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
            return Err(CheckpointError::NonFinite {
                path: path.display().to_string(),
                array: name.clone(),
                value,
            });
        }
    }
    let sums: Vec<(String, String)> = dict
        .tensors
        .iter()
        .map(|(name, (_, values))| (format!("{CRC32}{name}"), format!("{:08x}", crc32(values))))
        .collect();
    dict.metadata.extend(sums);
    let write_error = |message: String| CheckpointError::Write {
        path: path.display().to_string(),
        message,
    };
    let bytes = dict
        .to_safetensors()
        .map_err(|e| write_error(e.to_string()))?;
    spectral_io::write_atomic(path, &bytes).map_err(|e| write_error(e.to_string()))
}

/// Checks every array of a read file: its CRC-32 where the metadata records one (files
/// written before checksums have none), and that it holds no NaN or infinity. The message
/// names the array.
pub fn check_arrays(dict: &StateDict) -> Result<(), String> {
    for (name, (_, values)) in &dict.tensors {
        if let Some(stored) = dict.metadata.get(&format!("{CRC32}{name}")) {
            let actual = format!("{:08x}", crc32(values));
            if *stored != actual {
                return Err(format!(
                    "array `{name}` is corrupt: its data's CRC-32 is {actual}, the file says {stored}"
                ));
            }
        }
        if let Some(value) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "array `{name}` holds {value}: the run had diverged when this was written"
            ));
        }
    }
    Ok(())
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
    let dict = StateDict::from_safetensors(&bytes).map_err(|e| match e {
        spectral::optim::OptimError::State(message) => {
            invalid(format!("not a readable safetensors file ({message})"))
        }
        other => invalid(other.to_string()),
    })?;
    check_arrays(&dict).map_err(invalid)?;
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
        let error = load(&garbage).unwrap_err();
        assert!(matches!(error, CheckpointError::Invalid { .. }));
        assert!(
            error
                .to_string()
                .contains("not a readable safetensors file"),
            "{error}"
        );
        assert!(!error.to_string().contains("optimizer state"), "{error}");
    }

    fn saved_net(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("last.safetensors");
        let checkpoint = Checkpoint {
            step: 3,
            config_toml: "steps = 5\n".into(),
            ..Default::default()
        };
        save(&path, &net(&Default::default()), &checkpoint).unwrap();
        path
    }

    /// Every byte of the arrays' data is covered: flipping any one of them (here one in each
    /// array, the last byte of the file included) is an error naming the array.
    #[test]
    fn a_flipped_byte_in_the_data_is_caught_by_its_array_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_net(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        // The arrays in file order: layers.0.bias (4), layers.0.weight (12), layers.1.weight (8).
        for (offset, array) in [
            (header + 1, "model/layers.0.bias"),
            (header + 16 + 5, "model/layers.0.weight"),
            (bytes.len() - 1, "model/layers.1.weight"),
        ] {
            let mut corrupt = bytes.clone();
            corrupt[offset] ^= 0x10;
            let bad = dir.path().join("corrupt.safetensors");
            std::fs::write(&bad, &corrupt).unwrap();
            let error = load(&bad).unwrap_err().to_string();
            assert!(
                error.contains(&format!("`{array}` is corrupt")),
                "byte {offset}: {error}"
            );
        }
        load(&path).unwrap();
    }

    /// A file written before the checksums (no `crc32/` keys) still loads.
    #[test]
    fn checkpoints_without_checksums_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_net(dir.path());
        let mut dict = StateDict::from_safetensors(&std::fs::read(&path).unwrap()).unwrap();
        dict.metadata.retain(|key, _| !key.starts_with(CRC32));
        std::fs::write(&path, dict.to_safetensors().unwrap()).unwrap();
        let (model, saved) = load(&path).unwrap();
        assert_eq!((model.tensors.len(), saved.step), (3, 3));
    }

    #[test]
    fn a_non_finite_state_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_net(dir.path());
        let before = std::fs::read(&path).unwrap();
        let mut optimizer = StateDict::default();
        optimizer.tensors.insert(
            "momentum/layers.0.weight".into(),
            (vec![2], vec![1.0, f32::NAN]),
        );
        let checkpoint = Checkpoint {
            step: 4,
            config_toml: "steps = 5\n".into(),
            optimizer,
            ..Default::default()
        };
        let error = save(&path, &net(&Default::default()), &checkpoint).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`optim/momentum/layers.0.weight` holds NaN"),
            "{error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
