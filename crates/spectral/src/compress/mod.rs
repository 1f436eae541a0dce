//! Compression of trained Linear layers by truncated SVD, plain or activation-aware.
//!
//! A Linear `y = x W + b` (burn's layout, `W: [d_in, d_out]`) becomes two,
//! `y = (x A) B + b` with `A: [d_in, k]`, `B: [k, d_out]` ([`SvdLinear`]); see [`factor`] for
//! the math of the plain and whitened (SVD-LLM) factors and [`rank`] for the rank rules (fixed
//! rank, energy fraction, global parameter budget). Everything here is host-side f64 through
//! faer; [`compress_layers`] runs a whole list of named weights.
//!
//! | file | idea |
//! |---|---|
//! | [`factor`] | plain and whitened truncated-SVD factors of one weight, error measures |
//! | [`format`] | factors in a state dict (`lowrank/<name>/{a,b}`) and their dense rebuild |
//! | [`rank`] | rank rules and the per-layer / global-budget choice |
//! | [`svd_linear`] | the two-Linear module |
//!
//! A `[12, 8]` weight with singular values 4, 2, 1, 0.1, 0.05 kept at rank 3: the factors
//! have `3·(12 + 8) = 60` parameters instead of 96, and the error is Eckart–Young's,
//! `‖W − A B‖_F / ‖W‖_F = √(0.1² + 0.05²) / √(4² + 2² + 1² + 0.1² + 0.05²)`.
//!
//! ```
//! use faer::Mat;
//! use spectral::CpuBackend;
//! use spectral::compress::{DEFAULT_DAMPING, LayerInput, RankRule, compress_layers};
//! use spectral::linalg::{exact, gaussian_matrix, to_faer};
//!
//! let sigma = [4.0, 2.0, 1.0, 0.1, 0.05];
//! // W = U diag(σ) Vᵀ with orthonormal U [12, 5], V [8, 5]: QR of Gaussian matrices.
//! let gaussian = |rows, seed| to_faer(gaussian_matrix::<CpuBackend>(rows, 5, seed, &Default::default()));
//! let (u, _) = exact::qr(&gaussian(12, 1)).unwrap();
//! let (v, _) = exact::qr(&gaussian(8, 2)).unwrap();
//! let weight = Mat::from_fn(12, 8, |i, j| (0..5).map(|r| u[(i, r)] * sigma[r] * v[(j, r)]).sum());
//!
//! let layers = [LayerInput { name: "fc.weight".into(), weight, gram: None }];
//! let out = compress_layers(&layers, RankRule::Fixed(3), DEFAULT_DAMPING).unwrap();
//! let layer = &out[0];
//! assert_eq!(layer.rank(), Some(3));
//! let factors = layer.factors.as_ref().unwrap();
//! assert_eq!((factors.a.nrows(), factors.a.ncols()), (12, 3)); // A: [d_in, k]
//! assert_eq!((factors.b.nrows(), factors.b.ncols()), (3, 8)); // B: [k, d_out]
//! assert_eq!((layer.params_before, layer.params_after), (96, 60));
//! let total: f64 = sigma.iter().map(|s| s * s).sum();
//! let eckart_young = ((0.1f64.powi(2) + 0.05f64.powi(2)) / total).sqrt();
//! assert!((layer.rel_error - eckart_young).abs() < 1e-12, "{}", layer.rel_error);
//! ```

pub mod factor;
pub mod format;
pub mod rank;
pub mod svd_linear;

pub use factor::{DEFAULT_DAMPING, LowRank, Spectrum, relative_error, relative_output_error};
pub use rank::{LayerSpectrum, RankRule, choose_ranks, energy_rank};
pub use svd_linear::SvdLinear;

use crate::linalg::LinalgError;
use faer::Mat;

/// Failures of a compression.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error(transparent)]
    Linalg(#[from] LinalgError),
    #[error("shape: {0}")]
    Shape(String),
    #[error("the Gram matrix is not positive definite even with a ridge of {ridge:e}")]
    NotPositiveDefinite { ridge: f64 },
    #[error("rank rule {0}")]
    Rule(String),
}

/// One weight to compress.
#[derive(Clone, Debug)]
pub struct LayerInput {
    /// Its parameter path, e.g. `blocks.0.mlp.fc.weight`.
    pub name: String,
    /// `[d_in, d_out]`.
    pub weight: Mat<f64>,
    /// `XᵀX` `[d_in, d_in]` of its calibration inputs: whiten when present.
    pub gram: Option<Mat<f64>>,
}

/// What became of one weight.
#[derive(Clone, Debug)]
pub struct CompressedLayer {
    pub name: String,
    pub d_in: usize,
    pub d_out: usize,
    /// The factors; `None` when the layer stays dense (its factors would not be smaller).
    pub factors: Option<LowRank>,
    /// Weight parameters before (`d_in d_out`) and after (`k (d_in + d_out)`, or unchanged).
    pub params_before: usize,
    pub params_after: usize,
    /// `‖W − A B‖_F / ‖W‖_F` (0 when dense).
    pub rel_error: f64,
    /// `‖X (W − A B)‖_F / ‖X W‖_F` on the calibration data, when a Gram matrix was given.
    pub rel_output_error: Option<f64>,
}

