//! Orthonormal bases of column spaces by shifted CholeskyQR: the tensor work is matmuls (the
//! GPU-friendly part), the `k × k` Cholesky factorizations run on the host in f64.
//!
//! One CholeskyQR pass on `X: [m, k]`: `G = XᵀX` (device), `G + sI = L Lᵀ` (host), `Q = X L⁻ᵀ`
//! (device, `L⁻ᵀ` uploaded). The passes here (shifted CholeskyQR3, Fukaya, Kudo, Nakatsukasa,
//! Yamazaki, Yamamoto, *Shifted Cholesky QR for computing the QR factorization of
//! ill-conditioned matrices*, SIAM J. Sci. Comput. 2020):
//!
//! 1. scale the columns to unit norm (the span is unchanged; a zero column stays zero), so the
//!    shift and the thresholds below are relative to each column;
//! 2. a pass with shift `s = (m + k) k u` (`u = 2⁻²⁴`, f32 unit round-off; `k = tr G`), larger
//!    than the rounding error of the f32 Gram matrix, so the Cholesky factorization cannot fail
//!    even for a rank-deficient `X`; the result has condition number at most ~`1/√s`;
//! 3. an unshifted pass whose Cholesky pivots detect (numerical) rank deficiency: column `j`
//!    whose squared distance to the span of the columns before it is below
//!    `τ = 100 (m + k) u` (about a hundred times the f32 rounding level of that Gram matrix) is
//!    replaced by a seeded Gaussian vector, and the pass is redone, so `Q` always has `k`
//!    orthonormal columns; its span then contains the numerically independent columns of `X`;
//! 4. a final unshifted pass, which brings `QᵀQ − I` to the f32 rounding level (~`√m u`).
//!
//! For full-rank `X` the composite factor is upper triangular, so `Q[:, ..j]` spans
//! `X[:, ..j]` for every `j`, as in a QR factorization. Columns whose independent part is
//! below ~`10 (m + k) u √k` of their norm count as dependent: an f32 Gram matrix cannot resolve
//! them.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::exact::{from_row_major, to_row_major};
use super::random::gaussian_matrix;

/// f32 unit round-off, `2⁻²⁴`.
const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// Seed of the Gaussian vectors that replace dependent columns (fixed: the result is a pure
/// function of `X`).
const FILL_SEED: u64 = 0x5eed_0fc1;

/// `Q: [m, k]` with `QᵀQ = I` spanning the columns of `X: [m, k]` (`m ≥ k`); see the module
/// doc for the method and for what happens to dependent or zero columns (they are replaced,
/// never NaN).
pub fn orthonormalize_columns<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [m, k] = x.dims();
    assert!(
        m >= k,
        "orthonormalize_columns: need rows >= columns, got [{m}, {k}]"
    );
    if k == 0 {
        return x;
    }
    let device = x.device();
    let scale = |m: usize| (m + k) as f64 * UNIT_ROUNDOFF;

    // 1. Unit columns (zero columns stay zero).
    let (norms, _) = to_row_major(x.clone().square().sum_dim(0).sqrt()); // [1, k]
    let inv: Vec<f64> = norms
        .iter()
        .map(|&n| if n > f64::MIN_POSITIVE { 1.0 / n } else { 0.0 })
        .collect();
    let x = x.mul(from_row_major::<B>(&inv, 1, k, &device));

    // 2. Shifted pass: cannot fail.
    let shift = scale(m) * k as f64;
    let gram = gram_host(&x);
    // The shift exceeds the Gram matrix's rounding error, so the first try succeeds for finite
    // input; the doublings only guard the bound.
    let factor = (0..8)
        .find_map(|d| cholesky(&gram, k, shift * f64::from(1 << d), 0.0).ok())
        .unwrap_or_else(|| vec![f64::NAN; k * k]);
    let mut q = x.matmul(inv_transpose_lower(&factor, k, &device));

    // 3. Unshifted pass; replace dependent columns and redo until none (with probability one
    //    the first replacement suffices; the bound only guards against a pathological input).
    let threshold = 100.0 * scale(m);
    let mut factor = None;
    for attempt in 0..4 {
        let gram = gram_host(&q);
        match cholesky(&gram, k, 0.0, threshold) {
            Ok(l) => {
                factor = Some(l);
                break;
            }
            Err(dependent) => {
                q = replace_columns(q, &dependent, FILL_SEED + attempt);
            }
        }
    }
    let factor = factor.unwrap_or_else(|| {
        // Not reachable for finite input; NaN input lands here and stays NaN.
        vec![f64::NAN; k * k]
    });
    let q = q.matmul(inv_transpose_lower(&factor, k, &device));

    // 4. Polish.
    let gram = gram_host(&q);
    let factor = cholesky(&gram, k, 0.0, 0.0).unwrap_or_else(|_| vec![f64::NAN; k * k]);
    q.matmul(inv_transpose_lower(&factor, k, &device))
}

