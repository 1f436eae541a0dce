//! The top-`k` singular triplets of `A: [m, n]` by subspace iteration on both sides, finished
//! by a Rayleigh–Ritz step: the device does the `m × n × k` matmuls, the host does a `k × k`
//! SVD in f64 (faer).
//!
//! One pass, from `V: [n, k]` with orthonormal columns:
//!
//! ```text
//! U = orth(A V)      [m, k]
//! W = Aᵀ U           [n, k]
//! V = orth(W)        [n, k]
//! ```
//!
//! so the angle between `span V` and the top-`k` right singular subspace shrinks by
//! `(σ_{k+1} / σ_k)²` per pass. Rayleigh–Ritz then takes `B = Uᵀ A V = Wᵀ V` (`k × k`, no
//! extra pass over `A`), its SVD `B = P S Qᵀ`, and returns `U P, S, V Q`: the best rank-`k`
//! approximation of `A` within the two subspaces, with `(U P)ᵀ A (V Q) = S` exactly.
//!
//! The left basis lags half a pass: it was built from the `V` before the last update, so its
//! angle to the true subspace is larger by one factor `σ_k / σ_{k+1}` than the right one's.
//! The returned `V` (the one Spectra caches) is the better side.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::exact::{from_faer, svd, to_faer};
use super::orthonormalize::orthonormalize_columns;
use super::random::gaussian_matrix;

/// A rank-`k` truncated SVD `A ≈ U diag(s) Vᵀ` of `A: [m, n]`.
#[derive(Clone, Debug)]
pub struct TopK<B: Backend> {
    /// Left singular vectors, `[m, k]`, orthonormal columns.
    pub u: Tensor<B, 2>,
    /// Singular values, `k` of them, non-increasing.
    pub s: Vec<f32>,
    /// Right singular vectors, `[n, k]`, orthonormal columns.
    pub v: Tensor<B, 2>,
}

/// Top-`k` singular triplets of `A: [m, n]` by `n_iter` passes of two-sided subspace
/// iteration warm-started from `v0: [n, k]` (any full-rank start; it is orthonormalized
/// first), then Rayleigh–Ritz (module doc). `n_iter = 0` counts as 1: a pass is needed to
/// have a left basis. From the exact right singular vectors one pass is exact; from a
/// random start the error in `span V` falls like `(σ_{k+1}/σ_k)^(2 n_iter)`.
pub fn topk_svd<B: Backend>(a: Tensor<B, 2>, v0: Tensor<B, 2>, n_iter: usize) -> TopK<B> {
    let [m, n] = a.dims();
    let [n0, k] = v0.dims();
    assert_eq!(n0, n, "topk_svd: A is [{m}, {n}] but v0 is [{n0}, {k}]");
    assert!(
        k <= m.min(n),
        "topk_svd: k = {k} exceeds min(m, n) for A [{m}, {n}]"
    );
    let device = a.device();
    let mut v = orthonormalize_columns(v0);
    let mut u = v.clone(); // replaced in the first pass
    let mut w = v.clone();
    for _ in 0..n_iter.max(1) {
        u = orthonormalize_columns(a.clone().matmul(v)); // [m, k]
        w = a.clone().transpose().matmul(u.clone()); // [n, k] = Aᵀ U
        v = orthonormalize_columns(w.clone()); // [n, k]
    }
    // Rayleigh–Ritz: B = Uᵀ A V = Wᵀ V, [k, k].
    let b = to_faer(w.transpose().matmul(v.clone()));
    match svd(&b) {
        Ok(d) => TopK {
            u: u.matmul(from_faer(&d.u, &device)),
            s: d.s.iter().map(|&x| x as f32).collect(),
            v: v.matmul(from_faer(&d.v, &device)),
        },
        // Non-finite input: hand back NaN values rather than panicking.
        Err(_) => TopK {
            u,
            s: vec![f32::NAN; k],
            v,
        },
    }
}

