//! [`embedding`](super::embedding::embedding) on burn's CUDA backend under autodiff
//! (`--features cuda`): burn's own lookup forward, and a burn-autodiff node whose backward pass
//! is the kernel of `embedding.cu`, compiled at run time by NVRTC and run as a custom operation
//! in burn's fusion stream on cubecl's stream (see `cuda`):
//!
//! ```text
//! forward    W [V, C], ids [B, T]   →  y [B, T, C] = W[ids]           (burn's gather)
//! backward   ids, ∂y                →  ∂W [V, C], rows summed in order
//! ```

use super::cuda::{
    Arg, CubeBackend, CubeTensor, DeviceBuffer, Handles, Module, Runtime, compiled, contiguous,
    empty, on_device_thread, same_type,
};
use crate::device::CudaBackend;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{IntTensor, ModuleOps};
use burn::tensor::{DType, Int, Shape, Tensor, TensorPrimitive};
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_fusion::FusionTensor;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_ir::{CustomOpIr, OperationIr, OperationOutput, TensorIr};
use cudarc::driver::sys as cu;

type Trained = Autodiff<CudaBackend>;

const SOURCE: &str = include_str!("embedding.cu");
/// `THREADS` and `COLS` of the source: a block covers `4 · THREADS · COLS` columns.
const THREADS: usize = 256;
const MAX_WIDTH: usize = 4 * THREADS * 4;

/// Whether the fused backward runs for a weight of `dtype` and width `width` on backend `B`:
/// burn's CUDA backend under autodiff (without autodiff there is no backward, and burn's lookup
/// is all), f32, and `width` a multiple of 4 up to 4096.
pub(crate) fn supports<B: Backend>(dtype: DType, width: usize) -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<Trained>()
        && dtype == DType::F32
        && width > 0
        && width <= MAX_WIDTH
        && width.is_multiple_of(4)
}

/// `weight[ids]` with the fused backward, where [`supports`] said yes.
pub(crate) fn embedding<B: Backend>(weight: Tensor<B, 2>, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
    let (weight, ids) =
        same_type::<_, (Tensor<Trained, 2>, Tensor<Trained, 2, Int>)>((weight, ids))
            .unwrap_or_else(|_| {
                unreachable!("`supports` accepted only burn's CUDA autodiff backend")
            });
    same_type(embedding_trained(weight, ids))
        .unwrap_or_else(|_| unreachable!("the same backend back"))
}

