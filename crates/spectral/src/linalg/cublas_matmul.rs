//! [`matmul`](super::matmul) on cuBLAS for burn's CUDA backend, forward and backward
//! (`--features cuda`).
//!
//! With autodiff, the product is one node of burn's graph whose backward pass is two more
//! cuBLAS gemms, with no data transposed:
//!
//! ```text
//! C = A B        ∂A = ∂C Bᵀ        ∂B = Aᵀ ∂C        A: [batch, m, k], B: [batch | 1, k, n]
//! ```
//!
//! A weight shared by the whole batch (`B: [1, k, n]`) folds the batch into rows, so each of
//! the three is a single gemm and `∂B = Aᵀ ∂C` sums over the batch inside the gemm's reduction.

use super::cublas::gemm;
use super::cuda::same_type;
use super::gemm::{Gemm, matmul_gemm};
use crate::device::CudaBackend;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};
use burn_autodiff::NodeId;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind, binary};

type Trained = Autodiff<CudaBackend>;

/// Runs `a · b` on cuBLAS when `B` is burn's CUDA backend (with or without autodiff), the
/// switch asks for it, and the shapes are `[..., m, k] · [..., k, n]` with `b`'s leading
/// dimensions `a`'s or all 1; otherwise hands the operands back for burn's matmul.
#[allow(clippy::type_complexity)]
pub(crate) fn dispatch<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
) -> Result<Tensor<B, D>, (Tensor<B, D>, Tensor<B, D>)> {
    dispatch_with(a, b, matmul_gemm())
}

/// [`dispatch`] with the engine given.
#[allow(clippy::type_complexity)]
fn dispatch_with<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
    engine: Gemm,
) -> Result<Tensor<B, D>, (Tensor<B, D>, Tensor<B, D>)> {
    let (da, db) = (a.dims(), b.dims());
    let lead_a = &da[..D.saturating_sub(2)];
    let lead_b = &db[..D.saturating_sub(2)];
    let shared_b = lead_b.iter().all(|&d| d == 1);
    let supported = engine != Gemm::Burn
        && D >= 2
        && da[D - 1] == db[D - 2]
        && (shared_b || lead_a == lead_b)
        && a.dtype() == b.dtype();
    if !supported {
        return Err((a, b));
    }
    let (m, k, n) = (da[D - 2], da[D - 1], db[D - 1]);
    let batch: usize = lead_a.iter().product();
    let mut out_dims = da;
    out_dims[D - 1] = n;
    let a3 = a.clone().reshape([batch, m, k]);
    let b3 = b.clone().reshape([if shared_b { 1 } else { batch }, k, n]);
    let product = match same_type::<_, (Tensor<Trained, 3>, Tensor<Trained, 3>)>((a3, b3)) {
        Ok((a, b)) => same_type(matmul_trained(a, b, engine)).ok(),
        Err(pair) => match same_type::<_, (Tensor<CudaBackend, 3>, Tensor<CudaBackend, 3>)>(pair) {
            Ok((a, b)) => same_type(times_rhs(a, b, false, engine)).ok(),
            Err(_) => return Err((a, b)),
        },
    };
    let product: Tensor<B, 3> = product.expect("the product has the operands' backend");
    Ok(product.reshape(out_dims))
}

/// `a · op(b)` on cuBLAS, `op` the transpose when `transpose_b`: `a: [batch, m, k]`,
/// `b: [batch | 1, k, n]` (or `[batch | 1, n, k]` transposed) → `[batch, m, n]`. A `b` shared
/// by the batch folds the batch into rows: one `[batch·m, k] · [k, n]` gemm. The forward
/// product is `a · b`, and `∂A = ∂C · Bᵀ` is the same with `transpose_b`.
fn times_rhs(
    a: Tensor<CudaBackend, 3>,
    b: Tensor<CudaBackend, 3>,
    transpose_b: bool,
    engine: Gemm,
) -> Tensor<CudaBackend, 3> {
    let [batch, m, k] = a.dims();
    let [batch_b, rows_b, cols_b] = b.dims();
    let n = if transpose_b { rows_b } else { cols_b };
    if batch_b == 1 && batch > 1 {
        let rows = gemm(a.reshape([1, batch * m, k]), false, b, transpose_b, engine);
        rows.reshape([batch, m, n])
    } else {
        gemm(a, false, b, transpose_b, engine)
    }
}

