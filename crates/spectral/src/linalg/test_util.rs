//! Test matrices with known spectra and comparisons against faer, shared by the linalg tests.

use burn::tensor::Tensor;
use faer::Mat;

use super::exact::{from_faer, qr, singular_values, to_faer};
use super::random::gaussian_matrix;
use crate::CpuBackend;

pub type T2 = Tensor<CpuBackend, 2>;

pub fn gaussian(rows: usize, cols: usize, seed: u64) -> T2 {
    gaussian_matrix::<CpuBackend>(rows, cols, seed, &Default::default())
}

/// `[rows, r]` with orthonormal columns (f64), from the QR of a seeded Gaussian matrix.
pub fn orthonormal(rows: usize, r: usize, seed: u64) -> Mat<f64> {
    qr(&to_faer(gaussian(rows, r, seed))).unwrap().0
}

/// `A = U diag(sigma) Vᵀ: [m, n]` with seeded random orthonormal `U: [m, r]`, `V: [n, r]`,
/// `r = sigma.len()`; returns the f32 tensor and the exact f64 factors.
pub fn with_spectrum(m: usize, n: usize, sigma: &[f64], seed: u64) -> (T2, Mat<f64>, Mat<f64>) {
    let r = sigma.len();
    let u = orthonormal(m, r, seed);
    let v = orthonormal(n, r, seed + 1);
    let d = Mat::from_fn(r, r, |i, j| if i == j { sigma[i] } else { 0.0 });
    let a = &u * d * v.transpose();
    (from_faer(&a, &Default::default()), u, v)
}

/// Exact singular values (f64, non-increasing) of an f32 tensor.
pub fn sv(t: T2) -> Vec<f64> {
    singular_values(&to_faer(t)).unwrap()
}

pub fn frobenius(t: &T2) -> f64 {
    let m = to_faer(t.clone());
    m.as_ref().norm_l2()
}

pub fn max_abs(m: &Mat<f64>) -> f64 {
    let mut worst = 0.0_f64;
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            worst = worst.max(m[(i, j)].abs());
        }
    }
    worst
}

/// `max |a − b|` entrywise.
pub fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    max_abs(&(a - b))
}

/// `‖QᵀQ − I‖_max` of an f32 tensor `Q: [m, k]`, in f64.
pub fn orthonormality_error(q: T2) -> f64 {
    let q = to_faer(q);
    max_abs_diff(&(q.transpose() * &q), &Mat::identity(q.ncols(), q.ncols()))
}

/// Sine of the largest principal angle between the column spans of `a: [m, k]` and the
/// orthonormal `b: [m, k]`: `‖(I − B Bᵀ) A‖₂` for orthonormal `A`.
pub fn sin_angle(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let residual = a - b * (b.transpose() * a);
    singular_values(&residual).unwrap()[0]
}

/// The first CUDA device, or `None` after a line saying that `what` was not exercised: the
/// cuBLAS tests run only where a GPU is (from the carried test binary, `docs/gpu.md`).
#[cfg(feature = "cuda")]
pub fn gpu(what: &str) -> Option<burn::backend::cuda::CudaDevice> {
    match crate::device::DeviceKind::Cuda(0).check_built() {
        Ok(_) => Some(burn::backend::cuda::CudaDevice::new(0)),
        Err(e) => {
            eprintln!("no GPU here, {what} not exercised: {e}");
            None
        }
    }
}

/// A tensor's entries as f32, row-major, from any backend and dtype.
#[cfg(feature = "cuda")]
pub fn values<B: burn::tensor::backend::Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()
}

/// `‖a − b‖_F / ‖b‖_F` of two equally long f32 vectors, in f64.
#[cfg(feature = "cuda")]
pub fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
    let norm: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (diff / norm).sqrt()
}
