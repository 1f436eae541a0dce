//! [`layer_norm`](super::layer_norm::layer_norm) on burn's CUDA backend (`--features cuda`):
//! the kernels of `layer_norm.cu`, compiled at run time by NVRTC for each row width, run as
//! custom operations in burn's fusion stream on cubecl's stream (see `cuda`), with a
//! burn-autodiff node:
//!
//! ```text
//! forward    x [.., C], γ [C], β [C]           →  y [.., C], μ [rows], r [rows]
//! backward   x, γ, μ, r, ∂y                     →  ∂x [.., C], ∂γ, ∂β partials [blocks, C]
//! ```
//!
//! `∂γ` and `∂β` are the partials summed over blocks by burn (a `[blocks, C]` sum).

use super::cuda::{
    Arg, CubeTensor, DeviceBuffer, Handles, Module, Runtime, compiled, empty,
    execute_on_device_thread, fused, is_cuda, same_type,
};
use crate::device::CudaBackend;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Shape, Tensor, TensorPrimitive};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_fusion::FusionTensor;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_ir::{CustomOpIr, OperationIr, TensorIr};
use cudarc::driver::sys as cu;

type Trained = Autodiff<CudaBackend>;

const SOURCE: &str = include_str!("layer_norm.cu");
/// Warps per block (`WARPS` in the source), one row per warp at a time.
const WARPS: usize = 8;
/// Rows each warp walks at least before another block is added (bounds the partial sums).
const ROWS_PER_WARP: usize = 8;
const MAX_BLOCKS: usize = 1024;
const MAX_WIDTH: usize = 1024;

/// Whether the kernels take `dtype` rows of `width` on backend `B`: burn's CUDA backend (with
/// or without autodiff), f32, and `width` a multiple of 128 up to 1024 (a lane holds
/// `width / 128` float4s in registers).
pub(crate) fn supports<B: Backend>(dtype: DType, width: usize) -> bool {
    is_cuda::<B>()
        && dtype == DType::F32
        && width > 0
        && width <= MAX_WIDTH
        && width.is_multiple_of(128)
}

/// Blocks of the grid for `rows` rows: enough for every SM, few enough that the `[blocks, C]`
/// partial sums of the backward pass stay small.
fn blocks(rows: usize) -> usize {
    rows.div_ceil(WARPS * ROWS_PER_WARP).clamp(1, MAX_BLOCKS)
}

/// LayerNorm of `x: [batch, tokens, C]` with `gamma`, `beta: [C]`, where [`supports`] said yes.
pub(crate) fn layer_norm<B: Backend>(
    x: Tensor<B, 3>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    epsilon: f64,
) -> Tensor<B, 3> {
    let operands = (x, gamma, beta);
    let out = match same_type::<_, Operands<Trained>>(operands) {
        Ok((x, gamma, beta)) => same_type(layer_norm_trained(x, gamma, beta, epsilon)).ok(),
        Err(operands) => match same_type::<_, Operands<CudaBackend>>(operands) {
            Ok((x, gamma, beta)) => {
                let [y, _, _] = forward(fused(x), fused(gamma), fused(beta), epsilon);
                same_type(Tensor::<CudaBackend, 3>::from_primitive(
                    TensorPrimitive::Float(y),
                ))
                .ok()
            }
            Err(_) => None,
        },
    };
    out.expect("LayerNorm on a backend `supports` accepted")
}

type Operands<B> = (Tensor<B, 3>, Tensor<B, 1>, Tensor<B, 1>);

