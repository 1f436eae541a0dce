//! Initializing a whole burn module: every `Linear` weight (`[d_in, d_out]`) and every
//! `Conv2d` weight (`[out, in/groups, k₁, k₂]`, treated as the PyTorch-layout matrix
//! `[out, in·k₁·k₂]`, i.e. fan_in = `in·k₁·k₂`) is redrawn by an [`Init`]; their biases are set
//! to zero. Other parameters (embeddings, norms) are left as they are.
//!
//! Layers are recognised by the container burn reports when the mapper enters them
//! (`Struct:Linear`, `Struct:Conv2d`) and the field name (`weight`, `bias`); each layer's
//! seed is split off the caller's seed by its dotted path, so the result does not depend on
//! the visiting order or on which other layers exist.

use std::marker::PhantomData;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{Init, init_matrix, split_seed};
use crate::linalg::exact::from_faer;

/// FNV-1a of a parameter path: the per-layer seed offset.
fn path_hash(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct InitMapper<B, F> {
    init: Init,
    seed: u64,
    keep: F,
    /// (name, owning container type) of every field entered so far.
    path: Vec<(String, String)>,
    _backend: PhantomData<B>,
}

impl<B, F> InitMapper<B, F> {
    /// (layer kind, field name, dotted path of the parameter).
    fn current(&self) -> (&str, &str, String) {
        // burn reports each entry as (field name, type of the struct that owns the field).
        let (field, kind) = self
            .path
            .last()
            .map_or(("", ""), |(name, owner)| (name.as_str(), owner.as_str()));
        let joined = self
            .path
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        (kind, field, joined)
    }
}

impl<B: Backend, F: FnMut(&str) -> bool> ModuleMapper<B> for InitMapper<B, F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path
            .push((name.to_string(), container_type.to_string()));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let (kind, field, path) = self.current();
        let (kind, field) = (kind.to_string(), field.to_string());
        let is_layer = kind == "Struct:Linear" || kind == "Struct:Conv2d";
        if !is_layer || !(self.keep)(&path) {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let dims = tensor.dims();
        let device = tensor.device();
        let seed = split_seed(self.seed, path_hash(&path));
        let fresh: Option<Tensor<B, D>> = match (kind.as_str(), field.as_str(), D) {
            (_, "bias", _) => Some(Tensor::zeros(dims, &device)),
            ("Struct:Linear", "weight", 2) => {
                let w = init_matrix(self.init, dims[0], dims[1], seed); // [d_in, d_out]
                Some(from_faer::<B>(&w, &device).reshape(dims))
            }
            ("Struct:Conv2d", "weight", 4) => {
                let fan_in = dims[1] * dims[2] * dims[3];
                let w = init_matrix(self.init, fan_in, dims[0], seed); // [in·k·k, out]
                // [out, in·k·k] → [out, in, k₁, k₂]
                Some(from_faer::<B>(&w, &device).transpose().reshape(dims))
            }
            _ => None,
        };
        let value = match fresh {
            Some(t) if tensor.is_require_grad() => t.require_grad(),
            Some(t) => t,
            None => tensor,
        };
        Param::from_mapped_value(id, value, mapper)
    }
}

/// `module` with every Linear and Conv2d weight redrawn by `init` (seeded per layer from
/// `seed` and the layer's path) and their biases zeroed (module doc).
pub fn apply_init<B: Backend, M: Module<B>>(module: M, init: Init, seed: u64) -> M {
    apply_init_where(module, init, seed, |_| true)
}

/// [`apply_init`] restricted to the layers whose parameter paths (`blocks.0.attn.q.weight`)
/// `keep` accepts; e.g. to leave zero-initialized readouts alone.
pub fn apply_init_where<B: Backend, M: Module<B>>(
    module: M,
    init: Init,
    seed: u64,
    keep: impl FnMut(&str) -> bool,
) -> M {
    let mut mapper = InitMapper {
        init,
        seed,
        keep,
        path: Vec::new(),
        _backend: PhantomData::<B>,
    };
    module.map(&mut mapper)
}

