//! Truncated SVD factors of one Linear weight, plain or activation-aware (SVD-LLM).
//!
//! burn's layout: `W: [d_in, d_out]`, `y = x W + b`. A rank-`k` factorization is
//! `W ≈ A B` with `A: [d_in, k]`, `B: [k, d_out]`, so `y ≈ (x A) B + b` is two Linears
//! (`d_in → k` without bias, `k → d_out` with the original bias).
//!
//! - **Plain**: `W = U Σ Vᵀ` (`U: [d_in, r]`, `V: [d_out, r]`), `A = U_k √Σ_k`,
//!   `B = √Σ_k V_kᵀ`. In PyTorch's `[out, in]` layout this is the notes' `A = √Σ_k V_kᵀ`,
//!   `B = U_k √Σ_k` (the roles of U and V swap with the transpose). By Eckart–Young,
//!   `‖W − A B‖_F² = Σ_{i>k} σ_i²`, the least of any rank-`k` matrix.
//! - **Whitened** (Wang et al., *SVD-LLM*, 2024, arXiv:2403.07378): with calibration inputs
//!   `X: [N, d_in]` and their Gram matrix `G = XᵀX = L Lᵀ` (Cholesky, `L` lower), the output
//!   error is `‖X (W − W')‖_F = ‖Lᵀ (W − W')‖_F`. So truncate `M = Lᵀ W = U Σ Vᵀ` instead and
//!   unwhiten: `A = L⁻ᵀ U_k √Σ_k`, `B = √Σ_k V_kᵀ`; then `‖X (W − A B)‖_F² = Σ_{i>k} σ_i(M)²`,
//!   the least output error of any rank-`k` weight. A relative ridge `δ = damping · tr(G)/d_in`
//!   is added to `G` so that rank-deficient calibration data still factor (raised tenfold, at
//!   most four times, while the Cholesky factorization fails).

use super::CompressError;
use crate::linalg::exact::{check_finite, svd};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Mat, Par, Side};

/// Default relative ridge added to the Gram matrix before its Cholesky factorization: small
/// enough not to change the truncation (1e-6 of the mean eigenvalue), large enough to keep a
/// rank-deficient `G` (fewer calibration tokens than `d_in`, dead features) factorable.
pub const DEFAULT_DAMPING: f64 = 1e-6;

/// The SVD that a truncation of one weight is read from, before choosing the rank.
#[derive(Clone, Debug)]
pub struct Spectrum {
    /// Left singular vectors of the (whitened) weight, `[d_in, r]`.
    u: Mat<f64>,
    /// Singular values, non-increasing, `r = min(d_in, d_out)` of them: of `W` (plain) or of
    /// `Lᵀ W` (whitened; then `σ_i²` is output energy on the calibration data).
    pub s: Vec<f64>,
    /// Right singular vectors, `[d_out, r]`.
    v: Mat<f64>,
    /// Upper-triangular `Lᵀ` `[d_in, d_in]` when whitened.
    l_t: Option<Mat<f64>>,
}

/// A rank-`k` factorization `W ≈ A B` in burn's layout.
#[derive(Clone, Debug)]
pub struct LowRank {
    /// `[d_in, k]`: the first Linear's weight.
    pub a: Mat<f64>,
    /// `[k, d_out]`: the second Linear's weight.
    pub b: Mat<f64>,
}

impl LowRank {
    /// The rank `k`.
    pub fn rank(&self) -> usize {
        self.a.ncols()
    }

    /// The product `A B`, `[d_in, d_out]`.
    pub fn product(&self) -> Mat<f64> {
        &self.a * &self.b
    }

    /// Parameters of the two weights, `k (d_in + d_out)` (the bias is not counted).
    pub fn params(&self) -> usize {
        self.a.nrows() * self.a.ncols() + self.b.nrows() * self.b.ncols()
    }
}

impl Spectrum {
    /// The plain SVD of `w` `[d_in, d_out]`.
    pub fn plain(w: &Mat<f64>) -> Result<Self, CompressError> {
        let d = svd(w)?;
        Ok(Self {
            u: d.u,
            s: d.s,
            v: d.v,
            l_t: None,
        })
    }

