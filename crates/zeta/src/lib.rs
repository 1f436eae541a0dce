//! Zeros of the Riemann zeta function on the critical line, computed from scratch in f64,
//! and the tools to turn them into spacing data.
//!
//! - [`hardy_z`]: Hardy's Z function (Riemann–Siegel above a crossover, Euler–Maclaurin below),
//!   at heights given in double-double, with phases kept accurate to ~1e-15 at any height up
//!   to 7.6·10¹² ([`phase_sum`], [`double_double`]); [`at_height`]: Z, N and S at a height.
//! - [`theta`]: the Riemann–Siegel theta function and Gram points.
//! - [`zeros`]: consecutive zeros, isolated by Gram blocks ([`gram_block`]) or, where
//!   Rosser's rule fails, unions of them ([`rosser`]), refined ([`refine`]) and proved
//!   complete by Turing's method ([`turing`]); the evaluations it asks for come in batches
//!   from an [`batch::Evaluator`]: the CPU's threads, or (feature `cuda`) `gpu::Cuda`, the
//!   main sums on an NVIDIA GPU.
//! - [`unfold`], [`series_file`]: spacings of mean one, and the files they live in,
//!   written atomically (`spectral_io::AtomicFile`).
//! - [`stats`]: random-matrix statistics of spacings (nearest-neighbour law, pair correlation,
//!   number variance, rigidity) against their GUE laws, and GUE samples as a control.
//!
//! # Examples
//!
//! The first ten zeros, with the line that says why none is missing:
//!
//! ```
//! let mut gammas = Vec::new();
//! let verification = spectral_zeta::compute_zeros(1, 10, |_, batch| {
//!     gammas.extend(batch.iter().map(|gamma| gamma.to_f64()));
//!     Ok(())
//! })?;
//! // γ₁ and γ₁₀ to 1e-9 (Odlyzko's tables; `shared` Arb oracles test millions more).
//! assert!((gammas[0] - 14.134_725_141_734_693).abs() < 1e-9);
//! assert!((gammas[9] - 49.773_832_477_672_302).abs() < 1e-9);
//! let line = verification.summary();
//! assert!(line.contains("no zero missed"), "{line}");
//! println!("verified: {line}");
//! # Ok::<(), spectral_zeta::ZetaError>(())
//! ```
//!
//! Unfolded spacings of 20,000 zeros from index 100,000 follow GUE's nearest-neighbour law
//! (Gaudin's), not Poisson's:
//!
//! ```
//! use spectral_zeta::stats::report::analyze;
//! use spectral_zeta::unfold::unfolded_spacing;
//!
//! let gammas = spectral_zeta::zeros(100_000, 20_000)?;
//! let spacings: Vec<f64> = gammas.windows(2).map(|w| unfolded_spacing(w[0], w[1])).collect();
//! let stats = analyze(&spacings);
//! assert!((stats.mean - 1.0).abs() < 0.01, "mean spacing {}", stats.mean);
//! // Kolmogorov–Smirnov distances: 0.019 to Gaudin's law (sampling error and the slow
//! // approach to GUE at t ≈ 7·10⁴), 0.30 to the exponential (Poisson) law.
//! assert!(stats.ks.gaudin < 0.02, "{:?}", stats.ks);
//! assert!(stats.ks.poisson > 10.0 * stats.ks.gaudin, "{:?}", stats.ks);
//! # Ok::<(), spectral_zeta::ZetaError>(())
//! ```

pub mod at_height;
pub mod batch;
pub mod double_double;
pub mod error;
pub mod euler_maclaurin;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod gram_block;
pub mod hardy_z;
pub mod multi_eval;
pub mod phase_sum;
pub mod refine;
pub mod riemann_siegel;
pub mod rosser;
pub mod series_file;
pub mod stats;
pub mod theta;
pub mod turing;
pub mod unfold;
pub mod zeros;

pub use double_double::DoubleDouble;
pub use error::ZetaError;
pub use zeros::{
    Verification, compute_zeros, compute_zeros_with, count_up_to, zeros, zeros_precise,
};

#[cfg(test)]
mod test_util;