impl CompressedLayer {
    /// The kept rank, `None` when dense.
    pub fn rank(&self) -> Option<usize> {
        self.factors.as_ref().map(LowRank::rank)
    }
}

/// Compresses every layer under one rank rule; layers with a Gram matrix are whitened
/// (ridge `damping`, see [`DEFAULT_DAMPING`]). Under [`RankRule::Params`] the budget is shared
/// by all of `layers`.
pub fn compress_layers(
    layers: &[LayerInput],
    rule: RankRule,
    damping: f64,
) -> Result<Vec<CompressedLayer>, CompressError> {
    let spectra = layers
        .iter()
        .map(|l| match &l.gram {
            Some(gram) => Spectrum::whitened(&l.weight, gram, damping),
            None => Spectrum::plain(&l.weight),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<LayerSpectrum<'_>> = layers
        .iter()
        .zip(&spectra)
        .map(|(l, s)| LayerSpectrum {
            s: &s.s,
            d_in: l.weight.nrows(),
            d_out: l.weight.ncols(),
        })
        .collect();
    let ranks = choose_ranks(&views, rule)?;
    Ok(layers
        .iter()
        .zip(&spectra)
        .zip(ranks)
        .map(|((layer, spectrum), rank)| {
            let (d_in, d_out) = (layer.weight.nrows(), layer.weight.ncols());
            let factors = rank.map(|k| spectrum.truncate(k));
            let (rel_error, rel_output_error, params_after) = match &factors {
                Some(f) => {
                    let product = f.product();
                    (
                        relative_error(&layer.weight, &product),
                        layer
                            .gram
                            .as_ref()
                            .map(|g| relative_output_error(&layer.weight, &product, g)),
                        f.params(),
                    )
                }
                None => (0.0, layer.gram.as_ref().map(|_| 0.0), d_in * d_out),
            };
            CompressedLayer {
                name: layer.name.clone(),
                d_in,
                d_out,
                factors,
                params_before: d_in * d_out,
                params_after,
                rel_error,
                rel_output_error,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random entries in [-1, 1) (a 64-bit LCG), for tiny test matrices.
    fn lcg_matrix(rows: usize, cols: usize, seed: u64) -> Mat<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Mat::from_fn(rows, cols, |_, _| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
    }

    #[test]
    fn whitening_wins_on_outputs_at_equal_parameter_count() {
        // Inputs with a few dominant directions (as in trained transformers).
        let (n, d_in, d_out) = (256, 16, 12);
        let basis = lcg_matrix(d_in, d_in, 1);
        let mut z = lcg_matrix(n, d_in, 2);
        for j in 0..d_in {
            let scale = 0.6f64.powi(j as i32);
            for i in 0..n {
                z[(i, j)] *= scale;
            }
        }
        let x = &z * &basis;
        let gram = x.transpose() * &x;
        let w = lcg_matrix(d_in, d_out, 3);
        let plain = LayerInput {
            name: "w".into(),
            weight: w.clone(),
            gram: None,
        };
        let white = LayerInput {
            gram: Some(gram.clone()),
            ..plain.clone()
        };
        for k in [2, 4, 6] {
            let p = &compress_layers(
                std::slice::from_ref(&plain),
                RankRule::Fixed(k),
                DEFAULT_DAMPING,
            )
            .unwrap()[0];
            let q = &compress_layers(
                std::slice::from_ref(&white),
                RankRule::Fixed(k),
                DEFAULT_DAMPING,
            )
            .unwrap()[0];
            assert_eq!(p.params_after, q.params_after);
            assert_eq!(p.params_after, k * (d_in + d_out));
            let p_out = relative_output_error(&w, &p.factors.as_ref().unwrap().product(), &gram);
            let q_out = q.rel_output_error.unwrap();
            // Whitened: least output error; plain: least weight error (Eckart–Young).
            assert!(q_out < p_out, "k = {k}: whitened {q_out} vs plain {p_out}");
            assert!(p.rel_error <= q.rel_error, "k = {k}");
        }
    }

    #[test]
    fn energy_rule_keeps_the_asked_energy() {
        let w = lcg_matrix(20, 30, 4);
        let s = crate::linalg::exact::singular_values(&w).unwrap();
        let layer = LayerInput {
            name: "w".into(),
            weight: w,
            gram: None,
        };
        let out = &compress_layers(&[layer], RankRule::Energy(0.5), 0.0).unwrap()[0];
        let k = out.rank().unwrap();
        let total: f64 = s.iter().map(|x| x * x).sum();
        let kept: f64 = s[..k].iter().map(|x| x * x).sum();
        assert!(kept >= 0.5 * total && kept - s[k - 1].powi(2) < 0.5 * total);
        // Relative error² = discarded energy fraction (Eckart–Young).
        assert!((out.rel_error.powi(2) - (1.0 - kept / total)).abs() < 1e-12);
    }
}