/// Top-`k` singular triplets of `A: [m, n]` from a cold start (Halko, Martinsson, Tropp,
/// *Finding structure with randomness*, SIAM Review 2011, Alg. 4.4 with Rayleigh–Ritz):
/// a seeded Gaussian `Ω: [n, k + oversample]` (capped at `min(m, n)` columns), then
/// `n_power_iter + 1` passes of [`topk_svd`] (the first pass is the plain range finder
/// `orth(A Ω)`, each further one a power iteration `(A Aᵀ)`), truncated to `k`. Deterministic
/// for a seed. Error: the `k`-th value converges like `(σ_{k+p+1}/σ_k)^(2 n_power_iter + 1)`.
pub fn randomized_svd<B: Backend>(
    a: Tensor<B, 2>,
    k: usize,
    oversample: usize,
    n_power_iter: usize,
    seed: u64,
) -> TopK<B> {
    let [m, n] = a.dims();
    let r = m.min(n);
    assert!(
        k <= r,
        "randomized_svd: k = {k} exceeds min(m, n) for A [{m}, {n}]"
    );
    let width = (k + oversample).min(r);
    let omega = gaussian_matrix::<B>(n, width, seed, &a.device());
    let full = topk_svd(a, omega, n_power_iter + 1);
    TopK {
        u: full.u.narrow(1, 0, k),
        s: full.s[..k].to_vec(),
        v: full.v.narrow(1, 0, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::test_util::*;
    use faer::Mat;

    /// A 120 × 80 matrix: spike 50, 40, 30, 20, 10 over a tail 1 → 0.1 (gap σ₆/σ₅ = 0.1).
    fn spiked() -> (T2, Vec<f64>, Mat<f64>, Mat<f64>) {
        let sigma: Vec<f64> = (0..80)
            .map(|i| match i {
                0..5 => 50.0 - 10.0 * i as f64,
                _ => 0.1f64.powf((i - 5) as f64 / 74.0),
            })
            .collect();
        let (a, u, v) = with_spectrum(120, 80, &sigma, 11);
        (a, sigma, u, v)
    }

    struct Errors {
        /// max over i of |s_i − σ_i| / σ_i.
        values: f64,
        /// sines of the largest principal angles, left and right.
        left: f64,
        right: f64,
        /// ‖UᵀU − I‖, ‖VᵀV − I‖ (max entry).
        ortho: f64,
    }

    fn errors(top: &TopK<crate::CpuBackend>, sigma: &[f64], u: &Mat<f64>, v: &Mat<f64>) -> Errors {
        let k = top.s.len();
        let values = top
            .s
            .iter()
            .zip(sigma)
            .map(|(&s, &t)| (f64::from(s) - t).abs() / t)
            .fold(0.0, f64::max);
        let (tu, tv) = (to_faer(top.u.clone()), to_faer(top.v.clone()));
        Errors {
            values,
            left: sin_angle(&tu, &u.subcols(0, k).to_owned()),
            right: sin_angle(&tv, &v.subcols(0, k).to_owned()),
            ortho: orthonormality_error(top.u.clone()).max(orthonormality_error(top.v.clone())),
        }
    }

    // Error floor: A is stored in f32 (relative 2⁻²⁴ of ‖A‖ = 50 per entry), so the values
    // carry ~1e-6 of σ₁ absolute and the angles ~‖ΔA‖/gap ~ 1e-6.

    #[test]
    fn warm_start_from_exact_vectors_converges_in_one_pass() {
        let (a, sigma, u, v) = spiked();
        let v0 = from_faer(&v.subcols(0, 5).to_owned(), &Default::default());
        let top = topk_svd(a, v0, 1);
        assert_eq!(
            (top.u.dims(), top.s.len(), top.v.dims()),
            ([120, 5], 5, [80, 5])
        );
        let e = errors(&top, &sigma, &u, &v);
        assert!(e.values < 1e-5, "values {:e}", e.values);
        assert!(
            e.left < 1e-5 && e.right < 1e-5,
            "angles {:e} {:e}",
            e.left,
            e.right
        );
        assert!(e.ortho < 1e-5);
        assert!(top.s.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn random_start_converges_by_the_square_of_the_gap_per_pass() {
        let (a, sigma, u, v) = spiked();
        let (mut angles, mut lefts) = (Vec::new(), Vec::new());
        for passes in 1..=3 {
            let top = topk_svd(a.clone(), gaussian(80, 5, 12), passes);
            let e = errors(&top, &sigma, &u, &v);
            angles.push(e.right);
            if passes == 3 {
                assert!(e.values < 1e-5, "values {:e}", e.values);
                // The left basis lags half a pass: it was built from the V before the last
                // update, so its angle carries one factor σ₆/σ₅ = 0.1 less.
                assert!(e.right < 1e-5, "right {:e}", e.right);
                assert!(e.left < 5e-5, "left {:e}", e.left);
                assert!(e.ortho < 1e-5);
            }
            lefts.push(e.left);
        }
        // Each pass multiplies tan θ by at most (σ₆/σ₅)² = 1e-2 (until the f32 floor).
        assert!(angles[1] < 2e-2 * angles[0].max(1e-4), "{angles:?}");
        let show = |v: &[f64]| v.iter().map(|a| format!("{a:.1e}")).collect::<Vec<_>>();
        eprintln!(
            "topk_svd from random start, sin θ per pass: right {:?}, left {:?}",
            show(&angles),
            show(&lefts)
        );
    }

    #[test]
    fn rayleigh_ritz_diagonalizes() {
        let (a, _, _, _) = spiked();
        let top = topk_svd(a.clone(), gaussian(80, 5, 13), 2);
        let b = to_faer(top.u.clone().transpose().matmul(a).matmul(top.v.clone()));
        let s = Mat::from_fn(5, 5, |i, j| if i == j { f64::from(top.s[i]) } else { 0.0 });
        // Uᵀ A V = diag(s) up to f32 products of size ‖A‖ = 50.
        assert!(
            max_abs_diff(&b, &s) < 5e-5 * 50.0,
            "{:e}",
            max_abs_diff(&b, &s)
        );
    }

    #[test]
    fn randomized_svd_on_a_decaying_spectrum() {
        // σ_i = 0.8^i, 60 of them, A: [150, 100]; k = 10, 8 extra columns, 2 power passes:
        // the k-th value converges like (σ₁₉/σ₁₀)^(2·2+1) = 0.8^45 ≈ 4e-5.
        let sigma: Vec<f64> = (0..60).map(|i| 0.8f64.powi(i)).collect();
        let (a, u, v) = with_spectrum(150, 100, &sigma, 21);
        let top = randomized_svd(a.clone(), 10, 8, 2, 5);
        assert_eq!(
            (top.u.dims(), top.s.len(), top.v.dims()),
            ([150, 10], 10, [100, 10])
        );
        let e = errors(&top, &sigma, &u, &v);
        assert!(e.values < 1e-3, "values {:e}", e.values);
        assert!(e.ortho < 1e-5);
        eprintln!(
            "randomized_svd: worst relative value error {:.1e}",
            e.values
        );
        // Deterministic for a seed; another seed gives another (also accurate) sketch.
        let again = randomized_svd(a.clone(), 10, 8, 2, 5);
        assert_eq!(again.s, top.s);
        assert_eq!(again.u.into_data(), top.u.into_data());
        let other = randomized_svd(a, 10, 8, 2, 6);
        assert_ne!(other.s, top.s);
        assert!(errors(&other, &sigma, &u, &v).values < 1e-3);
    }
}
