//! [`GptMatrices`]: only the hidden matrices of a GPT-shaped transformer, in burn's
//! `[d_in, d_out]` layout and with the parameter paths of this workspace's models (the
//! optimizer benchmark's model; see [`super`] for the shapes), and their fixed gradients.

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use spectral::linalg::gaussian_matrix;
use spectral::optim::groups::named_params;

/// Standard deviation of the initial weights (GPT-2's 0.02).
const WEIGHT_STD: f64 = 0.02;
/// Standard deviation of the gradients (any scale: every method normalizes or adapts to it).
const GRAD_STD: f64 = 0.01;
/// Offset of the gradient seeds from the weight seeds.
const GRAD_SEED: u64 = 1 << 32;

/// A bias-free linear map's weight `[d_in, d_out]`.
#[derive(Module, Debug)]
pub struct Matrix<B: Backend> {
    pub weight: Param<Tensor<B, 2>>,
}

/// Attention projections, `[width, width]` each.
#[derive(Module, Debug)]
pub struct AttentionMatrices<B: Backend> {
    pub q: Matrix<B>,
    pub k: Matrix<B>,
    pub v: Matrix<B>,
    pub o: Matrix<B>,
}

/// MLP: `fc [width, 4·width]`, `proj [4·width, width]`.
#[derive(Module, Debug)]
pub struct MlpMatrices<B: Backend> {
    pub fc: Matrix<B>,
    pub proj: Matrix<B>,
}

/// One transformer block's matrices.
#[derive(Module, Debug)]
pub struct BlockMatrices<B: Backend> {
    pub attn: AttentionMatrices<B>,
    pub mlp: MlpMatrices<B>,
}

/// The hidden matrices of a `layers`-block transformer of model width `width` (module doc).
#[derive(Module, Debug)]
pub struct GptMatrices<B: Backend> {
    pub blocks: Vec<BlockMatrices<B>>,
}

impl<B: Backend> GptMatrices<B> {
    /// Weights `N(0, 0.02²)`, matrix `j` (in path order) drawn with seed `seed + j`.
    pub fn new(layers: usize, width: usize, seed: u64, device: &B::Device) -> Self {
        let mut next = seed;
        let mut matrix = |d_in: usize, d_out: usize| {
            let weight = gaussian_matrix::<B>(d_in, d_out, next, device).mul_scalar(WEIGHT_STD);
            next += 1;
            Matrix {
                weight: Param::from_tensor(weight),
            }
        };
        let blocks = (0..layers)
            .map(|_| BlockMatrices {
                attn: AttentionMatrices {
                    q: matrix(width, width),
                    k: matrix(width, width),
                    v: matrix(width, width),
                    o: matrix(width, width),
                },
                mlp: MlpMatrices {
                    fc: matrix(width, 4 * width),
                    proj: matrix(4 * width, width),
                },
            })
            .collect();
        Self { blocks }
    }

    /// The matrices, in path order.
    pub fn matrices(&self) -> Vec<Tensor<B, 2>> {
        self.blocks
            .iter()
            .flat_map(|b| {
                [
                    &b.attn.q,
                    &b.attn.k,
                    &b.attn.v,
                    &b.attn.o,
                    &b.mlp.fc,
                    &b.mlp.proj,
                ]
            })
            .map(|m| m.weight.val())
            .collect()
    }
}

/// Fixed gradients of every matrix of a [`GptMatrices`], on the inner backend.
pub struct BenchGradients<B: Backend> {
    grads: Vec<(ParamId, Tensor<B, 2>)>,
}

impl<B: Backend> BenchGradients<B> {
    /// Gradients `N(0, 0.01²)`, matrix `j` drawn with seed `seed + 2³² + j`.
    pub fn new<M: AutodiffModule<Autodiff<B>>>(model: &M, seed: u64, device: &B::Device) -> Self {
        let grads = named_params::<Autodiff<B>, M>(model)
            .into_iter()
            .enumerate()
            .map(|(j, p)| {
                let [rows, cols] = [p.shape[0], p.shape[1]];
                let g = gaussian_matrix::<B>(rows, cols, seed + GRAD_SEED + j as u64, device);
                (p.id, g.mul_scalar(GRAD_STD))
            })
            .collect();
        Self { grads }
    }

    /// The gradients on the host, row-major, matrix after matrix in path order (the
    /// engine benchmark's flat buffer).
    pub fn host(&self) -> Vec<f32> {
        self.grads
            .iter()
            .flat_map(|(_, g)| {
                g.to_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .expect("f32 values")
            })
            .collect()
    }

    /// A fresh [`GradientsParams`] holding clones of the gradients.
    pub fn params(&self) -> GradientsParams {
        let mut params = GradientsParams::new();
        for (id, g) in &self.grads {
            params.register::<B, 2>(*id, g.clone());
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;

    #[test]
    fn paths_and_shapes_are_gpt2_smalls_in_burns_layout() {
        let model = GptMatrices::<Autodiff<CpuBackend>>::new(2, 8, 0, &Default::default());
        let params = named_params::<Autodiff<CpuBackend>, _>(&model);
        let got: Vec<(String, Vec<usize>)> =
            params.into_iter().map(|p| (p.path, p.shape)).collect();
        let mut want = Vec::new();
        for i in 0..2 {
            for name in ["q", "k", "v", "o"] {
                want.push((format!("blocks.{i}.attn.{name}.weight"), vec![8, 8]));
            }
            want.push((format!("blocks.{i}.mlp.fc.weight"), vec![8, 32]));
            want.push((format!("blocks.{i}.mlp.proj.weight"), vec![32, 8]));
        }
        assert_eq!(got, want);
    }
}
