//! Spectral methods for deep learning on [burn](https://burn.dev), generic over its
//! `Backend` (burn's NdArray CPU backend always, CUDA with the `cuda` feature). Everything acts
//! on the singular values of matrices:
//!
//! | module | what |
//! |---|---|
//! | [`linalg`] | `msign` (quintic Newton–Schulz, Polar Express), top-k SVD by warm-started subspace iteration, randomized SVD, orthonormalization, Spectra's spike shaping; exact CPU SVD/QR/eigen in f64 (faer) |
//! | [`optim`] | [`SpectralOptimizer`](optim::SpectralOptimizer): Muon, TEON, Spectra, SpectraTeon or Manifold Muon on a module's hidden matrices, AdamW on the rest; schedules, checkpoints, data-parallel sharding |
//! | [`init`] | M23-Spectrum, Xavier, He and orthogonal initializations of a whole module |
//! | [`compress`] | truncated and activation-aware SVD factorization of Linear layers |
//! | [`analyze`] | per-layer spectra, condition numbers, energy curves, modular norm |
//! | [`device`] | the backend and device chosen at run time |
//! | [`plot`] | line charts (SVG and PNG) |
//!
//! Layout: burn's `Linear` weight is `[d_in, d_out]` (PyTorch's is `[out, in]`); every shape
//! rule here (Muon's scale, TEON's stacking, fan-in) is written for burn's layout.
//!
//! `msign(X) = U Vᵀ` of `X = U Σ Vᵀ`, the core of Muon, checked against faer's exact SVD:
//!
//! ```
//! use spectral::CpuBackend;
//! use spectral::linalg::{MsignMethod, exact, from_faer, gaussian_matrix, msign, to_faer};
//!
//! let device = Default::default();
//! let x = gaussian_matrix::<CpuBackend>(32, 48, 7, &device); // [m, n]
//! // Polar Express, 8 steps: the singular values reach 1 to f32 precision.
//! let o = msign(x.clone(), MsignMethod::PolarExpress { steps: 8 });
//! assert_eq!(o.dims(), [32, 48]);
//! let polar = exact::svd(&to_faer(x)).unwrap().polar(); // U Vᵀ in f64
//! let error: f32 = (o - from_faer::<CpuBackend>(&polar, &device))
//!     .abs()
//!     .max()
//!     .into_scalar();
//! assert!(error < 1e-4, "max |msign(X) − U Vᵀ| = {error}");
//! ```
//!
//! # In a crate outside this workspace
//!
//! This workspace builds against two patched crates (`vendor/README.md`), and Cargo applies a
//! `[patch]` only in the workspace being built. A downstream crate gets the same numbers without
//! them, but without the `burn-autodiff` patch a forward pass costs host time that grows with
//! the square of the depth, and without the `cubecl-cuda` patch the `cuda` feature does not
//! compile. Add both to the downstream workspace's `Cargo.toml`, pointing at a checkout of this
//! repository:
//!
//! ```toml
//! [patch.crates-io]
//! burn-autodiff = { path = "/path/to/spectral/vendor/burn-autodiff" }
//! cubecl-cuda = { path = "/path/to/spectral/vendor/cubecl-cuda" }
//! ```

pub mod analyze;
pub mod compress;
pub mod device;
pub mod init;
pub mod linalg;
pub mod optim;
pub mod plot;

pub use device::{CpuBackend, DeviceError, DeviceKind};