/// The notes' `apply_m23_init`: [`apply_init`] with M23-Spectrum at its seed scale.
pub fn apply_m23_init<B: Backend, M: Module<B>>(module: M, seed: u64) -> M {
    apply_init(module, Init::M23Seed, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;
    use crate::init::m23::M23Scale;
    use crate::init::m23_singular_values;
    use crate::linalg::exact::{singular_values, to_faer};
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};

    type B = CpuBackend;

    #[derive(Module, Debug)]
    struct Net<B: Backend> {
        lin: Linear<B>,
        conv: Conv2d<B>,
        norm: LayerNorm<B>,
        emb: Embedding<B>,
    }

    fn net() -> Net<B> {
        let device = Default::default();
        Net {
            lin: LinearConfig::new(8, 20).init(&device),
            conv: Conv2dConfig::new([3, 4], [3, 3]).init(&device),
            norm: LayerNormConfig::new(8).init(&device),
            emb: EmbeddingConfig::new(5, 8).init(&device),
        }
    }

    fn sorted_desc(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(|a, b| b.total_cmp(a));
        v
    }

    fn assert_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn m23_reaches_linear_and_conv_in_their_layouts() {
        let before = net();
        let norm_before = before.norm.gamma.val().into_data();
        let emb_before = before.emb.weight.val().into_data();
        let ids = (before.lin.weight.id, before.conv.weight.id);
        let after = apply_init(before, Init::M23Seed, 7);

        // Linear [d_in = 8, d_out = 20]: singular values = M23 moduli scaled by √(2/8);
        // f32 storage limits agreement to ~1e-7 relative.
        let lin = to_faer(after.lin.weight.val());
        let want = sorted_desc(m23_singular_values(8, 20, M23Scale::Seed));
        assert_close(&singular_values(&lin).unwrap(), &want, 1e-6);
        assert!((want[0] - 0.5).abs() < 1e-15); // √(2/8)

        // Conv [out 4, in 3, 3, 3] → [4, 27] PyTorch layout = [d_in 27, d_out 4] transposed.
        let conv = after.conv.weight.val();
        assert_eq!(conv.dims(), [4, 3, 3, 3]);
        let conv = to_faer(conv.reshape([4, 27]));
        let want = sorted_desc(m23_singular_values(27, 4, M23Scale::Seed));
        assert_close(&singular_values(&conv).unwrap(), &want, 1e-6);
        assert!((want[0] - (2.0f64 / 27.0).sqrt()).abs() < 1e-15);

        // Biases zero, other parameters and ids untouched.
        let zero = |t: Tensor<B, 1>| t.abs().max().into_scalar();
        assert_eq!(zero(after.lin.bias.clone().unwrap().val()), 0.0);
        assert_eq!(zero(after.conv.bias.clone().unwrap().val()), 0.0);
        assert_eq!(after.norm.gamma.val().into_data(), norm_before);
        assert_eq!(after.emb.weight.val().into_data(), emb_before);
        assert_eq!((after.lin.weight.id, after.conv.weight.id), ids);
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = apply_init(net(), Init::He, 3).lin.weight.val().into_data();
        let b = apply_init(net(), Init::He, 3).lin.weight.val().into_data();
        let c = apply_init(net(), Init::He, 4).lin.weight.val().into_data();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn baselines_have_their_variances() {
        let device = Default::default();
        let lin = |d_in, d_out| Net::<B> {
            lin: LinearConfig::new(d_in, d_out).init(&device),
            ..net()
        };
        let var = |m: Net<B>| {
            let v: Vec<f64> = m.lin.weight.val().into_data().iter::<f64>().collect();
            v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64
        };
        // 256·64 = 16384 samples: the variance's relative standard error is √(2/16384) ≈ 1.1 %.
        let he = var(apply_init(lin(256, 64), Init::He, 1));
        assert!((he / (2.0 / 256.0) - 1.0).abs() < 0.05, "{he}");
        let xavier = var(apply_init(lin(256, 64), Init::Xavier, 1));
        assert!((xavier / (2.0 / 320.0) - 1.0).abs() < 0.05, "{xavier}");
        // Orthogonal: every singular value is 1 (f32 storage).
        let orth = apply_init(lin(64, 16), Init::Orthogonal, 1);
        let s = singular_values(&to_faer(orth.lin.weight.val())).unwrap();
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-6), "{s:?}");
    }

    #[test]
    fn filter_leaves_rejected_layers_alone() {
        let before = net();
        let lin_before = before.lin.weight.val().into_data();
        let after = apply_init_where(before, Init::Xavier, 1, |p| p.starts_with("conv"));
        assert_eq!(after.lin.weight.val().into_data(), lin_before);
    }
}
