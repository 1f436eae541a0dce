//! [`msign_batched`](super::msign_batched) with its products on cuBLAS, for burn's CUDA backend
//! (`--features cuda`).
//!
//! burn 0.21's own CUDA matmuls run the Newton–Schulz products at a fraction of cuBLAS's rate
//! (`docs/gpu.md`), so the optimizers' orthogonalization can hand them to cuBLAS. It is
//! the iteration [`msign_batched`](super::msign_batched) documents, on the smaller Gram
//! matrix, each product one [`gemm`] (lazy, on burn's own stream: no host round trip) with the
//! transpose in the gemm's flags, and the polynomial's scalings left to burn's fused
//! element-wise kernels:
//!
//! - wide (`m ≤ n`): `G = X Xᵀ`, `P = b G + c G²`, `X ← a X + P X`
//! - tall (`m > n`): `G = Xᵀ X`, `P = b G + c G²`, `X ← a X + X P`

use super::cublas::gemm;
use super::cuda::same_type;
use super::gemm::{Gemm, msign_gemm};
use super::newton_schulz::{MsignMethod, normalize};
use crate::device::CudaBackend;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, FloatDType, Tensor};

/// Runs `msign_batched` on cuBLAS when `B` is burn's CUDA backend and [`msign_gemm`] asks for
/// it; otherwise hands `x` back untouched for burn's path.
pub(crate) fn dispatch<B: Backend>(
    x: Tensor<B, 3>,
    method: MsignMethod,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    let engine = msign_gemm();
    if engine == Gemm::Burn {
        return Err(x);
    }
    let cuda = same_type::<Tensor<B, 3>, Tensor<CudaBackend, 3>>(x)?;
    let out = msign_batched_cublas(cuda, method, engine);
    Ok(same_type(out).unwrap_or_else(|_| unreachable!("B is the CUDA backend")))
}

/// `msign` of each matrix of `x: [batch, m, n]` on cuBLAS, `[batch, m, n]` out in `x`'s dtype.
/// `engine` picks the operands' type and math: [`Gemm::CublasBf16`] casts the normalized
/// iterate to bf16 (as muon.py), the others keep f32; [`Gemm::Burn`] is not accepted here.
///
/// # Panics
/// On [`Gemm::Burn`]; when the gemms run, on a CUDA or cuBLAS error (see [`gemm`]).
pub fn msign_batched_cublas(
    x: Tensor<CudaBackend, 3>,
    method: MsignMethod,
    engine: Gemm,
) -> Tensor<CudaBackend, 3> {
    assert!(
        engine != Gemm::Burn,
        "msign_batched_cublas: cuBLAS was not asked for"
    );
    let [_, m, n] = x.dims();
    let input_dtype = x.dtype();
    let work = if engine == Gemm::CublasBf16 {
        DType::BF16
    } else {
        DType::F32
    };
    // Normalization in burn, in the input's precision (as msign_batched).
    let mut x = normalize(x, method).cast(FloatDType::from(work));
    let wide = m <= n;
    for (a, b, c) in method.coefficients() {
        // G: [batch, r, r], r = min(m, n).
        let gram = gemm(x.clone(), !wide, x.clone(), wide, engine);
        let poly = gram.clone().mul_scalar(b)
            + gemm(gram.clone(), false, gram, false, engine).mul_scalar(c);
        let update = if wide {
            gemm(poly, false, x.clone(), false, engine)
        } else {
            gemm(x.clone(), false, poly, false, engine)
        };
        x = x.mul_scalar(a) + update;
    }
    x.cast(FloatDType::from(input_dtype))
}

/// These run only where a GPU is: on a machine without one (CI, the build box) each test
/// prints that it found none and returns. On the GPU host they run from the carried test
/// binary (`docs/gpu.md`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::test_util::{gaussian, gpu, relative_error};
    use crate::linalg::{msign_batched, set_msign_gemm};
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    /// `batch` Gaussian `[m, n]` matrices, row-major.
    fn gaussian_batch(batch: usize, m: usize, n: usize) -> Vec<f32> {
        (0..batch)
            .flat_map(|i| {
                gaussian(m, n, 7 + i as u64)
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap()
            })
            .collect()
    }

    /// cuBLAS msign against burn's msign on the CPU (NdArray, f32) on the same matrices, wide,
    /// tall and square, for each cuBLAS precision; and the iterates never touch the input.
    #[test]
    fn cublas_msign_matches_the_cpu_iteration() {
        let Some(device) = gpu("cuBLAS msign") else {
            return;
        };
        let method = MsignMethod::default();
        for (batch, m, n) in [(3, 96, 256), (2, 300, 128), (4, 64, 64)] {
            let data = gaussian_batch(batch, m, n);
            let cpu = msign_batched(
                Tensor::<NdArray, 3>::from_data(
                    TensorData::new(data.clone(), [batch, m, n]),
                    &Default::default(),
                ),
                method,
            )
            .into_data()
            .to_vec::<f32>()
            .unwrap();
            for (gemm, tolerance) in [
                (Gemm::CublasF32, 1e-4),
                (Gemm::CublasTf32, 2e-2),
                (Gemm::CublasBf16, 6e-2),
            ] {
                let x = Tensor::<CudaBackend, 3>::from_data(
                    TensorData::new(data.clone(), [batch, m, n]),
                    &device,
                );
                let out = msign_batched_cublas(x.clone(), method, gemm);
                assert_eq!(out.dims(), [batch, m, n]);
                assert_eq!(out.dtype(), DType::F32);
                let gpu = out.into_data().to_vec::<f32>().unwrap();
                let error = relative_error(&gpu, &cpu);
                eprintln!("{gemm} [{batch}, {m}, {n}]: relative error {error:.2e}");
                assert!(
                    error < tolerance,
                    "{gemm} [{batch}, {m}, {n}]: {error:.3e} ≥ {tolerance:e}"
                );
                let input = x.into_data().to_vec::<f32>().unwrap();
                assert_eq!(input, data, "{gemm}: the input was written");
            }
        }
    }

    /// Through the dispatch that the optimizers' `msign_batched` calls: burn's path when the
    /// switch says burn, cuBLAS's (equal to the direct call, bit for bit) when it does not.
    #[test]
    fn dispatch_follows_the_switch() {
        let Some(device) = gpu("cuBLAS msign") else {
            return;
        };
        let method = MsignMethod::PolarExpress { steps: 6 };
        let x = Tensor::<CudaBackend, 3>::from_data(
            TensorData::new(gaussian_batch(2, 48, 80), [2, 48, 80]),
            &device,
        );
        set_msign_gemm(Gemm::CublasF32);
        let switched = msign_batched(x.clone(), method).into_data();
        set_msign_gemm(Gemm::Burn);
        let direct = msign_batched_cublas(x.clone(), method, Gemm::CublasF32).into_data();
        let burn = msign_batched(x, method)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(switched, direct);
        // burn's CUDA matmul runs f32 on TF32 tensor cores, so burn's path is as far from the
        // f32 result as cuBLAS TF32 is (2.2e-3 measured on an H100, 2.3e-3 for cuBLAS TF32
        // against the CPU in the test above).
        let error = relative_error(&direct.to_vec::<f32>().unwrap(), &burn);
        assert!(error < 2e-2, "burn vs cuBLAS f32: {error:.3e}");
    }
}
