//! Optimizer state on disk: named f32 arrays plus string metadata, in the safetensors format
//! (readable from Python with `safetensors.numpy.load_file`).

use super::OptimError;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{BTreeMap, HashMap};

/// Named arrays (shape, row-major f32 values) and metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StateDict {
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    pub metadata: BTreeMap<String, String>,
}

impl StateDict {
    /// Copies a tensor to the host under `name`.
    pub fn insert_tensor<B: Backend, const D: usize>(
        &mut self,
        name: String,
        tensor: &Tensor<B, D>,
    ) {
        let data = tensor.to_data().convert::<f32>();
        let values = data.to_vec::<f32>().expect("converted to f32");
        self.tensors.insert(name, (data.shape.to_vec(), values));
    }

    /// The array `name` as a tensor on `device`.
    pub fn tensor<B: Backend, const D: usize>(
        &self,
        name: &str,
        device: &B::Device,
    ) -> Result<Tensor<B, D>, OptimError> {
        let (shape, values) = self
            .tensors
            .get(name)
            .ok_or_else(|| OptimError::State(format!("missing array `{name}`")))?;
        if shape.len() != D {
            return Err(OptimError::State(format!(
                "array `{name}` has shape {shape:?}, expected rank {D}"
            )));
        }
        Ok(Tensor::from_data(
            TensorData::new(values.clone(), shape.clone()),
            device,
        ))
    }

    /// The metadata entry `key` parsed as `T`.
    pub fn parse<T: std::str::FromStr>(&self, key: &str) -> Result<T, OptimError> {
        let text = self
            .metadata
            .get(key)
            .ok_or_else(|| OptimError::State(format!("missing metadata `{key}`")))?;
        text.parse()
            .map_err(|_| OptimError::State(format!("metadata `{key}` = {text:?} is malformed")))
    }

    /// Serializes to safetensors bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, OptimError> {
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, (shape, values))| {
                let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name.clone(), shape.clone(), raw)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, raw)| {
                TensorView::new(Dtype::F32, shape.clone(), raw).map(|view| (name.clone(), view))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| OptimError::State(e.to_string()))?;
        let metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        safetensors::serialize(views, Some(metadata)).map_err(|e| OptimError::State(e.to_string()))
    }

    /// Parses safetensors bytes (f32 arrays only).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, OptimError> {
        let invalid = |e: safetensors::SafeTensorError| OptimError::State(e.to_string());
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(invalid)?;
        let file = safetensors::SafeTensors::deserialize(bytes).map_err(invalid)?;
        let mut dict = StateDict {
            metadata: header
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            ..Default::default()
        };
        for (name, view) in file.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(OptimError::State(format!(
                    "array `{name}` is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            dict.tensors.insert(name, (view.shape().to_vec(), values));
        }
        Ok(dict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;

    #[test]
    fn safetensors_round_trip_is_exact() {
        let device = Default::default();
        let mut dict = StateDict::default();
        let t = Tensor::<CpuBackend, 2>::from_data(
            TensorData::from([[1.5f32, -0.0, f32::MIN_POSITIVE], [3.0, 1e-30, -7.25]]),
            &device,
        );
        dict.insert_tensor("momentum/blocks.0.attn.q.weight".into(), &t);
        dict.metadata.insert("step".into(), "42".into());
        let back = StateDict::from_safetensors(&dict.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, dict);
        assert_eq!(back.parse::<u64>("step").unwrap(), 42);
        let t2: Tensor<CpuBackend, 2> = back
            .tensor("momentum/blocks.0.attn.q.weight", &device)
            .unwrap();
        assert_eq!(t2.into_data(), t.into_data());
        assert!(back.tensor::<CpuBackend, 2>("missing", &device).is_err());
        assert!(
            back.tensor::<CpuBackend, 1>("momentum/blocks.0.attn.q.weight", &device)
                .is_err()
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(StateDict::from_safetensors(b"not a safetensors file").is_err());
        assert!(StateDict::from_safetensors(&[]).is_err());
    }
}
