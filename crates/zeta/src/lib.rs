//! Zeros of the Riemann zeta function on the critical line, computed from scratch in f64,
//! and the tools to turn them into spacing data.
//!
//! - [`hardy_z`]: Hardy's Z function (Riemann–Siegel above a crossover, Euler–Maclaurin below),
//!   with phases kept accurate to ~1e-15 at any height ([`phase_sum`], [`double_double`]).
//! - [`theta`]: the Riemann–Siegel theta function and Gram points.
//! - [`zeros`]: consecutive zeros, isolated by Gram blocks ([`gram_block`]), refined
//!   ([`refine`]) and proved complete by Turing's method ([`turing`]).
//! - [`unfold`], [`series_file`]: spacings of mean one, and the files they live in,
//!   written atomically ([`atomic_file`]).

pub mod atomic_file;
pub mod double_double;
pub mod error;
pub mod euler_maclaurin;
pub mod gram_block;
pub mod hardy_z;
pub mod phase_sum;
pub mod refine;
pub mod riemann_siegel;
pub mod series_file;
pub mod stats;
pub mod theta;
pub mod turing;
pub mod unfold;
pub mod zeros;

pub use error::ZetaError;
pub use zeros::{Verification, compute_zeros, count_up_to, zeros};

#[cfg(test)]
mod test_util;