    /// The SVD of `Lᵀ W` with `L Lᵀ = gram + δ I`, `δ = damping · tr(gram) / d_in`;
    /// `gram` is `XᵀX` `[d_in, d_in]` of the layer's calibration inputs.
    pub fn whitened(w: &Mat<f64>, gram: &Mat<f64>, damping: f64) -> Result<Self, CompressError> {
        let d_in = w.nrows();
        if gram.nrows() != d_in || gram.ncols() != d_in {
            return Err(CompressError::Shape(format!(
                "Gram matrix is {} x {}, the weight has d_in = {d_in}",
                gram.nrows(),
                gram.ncols()
            )));
        }
        check_finite(gram, "gram")?;
        let trace: f64 = (0..d_in).map(|i| gram[(i, i)]).sum();
        let mean = (trace / d_in as f64).max(f64::MIN_POSITIVE);
        // The ridge grows tenfold (up to 10⁴ × `damping`) while the Cholesky fails: calibration
        // inputs of a narrow subspace (a SpacingMDN's first block sees a 1-D input plus
        // positions) leave G numerically singular.
        let mut ridge = damping * mean;
        let mut attempt = 0;
        let llt = loop {
            let damped = Mat::from_fn(d_in, d_in, |i, j| {
                gram[(i, j)] + if i == j { ridge } else { 0.0 }
            });
            match damped.llt(Side::Lower) {
                Ok(llt) => break llt,
                Err(_) if attempt < 4 => {
                    attempt += 1;
                    ridge = (ridge * 10.0).max(1e-12 * mean);
                }
                Err(_) => return Err(CompressError::NotPositiveDefinite { ridge }),
            }
        };
        let l_t = llt.L().transpose().to_owned(); // [d_in, d_in], upper
        let d = svd(&(&l_t * w))?;
        Ok(Self {
            u: d.u,
            s: d.s,
            v: d.v,
            l_t: Some(l_t),
        })
    }

    /// The rank-`k` factors (`k` clamped to `1..=r`).
    pub fn truncate(&self, k: usize) -> LowRank {
        let k = k.clamp(1, self.s.len());
        let root: Vec<f64> = self.s[..k].iter().map(|s| s.sqrt()).collect();
        let mut a = Mat::from_fn(self.u.nrows(), k, |i, j| self.u[(i, j)] * root[j]);
        if let Some(l_t) = &self.l_t {
            // A = L⁻ᵀ U_k √Σ_k: solve Lᵀ A = U_k √Σ_k.
            solve_upper_triangular_in_place(l_t.as_ref(), a.as_mut(), Par::Seq);
        }
        let b = Mat::from_fn(k, self.v.nrows(), |i, j| root[i] * self.v[(j, i)]);
        LowRank { a, b }
    }

    /// Fraction of `Σσ²` in the first `k` singular values (1 for an all-zero weight).
    pub fn energy(&self, k: usize) -> f64 {
        let total: f64 = self.s.iter().map(|s| s * s).sum();
        if total == 0.0 {
            return 1.0;
        }
        self.s[..k.min(self.s.len())]
            .iter()
            .map(|s| s * s)
            .sum::<f64>()
            / total
    }
}

/// `‖W − W'‖_F / ‖W‖_F` (0 when `W = 0` and `W' = 0`).
pub fn relative_error(w: &Mat<f64>, approx: &Mat<f64>) -> f64 {
    let total = w.norm_l2();
    let diff = (w - approx).norm_l2();
    if total == 0.0 { diff } else { diff / total }
}