fn embedding_trained(
    weight: Tensor<Trained, 2>,
    ids: Tensor<Trained, 2, Int>,
) -> Tensor<Trained, 3> {
    let weight = weight.into_primitive().tensor();
    let ids: IntTensor<CudaBackend> = ids.into_primitive();
    let vocab = weight.primitive.shape[0];
    let y = CudaBackend::embedding(weight.primitive.clone(), ids.clone());
    let out = match EmbeddingGrad
        .prepare::<burn_autodiff::checkpoint::strategy::NoCheckpointing>([weight.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((ids, vocab), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The backward step: `∂W` from the ids and `∂y`.
#[derive(Debug)]
struct EmbeddingGrad;

impl Backward<CudaBackend, 1> for EmbeddingGrad {
    /// The ids `[B, T]` and the vocabulary size `V`.
    type State = (IntTensor<CudaBackend>, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<CudaBackend>(&ops.node);
        let (ids, vocab) = ops.state;
        let [node] = ops.parents;
        if let Some(node) = node {
            grads.register::<CudaBackend>(node.id, register(ids, grad, vocab));
        }
    }
}

/// Registers the kernel: `∂W [V, C]` from `ids [B, T]` and `∂y [B, T, C]`.
fn register(
    ids: FusionTensor<Runtime>,
    grad: FusionTensor<Runtime>,
    vocab: usize,
) -> FusionTensor<Runtime> {
    let client = grad.client.clone();
    let width = grad.shape[grad.shape.num_dims() - 1];
    let out = TensorIr::uninit(
        client.create_empty_handle(),
        Shape::new([vocab, width]),
        DType::F32,
    );
    let inputs = vec![ids, grad];
    let streams = OperationStreams::with_inputs(&inputs);
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let desc = CustomOpIr::new("spectral_embedding_backward", &inputs, &[out]);
    let operation = EmbeddingOp { desc: desc.clone() };
    client
        .register(streams, OperationIr::Custom(desc), operation)
        .output()
}

/// The backward kernel as burn's fusion stream runs it.
#[derive(Clone, Debug)]
struct EmbeddingOp {
    desc: CustomOpIr,
}

impl Operation<Runtime> for EmbeddingOp {
    fn execute(&self, handles: &mut Handles) {
        let [ids_ir, grad_ir] = [&self.desc.inputs[0], &self.desc.inputs[1]];
        let ids: CubeTensor = handles.get_int_tensor::<CubeBackend>(ids_ir);
        let grad: CubeTensor = handles.get_float_tensor::<CubeBackend>(grad_ir);
        let out_ir = &self.desc.outputs[0];
        let out = on_device_thread(&grad.clone(), || {
            let (ids, grad) = (contiguous(ids), contiguous(grad));
            let out = empty(&grad, out_ir.shape.clone(), out_ir.dtype);
            let [vocab, width] = out_ir.shape.dims::<2>();
            let rows = ids.meta.shape().num_elements();
            let [ids_buffer, grad_buffer, written] = [&ids, &grad, &out].map(DeviceBuffer::of);
            let args = [
                Arg::Ptr(ids_buffer.ptr),
                Arg::Ptr(grad_buffer.ptr),
                Arg::Ptr(written.ptr),
                Arg::I64(rows as i64),
                Arg::I32(width as i32),
            ];
            let kernels = Kernels::get(grad.device.index);
            // SAFETY: the arguments match embedding.cu's signature (ids, ∂y, ∂W, n, width): live
            // contiguous cubecl buffers of `rows` i32s, `rows × width` and `vocab × width` f32s,
            // held by the `DeviceBuffer`s above, resolved on `written.stream`; width ≤ MAX_WIDTH.
            unsafe {
                kernels.module.launch(
                    kernels.backward,
                    (vocab as u32, 1, 1),
                    THREADS as u32,
                    written.stream,
                    &args,
                )
            };
            out
        });
        handles.register_float_tensor::<CubeBackend>(&out_ir.id, out);
    }
}

#[derive(Clone, Copy)]
struct Kernels {
    module: Module,
    backward: cu::CUfunction,
}

impl Kernels {
    /// The kernel on device `ordinal`, compiled on first use.
    fn get(ordinal: usize) -> Self {
        compiled(ordinal, 0, || {
            let module = Module::compile(ordinal, SOURCE, "embedding.cu", &[]);
            Self {
                module,
                backward: module.function("embedding_backward"),
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
    use crate::linalg::test_util::{gpu, values};
    use burn::nn::EmbeddingConfig;
    use burn::tensor::Distribution;

    /// The lookup and `∂W` of `Σ embedding(ids) ⊙ w` equal burn's own on the same GPU to the
    /// bit: vocabularies with unused and much-repeated rows, batches longer than the kernel's
    /// id chunk (2048), widths from 4 to the largest it takes.
    #[test]
    fn the_gradient_is_burns_to_the_bit() {
        let Some(device) = gpu("embedding backward") else {
            return;
        };
        let cpu = Default::default();
        for (vocab, width, b, t) in [(256, 768, 16, 256), (7, 4, 3, 5), (50, 4096, 2, 1500)] {
            CpuBackend::seed(&cpu, 3);
            let ids = Tensor::<CpuBackend, 2>::random(
                [b, t],
                Distribution::Uniform(0.0, vocab as f64 / 2.0),
                &cpu,
            )
            .int()
            .into_data();
            let w = Tensor::<CpuBackend, 3>::random(
                [b, t, width],
                Distribution::Normal(0.0, 1.0),
                &cpu,
            )
            .into_data();
            Trained::seed(&device, 5);
            let table = EmbeddingConfig::new(vocab, width).init::<Trained>(&device);
            let run = |fused: bool| {
                let ids = Tensor::<Trained, 2, Int>::from_data(ids.clone(), &device);
                let y = if fused {
                    assert!(supports::<Trained>(DType::F32, width));
                    embedding(table.weight.val(), ids)
                } else {
                    table.forward(ids)
                };
                let weights = Tensor::<Trained, 3>::from_data(w.clone(), &device);
                let grads = (y.clone() * weights).sum().backward();
                (values(y), values(table.weight.grad(&grads).unwrap()))
            };
            let (ours, theirs) = (run(true), run(false));
            assert_eq!(ours.0, theirs.0, "[{vocab}, {width}] lookup");
            assert_eq!(ours.1, theirs.1, "[{vocab}, {width}] gradient");
            assert!(ours.1.iter().any(|&g| g != 0.0));
        }
    }

    #[test]
    fn what_the_kernel_takes() {
        assert!(supports::<Trained>(DType::F32, 768));
        assert!(supports::<Trained>(DType::F32, 4096));
        assert!(!supports::<CudaBackend>(DType::F32, 768));
        assert!(!supports::<Trained>(DType::F32, 6));
        assert!(!supports::<Trained>(DType::F32, 8192));
        assert!(!supports::<Autodiff<CpuBackend>>(DType::F32, 768));
    }
}
