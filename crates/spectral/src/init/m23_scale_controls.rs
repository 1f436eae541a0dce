//! Controls that separate M23-Spectrum's *scale* from its *spectrum*: matrices with exactly
//! the Frobenius norm an M23-seed layer of the same shape has, but another spectrum.
//!
//! An M23-seed `[d_in, d_out]` layer has the `r = min(d_in, d_out)` singular values
//! `s_k = |λ_k| · √(2/d_in)` (the tiled moduli, [`m23_singular_values`]), so
//!
//! ```text
//! ‖W_M23‖_F = √(Σ_k s_k²)
//! ```
//!
//! - [`gaussian_m23_scale`]: a Gaussian matrix `G` (i.i.d. N(0, 1)) times `‖W_M23‖_F / ‖G‖_F`:
//!   He's Marchenko–Pastur spectrum shape at M23-seed's scale.
//! - [`orthogonal_m23_scale`]: a Haar (semi-)orthogonal matrix times `‖W_M23‖_F / √r`: every
//!   singular value equal to the RMS singular value of M23-seed (a flat spectrum, cond 1).
//!
//! If these train like M23-seed, its advantage is its scale; if they train like He or
//! orthogonal at gain 1, it is its spectrum. Layout: burn's `[d_in, d_out]`, `fan_in = d_in`.

use faer::Mat;

use super::m23::{M23Scale, m23_singular_values};
use super::orthogonal::{gaussian_host, orthogonal_host};

/// `‖W‖_F` of an M23-seed `[d_in, d_out]` layer: `√(Σ s_k²)` over its tiled, scaled moduli.
pub fn m23_seed_frobenius(d_in: usize, d_out: usize) -> f64 {
    m23_singular_values(d_in, d_out, M23Scale::Seed)
        .iter()
        .map(|s| s * s)
        .sum::<f64>()
        .sqrt()
}

/// `‖W‖_F = √(Σ w_ij²)`.
pub fn frobenius(w: &Mat<f64>) -> f64 {
    let mut sum = 0.0;
    for j in 0..w.ncols() {
        for i in 0..w.nrows() {
            sum += w[(i, j)] * w[(i, j)];
        }
    }
    sum.sqrt()
}

/// A Gaussian `[d_in, d_out]` matrix rescaled to `‖W‖_F =` [`m23_seed_frobenius`]`(d_in, d_out)`,
/// in f64, drawn from `seed`.
pub fn gaussian_m23_scale(d_in: usize, d_out: usize, seed: u64) -> Mat<f64> {
    let g = gaussian_host(d_in, d_out, seed);
    let factor = m23_seed_frobenius(d_in, d_out) / frobenius(&g);
    g * faer::Scale(factor)
}

/// A Haar (semi-)orthogonal `[d_in, d_out]` matrix whose `r = min(d_in, d_out)` singular values
/// all equal `‖W_M23‖_F / √r`, so that `‖W‖_F =` [`m23_seed_frobenius`]`(d_in, d_out)`.
pub fn orthogonal_m23_scale(d_in: usize, d_out: usize, seed: u64) -> Mat<f64> {
    let r = d_in.min(d_out) as f64;
    orthogonal_host(
        d_in,
        d_out,
        m23_seed_frobenius(d_in, d_out) / r.sqrt(),
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::mgi_init_stable;
    use crate::linalg::exact;

    const SHAPES: [(usize, usize); 6] = [(64, 64), (64, 256), (256, 64), (27, 4), (31, 17), (3, 1)];

    #[test]
    fn controls_have_m23_seeds_frobenius_norm() {
        for (d_in, d_out) in SHAPES {
            // The oracle: the norm of an actual M23-seed draw (its rotations are orthogonal,
            // so its norm is the moduli's; f64 QR and products agree to ~1e-15).
            let want = frobenius(&mgi_init_stable(d_in, d_out, M23Scale::Seed, 4));
            assert!((m23_seed_frobenius(d_in, d_out) / want - 1.0).abs() < 1e-12);
            for w in [
                gaussian_m23_scale(d_in, d_out, 9),
                orthogonal_m23_scale(d_in, d_out, 9),
            ] {
                assert_eq!((w.nrows(), w.ncols()), (d_in, d_out));
                let got = frobenius(&w);
                assert!(
                    (got / want - 1.0).abs() < 1e-12,
                    "{d_in}x{d_out}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn orthogonal_control_is_flat_and_gaussian_is_not() {
        for (d_in, d_out) in [(64, 64), (64, 256), (256, 64)] {
            let r = d_in.min(d_out);
            let rms = m23_seed_frobenius(d_in, d_out) / (r as f64).sqrt();
            let s = exact::singular_values(&orthogonal_m23_scale(d_in, d_out, 2)).unwrap();
            assert_eq!(s.len(), r);
            for v in &s {
                // Householder QR in f64: singular values equal to ~1e-15 relative.
                assert!(
                    (v / rms - 1.0).abs() < 1e-12,
                    "{d_in}x{d_out}: {v} vs {rms}"
                );
            }
            // Gaussian: Marchenko–Pastur spread. For aspect ratio c = r / max ≤ 1 the edges
            // are (1 ± √c)²; square (c = 1) has σ_min → 0, so cond ≫ 10; c = 1/4 gives
            // σ_max/σ_min → (1.5/0.5) = 3. Either way far from flat (cond 1).
            let g = exact::singular_values(&gaussian_m23_scale(d_in, d_out, 2)).unwrap();
            let cond = g[0] / g[r - 1];
            let floor = if d_in == d_out { 10.0 } else { 2.0 };
            assert!(cond > floor, "{d_in}x{d_out}: Gaussian cond {cond}");
        }
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(gaussian_m23_scale(8, 5, 1), gaussian_m23_scale(8, 5, 1));
        assert_ne!(gaussian_m23_scale(8, 5, 1), gaussian_m23_scale(8, 5, 2));
        assert_eq!(orthogonal_m23_scale(8, 5, 1), orthogonal_m23_scale(8, 5, 1));
        assert_ne!(orthogonal_m23_scale(8, 5, 1), orthogonal_m23_scale(8, 5, 2));
    }
}
