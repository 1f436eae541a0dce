//! [`fused_causal_attention`](super::fused_causal_attention) on burn's CUDA backend
//! (`--features cuda`): the kernels of `fused_attention.cu`, compiled at run time by NVRTC, run
//! as custom operations in burn's fusion stream on cubecl's stream (see `cuda`), with a
//! burn-autodiff node whose backward pass is two more kernels.
//!
//! ```text
//! forward    q, k, v [B, T, H, D] (+ rope [T, D/2, 2])  →  out [B, T, H, D], lse [B, H, T]
//! backward   q, k, v, out, lse, ∂out (+ rope)           →  ∂q, ∂k, ∂v [B, T, H, D]
//! ```
//!
//! Nothing of size `T × T` is stored: the backward pass recomputes the probabilities from `lse`,
//! as FlashAttention does. Every product is f32 on CUDA cores (no tensor cores), so the result
//! matches the materialized f32 attention to rounding.
//!
//! The same node and operations run `--attention cublas` ([`Implementation::Cublas`]): the
//! passes then call `cublas_attention`'s gemms and kernels in place of the fused ones.

use super::cublas_attention::{self, Dims};
use super::cuda::{
    Arg, CubeTensor, DeviceBuffer, Handles, Module, Runtime, compiled, empty,
    execute_on_device_thread, fused, is_cuda, same_type,
};
use super::gemm::Gemm;
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

const SOURCE: &str = include_str!("fused_attention.cu");

/// Query (or key) rows per thread block, keys per online-softmax update.
const ROWS: usize = 64;
const CHUNK: usize = 16;

/// The kernels' compile-time shape for head width `head_dim`: dimensions per thread and rows
/// per shared-memory tile; `None` for a width they do not take (a multiple of 4 up to 16, or
/// 16 times a power of two up to 128).
fn kernel_shape(head_dim: usize) -> Option<(usize, usize)> {
    let dims_per_thread = head_dim.min(16);
    let group = head_dim / dims_per_thread.max(1);
    let fits = head_dim > 0
        && head_dim.is_multiple_of(4)
        && head_dim <= 128
        && head_dim.is_multiple_of(dims_per_thread)
        && group.is_power_of_two();
    let tile = if head_dim <= 64 { 64 } else { 32 };
    fits.then_some((dims_per_thread, tile))
}

/// Which kernels compute an attention: this module's fused ones, or cuBLAS gemms in a
/// precision around the softmax kernels of `cublas_attention`. Both give the same node in
/// burn's autodiff graph and save the same tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Implementation {
    Fused,
    Cublas(Gemm),
}

/// Whether `implementation` takes heads of `head_dim` and `dtype` on backend `B`: burn's CUDA
/// backend (with or without autodiff), f32, and for the fused kernels a width [`kernel_shape`]
/// takes.
pub(crate) fn supports<B: Backend>(
    implementation: Implementation,
    dtype: DType,
    head_dim: usize,
) -> bool {
    let width = match implementation {
        Implementation::Fused => kernel_shape(head_dim).is_some(),
        Implementation::Cublas(_) => head_dim > 0,
    };
    is_cuda::<B>() && dtype == DType::F32 && width
}

/// The causal attention of `q`, `k`, `v` `[B, T, H, D]` with an optional RoPE table
/// `[T, D/2, 2]` by `implementation`, where [`supports`] said yes.
pub(crate) fn attention<B: Backend>(
    implementation: Implementation,
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    rope: Option<Tensor<B, 3>>,
) -> Tensor<B, 4> {
    let operands = (q, k, v, rope);
    let out = match same_type::<_, Operands<Trained>>(operands) {
        Ok((q, k, v, rope)) => same_type(attention_trained(implementation, q, k, v, rope)).ok(),
        Err(operands) => match same_type::<_, Operands<CudaBackend>>(operands) {
            Ok((q, k, v, rope)) => {
                let rope = rope.map(fused);
                let (out, _) = forward(implementation, fused(q), fused(k), fused(v), rope);
                same_type(Tensor::<CudaBackend, 4>::from_primitive(
                    TensorPrimitive::Float(out),
                ))
                .ok()
            }
            Err(_) => None,
        },
    };
    out.expect("fused attention on a backend `supports` accepted")
}