fn layer_norm_trained(
    x: Tensor<Trained, 3>,
    gamma: Tensor<Trained, 1>,
    beta: Tensor<Trained, 1>,
    epsilon: f64,
) -> Tensor<Trained, 3> {
    let x = x.into_primitive().tensor();
    let gamma = gamma.into_primitive().tensor();
    let beta = beta.into_primitive().tensor();
    let [y, mean, rstd] = forward(
        x.primitive.clone(),
        gamma.primitive.clone(),
        beta.primitive.clone(),
        epsilon,
    );
    let out = match FusedLayerNorm
        .prepare::<burn_autodiff::checkpoint::strategy::NoCheckpointing>([
            x.node.clone(),
            gamma.node.clone(),
            beta.node.clone(),
        ])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = Saved {
                x: x.primitive,
                gamma: gamma.primitive,
                mean,
                rstd,
            };
            prep.finish(saved, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// What the backward pass reads: the input, γ, and each row's mean and reciprocal deviation.
#[derive(Clone, Debug)]
struct Saved {
    x: FloatTensor<CudaBackend>,
    gamma: FloatTensor<CudaBackend>,
    mean: FloatTensor<CudaBackend>,
    rstd: FloatTensor<CudaBackend>,
}

/// The backward step: `∂x` by the kernel, `∂γ` and `∂β` its partials summed over blocks.
#[derive(Debug)]
struct FusedLayerNorm;

impl Backward<CudaBackend, 3> for FusedLayerNorm {
    type State = Saved;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<CudaBackend>(&ops.node);
        let [dx, dgamma, dbeta] = backward(ops.state, grad);
        let [node_x, node_gamma, node_beta] = ops.parents;
        let total = |partials: FusionTensor<Runtime>| {
            let partials =
                Tensor::<CudaBackend, 2>::from_primitive(TensorPrimitive::Float(partials));
            let width = partials.dims()[1];
            partials
                .sum_dim(0)
                .reshape([width])
                .into_primitive()
                .tensor()
        };
        if let Some(node) = node_gamma {
            grads.register::<CudaBackend>(node.id, total(dgamma));
        }
        if let Some(node) = node_beta {
            grads.register::<CudaBackend>(node.id, total(dbeta));
        }
        if let Some(node) = node_x {
            grads.register::<CudaBackend>(node.id, dx);
        }
    }
}

/// Registers the forward kernel: `[y [.., C], mean [rows], rstd [rows]]`.
fn forward(
    x: FusionTensor<Runtime>,
    gamma: FusionTensor<Runtime>,
    beta: FusionTensor<Runtime>,
    epsilon: f64,
) -> [FusionTensor<Runtime>; 3] {
    let rows = x.shape.num_elements() / x.shape[x.shape.num_dims() - 1];
    let outputs = [x.shape.clone(), Shape::new([rows]), Shape::new([rows])];
    let pass = Pass::Forward {
        epsilon: epsilon as f32,
    };
    let out = register(pass, vec![x, gamma, beta], &outputs);
    out.try_into().expect("three outputs")
}

/// Registers the backward kernel: `[∂x, ∂γ partials, ∂β partials]`.
fn backward(saved: Saved, grad: FusionTensor<Runtime>) -> [FusionTensor<Runtime>; 3] {
    let shape = saved.x.shape.clone();
    let width = shape[shape.num_dims() - 1];
    let partials = Shape::new([blocks(shape.num_elements() / width), width]);
    let inputs = vec![saved.x, saved.gamma, saved.mean, saved.rstd, grad];
    let out = register(Pass::Backward, inputs, &[shape, partials.clone(), partials]);
    out.try_into().expect("three outputs")
}

fn register(
    pass: Pass,
    inputs: Vec<FusionTensor<Runtime>>,
    outputs: &[Shape],
) -> Vec<FusionTensor<Runtime>> {
    let client = inputs[0].client.clone();
    let streams = OperationStreams::with_inputs(&inputs);
    let outputs: Vec<TensorIr> = outputs
        .iter()
        .map(|shape| TensorIr::uninit(client.create_empty_handle(), shape.clone(), DType::F32))
        .collect();
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let name = match pass {
        Pass::Forward { .. } => "spectral_layer_norm_forward",
        Pass::Backward => "spectral_layer_norm_backward",
    };
    let desc = CustomOpIr::new(name, &inputs, &outputs);
    let operation = LayerNormOp {
        desc: desc.clone(),
        pass,
    };
    client.register(streams, OperationIr::Custom(desc), operation)
}

#[derive(Clone, Copy, Debug)]
enum Pass {
    Forward { epsilon: f32 },
    Backward,
}

/// One pass as burn's fusion stream runs it.
#[derive(Clone, Debug)]
struct LayerNormOp {
    desc: CustomOpIr,
    pass: Pass,
}

impl Operation<Runtime> for LayerNormOp {
    fn execute(&self, handles: &mut Handles) {
        execute_on_device_thread(&self.desc, handles, |inputs| {
            let outputs: Vec<CubeTensor> = self
                .desc
                .outputs
                .iter()
                .map(|ir| empty(&inputs[0], ir.shape.clone(), ir.dtype))
                .collect();
            let shape = inputs[0].meta.shape();
            let width = shape[shape.num_dims() - 1];
            let rows = shape.num_elements() / width;
            let buffers: Vec<DeviceBuffer> = inputs
                .iter()
                .chain(&outputs)
                .map(DeviceBuffer::of)
                .collect();
            let mut args: Vec<Arg> = buffers.iter().map(|b| Arg::Ptr(b.ptr)).collect();
            args.push(Arg::I64(rows as i64));
            let kernels = Kernels::get(inputs[0].device.index, width);
            let function = match self.pass {
                Pass::Forward { epsilon } => {
                    args.push(Arg::F32(epsilon));
                    kernels.forward
                }
                Pass::Backward => kernels.backward,
            };
            let grid = (blocks(rows) as u32, 1, 1);
            // SAFETY: the arguments match layer_norm.cu's signatures: forward (x, γ, β, y, μ,
            // r, rows, ε), backward (x, γ, μ, r, ∂y, ∂x, ∂γ partials, ∂β partials, rows); live
            // contiguous cubecl buffers of the shapes registered above (the partials have
            // `blocks(rows)` rows, the grid's size), held by `buffers`, on the outputs' stream.
            unsafe {
                kernels.module.launch(
                    function,
                    grid,
                    (WARPS * 32) as u32,
                    buffers[inputs.len()].stream,
                    &args,
                )
            };
            outputs
        });
    }
}

#[derive(Clone, Copy)]
struct Kernels {
    module: Module,
    forward: cu::CUfunction,
    backward: cu::CUfunction,
}

impl Kernels {
    /// The two kernels for rows of `width` on device `ordinal`, compiled on first use.
    fn get(ordinal: usize, width: usize) -> Self {
        compiled(ordinal, width, || {
            let defines = [format!("WIDTH={width}")];
            let module = Module::compile(ordinal, SOURCE, "layer_norm.cu", &defines);
            Self {
                module,
                forward: module.function("layer_norm_forward"),
                backward: module.function("layer_norm_backward"),
            }
        })
    }
}

/// These run only where a GPU is: on a machine without one (CI, the build box) each test
/// prints that it found none and returns.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use crate::linalg::test_util::{gpu, relative_error, values};
    use burn::tensor::{Distribution, TensorData};

    /// The closed form in f64 for `x [rows, C]`, γ, β and an upstream gradient `w`:
    /// `(y, ∂x, ∂γ, ∂β)` of `Σ LayerNorm(x) ⊙ w`.
    fn exact(x: &[f32], gamma: &[f32], beta: &[f32], w: &[f32], eps: f64) -> [Vec<f32>; 4] {
        let c = gamma.len();
        let (mut y, mut dx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut dgamma, mut dbeta) = (vec![0.0f64; c], vec![0.0f64; c]);
        for (row, (xr, wr)) in x.chunks(c).zip(w.chunks(c)).enumerate() {
            let xr: Vec<f64> = xr.iter().map(|&v| f64::from(v)).collect();
            let mean = xr.iter().sum::<f64>() / c as f64;
            let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / c as f64;
            let r = 1.0 / (var + eps).sqrt();
            let xhat: Vec<f64> = xr.iter().map(|v| (v - mean) * r).collect();
            let g: Vec<f64> = (0..c)
                .map(|j| f64::from(wr[j]) * f64::from(gamma[j]))
                .collect();
            let mean_g = g.iter().sum::<f64>() / c as f64;
            let mean_gx = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / c as f64;
            for j in 0..c {
                y[row * c + j] = (xhat[j] * f64::from(gamma[j]) + f64::from(beta[j])) as f32;
                dx[row * c + j] = (r * (g[j] - mean_g - xhat[j] * mean_gx)) as f32;
                dgamma[j] += f64::from(wr[j]) * xhat[j];
                dbeta[j] += f64::from(wr[j]);
            }
        }
        let narrow = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        [y, dx, narrow(dgamma), narrow(dbeta)]
    }

    /// `y`, `∂x`, `∂γ`, `∂β` of `Σ f(x, γ, β) ⊙ w` by burn's autodiff on `Bk`.
    fn run<Bk: burn::tensor::backend::AutodiffBackend>(
        data: &[TensorData; 4],
        dims: [usize; 3],
        device: &Bk::Device,
        f: impl Fn(Tensor<Bk, 3>, Tensor<Bk, 1>, Tensor<Bk, 1>) -> Tensor<Bk, 3>,
    ) -> [Vec<f32>; 4] {
        let tensor = |i: usize| Tensor::<Bk, 1>::from_data(data[i].clone(), device);
        let x = tensor(0).reshape(dims).require_grad();
        let gamma = tensor(1).require_grad();
        let beta = tensor(2).require_grad();
        let y = f(x.clone(), gamma.clone(), beta.clone());
        let grads = (y.clone() * tensor(3).reshape(dims)).sum().backward();
        [
            values(y),
            values(x.grad(&grads).unwrap()),
            values(gamma.grad(&grads).unwrap()),
            values(beta.grad(&grads).unwrap()),
        ]
    }

    /// Forward and all three gradients against the f64 closed form, over rows with a large
    /// common offset (μ ≫ σ, where a one-pass variance would cancel), widths 128, 256 and 768
    /// and row counts that leave blocks partly empty; burn's own autodiff is printed beside.
    /// Without autodiff the forward pass gives the same bits.
    #[test]
    fn layer_norm_matches_the_closed_form_and_gradients() {
        let Some(device) = gpu("LayerNorm") else {
            return;
        };
        let cpu = Default::default();
        let normal = |len: usize, mean: f64, std: f64, seed: u64| {
            CpuBackend::seed(&cpu, seed);
            Tensor::<CpuBackend, 1>::random([len], Distribution::Normal(mean, std), &cpu)
                .into_data()
        };
        let eps = 1e-5;
        for (b, t, c) in [(2, 7, 128), (3, 130, 256), (1, 1000, 768), (1, 1, 256)] {
            let dims = [b, t, c];
            let data = [
                normal(b * t * c, 20.0, 3.0, 1),
                normal(c, 1.0, 0.5, 2),
                normal(c, 0.0, 1.0, 3),
                normal(b * t * c, 0.0, 1.0, 4),
            ];
            let host: Vec<Vec<f32>> = data.iter().map(|d| d.to_vec::<f32>().unwrap()).collect();
            let exact = exact(&host[0], &host[1], &host[2], &host[3], eps);
            let burn = run::<Autodiff<CpuBackend>>(&data, dims, &cpu, |x, g, b| {
                let mut norm = burn::nn::LayerNormConfig::new(c).init(&Default::default());
                norm.gamma = burn::module::Param::from_tensor(g);
                norm.beta = Some(burn::module::Param::from_tensor(b));
                norm.forward(x)
            });
            let ours = run::<Trained>(&data, dims, &device, |x, g, b| {
                assert!(supports::<Trained>(DType::F32, c));
                layer_norm(x, g, b, eps)
            });
            for (i, name) in ["y", "∂x", "∂γ", "∂β"].iter().enumerate() {
                let error = relative_error(&ours[i], &exact[i]);
                let burn_error = relative_error(&burn[i], &exact[i]);
                eprintln!("[{b}, {t}, {c}] {name}: fused {error:.2e}, burn's CPU {burn_error:.2e}");
                assert!(
                    error < 2e-6_f64.max(4.0 * burn_error),
                    "[{b}, {t}, {c}] {name}: {error:.3e} (burn's CPU {burn_error:.3e})"
                );
            }
            let tensor = |i: usize| Tensor::<CudaBackend, 1>::from_data(data[i].clone(), &device);
            assert_eq!(
                values(layer_norm(
                    tensor(0).reshape(dims),
                    tensor(1),
                    tensor(2),
                    eps
                )),
                ours[0],
                "with and without autodiff"
            );
        }
    }

    #[test]
    fn widths_the_kernels_take() {
        assert!(supports::<CudaBackend>(DType::F32, 768));
        assert!(supports::<Trained>(DType::F32, 1024));
        assert!(!supports::<CudaBackend>(DType::F32, 96));
        assert!(!supports::<CudaBackend>(DType::F32, 2048));
        assert!(!supports::<CudaBackend>(DType::BF16, 256));
        assert!(!supports::<CpuBackend>(DType::F32, 256));
        assert_eq!(blocks(1), 1);
        assert_eq!(blocks(64 * 5 + 1), 6);
        assert_eq!(blocks(10_000_000), MAX_BLOCKS);
    }
}
