//! Exact dense linear algebra on the CPU in f64, through faer: the reference the device-side
//! iterations are tested against, and the tool for offline analysis.
//!
//! Conversions keep burn's row-major `[rows, cols]` meaning: entry `(i, j)` of the tensor is
//! `m[(i, j)]` of the faer matrix. Every decomposition checks finiteness first and returns a
//! [`LinalgError`] naming the offending entry.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use faer::{Mat, Side};

use super::LinalgError;

/// Copies a `[rows, cols]` tensor to the host as an f64 faer matrix.
pub fn to_faer<B: Backend>(t: Tensor<B, 2>) -> Mat<f64> {
    let (values, [rows, cols]) = to_row_major(t);
    Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
}

/// Copies an f64 faer matrix to the device as a `[rows, cols]` tensor (rounded to the
/// backend's float type).
pub fn from_faer<B: Backend>(m: &Mat<f64>, device: &B::Device) -> Tensor<B, 2> {
    let (rows, cols) = (m.nrows(), m.ncols());
    let values: Vec<f64> = (0..rows * cols).map(|p| m[(p / cols, p % cols)]).collect();
    from_row_major(&values, rows, cols, device)
}

/// Copies a `[rows, cols]` tensor to the host: its entries in row-major order, and its shape.
pub fn to_row_major<B: Backend>(t: Tensor<B, 2>) -> (Vec<f64>, [usize; 2]) {
    let dims = t.dims();
    (t.into_data().iter::<f64>().collect(), dims)
}

/// Makes a `[rows, cols]` tensor from entries in row-major order.
pub fn from_row_major<B: Backend>(
    values: &[f64],
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    assert_eq!(values.len(), rows * cols, "from_row_major: {rows} x {cols}");
    let values: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Fails on the first non-finite entry (row by row).
pub fn check_finite(a: &Mat<f64>, what: &'static str) -> Result<(), LinalgError> {
    for row in 0..a.nrows() {
        for col in 0..a.ncols() {
            let value = a[(row, col)];
            if !value.is_finite() {
                return Err(LinalgError::NonFinite {
                    what,
                    row,
                    col,
                    value,
                });
            }
        }
    }
    Ok(())
}

/// Thin SVD `A = U diag(s) Vᵀ` of `A: [m, n]`, with `r = min(m, n)`.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Left singular vectors, `[m, r]`, orthonormal columns.
    pub u: Mat<f64>,
    /// Singular values, `r` of them, non-negative and non-increasing.
    pub s: Vec<f64>,
    /// Right singular vectors, `[n, r]`, orthonormal columns.
    pub v: Mat<f64>,
}

impl Svd {
    /// The orthogonal polar factor `U Vᵀ`, `[m, n]`: what `msign` approximates.
    pub fn polar(&self) -> Mat<f64> {
        &self.u * self.v.transpose()
    }
}

/// The singular values of `A`, non-increasing, `min(m, n)` of them.
pub fn singular_values(a: &Mat<f64>) -> Result<Vec<f64>, LinalgError> {
    check_finite(a, "singular_values")?;
    a.singular_values().map_err(|_| LinalgError::NoConvergence {
        what: "singular_values",
    })
}

/// The thin SVD of `A` (see [`Svd`]).
pub fn svd(a: &Mat<f64>) -> Result<Svd, LinalgError> {
    check_finite(a, "svd")?;
    let d = a
        .thin_svd()
        .map_err(|_| LinalgError::NoConvergence { what: "svd" })?;
    Ok(Svd {
        u: d.U().to_owned(),
        s: d.S().column_vector().iter().copied().collect(),
        v: d.V().to_owned(),
    })
}

/// Thin Householder QR `A = Q R` of `A: [m, n]` with `r = min(m, n)`: `Q: [m, r]` with
/// orthonormal columns and `R: [r, n]` upper trapezoidal.
pub fn qr(a: &Mat<f64>) -> Result<(Mat<f64>, Mat<f64>), LinalgError> {
    check_finite(a, "qr")?;
    let d = a.qr();
    Ok((d.compute_thin_Q(), d.thin_R().to_owned()))
}