type Operands<B> = (
    Tensor<B, 4>,
    Tensor<B, 4>,
    Tensor<B, 4>,
    Option<Tensor<B, 3>>,
);

/// The forward pass as one node of burn's autodiff graph (the RoPE table is a constant).
fn attention_trained(
    implementation: Implementation,
    q: Tensor<Trained, 4>,
    k: Tensor<Trained, 4>,
    v: Tensor<Trained, 4>,
    rope: Option<Tensor<Trained, 3>>,
) -> Tensor<Trained, 4> {
    let rope = rope.map(|table| fused(table.inner()));
    let [q, k, v] = [q, k, v].map(|t| t.into_primitive().tensor());
    let (out, lse) = forward(
        implementation,
        q.primitive.clone(),
        k.primitive.clone(),
        v.primitive.clone(),
        rope.clone(),
    );
    let result = match FusedAttention
        .prepare::<burn_autodiff::checkpoint::strategy::NoCheckpointing>([
            q.node.clone(),
            k.node.clone(),
            v.node.clone(),
        ])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = Saved {
                implementation,
                q: q.primitive,
                k: k.primitive,
                v: v.primitive,
                out: out.clone(),
                lse,
                rope,
            };
            prep.finish(saved, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive(TensorPrimitive::Float(result))
}

/// What the backward pass reads: the inputs, the output and its row log-sum-exps, and which
/// kernels computed them.
#[derive(Clone, Debug)]
struct Saved {
    implementation: Implementation,
    q: FloatTensor<CudaBackend>,
    k: FloatTensor<CudaBackend>,
    v: FloatTensor<CudaBackend>,
    out: FloatTensor<CudaBackend>,
    lse: FloatTensor<CudaBackend>,
    rope: Option<FloatTensor<CudaBackend>>,
}

/// The backward step of one fused attention.
#[derive(Debug)]
struct FusedAttention;

impl Backward<CudaBackend, 3> for FusedAttention {
    type State = Saved;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<CudaBackend>(&ops.node);
        let saved = ops.state;
        let grads_qkv = backward(saved, grad);
        for (parent, grad) in ops.parents.into_iter().zip(grads_qkv) {
            if let Some(node) = parent {
                grads.register::<CudaBackend>(node.id, grad);
            }
        }
    }
}

/// Registers the forward kernel: `(out [B, T, H, D], lse [B, H, T])`.
fn forward(
    implementation: Implementation,
    q: FusionTensor<Runtime>,
    k: FusionTensor<Runtime>,
    v: FusionTensor<Runtime>,
    rope: Option<FusionTensor<Runtime>>,
) -> (FusionTensor<Runtime>, FusionTensor<Runtime>) {
    let [b, t, h, d] = q.shape.dims::<4>();
    let client = q.client.clone();
    let outputs = [Shape::new([b, t, h, d]), Shape::new([b, h, t])];
    let pass = (Pass::Forward, implementation);
    let mut out = register(pass, vec![q, k, v], rope, &outputs, &client);
    let lse = out.pop().expect("two outputs");
    (out.pop().expect("two outputs"), lse)
}

/// Registers the two backward kernels: `[∂q, ∂k, ∂v]`, each `[B, T, H, D]`.
fn backward(saved: Saved, grad: FusionTensor<Runtime>) -> [FusionTensor<Runtime>; 3] {
    let shape = saved.q.shape.clone();
    let client = saved.q.client.clone();
    let inputs = vec![saved.q, saved.k, saved.v, saved.out, saved.lse, grad];
    let outputs = [shape.clone(), shape.clone(), shape];
    let pass = (Pass::Backward, saved.implementation);
    let grads = register(pass, inputs, saved.rope, &outputs, &client);
    grads.try_into().expect("three gradients")
}