/// `‖X (W − W')‖_F / ‖X W‖_F` from the Gram matrix `G = XᵀX`: the relative output error on
/// the calibration data (`‖X D‖_F² = tr(Dᵀ G D)`).
pub fn relative_output_error(w: &Mat<f64>, approx: &Mat<f64>, gram: &Mat<f64>) -> f64 {
    let quad = |d: &Mat<f64>| -> f64 {
        let gd = gram * d;
        let mut sum = 0.0;
        for i in 0..d.nrows() {
            for j in 0..d.ncols() {
                sum += d[(i, j)] * gd[(i, j)];
            }
        }
        sum.max(0.0)
    };
    let total = quad(w).sqrt();
    let diff = quad(&(w - approx)).sqrt();
    if total == 0.0 { diff } else { diff / total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::exact::singular_values;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn gaussian(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        Mat::from_fn(rows, cols, |_, _| {
            // Box–Muller: enough for test matrices.
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
    }

    fn max_abs(a: &Mat<f64>) -> f64 {
        let mut m = 0.0f64;
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                m = m.max(a[(i, j)].abs());
            }
        }
        m
    }

    #[test]
    fn plain_truncation_meets_eckart_young() {
        // 12 x 7: the tail energy of faer's exact singular values is the error, to f64 rounding.
        let w = gaussian(12, 7, 1);
        let s = singular_values(&w).unwrap();
        let spec = Spectrum::plain(&w).unwrap();
        for k in 1..7 {
            let lr = spec.truncate(k);
            assert_eq!(
                (lr.a.nrows(), lr.a.ncols(), lr.b.nrows(), lr.b.ncols()),
                (12, k, k, 7)
            );
            let err = (&w - lr.product()).norm_l2();
            let tail = s[k..].iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(
                (err - tail).abs() < 1e-12 * s[0],
                "k = {k}: {err} vs {tail}"
            );
            // Any other rank-k matrix does no better: a random rank-k one, and the truncation
            // of a perturbed W.
            let other = &gaussian(12, k, 10 + k as u64) * &gaussian(k, 7, 20 + k as u64);
            assert!((&w - &other).norm_l2() >= err);
            let nudged = Spectrum::plain(&(&w + &(faer::Scale(0.05) * &gaussian(12, 7, 30))))
                .unwrap()
                .truncate(k)
                .product();
            assert!((&w - &nudged).norm_l2() >= err - 1e-12);
        }
    }

    #[test]
    fn identity_gram_gives_plain_svd() {
        let w = gaussian(9, 6, 2);
        let plain = Spectrum::plain(&w).unwrap();
        let white = Spectrum::whitened(&w, &Mat::identity(9, 9), DEFAULT_DAMPING).unwrap();
        // G + δI = (1 + δ) I: the whitened singular values are √(1 + δ) σ, the product equal.
        let scale = (1.0 + DEFAULT_DAMPING).sqrt();
        for (p, q) in plain.s.iter().zip(&white.s) {
            assert!((p * scale - q).abs() < 1e-13 * plain.s[0]);
        }
        for k in [1, 3, 6] {
            let d = &plain.truncate(k).product() - &white.truncate(k).product();
            assert!(max_abs(&d) < 1e-12, "k = {k}: {}", max_abs(&d));
        }
    }

    #[test]
    fn whitened_truncation_is_optimal_on_the_calibration_data() {
        // Correlated inputs with very unequal feature scales: what whitening is for.
        let (n, d_in, d_out, k) = (200, 10, 8, 3);
        let mix = gaussian(d_in, d_in, 3);
        let mut x = &gaussian(n, d_in, 4) * &mix;
        for j in 0..d_in {
            let scale = 10f64.powf(-(j as f64) / 3.0);
            for i in 0..n {
                x[(i, j)] *= scale;
            }
        }
        let w = gaussian(d_in, d_out, 5);
        let gram = x.transpose() * &x;
        let white = Spectrum::whitened(&w, &gram, 0.0).unwrap();
        let plain = Spectrum::plain(&w).unwrap();
        let out_err = |lr: &LowRank| (&x * &(&w - lr.product())).norm_l2();
        let e_white = out_err(&white.truncate(k));
        let e_plain = out_err(&plain.truncate(k));
        // The output error is exactly the whitened tail (Eckart–Young in the whitened space) …
        let tail = white.s[k..].iter().map(|s| s * s).sum::<f64>().sqrt();
        assert!(
            (e_white - tail).abs() < 1e-9 * white.s[0],
            "{e_white} vs {tail}"
        );
        // … and no larger than plain truncation's at the same rank (here: much smaller).
        assert!(
            e_white < 0.8 * e_plain,
            "whitened {e_white}, plain {e_plain}"
        );
        // The Gram-matrix form of the relative output error agrees with the direct one.
        let direct = e_white / (&x * &w).norm_l2();
        let via_gram = relative_output_error(&w, &white.truncate(k).product(), &gram);
        assert!((direct - via_gram).abs() < 1e-9);
    }

    #[test]
    fn rank_deficient_gram_needs_the_ridge() {
        let x = gaussian(3, 6, 6); // 3 samples, d_in = 6: G has rank 3
        let gram = x.transpose() * &x;
        let w = gaussian(6, 4, 7);
        assert!(Spectrum::whitened(&w, &gram, DEFAULT_DAMPING).is_ok());
        let bad = Mat::from_fn(6, 6, |i, j| if i == j { -1.0 } else { 0.0 });
        assert!(matches!(
            Spectrum::whitened(&w, &bad, DEFAULT_DAMPING),
            Err(CompressError::NotPositiveDefinite { .. })
        ));
    }
}