/// `XᵀX` on the device, copied to the host, row-major `k × k`.
fn gram_host<B: Backend>(x: &Tensor<B, 2>) -> Vec<f64> {
    to_row_major(x.clone().transpose().matmul(x.clone())).0
}

/// Lower Cholesky factor `L` (row-major `k × k`) of `G + shift·I`, reading the lower triangle.
/// A pivot `d_j` (squared distance of column `j` to the span of the columns before it) below
/// `threshold · max(G_jj, 1)` marks column `j` dependent; the factorization continues without
/// it and returns all dependent columns as the error. NaN input yields a NaN factor.
fn cholesky(g: &[f64], k: usize, shift: f64, threshold: f64) -> Result<Vec<f64>, Vec<usize>> {
    let mut l = vec![0.0_f64; k * k];
    let mut dependent = Vec::new();
    for j in 0..k {
        let d = g[j * k + j] + shift - (0..j).map(|p| l[j * k + p].powi(2)).sum::<f64>();
        if d <= threshold * g[j * k + j].max(1.0) {
            dependent.push(j);
            continue; // column j of L stays zero: later columns ignore it
        }
        let root = d.sqrt();
        l[j * k + j] = root;
        for i in j + 1..k {
            let dot: f64 = (0..j).map(|p| l[i * k + p] * l[j * k + p]).sum();
            l[i * k + j] = (g[i * k + j] - dot) / root;
        }
    }
    if dependent.is_empty() {
        Ok(l)
    } else {
        Err(dependent)
    }
}

/// `L⁻ᵀ` (upper triangular) as a `[k, k]` tensor, so that `Q = X L⁻ᵀ`.
fn inv_transpose_lower<B: Backend>(l: &[f64], k: usize, device: &B::Device) -> Tensor<B, 2> {
    // Columns of L⁻¹ by forward substitution: L y = e_c.
    let mut inv = vec![0.0; k * k]; // row-major L⁻¹
    for c in 0..k {
        for i in c..k {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let dot: f64 = (c..i).map(|p| l[i * k + p] * inv[p * k + c]).sum();
            inv[i * k + c] = (rhs - dot) / l[i * k + i];
        }
    }
    let transposed: Vec<f64> = (0..k * k).map(|p| inv[(p % k) * k + p / k]).collect();
    from_row_major(&transposed, k, k, device)
}