fn register(
    (pass, implementation): (Pass, Implementation),
    mut inputs: Vec<FusionTensor<Runtime>>,
    rope: Option<FusionTensor<Runtime>>,
    outputs: &[Shape],
    client: &burn_fusion::client::GlobalFusionClient<Runtime>,
) -> Vec<FusionTensor<Runtime>> {
    let has_rope = rope.is_some();
    inputs.extend(rope);
    let streams = OperationStreams::with_inputs(&inputs);
    let outputs: Vec<TensorIr> = outputs
        .iter()
        .map(|shape| TensorIr::uninit(client.create_empty_handle(), shape.clone(), DType::F32))
        .collect();
    let inputs: Vec<TensorIr> = inputs.into_iter().map(|t| t.into_ir()).collect();
    let desc = CustomOpIr::new(pass.name(implementation), &inputs, &outputs);
    let operation = AttentionOp {
        desc: desc.clone(),
        pass,
        implementation,
        has_rope,
    };
    client.register(streams, OperationIr::Custom(desc), operation)
}

#[derive(Clone, Copy, Debug)]
enum Pass {
    Forward,
    Backward,
}

impl Pass {
    fn name(self, implementation: Implementation) -> &'static str {
        match (self, implementation) {
            (Self::Forward, Implementation::Fused) => "spectral_fused_attention_forward",
            (Self::Backward, Implementation::Fused) => "spectral_fused_attention_backward",
            (Self::Forward, Implementation::Cublas(_)) => "spectral_cublas_attention_forward",
            (Self::Backward, Implementation::Cublas(_)) => "spectral_cublas_attention_backward",
        }
    }
}

/// One pass as burn's fusion stream runs it.
#[derive(Clone, Debug)]
struct AttentionOp {
    desc: CustomOpIr,
    pass: Pass,
    implementation: Implementation,
    has_rope: bool,
}

impl Operation<Runtime> for AttentionOp {
    fn execute(&self, handles: &mut Handles) {
        execute_on_device_thread(&self.desc, handles, |mut inputs| {
            let rope = if self.has_rope { inputs.pop() } else { None };
            let q = &inputs[0];
            let outputs: Vec<CubeTensor> = self
                .desc
                .outputs
                .iter()
                .map(|ir| empty(q, ir.shape.clone(), ir.dtype))
                .collect();
            let rope = rope.as_ref();
            match (self.implementation, self.pass) {
                // q, k, v → out, lse
                (Implementation::Cublas(engine), Pass::Forward) => cublas_attention::forward(
                    engine,
                    [&inputs[0], &inputs[1], &inputs[2]],
                    rope,
                    [&outputs[0], &outputs[1]],
                ),
                // q, k, v, out, lse, ∂out → ∂q, ∂k, ∂v
                (Implementation::Cublas(engine), Pass::Backward) => cublas_attention::backward(
                    engine,
                    [&inputs[0], &inputs[1], &inputs[2], &inputs[4], &inputs[5]],
                    rope,
                    [&outputs[0], &outputs[1], &outputs[2]],
                ),
                (Implementation::Fused, _) => self.launch_fused(&inputs, rope, &outputs),
            }
            outputs
        });
    }
}

impl AttentionOp {
    /// The fused kernels of this pass: `inputs` as [`Operation::execute`] lists them.
    fn launch_fused(
        &self,
        inputs: &[CubeTensor],
        rope: Option<&CubeTensor>,
        outputs: &[CubeTensor],
    ) {
        let q = &inputs[0];
        let dims = Dims::of(q);
        let rope = rope.map(DeviceBuffer::of);
        let buffers: Vec<DeviceBuffer> = inputs.iter().map(DeviceBuffer::of).collect();
        let written: Vec<DeviceBuffer> = outputs.iter().map(DeviceBuffer::of).collect();
        match self.pass {
            Pass::Forward => {
                // q, k, v, rope → out, lse
                let args = [&buffers[0], &buffers[1], &buffers[2]];
                launch_forward(
                    q.device.index,
                    dims,
                    args,
                    rope.as_ref(),
                    [&written[0], &written[1]],
                );
            }
            Pass::Backward => {
                let delta = empty(q, Shape::new([dims.b, dims.h, dims.t]), DType::F32);
                let delta_buffer = DeviceBuffer::of(&delta);
                launch_backward(
                    q.device.index,
                    dims,
                    &buffers,
                    rope.as_ref(),
                    &delta_buffer,
                    [&written[0], &written[1], &written[2]],
                );
            }
        }
    }
}

