//! Zeros of the Riemann zeta function on the critical line, computed from scratch in f64,
//! and the tools to turn them into spacing data.
//!
//! - [`hardy_z`]: Hardy's Z function (Riemann–Siegel above a crossover, Euler–Maclaurin below),
//!   with phases kept accurate to ~1e-15 at any height ([`phase_sum`], [`double_double`]).
//! - [`theta`]: the Riemann–Siegel theta function and Gram points.

pub mod double_double;
pub mod euler_maclaurin;
pub mod hardy_z;
pub mod phase_sum;
pub mod riemann_siegel;
pub mod theta;

#[cfg(test)]
mod test_util;
