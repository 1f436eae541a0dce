//! Orthogonal initialization (Saxe, McClelland & Ganguli 2014, <https://arxiv.org/abs/1312.6120>):
//! `W = gain · Q` with `Q` a Haar-random matrix with orthonormal columns (or rows), so every
//! singular value of `W` equals `gain`.
//!
//! [`haar_orthonormal`] is also the rotation source of M23-Spectrum
//! ([`mgi_init_stable`](super::mgi_init_stable)).

use faer::Mat;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

use crate::linalg::exact;

/// A `[rows, cols]` matrix of independent N(0, 1) entries in f64, drawn on the host from
/// `seed` (row-major order), so it is identical on every backend and device.
pub fn gaussian_host(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f64> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
}

/// A Haar-distributed `[rows, k]` matrix with orthonormal columns, `k ≤ rows`: the thin `Q`
/// of the Householder QR of a Gaussian `[rows, k]` matrix, each column multiplied by the sign
/// of `R`'s diagonal entry (without that sign fix `Q` is not Haar; Mezzadri 2007).
///
/// Cost: one `rows × k` QR, `≈ 4·rows·k² − (4/3)·k³` flops.
pub fn haar_orthonormal(rows: usize, k: usize, seed: u64) -> Mat<f64> {
    assert!(k <= rows, "haar_orthonormal: k = {k} > rows = {rows}");
    let g = gaussian_host(rows, k, seed);
    let (mut q, r) = exact::qr(&g).expect("a Gaussian matrix is finite");
    for j in 0..k {
        if r[(j, j)] < 0.0 {
            for i in 0..rows {
                q[(i, j)] = -q[(i, j)];
            }
        }
    }
    q
}

/// `gain · Q` in burn's `[d_in, d_out]` layout, with orthonormal columns when `d_in ≥ d_out`
/// and orthonormal rows otherwise (canonicalised to the tall case and transposed back): all
/// `min(d_in, d_out)` singular values equal `gain`.
pub fn orthogonal_host(d_in: usize, d_out: usize, gain: f64, seed: u64) -> Mat<f64> {
    let (tall, short) = (d_in.max(d_out), d_in.min(d_out));
    let q = haar_orthonormal(tall, short, seed);
    if d_in >= d_out {
        Mat::from_fn(d_in, d_out, |i, j| gain * q[(i, j)])
    } else {
        Mat::from_fn(d_in, d_out, |i, j| gain * q[(j, i)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_has_all_singular_values_equal_to_gain() {
        for (d_in, d_out) in [(48, 48), (64, 16), (16, 64)] {
            let w = orthogonal_host(d_in, d_out, 1.7, 3);
            let s = exact::singular_values(&w).unwrap();
            assert_eq!(s.len(), d_in.min(d_out));
            for v in s {
                // Householder QR in f64: orthonormal to ~1e-15 per entry.
                assert!((v - 1.7).abs() < 1e-12, "{d_in}x{d_out}: {v}");
            }
        }
    }

    #[test]
    fn haar_is_deterministic_per_seed() {
        let a = haar_orthonormal(20, 5, 9);
        let b = haar_orthonormal(20, 5, 9);
        let c = haar_orthonormal(20, 5, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // The sign fix makes R's diagonal positive: QᵀG has a positive diagonal.
        let g = gaussian_host(20, 5, 9);
        let r = a.transpose() * &g;
        for j in 0..5 {
            assert!(r[(j, j)] > 0.0);
        }
    }
}
