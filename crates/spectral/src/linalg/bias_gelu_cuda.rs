//! [`linear_gelu`](super::linear_gelu)'s bias and GELU on burn's CUDA backend
//! (`--features cuda`): the kernels of `bias_gelu.cu`, compiled at run time by NVRTC, run as
//! custom operations in burn's fusion stream on cubecl's stream (see `cuda`), with a
//! burn-autodiff node:
//!
//! ```text
//! forward    z [.., n], bias [n]        →  y = gelu(z + bias)
//! backward   z, bias, ∂y                →  ∂z = ∂y gelu'(z + bias),  ∂bias = Σ_rows ∂z
//! ```

use super::cuda::{
    Arg, DeviceBuffer, Handles, Module, Runtime, compiled, empty, execute_on_device_thread, fused,
    is_cuda, same_type,
};
use crate::device::CudaBackend;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_fusion::FusionTensor;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_ir::{CustomOpIr, OperationIr, OperationOutput, TensorIr};
use cudarc::driver::sys as cu;

type Trained = Autodiff<CudaBackend>;

const SOURCE: &str = include_str!("bias_gelu.cu");
const THREADS: usize = 256;

/// Whether the kernels take `dtype` tensors of width `n` on backend `B`: burn's CUDA backend
/// (with or without autodiff), f32, and `n` a multiple of 4 (float4 rows).
pub(crate) fn supports<B: Backend>(dtype: DType, n: usize) -> bool {
    is_cuda::<B>() && dtype == DType::F32 && n > 0 && n.is_multiple_of(4)
}

/// `gelu(z + bias)`, `z: [batch, tokens, n]`, `bias: [n]`, where [`supports`] said yes.
pub(crate) fn bias_gelu<B: Backend>(z: Tensor<B, 3>, bias: Tensor<B, 1>) -> Tensor<B, 3> {
    let out = match same_type::<_, (Tensor<Trained, 3>, Tensor<Trained, 1>)>((z, bias)) {
        Ok((z, bias)) => same_type(bias_gelu_trained(z, bias)).ok(),
        Err(operands) => {
            match same_type::<_, (Tensor<CudaBackend, 3>, Tensor<CudaBackend, 1>)>(operands) {
                Ok((z, bias)) => {
                    let y = register(Pass::Forward, vec![fused(z), fused(bias)]);
                    same_type(Tensor::<CudaBackend, 3>::from_primitive(
                        TensorPrimitive::Float(y),
                    ))
                    .ok()
                }
                Err(_) => None,
            }
        }
    };
    out.expect("bias + GELU on a backend `supports` accepted")
}