/// `∂B = Aᵀ ∂C`, summed over the batch when `b` is shared: `a: [batch, m, k]`,
/// `grad: [batch, m, n]` → `[batch_b, k, n]`.
fn grad_rhs(
    a: Tensor<CudaBackend, 3>,
    grad: Tensor<CudaBackend, 3>,
    batch_b: usize,
    engine: Gemm,
) -> Tensor<CudaBackend, 3> {
    let [batch, m, k] = a.dims();
    let n = grad.dims()[2];
    if batch_b == 1 && batch > 1 {
        let a = a.reshape([1, batch * m, k]);
        gemm(a, true, grad.reshape([1, batch * m, n]), false, engine)
    } else {
        gemm(a, true, grad, false, engine)
    }
}

fn tensor(primitive: FloatTensor<CudaBackend>) -> Tensor<CudaBackend, 3> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

fn primitive(tensor: Tensor<CudaBackend, 3>) -> FloatTensor<CudaBackend> {
    tensor.into_primitive().tensor()
}

/// The backward step of one cuBLAS product.
#[derive(Debug)]
struct CublasMatmul;

impl Backward<CudaBackend, 2> for CublasMatmul {
    /// The operands' checkpoints (each kept only when the other one needs a gradient), `b`'s
    /// batch, and the engine.
    type State = (Option<NodeId>, Option<NodeId>, usize, Gemm);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (a, b, batch_b, engine) = ops.state;
        let a = a.map(|id| tensor(checkpointer.retrieve_node_output(id)));
        let b = b.map(|id| tensor(checkpointer.retrieve_node_output(id)));
        binary::<CudaBackend, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                primitive(times_rhs(
                    tensor(grad),
                    b.expect("b kept for ∂A"),
                    true,
                    engine,
                ))
            },
            |grad| {
                primitive(grad_rhs(
                    a.expect("a kept for ∂B"),
                    tensor(grad),
                    batch_b,
                    engine,
                ))
            },
        );
    }
}

