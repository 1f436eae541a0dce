//! Hardy's Z function `Z(t) = e^{iθ(t)}·ζ(1/2 + it)`, real for real t, with `|Z(t)| = |ζ(1/2+it)|`:
//! its sign changes are the zeros of ζ on the critical line.
//!
//! Two methods, split at a measured crossover height:
//! - below [`RIEMANN_SIEGEL_MIN_HEIGHT`]: Euler–Maclaurin (`O(t)` terms, ~1e-14 accurate);
//! - above: Riemann–Siegel with five correction terms (`O(√t)` terms).
//!
//! The crossover was measured by `cargo test -p zeta crossover -- --nocapture`: the two
//! methods differ by at most 4.5e-11 near `t = 1000`, 1.0e-11 near 2000 and 7e-13 near 5000
//! (the Riemann–Siegel truncation error, which decays as `t^{−11/4}`). A Z error of 1e-11
//! moves a zero by ~3e-12, far inside the 1e-9 the zeros are held to, while Euler–Maclaurin
//! costs `t/2` terms per evaluation against Riemann–Siegel's `√(t/2π)`.

use crate::double_double::DoubleDouble;
use crate::{euler_maclaurin, riemann_siegel};

/// Height from which Riemann–Siegel is used (its error is below 1e-11 from here on).
pub const RIEMANN_SIEGEL_MIN_HEIGHT: f64 = 2000.0;

/// `Z(t)` and `Z'(t)` for `9 ≤ t ≤ 2π·MAX_TERMS²` (≈ 7.6·10¹²), the height an f64 or a
/// double-double (needed above ~10⁷ to place t within 1e-9). Below the crossover only
/// `t_hi` is used: there `t_lo` is below 1.2e-13.
pub fn z_and_derivative(t: impl Into<DoubleDouble>) -> (f64, f64) {
    let t = t.into();
    if t.hi < RIEMANN_SIEGEL_MIN_HEIGHT {
        euler_maclaurin::z_and_derivative(t.hi)
    } else {
        riemann_siegel::z_and_derivative(t)
    }
}

/// `Z(t)`, as [`z_and_derivative`].
pub fn z(t: impl Into<DoubleDouble>) -> f64 {
    let t = t.into();
    if t.hi < RIEMANN_SIEGEL_MIN_HEIGHT {
        euler_maclaurin::z(t.hi)
    } else {
        riemann_siegel::z_and_derivative(t).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_matches_mpmath() {
        // 40-digit values (tests/data/make_reference.py). Z grows like t^{1/4}·polylog, so
        // the bound scales with |Z'| for the derivative.
        for row in crate::test_util::table(include_str!("../tests/data/hardy_z_reference.txt")) {
            let (t, want, want_derivative) = (row[0], row[1], row[2]);
            let (got, got_derivative) = z_and_derivative(t);
            // Euler–Maclaurin is good to ~1e-14; Riemann–Siegel's truncation error is
            // ~1e-11·(2000/t)^{11/4} (see `crossover`), plus rounding ~1e-15·√N.
            let truncation = if t < RIEMANN_SIEGEL_MIN_HEIGHT {
                0.0
            } else {
                1e-11 * (RIEMANN_SIEGEL_MIN_HEIGHT / t).powf(2.75)
            };
            assert!(
                (got - want).abs() < 2e-13 + truncation,
                "Z({t}) = {got}, want {want}"
            );
            assert!(
                (got_derivative - want_derivative).abs() < 1e-7 * want_derivative.abs().max(1.0),
                "Z'({t}) = {got_derivative}, want {want_derivative}"
            );
        }
    }

    #[test]
    fn z_matches_mpmath_at_heights_f64_cannot_hold() {
        // t from 10⁸ to 7·10¹² in double-double (tests/data/make_height_reference.py). The
        // truncation error is negligible there; what is left is the rounding of up to 10⁶
        // terms of the main sum, each phase to ~3e-16.
        let data = include_str!("../tests/data/height_z_reference.txt");
        for row in crate::test_util::precise_table(data) {
            let (t, want) = (row[0], row[1].to_f64());
            let got = z(t);
            // Measured: at most 1.4e-13 (at t = 10¹²).
            assert!(
                (got - want).abs() < 3e-13,
                "Z({}) = {got}, want {want}",
                t.to_decimal(9)
            );
        }
    }

    #[test]
    fn riemann_siegel_alone_fails_at_the_first_zeros() {
        // The trap Euler–Maclaurin is here for: at t ≈ 14–50 the Riemann–Siegel corrections
        // stop shrinking far above 1e-10 (mpmath values, tests/data/hardy_z_reference.txt).
        let reference =
            crate::test_util::table(include_str!("../tests/data/hardy_z_reference.txt"));
        for row in reference
            .iter()
            .filter(|row| row[0] < 60.0 && row[0] > 12.0)
        {
            let (t, want) = (row[0], row[1]);
            let rs_error = (riemann_siegel::z_and_derivative(t.into()).0 - want).abs();
            let em_error = (euler_maclaurin::z(t) - want).abs();
            assert!(
                rs_error > 1e-7,
                "t = {t}: Riemann–Siegel error {rs_error:e}"
            );
            assert!(
                em_error < 1e-13,
                "t = {t}: Euler–Maclaurin error {em_error:e}"
            );
        }
    }

    #[test]
    fn crossover() {
        // The two methods agree where both are used near the crossover; print the
        // difference profile that set RIEMANN_SIEGEL_MIN_HEIGHT.
        for t0 in [
            500.0,
            1000.0,
            2000.0,
            3000.0,
            RIEMANN_SIEGEL_MIN_HEIGHT,
            8000.0,
        ] {
            let worst = (0..200)
                .map(|i| t0 + i as f64 * 0.0731)
                .map(|t| {
                    (euler_maclaurin::z(t) - riemann_siegel::z_and_derivative(t.into()).0).abs()
                })
                .fold(0.0, f64::max);
            println!("t ≈ {t0}: max |Z_EM − Z_RS| = {worst:.2e}");
            if t0 >= RIEMANN_SIEGEL_MIN_HEIGHT {
                assert!(worst < 1.5e-11, "t ≈ {t0}: {worst:e}");
            }
            if t0 >= 5000.0 {
                assert!(worst < 1e-12, "t ≈ {t0}: {worst:e}");
            }
        }
    }
}