fn bias_gelu_trained(z: Tensor<Trained, 3>, bias: Tensor<Trained, 1>) -> Tensor<Trained, 3> {
    let z = z.into_primitive().tensor();
    let bias = bias.into_primitive().tensor();
    let y = register(
        Pass::Forward,
        vec![z.primitive.clone(), bias.primitive.clone()],
    );
    let out = match BiasGelu
        .prepare::<burn_autodiff::checkpoint::strategy::NoCheckpointing>([
            z.node.clone(),
            bias.node.clone(),
        ])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((z.primitive, bias.primitive), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The backward step: `∂z` by the kernel, `∂bias` its sum over rows.
#[derive(Debug)]
struct BiasGelu;

impl Backward<CudaBackend, 2> for BiasGelu {
    /// `z` and `bias`, as the forward pass read them.
    type State = (FloatTensor<CudaBackend>, FloatTensor<CudaBackend>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<CudaBackend>(&ops.node);
        let (z, bias) = ops.state;
        let dz = register(Pass::Backward, vec![z, bias, grad]);
        let [node_z, node_bias] = ops.parents;
        if let Some(node) = node_bias {
            let dz = Tensor::<CudaBackend, 3>::from_primitive(TensorPrimitive::Float(dz.clone()));
            let [batch, tokens, n] = dz.dims();
            let dbias = dz.reshape([batch * tokens, n]).sum_dim(0).reshape([n]);
            grads.register::<CudaBackend>(node.id, dbias.into_primitive().tensor());
        }
        if let Some(node) = node_z {
            grads.register::<CudaBackend>(node.id, dz);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Pass {
    Forward,
    Backward,
}

/// Registers one pass: inputs `[z, bias]` (forward) or `[z, bias, ∂y]` (backward); the output
/// has `z`'s shape.
fn register(pass: Pass, inputs: Vec<FusionTensor<Runtime>>) -> FusionTensor<Runtime> {
    let client = inputs[0].client.clone();
    let out = TensorIr::uninit(
        client.create_empty_handle(),
        inputs[0].shape.clone(),
        DType::F32,
    );
    let streams = OperationStreams::with_inputs(&inputs);
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let name = match pass {
        Pass::Forward => "spectral_bias_gelu_forward",
        Pass::Backward => "spectral_bias_gelu_backward",
    };
    let desc = CustomOpIr::new(name, &inputs, &[out]);
    let operation = BiasGeluOp {
        desc: desc.clone(),
        pass,
    };
    client
        .register(streams, OperationIr::Custom(desc), operation)
        .output()
}

/// One pass as burn's fusion stream runs it.
#[derive(Clone, Debug)]
struct BiasGeluOp {
    desc: CustomOpIr,
    pass: Pass,
}

impl Operation<Runtime> for BiasGeluOp {
    fn execute(&self, handles: &mut Handles) {
        execute_on_device_thread(&self.desc, handles, |inputs| {
            let out_ir = &self.desc.outputs[0];
            let out = empty(&inputs[0], out_ir.shape.clone(), out_ir.dtype);
            let dims = inputs[0].meta.shape().dims::<3>();
            let (rows, n) = (dims[0] * dims[1], dims[2]);
            let buffers: Vec<DeviceBuffer> = inputs.iter().map(DeviceBuffer::of).collect();
            let written = DeviceBuffer::of(&out);
            let kernels = Kernels::get(inputs[0].device.index);
            let function = match self.pass {
                Pass::Forward => kernels.forward,
                Pass::Backward => kernels.backward,
            };
            let mut args: Vec<Arg> = buffers.iter().map(|b| Arg::Ptr(b.ptr)).collect();
            args.extend([
                Arg::Ptr(written.ptr),
                Arg::I64(rows as i64),
                Arg::I32(n as i32),
            ]);
            let grid = ((n / 4).div_ceil(THREADS) as u32, rows.min(65535) as u32, 1);
            // SAFETY: the arguments match bias_gelu.cu's signatures (z, bias[, ∂y], out, rows,
            // n): live contiguous cubecl buffers of `rows × n` (bias `n`) f32s, held by the
            // `DeviceBuffer`s above, resolved on `written.stream`.
            unsafe {
                kernels
                    .module
                    .launch(function, grid, THREADS as u32, written.stream, &args)
            };
            vec![out]
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
    /// The two kernels on device `ordinal`, compiled on first use.
    fn get(ordinal: usize) -> Self {
        compiled(ordinal, 0, || {
            let module = Module::compile(ordinal, SOURCE, "bias_gelu.cu", &[]);
            Self {
                module,
                forward: module.function("bias_gelu_forward"),
                backward: module.function("bias_gelu_backward"),
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
    use burn::tensor::activation::gelu;
    use burn::tensor::{Distribution, TensorData};

    /// `y`, `∂z` and `∂bias` of `Σ gelu(z + bias) ⊙ w` by burn's autodiff on `Bk`.
    fn run<Bk: burn::tensor::backend::AutodiffBackend>(
        data: &[TensorData; 3],
        dims: [usize; 3],
        device: &Bk::Device,
        f: impl Fn(Tensor<Bk, 3>, Tensor<Bk, 1>) -> Tensor<Bk, 3>,
    ) -> [Vec<f32>; 3] {
        let tensor = |i: usize| Tensor::<Bk, 1>::from_data(data[i].clone(), device);
        let z = tensor(0).reshape(dims).require_grad();
        let bias = tensor(1).require_grad();
        let w = tensor(2).reshape(dims);
        let y = f(z.clone(), bias.clone());
        let grads = (y.clone() * w).sum().backward();
        [
            values(y),
            values(z.grad(&grads).unwrap()),
            values(bias.grad(&grads).unwrap()),
        ]
    }

    /// Forward against burn's exact `gelu` on the CPU, and `∂z`, `∂bias` against the closed
    /// form `∂z = w (Φ(u) + u φ(u))`, `u = z + bias`, with `Φ` from burn's CPU `erf` and the
    /// rest in f64; over inputs that cover both tails (|u| up to about 9); without autodiff
    /// the same bits. (burn's own `gelu` backward is the derivative of the tanh approximation,
    /// about 5e-4 off the exact one here: it is printed, not used.)
    #[test]
    fn bias_gelu_matches_the_exact_gelu_and_gradients() {
        let Some(device) = gpu("bias + GELU") else {
            return;
        };
        let cpu_device = Default::default();
        let normal = |len: usize, std: f64, seed: u64| {
            CpuBackend::seed(&cpu_device, seed);
            Tensor::<CpuBackend, 1>::random([len], Distribution::Normal(0.0, std), &cpu_device)
                .into_data()
        };
        for (b, t, n) in [(2, 7, 12), (3, 70, 1024), (1, 1, 4)] {
            let dims = [b, t, n];
            let data = [
                normal(b * t * n, 3.0, 1),
                normal(n, 1.0, 2),
                normal(b * t * n, 1.0, 3),
            ];
            let burn = run::<Autodiff<CpuBackend>>(&data, dims, &cpu_device, |z, bias| {
                gelu(z + bias.unsqueeze::<3>())
            });
            let u = Tensor::<CpuBackend, 1>::from_data(data[0].clone(), &cpu_device).reshape(dims)
                + Tensor::<CpuBackend, 1>::from_data(data[1].clone(), &cpu_device).unsqueeze::<3>();
            let erf = values(u.clone().div_scalar(std::f64::consts::SQRT_2).erf());
            let w = data[2].clone().to_vec::<f32>().unwrap();
            let dz: Vec<f64> = values(u)
                .iter()
                .zip(&erf)
                .zip(&w)
                .map(|((&u, &erf), &w)| {
                    let (u, erf, w) = (f64::from(u), f64::from(erf), f64::from(w));
                    let pdf = (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt();
                    w * (0.5 * (1.0 + erf) + u * pdf)
                })
                .collect();
            let mut dbias = vec![0.0f64; n];
            for (i, g) in dz.iter().enumerate() {
                dbias[i % n] += g;
            }
            let exact = [
                burn[0].clone(),
                dz.iter().map(|&x| x as f32).collect(),
                dbias.iter().map(|&x| x as f32).collect(),
            ];
            let ours = run::<Trained>(&data, dims, &device, |z, bias| {
                assert!(supports::<Trained>(DType::F32, n));
                bias_gelu(z, bias)
            });
            for (i, name) in ["y", "∂z", "∂bias"].iter().enumerate() {
                let error = relative_error(&ours[i], &exact[i]);
                let burn_error = relative_error(&burn[i], &exact[i]);
                eprintln!(
                    "[{b}, {t}, {n}] {name}: fused {error:.2e}, burn's autodiff {burn_error:.2e}"
                );
                assert!(error < 1e-5, "[{b}, {t}, {n}] {name}: {error:.3e}");
            }
            let z = Tensor::<CudaBackend, 1>::from_data(data[0].clone(), &device).reshape(dims);
            let bias = Tensor::<CudaBackend, 1>::from_data(data[1].clone(), &device);
            assert_eq!(
                values(bias_gelu(z, bias)),
                ours[0],
                "with and without autodiff"
            );
        }
    }

    #[test]
    fn widths_the_kernels_take() {
        assert!(supports::<CudaBackend>(DType::F32, 1024));
        assert!(!supports::<CudaBackend>(DType::F32, 6));
        assert!(!supports::<CudaBackend>(DType::BF16, 1024));
        assert!(!supports::<CpuBackend>(DType::F32, 1024));
    }
}