/// `Q` with the listed columns replaced by unit-norm seeded Gaussian vectors.
fn replace_columns<B: Backend>(q: Tensor<B, 2>, columns: &[usize], seed: u64) -> Tensor<B, 2> {
    let [m, k] = q.dims();
    let device = q.device();
    let fill = gaussian_matrix::<B>(m, k, seed, &device).div_scalar((m as f64).sqrt());
    let mut keep = vec![1.0_f32; k];
    for &c in columns {
        keep[c] = 0.0;
    }
    let replace: Vec<f32> = keep.iter().map(|&w| 1.0 - w).collect();
    let keep = Tensor::<B, 2>::from_data(TensorData::new(keep, [1, k]), &device);
    let replace = Tensor::<B, 2>::from_data(TensorData::new(replace, [1, k]), &device);
    q.mul(keep) + fill.mul(replace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::exact::to_faer;
    use crate::linalg::test_util::*;
    use faer::Mat;
    use proptest::prelude::*;

    /// `max |Q Qᵀ X − X| / max |X|`: every column of `X` lies in the span of `Q`.
    fn span_residual(q: &T2, x: &T2) -> f64 {
        let (q, x) = (to_faer(q.clone()), to_faer(x.clone()));
        max_abs_diff(&(&q * (q.transpose() * &x)), &x) / max_abs(&x)
    }

    fn is_finite(t: &T2) -> bool {
        let m = to_faer(t.clone());
        (0..m.nrows()).all(|i| (0..m.ncols()).all(|j| m[(i, j)].is_finite()))
    }

    // Tolerances: QᵀQ is summed in f32 over m terms of size 1/m, ~√m·2⁻²⁴ ≈ 1e-6 here; the
    // span residual is the same rounding relative to the largest entry of X.

    #[test]
    fn gaussian_columns_become_orthonormal_with_nested_spans() {
        let x = gaussian(200, 12, 1);
        let q = orthonormalize_columns(x.clone());
        assert_eq!(q.dims(), [200, 12]);
        let ortho = orthonormality_error(q.clone());
        assert!(ortho < 1e-5, "QᵀQ − I: {ortho:e}");
        let span = span_residual(&q, &x);
        assert!(span < 1e-5, "span: {span:e}");
        // Q[:, ..j] spans X[:, ..j]: QᵀX is upper triangular.
        let r = to_faer(q.transpose().matmul(x.clone()));
        let below = Mat::from_fn(12, 12, |i, j| if i > j { r[(i, j)] } else { 0.0 });
        assert!(
            max_abs(&below) < 1e-4 * max_abs(&r),
            "{:e}",
            max_abs(&below)
        );
        eprintln!("orthonormalize gaussian: QᵀQ−I {ortho:.1e}, span {span:.1e}");
    }

    #[test]
    fn ill_conditioned_columns_are_handled() {
        // Column scales from 1 to 1e-4 and condition number 1e4 of the unit-column matrix:
        // singular values 1 .. 1e-4.
        let sigma: Vec<f64> = (0..10).map(|i| 10f64.powf(-4.0 * i as f64 / 9.0)).collect();
        let (x, _, _) = with_spectrum(300, 10, &sigma, 7);
        let scales: Vec<f64> = (0..10).map(|j| 10f64.powf(-4.0 * j as f64 / 9.0)).collect();
        let x = x.mul(from_row_major::<crate::CpuBackend>(
            &scales,
            1,
            10,
            &Default::default(),
        ));
        let q = orthonormalize_columns(x.clone());
        let ortho = orthonormality_error(q.clone());
        let span = span_residual(&q, &x);
        assert!(
            ortho < 1e-5 && span < 1e-5,
            "QᵀQ − I {ortho:e}, span {span:e}"
        );
    }

    #[test]
    fn zero_and_repeated_columns_give_a_full_orthonormal_basis() {
        let device = Default::default();
        let base = gaussian(64, 5, 3);
        // Columns: x0, 0, x2, x0 (repeated), x4, x2 + 1e-7 x4 (dependent at f32 level).
        let cols = [
            base.clone().narrow(1, 0, 1),
            Tensor::zeros([64, 1], &device),
            base.clone().narrow(1, 2, 1),
            base.clone().narrow(1, 0, 1),
            base.clone().narrow(1, 4, 1),
            base.clone().narrow(1, 2, 1) + base.clone().narrow(1, 4, 1).mul_scalar(1e-7),
        ];
        let x = Tensor::cat(cols.to_vec(), 1);
        let q = orthonormalize_columns(x.clone());
        assert_eq!(q.dims(), [64, 6]);
        assert!(is_finite(&q));
        let ortho = orthonormality_error(q.clone());
        let span = span_residual(&q, &x);
        assert!(
            ortho < 1e-5 && span < 1e-5,
            "QᵀQ − I {ortho:e}, span {span:e}"
        );
        // The all-zero matrix: an orthonormal basis of seeded vectors.
        let q0 = orthonormalize_columns(Tensor::<crate::CpuBackend, 2>::zeros([16, 3], &device));
        assert!(orthonormality_error(q0) < 1e-5);
    }

    #[test]
    fn non_finite_input_propagates_instead_of_panicking() {
        let x = gaussian(20, 4, 9).mul_scalar(f64::NAN);
        let q = orthonormalize_columns(x);
        assert!(!is_finite(&q));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_gaussian_block_is_orthonormalized(m in 1usize..120, k_frac in 0.0f64..1.0, seed: u64) {
            let k = ((m as f64 * k_frac) as usize).max(1);
            let x = gaussian(m, k, seed);
            let q = orthonormalize_columns(x.clone());
            prop_assert!(orthonormality_error(q.clone()) < 1e-5);
            // Square and nearly square Gaussian blocks can be ill conditioned; the span holds.
            prop_assert!(span_residual(&q, &x) < 1e-4);
        }
    }
}