/// Eigendecomposition `A = W diag(λ) Wᵀ` of a symmetric `A: [n, n]` (only its lower triangle
/// is read): eigenvalues non-decreasing (faer's order), `W: [n, n]` orthogonal, column `i`
/// belonging to `λ[i]`.
pub fn symmetric_eigen(a: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>), LinalgError> {
    if a.nrows() != a.ncols() {
        return Err(LinalgError::Shape {
            what: "symmetric_eigen",
            expected: "a square matrix",
            rows: a.nrows(),
            cols: a.ncols(),
        });
    }
    check_finite(a, "symmetric_eigen")?;
    let d = a
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| LinalgError::NoConvergence {
            what: "symmetric_eigen",
        })?;
    Ok((
        d.S().column_vector().iter().copied().collect(),
        d.U().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
        assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
        let mut worst = 0.0_f64;
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                worst = worst.max((a[(i, j)] - b[(i, j)]).abs());
            }
        }
        worst
    }

    fn sample(rows: usize, cols: usize) -> Mat<f64> {
        Mat::from_fn(rows, cols, |i, j| {
            ((i * 7 + j * 13) % 11) as f64 - 5.0 + 0.1 * (i as f64) - 0.03 * (j * j) as f64
        })
    }

    #[test]
    fn tensor_round_trip_keeps_row_major_layout() {
        let device = Default::default();
        let t = Tensor::<CpuBackend, 2>::from_floats([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], &device);
        let m = to_faer(t.clone());
        assert_eq!((m.nrows(), m.ncols()), (2, 3));
        assert_eq!(m[(0, 2)], 3.0);
        assert_eq!(m[(1, 0)], 4.0);
        let back: Tensor<CpuBackend, 2> = from_faer(&m, &device);
        assert_eq!(back.into_data(), t.into_data());
    }

    #[test]
    fn svd_reconstructs_and_agrees_with_singular_values() {
        for (m, n) in [(7, 4), (4, 7), (5, 5)] {
            let a = sample(m, n);
            let d = svd(&a).unwrap();
            let r = m.min(n);
            assert_eq!((d.u.ncols(), d.v.ncols(), d.s.len()), (r, r, r));
            let sigma = Mat::from_fn(r, r, |i, j| if i == j { d.s[i] } else { 0.0 });
            let rebuilt = &d.u * &sigma * d.v.transpose();
            // f64 backward-stable SVD: errors of a few ulps of ‖A‖ (~30 here).
            assert!(max_abs_diff(&rebuilt, &a) < 1e-12, "{m}x{n}");
            assert!(d.s.windows(2).all(|w| w[0] >= w[1]));
            let s = singular_values(&a).unwrap();
            for (x, y) in s.iter().zip(&d.s) {
                assert!((x - y).abs() < 1e-12);
            }
            let p = d.polar();
            let ptp = if m >= n {
                p.transpose() * &p
            } else {
                &p * p.transpose()
            };
            assert!(max_abs_diff(&ptp, &Mat::identity(r, r)) < 1e-13);
        }
    }

    #[test]
    fn qr_and_symmetric_eigen_reconstruct() {
        let a = sample(9, 4);
        let (q, r) = qr(&a).unwrap();
        assert!(max_abs_diff(&(&q * &r), &a) < 1e-12);
        assert!(max_abs_diff(&(q.transpose() * &q), &Mat::identity(4, 4)) < 1e-14);
        for i in 0..r.nrows() {
            for j in 0..i {
                assert_eq!(r[(i, j)], 0.0);
            }
        }
        let g = a.transpose() * &a;
        let (lambda, w) = symmetric_eigen(&g).unwrap();
        assert!(lambda.windows(2).all(|x| x[0] <= x[1]));
        let diag = Mat::from_fn(4, 4, |i, j| if i == j { lambda[i] } else { 0.0 });
        // ‖G‖ ~ 1e3: a few ulps of it.
        assert!(max_abs_diff(&(&w * diag * w.transpose()), &g) < 1e-10);
        // Eigenvalues of AᵀA are the squared singular values of A.
        let s = singular_values(&a).unwrap();
        for (l, s) in lambda.iter().rev().zip(&s) {
            assert!((l - s * s).abs() < 1e-10 * s * s);
        }
    }

    #[test]
    fn non_finite_and_bad_shapes_are_named() {
        let mut a = sample(3, 3);
        a[(1, 2)] = f64::NAN;
        match svd(&a) {
            Err(LinalgError::NonFinite { row, col, .. }) => assert_eq!((row, col), (1, 2)),
            other => panic!("expected NonFinite, got {other:?}"),
        }
        a[(1, 2)] = f64::INFINITY;
        assert!(matches!(
            singular_values(&a),
            Err(LinalgError::NonFinite { row: 1, col: 2, .. })
        ));
        assert!(matches!(
            symmetric_eigen(&sample(2, 3)),
            Err(LinalgError::Shape {
                rows: 2,
                cols: 3,
                ..
            })
        ));
        let msg = qr(&a).unwrap_err().to_string();
        assert!(msg.contains("(1, 2)") && msg.contains("inf"), "{msg}");
    }
}
