//! Spectra's spike shaping of an update matrix `Z: [m, n]`: the top-`k` singular values (the
//! "spike") are replaced by the RMS singular value of the rest (the "tail"), and the tail is
//! kept as it is.
//!
//! With `Z = Σᵢ σᵢ uᵢ vᵢᵀ`, `r = min(m, n)`, `k = spectra_rank(m, n, rank_ratio)`:
//!
//! ```text
//! Z_tail = Z − U_k diag(σ_1..σ_k) V_kᵀ                      (= Σ_{i>k} σᵢ uᵢ vᵢᵀ)
//! σ_tail = ‖Z_tail‖_F / √max(r − k, 1)                     (= RMS of σ_{k+1..r})
//! O      = Z_tail + σ_tail U_k V_kᵀ
//! ```
//!
//! so the singular values of `O` are `σ_tail` (k times) and `σ_{k+1}, …, σ_r`, with `Z`'s
//! singular vectors. Since `σ_tail ≤ σ_{k+1}`, the shaped directions land inside the tail's
//! range, not above it. The seed text's sketch normalized the columns of `V` without
//! orthonormalizing them, so its "spike" directions were not singular directions and the
//! replaced block did not get `σ_tail`; here both `U_k` and `V_k` come from a real two-sided
//! subspace iteration ([`topk_svd`]) warm-started from the `V_k` of the previous step.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::exact::{from_row_major, to_row_major};
use super::topk_svd::{randomized_svd, topk_svd};

/// Oversampling of the cold-start randomized SVD.
pub const COLD_OVERSAMPLE: usize = 8;

/// Seed of the cold-start randomized SVD (fixed: shaping is a pure function of its inputs).
pub const COLD_SEED: u64 = 0x005b_ec7a;

/// Number of spike directions: `k = max(1, round(rank_ratio · min(m, n)))`, at most
/// `min(m, n)`. `round` is half away from zero (`2.5 → 3`; Python's `round` in the seed text
/// rounds half to even, `2.5 → 2`).
pub fn spectra_rank(m: usize, n: usize, rank_ratio: f64) -> usize {
    let r = m.min(n);
    let k = (rank_ratio * r as f64).round();
    if k.is_finite() && k >= 1.0 {
        (k as usize).min(r)
    } else {
        1.min(r)
    }
}

