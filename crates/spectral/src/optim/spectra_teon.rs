//! SpectraTeon: Spectra ([`super::spectra`]) on TEON's stacks ([`super::teon`]).
//!
//! The momenta of K same-type matrices of adjacent layers are stacked `[K·d_in, d_out]`
//! (mode-1 in PyTorch's layout), the stack is spike-shaped as one matrix, normalized to unit
//! RMS over the whole stack, and split back; each block then gets Spectra's update
//! `W·(1 − lr·λ) − lr·rms_target·O`. The V cache belongs to the stack (`v_cache/p1+p2`), not
//! to its first member. K = 1 is exactly Spectra.

use super::spectra::{Spectra, SpectraConfig};
use super::teon::{Teon, TeonConfig};

/// SpectraTeon as a [`MatrixMethod`](super::method::MatrixMethod).
pub type SpectraTeon = Teon<Spectra>;

/// Spectra's settings on TEON's groups.
pub fn spectra_teon(spectra: SpectraConfig, teon: TeonConfig) -> SpectraTeon {
    Teon {
        inner: Spectra::new(spectra),
        config: teon,
    }
}