/// `q, k, v → out, lse` on `out`'s stream.
fn launch_forward(
    ordinal: usize,
    dims: Dims,
    [q, k, v]: [&DeviceBuffer; 3],
    rope: Option<&DeviceBuffer>,
    [out, lse]: [&DeviceBuffer; 2],
) {
    let kernels = Kernels::get(ordinal, dims.d);
    let rope = rope.map_or(0, |r| r.ptr);
    let pointers = [q.ptr, k.ptr, v.ptr, rope, out.ptr, lse.ptr];
    kernels.launch(kernels.forward, dims, out.stream, &pointers);
}

/// `q, k, v, out, lse, ∂out → ∂q, ∂k, ∂v`: the ∂q kernel writes `delta` `[B, H, T]`, which the
/// ∂k/∂v kernel after it on the same stream reads.
fn launch_backward(
    ordinal: usize,
    dims: Dims,
    inputs: &[DeviceBuffer],
    rope: Option<&DeviceBuffer>,
    delta: &DeviceBuffer,
    [dq, dk, dv]: [&DeviceBuffer; 3],
) {
    let kernels = Kernels::get(ordinal, dims.d);
    let [q, k, v, out, lse, dout] = [0, 1, 2, 3, 4, 5].map(|i| inputs[i].ptr);
    let rope = rope.map_or(0, |r| r.ptr);
    let pointers = [q, k, v, rope, out, dout, lse, delta.ptr, dq.ptr];
    kernels.launch(kernels.backward_dq, dims, dq.stream, &pointers);
    let pointers = [q, k, v, rope, dout, lse, delta.ptr, dk.ptr, dv.ptr];
    kernels.launch(kernels.backward_dkv, dims, dq.stream, &pointers);
}

/// The three kernels compiled for one head width.
#[derive(Clone, Copy)]
struct Kernels {
    module: Module,
    threads: u32,
    forward: cu::CUfunction,
    backward_dq: cu::CUfunction,
    backward_dkv: cu::CUfunction,
}

impl Kernels {
    /// The kernels for head width `d` on device `ordinal`, compiled on first use.
    fn get(ordinal: usize, d: usize) -> Self {
        compiled(ordinal, d, || Self::compile(ordinal, d))
    }

    fn compile(ordinal: usize, d: usize) -> Self {
        let (dims_per_thread, tile) = kernel_shape(d).expect("a head width `supports` accepted");
        let defines = [
            format!("HEAD_DIM={d}"),
            format!("DPT={dims_per_thread}"),
            format!("ROWS={ROWS}"),
            format!("TILE={tile}"),
            format!("CHUNK={CHUNK}"),
        ];
        let module = Module::compile(ordinal, SOURCE, "fused_attention.cu", &defines);
        Self {
            module,
            threads: (ROWS * d / dims_per_thread) as u32,
            forward: module.function("attention_forward"),
            backward_dq: module.function("attention_backward_dq"),
            backward_dkv: module.function("attention_backward_dkv"),
        }
    }

    /// Launches `function` over `(⌈T / ROWS⌉, B·H)` blocks on `stream`, with the device
    /// `pointers` of its signature followed by `T`, `H` and the score scale `1/√D`.
    fn launch(&self, function: cu::CUfunction, dims: Dims, stream: cu::CUstream, pointers: &[u64]) {
        let grid = (dims.t.div_ceil(ROWS) as u32, (dims.b * dims.h) as u32, 1);
        let mut args: Vec<Arg> = pointers.iter().map(|&p| Arg::Ptr(p)).collect();
        args.extend([
            Arg::I32(dims.t as i32),
            Arg::I32(dims.h as i32),
            Arg::F32(1.0 / (dims.d as f32).sqrt()),
        ]);
        // SAFETY: the arguments match the kernel's signature in fused_attention.cu: pointers to
        // live cubecl buffers of the shapes in `dims` (held by the caller's `DeviceBuffer`s),
        // resolved on `stream`, then T, H, scale.
        unsafe {
            self.module
                .launch(function, grid, self.threads, stream, &args)
        };
    }
}