/// Spike-shapes `Z: [m, n]` (module doc) and returns `(O: [m, n], V_k: [n, k])`; keep `V_k`
/// and pass it back as `v_cache` next step.
///
/// With a cache of shape `[n, k]` the top-`k` subspaces come from `n_iter` passes of
/// [`topk_svd`] warm-started from it (1 pass suffices when `Z` changes slowly); without one
/// (or with a stale shape) from [`randomized_svd`] with [`COLD_OVERSAMPLE`] extra columns and
/// `n_iter` power iterations, seeded with [`COLD_SEED`].
pub fn spectra_shape<B: Backend>(
    z: Tensor<B, 2>,
    rank_ratio: f64,
    n_iter: usize,
    v_cache: Option<Tensor<B, 2>>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [m, n] = z.dims();
    let r = m.min(n);
    let k = spectra_rank(m, n, rank_ratio);
    let device = z.device();
    let top = match v_cache {
        Some(v) if v.dims() == [n, k] => topk_svd(z.clone(), v, n_iter),
        _ => randomized_svd(z.clone(), k, COLD_OVERSAMPLE, n_iter, COLD_SEED),
    };
    let s: Vec<f64> = top.s.iter().map(|&x| f64::from(x)).collect();
    let spike = top.u.clone().mul(from_row_major::<B>(&s, 1, k, &device)); // U diag(s), [m, k]
    let tail = z - spike.matmul(top.v.clone().transpose()); // [m, n]
    // ‖Z_tail‖_F directly, not as ‖Z‖² − Σσᵢ², which cancels when the spike dominates.
    let (tail_sq, _) = to_row_major(tail.clone().square().sum().reshape([1, 1]));
    let sigma_tail = (tail_sq[0] / (r.saturating_sub(k)).max(1) as f64).sqrt();
    let o = tail
        + top
            .u
            .mul_scalar(sigma_tail)
            .matmul(top.v.clone().transpose());
    (o, top.v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::exact::{from_faer, to_faer};
    use crate::linalg::test_util::*;

    /// Z: [96, 160], spike 40, 30, 20 over a tail 2 → 0.2 (93 values); k = round(0.03·96) = 3.
    fn spiked() -> (T2, Vec<f64>, faer::Mat<f64>) {
        let sigma: Vec<f64> = (0..96)
            .map(|i| match i {
                0..3 => 40.0 - 10.0 * i as f64,
                _ => 2.0 * 0.1f64.powf((i - 3) as f64 / 92.0),
            })
            .collect();
        let (z, _, v) = with_spectrum(96, 160, &sigma, 31);
        (z, sigma, v)
    }

    /// The singular values shaping should give: the tail, and σ_tail k times; sorted.
    fn expected(sigma: &[f64], k: usize) -> (Vec<f64>, f64) {
        let tail = &sigma[k..];
        let sigma_tail = (tail.iter().map(|s| s * s).sum::<f64>() / tail.len() as f64).sqrt();
        let mut all: Vec<f64> = tail.to_vec();
        all.extend(std::iter::repeat_n(sigma_tail, k));
        all.sort_by(|a, b| b.total_cmp(a));
        (all, sigma_tail)
    }

    /// max over i of |σ_i(O) − expected_i| / expected_i, over the sorted spectra.
    fn worst_relative(o: T2, expected: &[f64]) -> f64 {
        sv(o)
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs() / b)
            .fold(0.0, f64::max)
    }

    #[test]
    fn warm_start_replaces_the_spike_by_the_tail_rms_and_keeps_the_tail() {
        let (z, sigma, v) = spiked();
        let k = spectra_rank(96, 160, 0.03);
        assert_eq!(k, 3);
        let cache = from_faer(&v.subcols(0, k).to_owned(), &Default::default());
        let (o, v_new) = spectra_shape(z.clone(), 0.03, 1, Some(cache));
        assert_eq!(o.dims(), [96, 160]);
        assert_eq!(v_new.dims(), [160, k]);
        let (want, sigma_tail) = expected(&sigma, k);
        // Z is stored in f32 (2⁻²⁴ of ‖Z‖ = 40 per entry, ~1e-6 absolute in its singular values);
        // relative to the smallest tail value 0.2 that is ~1e-5.
        let err = worst_relative(o.clone(), &want);
        assert!(err < 1e-4, "spectrum off by {err:e}");
        // The shaped directions are Z's top singular directions, with value σ_tail.
        let vo = to_faer(v_new.clone());
        let shaped = to_faer(o.clone()) * &vo; // O V_k = σ_tail U_k
        let norms: Vec<f64> = (0..k).map(|j| shaped.col(j).norm_l2()).collect();
        for n in &norms {
            assert!(
                (n - sigma_tail).abs() < 1e-3 * sigma_tail,
                "{n} vs {sigma_tail}"
            );
        }
        eprintln!(
            "spectra warm: σ_tail = {sigma_tail:.5}, worst relative spectrum error {err:.1e}"
        );
    }

    #[test]
    fn cold_start_then_reusing_the_returned_cache() {
        let (z, sigma, _) = spiked();
        let (want, _) = expected(&sigma, 3);
        let (o, mut v) = spectra_shape(z.clone(), 0.03, 1, None);
        // Cold: randomized SVD with 8 extra columns and one power pass: the spike's subspace
        // is good to ~(σ₁₂/σ₃)³ = (1.64/20)³ ≈ 6e-4 in angle; the spike leaking through that
        // angle perturbs the small tail values by ~1e-4 relative (measured 1.3e-4).
        let cold = worst_relative(o, &want);
        assert!(cold < 1e-3, "cold: {cold:e}");
        let mut warm = cold;
        for _ in 0..2 {
            let (o, v_next) = spectra_shape(z.clone(), 0.03, 1, Some(v));
            v = v_next;
            warm = worst_relative(o, &want);
        }
        assert!(warm < 1e-4, "after two warm passes: {warm:e}");
        eprintln!("spectra cold {cold:.1e}, after two warm re-uses {warm:.1e}");
        // A cache of the wrong shape is ignored: the cold result, exactly.
        let stale = gaussian(160, 4, 1);
        let (a, _) = spectra_shape(z.clone(), 0.03, 1, Some(stale));
        let (b, _) = spectra_shape(z, 0.03, 1, None);
        assert_eq!(a.into_data(), b.into_data());
    }

    #[test]
    fn rank_rounds_half_away_from_zero_and_is_clamped() {
        assert_eq!(spectra_rank(768, 3072, 0.015), 12); // 11.52
        assert_eq!(spectra_rank(3072, 768, 0.015), 12); // orientation does not matter
        assert_eq!(spectra_rank(100, 100, 0.015), 2); // 1.5
        assert_eq!(spectra_rank(200, 300, 0.0125), 3); // 2.5 (Python's round: 2)
        assert_eq!(spectra_rank(10, 10, 0.01), 1); // 0.1 → at least 1
        assert_eq!(spectra_rank(4, 9, 10.0), 4); // at most min(m, n)
        assert_eq!(spectra_rank(4, 9, f64::NAN), 1);
    }
}