fn matmul_trained(
    a: Tensor<Trained, 3>,
    b: Tensor<Trained, 3>,
    engine: Gemm,
) -> Tensor<Trained, 3> {
    let batch_b = b.dims()[0];
    let a = a.into_primitive().tensor();
    let b = b.into_primitive().tensor();
    let product = |a: FloatTensor<CudaBackend>, b: FloatTensor<CudaBackend>| {
        primitive(times_rhs(tensor(a), tensor(b), false, engine))
    };
    let (a_tracked, b_tracked) = (a.is_tracked(), b.is_tracked());
    let out = match CublasMatmul
        .prepare::<burn_autodiff::checkpoint::strategy::NoCheckpointing>([
            a.node.clone(),
            b.node.clone(),
        ])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let a_state = b_tracked.then(|| prep.checkpoint(&a));
            let b_state = a_tracked.then(|| prep.checkpoint(&b));
            prep.finish(
                (a_state, b_state, batch_b, engine),
                product(a.primitive, b.primitive),
            )
        }
        OpsKind::UnTracked(prep) => prep.finish(product(a.primitive, b.primitive)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// These run only where a GPU is: on a machine without one (CI, the build box) each test
/// prints that it found none and returns. On the GPU host they run from the carried test
/// binary (`docs/gpu.md`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use crate::linalg::test_util::{gpu, relative_error, values};
    use burn::tensor::{Distribution, TensorData};

    /// The product, `∂a` and `∂b` of `loss = Σ (a·b) ⊙ w`, by burn's autodiff on `Bk`; `swap`
    /// feeds `a` as a non-contiguous view (stored `[.., k, m]`, swapped), as attention does.
    fn product_and_grads<Bk: burn::tensor::backend::AutodiffBackend>(
        data: [&TensorData; 3],
        swap: bool,
        device: &Bk::Device,
        product: impl Fn(Tensor<Bk, 4>, Tensor<Bk, 4>) -> Tensor<Bk, 4>,
    ) -> [Vec<f32>; 3] {
        let a = Tensor::<Bk, 4>::from_data(data[0].clone(), device).require_grad();
        let b = Tensor::<Bk, 4>::from_data(data[1].clone(), device).require_grad();
        let w = Tensor::<Bk, 4>::from_data(data[2].clone(), device);
        let lhs = if swap {
            a.clone().swap_dims(2, 3)
        } else {
            a.clone()
        };
        let y = product(lhs, b.clone());
        let grads = (y.clone() * w).sum().backward();
        [
            values(y),
            values(a.grad(&grads).unwrap()),
            values(b.grad(&grads).unwrap()),
        ]
    }

    /// Forward and both gradients against burn's autodiff on the CPU (NdArray, f32), for a
    /// shared weight (`b: [1, 1, k, n]`, the linear layers), a batched `b` (attention), and a
    /// non-contiguous `a`; each engine within its precision.
    #[test]
    fn cublas_matmul_matches_the_cpu_gradients() {
        let Some(device) = gpu("cuBLAS matmul") else {
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
        // (a as stored, b, swap a's last two dimensions)
        let cases = [
            ([2, 3, 40, 24], [1, 1, 24, 17], false),
            ([2, 3, 40, 24], [2, 3, 24, 17], false),
            ([2, 3, 24, 40], [2, 3, 24, 17], true),
            ([1, 1, 130, 64], [1, 1, 64, 96], false),
        ];
        for (a_dims, b_dims, swap) in cases {
            let (m, n) = if swap {
                (a_dims[3], b_dims[3])
            } else {
                (a_dims[2], b_dims[3])
            };
            let data = [
                random(a_dims, 1),
                random(b_dims, 2),
                random([a_dims[0], a_dims[1], m, n], 3),
            ];
            let data = [&data[0], &data[1], &data[2]];
            let cpu = product_and_grads::<Autodiff<CpuBackend>>(
                data,
                swap,
                &Default::default(),
                |a, b| a.matmul(b),
            );
            for (engine, tolerance) in [
                (Gemm::CublasF32, 1e-5),
                (Gemm::CublasTf32, 5e-3),
                (Gemm::CublasBf16, 2e-2),
            ] {
                let gpu = product_and_grads::<Trained>(data, swap, &device, |a, b| {
                    dispatch_with(a, b, engine).expect("supported shapes")
                });
                for (name, got, want) in [
                    ("a·b", &gpu[0], &cpu[0]),
                    ("∂a", &gpu[1], &cpu[1]),
                    ("∂b", &gpu[2], &cpu[2]),
                ] {
                    let error = relative_error(got, want);
                    eprintln!("{engine} {a_dims:?}·{b_dims:?} swap={swap} {name}: {error:.2e}");
                    assert!(
                        error < tolerance,
                        "{engine} {a_dims:?}·{b_dims:?} {name}: {error:.3e}"
                    );
                }
            }
        }
    }

    /// Without autodiff too (inference, `eval`), and shapes cuBLAS does not take here (`a`
    /// broadcast against a batched `b`) go back to burn untouched.
    #[test]
    fn untracked_products_and_fallback() {
        let Some(device) = gpu("cuBLAS matmul") else {
            return;
        };
        let a =
            Tensor::<CudaBackend, 3>::random([4, 33, 20], Distribution::Normal(0.0, 1.0), &device);
        let b =
            Tensor::<CudaBackend, 3>::random([1, 20, 12], Distribution::Normal(0.0, 1.0), &device);
        let want = values(a.clone().matmul(b.clone()));
        let got = values(dispatch_with(a.clone(), b.clone(), Gemm::CublasF32).expect("supported"));
        // burn's own CUDA matmul is TF32.
        assert!(relative_error(&got, &want) < 5e-3);
        let broadcast_a = a.clone().narrow(0, 0, 1);
        let batched_b =
            Tensor::<CudaBackend, 3>::random([4, 20, 12], Distribution::Normal(0.0, 1.0), &device);
        assert!(dispatch_with(broadcast_a, batched_b, Gemm::CublasF32).is_err());
        assert!(dispatch_with(a, b, Gemm::Burn).is_err());
    }
}