/// These run only where a GPU is: on a machine without one (CI, the build box) each test
/// prints that it found none and returns. On the GPU host they run from the carried test
/// binary (`docs/gpu.md`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use crate::linalg::rope_table;
    use crate::linalg::test_util::{gpu, relative_error, values};
    use burn::nn::RotaryEncodingConfig;
    use burn::tensor::activation::softmax;
    use burn::tensor::backend::AutodiffBackend;
    use burn::tensor::{Bool, Distribution, TensorData};

    /// The output and `∂q, ∂k, ∂v` of `loss = Σ attention(q, k, v) ⊙ w` by burn's autodiff on
    /// `Bk`; `data` = q, k, v, w, each `[B, T, H, D]`.
    fn output_and_grads<Bk: AutodiffBackend>(
        data: &[TensorData; 4],
        device: &Bk::Device,
        attention: impl Fn(Tensor<Bk, 4>, Tensor<Bk, 4>, Tensor<Bk, 4>) -> Tensor<Bk, 4>,
    ) -> [Vec<f32>; 4] {
        let tensor = |i: usize| Tensor::<Bk, 4>::from_data(data[i].clone(), device);
        let [q, k, v] = [0, 1, 2].map(|i| tensor(i).require_grad());
        let out = attention(q.clone(), k.clone(), v.clone());
        let grads = (out.clone() * tensor(3)).sum().backward();
        [
            values(out),
            values(q.grad(&grads).unwrap()),
            values(k.grad(&grads).unwrap()),
            values(v.grad(&grads).unwrap()),
        ]
    }

    /// The exact oracle, in f64 loops: the output and `∂q, ∂k, ∂v` of `Σ attention(q, k, v) ⊙ w`
    /// by the closed-form backward pass of softmax attention,
    /// `∂v_j = Σ_i p_ij w_i`, `∂s_ij = p_ij (w_i·v_j − Σ_j' p_ij' w_i·v_j')`,
    /// `∂q'_i = Σ_j ∂s_ij k'_j / √D`, `∂k'_j = Σ_i ∂s_ij q'_i / √D`, with `x' = R_t x` RoPE's
    /// rotation at angle `t θ_p`, `θ_p = 10000^(−2p/D)`, and `∂x = R_tᵀ ∂x'`.
    fn exact(data: &[TensorData; 4], dims: [usize; 4], rope: bool) -> [Vec<f32>; 4] {
        let [b, t, h, d] = dims;
        let [q, k, v, w] = [0, 1, 2, 3].map(|i| {
            let x = data[i].clone().convert::<f32>().to_vec::<f32>().unwrap();
            x.into_iter().map(f64::from).collect::<Vec<f64>>()
        });
        let at = |bi: usize, ti: usize, hi: usize| ((bi * t + ti) * h + hi) * d;
        let rotate = |x: &[f64], ti: usize, sign: f64| -> Vec<f64> {
            let mut y = x.to_vec();
            if rope {
                for p in 0..d / 2 {
                    let angle = ti as f64 * 10000f64.powf(-2.0 * p as f64 / d as f64);
                    let (c, s) = (angle.cos(), sign * angle.sin());
                    y[2 * p] = x[2 * p] * c - x[2 * p + 1] * s;
                    y[2 * p + 1] = x[2 * p] * s + x[2 * p + 1] * c;
                }
            }
            y
        };
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        let n = b * t * h * d;
        let (mut out, mut dq, mut dk, mut dv) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let scale = 1.0 / (d as f64).sqrt();
        for bi in 0..b {
            for hi in 0..h {
                let row = |x: &[f64], ti: usize| x[at(bi, ti, hi)..at(bi, ti, hi) + d].to_vec();
                let qr: Vec<Vec<f64>> = (0..t).map(|ti| rotate(&row(&q, ti), ti, 1.0)).collect();
                let kr: Vec<Vec<f64>> = (0..t).map(|ti| rotate(&row(&k, ti), ti, 1.0)).collect();
                let mut dqr = vec![vec![0.0; d]; t];
                let mut dkr = vec![vec![0.0; d]; t];
                for i in 0..t {
                    let s: Vec<f64> = (0..=i).map(|j| dot(&qr[i], &kr[j]) * scale).collect();
                    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
                    let total: f64 = e.iter().sum();
                    let p: Vec<f64> = e.iter().map(|x| x / total).collect();
                    let wi = row(&w, i);
                    let dp: Vec<f64> = (0..=i).map(|j| dot(&wi, &row(&v, j))).collect();
                    let delta = dot(&p, &dp);
                    for j in 0..=i {
                        let ds = p[j] * (dp[j] - delta) * scale;
                        for c in 0..d {
                            out[at(bi, i, hi) + c] += p[j] * v[at(bi, j, hi) + c];
                            dv[at(bi, j, hi) + c] += p[j] * wi[c];
                            dqr[i][c] += ds * kr[j][c];
                            dkr[j][c] += ds * qr[i][c];
                        }
                    }
                }
                for ti in 0..t {
                    let (gq, gk) = (rotate(&dqr[ti], ti, -1.0), rotate(&dkr[ti], ti, -1.0));
                    dq[at(bi, ti, hi)..at(bi, ti, hi) + d].copy_from_slice(&gq);
                    dk[at(bi, ti, hi)..at(bi, ti, hi) + d].copy_from_slice(&gk);
                }
            }
        }
        [out, dq, dk, dv].map(|x| x.into_iter().map(|y| y as f32).collect())
    }

    /// The materialized reference: heads swapped to `[B, H, T, D]`, burn's RoPE, stored scores,
    /// an additive −∞ causal mask and burn's softmax, all in f32 on the CPU.
    fn materialized<Bk: Backend>(
        q: Tensor<Bk, 4>,
        k: Tensor<Bk, 4>,
        v: Tensor<Bk, 4>,
        rope: Option<&burn::nn::RotaryEncoding<Bk>>,
    ) -> Tensor<Bk, 4> {
        let [_, t, _, d] = q.dims();
        let (mut q, mut k, v) = (q.swap_dims(1, 2), k.swap_dims(1, 2), v.swap_dims(1, 2));
        if let Some(rope) = rope {
            q = rope.forward(q);
            k = rope.forward(k);
        }
        let device = q.device();
        let hidden = Tensor::<Bk, 2, Bool>::tril_mask([t, t], 0, &device);
        let mask = Tensor::<Bk, 2>::zeros([t, t], &device).mask_fill(hidden, f32::NEG_INFINITY);
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((d as f64).sqrt());
        let att = softmax(scores + mask.reshape([1, 1, t, t]), 3);
        att.matmul(v).swap_dims(1, 2)
    }

    /// Forward and the three gradients of both implementations against the exact f64 oracle,
    /// for head widths 8, 24 (cuBLAS only), 32 and 64, lengths that are not a multiple of the
    /// fused kernels' 64-row tiles, with and without RoPE. The fused kernels and the cuBLAS
    /// ones in plain f32 are each within 4 times the materialized f32 attention's own error
    /// (or 1e-6); cuBLAS on TF32 tensor cores within 16 unit roundoffs of TF32 (2⁻¹¹ each:
    /// 10 stored mantissa bits). Without autodiff (inference) the output is the same to the
    /// bit.
    #[test]
    fn fused_attention_matches_the_materialized_gradients() {
        let Some(device) = gpu("fused attention") else {
            return;
        };
        let random = |dims: [usize; 4], seed: u64| {
            CpuBackend::seed(&Default::default(), seed);
            Tensor::<CpuBackend, 4>::random(
                dims,
                Distribution::Normal(0.0, 1.0),
                &Default::default(),
            )
            .into_data()
        };
        let implementations = [
            Implementation::Fused,
            Implementation::Cublas(Gemm::CublasF32),
            Implementation::Cublas(Gemm::CublasTf32),
        ];
        for (b, t, h, d) in [
            (2, 70, 3, 8),
            (2, 130, 2, 32),
            (1, 200, 2, 64),
            (3, 1, 2, 32),
            (2, 50, 2, 24),
        ] {
            for with_rope in [false, true] {
                let dims = [b, t, h, d];
                let data = [0, 1, 2, 3].map(|seed| random(dims, seed + 10));
                let config = RotaryEncodingConfig::new(t + 5, d);
                let cpu_rope = config.init::<Autodiff<CpuBackend>>(&Default::default());
                let gpu_rope = config.init::<Trained>(&device);
                let exact = exact(&data, dims, with_rope);
                let cpu = output_and_grads::<Autodiff<CpuBackend>>(
                    &data,
                    &Default::default(),
                    |q, k, v| materialized(q, k, v, with_rope.then_some(&cpu_rope)),
                );
                for implementation in implementations {
                    if !supports::<Trained>(implementation, DType::F32, d) {
                        assert_eq!((implementation, d), (Implementation::Fused, 24));
                        continue;
                    }
                    let table = with_rope.then(|| rope_table(&gpu_rope, t));
                    let gpu_run = output_and_grads::<Trained>(&data, &device, |q, k, v| {
                        attention(implementation, q, k, v, table.clone())
                    });
                    // ‖got − exact‖ / ‖exact‖, and 0 for an exact zero matched (T = 1: one
                    // key, so its probability is 1 and ∂q = ∂k = 0).
                    let error = |got: &[f32], want: &[f32]| {
                        let norm = want.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
                        if norm == 0.0 {
                            got.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max)
                        } else {
                            relative_error(got, want)
                        }
                    };
                    let case = format!("[{b}, {t}, {h}, {d}] rope={with_rope} {implementation:?}");
                    for (i, name) in ["out", "∂q", "∂k", "∂v"].iter().enumerate() {
                        let ours = error(&gpu_run[i], &exact[i]);
                        let materialized = error(&cpu[i], &exact[i]);
                        eprintln!("{case} {name}: {ours:.2e}, materialized f32 {materialized:.2e}");
                        let bound = match implementation {
                            Implementation::Cublas(Gemm::CublasTf32) => 16.0 * 2f64.powi(-11),
                            _ => (4.0 * materialized).max(1e-6),
                        };
                        assert!(
                            ours <= bound,
                            "{case} {name}: {ours:.3e}, materialized f32 {materialized:.3e}"
                        );
                    }
                    let tensor =
                        |i: usize| Tensor::<CudaBackend, 4>::from_data(data[i].clone(), &device);
                    let table = with_rope.then(|| rope_table(&gpu_rope, t).inner());
                    let inference = values(attention(
                        implementation,
                        tensor(0),
                        tensor(1),
                        tensor(2),
                        table,
                    ));
                    assert_eq!(
                        inference, gpu_run[0],
                        "{case}: the same kernels with and without autodiff"
                    );
                }
            }
        }
    }

    /// The oracle itself (no GPU needed): burn's materialized f32 attention and autodiff agree
    /// with it to f32 rounding, with and without RoPE. Rounding, not 1e-7: `∂q` and `∂k` go
    /// through `p (w·v − Δ)`, whose cancellation costs f32 about 2.5e-5 here; a wrong formula
    /// would be off by order 1.
    #[test]
    fn the_exact_oracle_is_burns_materialized_attention() {
        let dims = [2, 37, 3, 8];
        let data = [0, 1, 2, 3].map(|seed| {
            CpuBackend::seed(&Default::default(), seed);
            Tensor::<CpuBackend, 4>::random(
                dims,
                Distribution::Normal(0.0, 1.0),
                &Default::default(),
            )
            .into_data()
        });
        for with_rope in [false, true] {
            let rope =
                RotaryEncodingConfig::new(40, 8).init::<Autodiff<CpuBackend>>(&Default::default());
            let cpu =
                output_and_grads::<Autodiff<CpuBackend>>(&data, &Default::default(), |q, k, v| {
                    materialized(q, k, v, with_rope.then_some(&rope))
                });
            let oracle = exact(&data, dims, with_rope);
            for i in 0..4 {
                let error = relative_error(&cpu[i], &oracle[i]);
                eprintln!("rope={with_rope} output {i}: burn f32 vs oracle {error:.2e}");
                assert!(error < 1e-4, "rope={with_rope} output {i}: {error:.3e}");
            }
        }
    }

    #[test]
    fn head_widths_the_kernels_take() {
        for d in [4, 8, 12, 16, 32, 64, 128] {
            assert!(kernel_shape(d).is_some(), "{d}");
        }
        for d in [0, 2, 6, 24, 48, 96, 256] {
            assert!(kernel_shape(d).is_none(), "{d}");
        }
    }
}
