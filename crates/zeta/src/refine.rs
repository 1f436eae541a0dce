//! Refining a bracketed zero of Z: Newton's method kept inside a shrinking sign-change
//! bracket, with bisection whenever a Newton step would leave it.
//!
//! The start is the zero of the cubic Hermite interpolant of `(Z, Z')` at the bracket's ends
//! (no evaluation of Z needed), typically within 1e-4 of the zero. The iteration stops when
//! the error left after the next Newton step, estimated as `|Z''/2Z'|·step²` with `Z''` from
//! the last two derivatives, is below [`TARGET_ERROR`]; usually after two evaluations.

use crate::double_double::DoubleDouble;
use crate::gram_block::Sample;

/// Absolute error (in units of t) the refinement aims for; 100× below the 1e-9 promised.
pub const TARGET_ERROR: f64 = 1e-11;

/// Most evaluations before the bracket alone decides (never reached in practice).
const MAX_EVALUATIONS: usize = 100;

/// Zero in `[0, 1]` of the cubic Hermite interpolant of values `z0, z1` and slopes `d0, d1`
/// (slopes per unit of the normalized variable), by safeguarded Newton on the cubic.
fn hermite_zero(z0: f64, d0: f64, z1: f64, d1: f64) -> f64 {
    let p = |s: f64| {
        let (s2, s3) = (s * s, s * s * s);
        (2.0 * s3 - 3.0 * s2 + 1.0) * z0
            + (s3 - 2.0 * s2 + s) * d0
            + (3.0 * s2 - 2.0 * s3) * z1
            + (s3 - s2) * d1
    };
    let dp = |s: f64| {
        let s2 = s * s;
        (6.0 * s2 - 6.0 * s) * (z0 - z1)
            + (3.0 * s2 - 4.0 * s + 1.0) * d0
            + (3.0 * s2 - 2.0 * s) * d1
    };
    let (mut lo, mut hi) = (0.0, 1.0);
    let mut s = z0 / (z0 - z1);
    for _ in 0..30 {
        let value = p(s);
        if (value > 0.0) == (z0 > 0.0) {
            lo = s;
        } else {
            hi = s;
        }
        let next = s - value / dp(s);
        let next = if next > lo && next < hi {
            next
        } else {
            0.5 * (lo + hi)
        };
        if (next - s).abs() < 1e-14 {
            return next;
        }
        s = next;
    }
    s
}

/// The zero of `f` between `left` and `right` (which have opposite signs); `f(t) = (Z, Z')`.
/// Also returns the number of evaluations of `f`.
///
/// The iteration runs on the offset `x = t − left.t` (an f64 of the bracket's width, so
/// resolved to ~1e-17 at any height) and evaluates `f` at the double-double `left.t + x`.
pub fn refine_zero(
    left: Sample,
    right: Sample,
    f: impl Fn(DoubleDouble) -> (f64, f64),
) -> (DoubleDouble, usize) {
    let origin = left.t;
    let width = (right.t - left.t).to_f64();
    debug_assert!(left.positive() != right.positive() && width > 0.0);
    let at = |x: f64| origin + x;
    let (mut a, mut b) = (0.0, width);
    // Offsets closer than this are one zero to the precision aimed for (and to that of Z:
    // its rounding, ~1e-13, moves a zero by ~1e-14).
    let resolution = TARGET_ERROR / 1000.0;
    let left_positive = left.positive();
    let mut x = width * hermite_zero(left.z, left.dz * width, right.z, right.dz * width);
    // The previous point with a known derivative, for the Z'' estimate.
    let mut previous = if x - a < b - x {
        (a, left.dz)
    } else {
        (b, right.dz)
    };
    for evaluations in 1..=MAX_EVALUATIONS {
        let (z, dz) = f(at(x));
        if z == 0.0 {
            return (at(x), evaluations);
        }
        if (z > 0.0) == left_positive {
            a = x;
        } else {
            b = x;
        }
        let step = -z / dz;
        let newton = x + step;
        let second = (dz - previous.1) / (x - previous.0);
        let predicted_error = (second / (2.0 * dz)).abs() * step * step;
        // Trust the estimate only for a short step that stays in the bracket (to rounding).
        let consistent = step.abs() <= 1e-4 && newton >= a - resolution && newton <= b + resolution;
        if consistent && predicted_error <= TARGET_ERROR / 10.0 || step.abs() <= resolution {
            // A step that rounds onto or past the bracket means the zero sits at its end.
            return (at(newton.clamp(a, b)), evaluations);
        }
        previous = (x, dz);
        x = if newton > a && newton < b {
            newton
        } else {
            0.5 * (a + b)
        };
        if b - a <= 2.0 * resolution {
            return (at(x), evaluations);
        }
    }
    (at(x), MAX_EVALUATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_zero_of_a_sinusoid_to_full_precision() {
        let f = |t: f64| ((3.0 * t).sin(), 3.0 * (3.0 * t).cos());
        let at = |t: f64| Sample {
            t: t.into(),
            z: f(t).0,
            dz: f(t).1,
        };
        let (root, evaluations) = refine_zero(at(0.6), at(1.5), |t| f(t.to_f64()));
        assert!((root.to_f64() - std::f64::consts::PI / 3.0).abs() < 1e-15);
        assert!(evaluations <= 3, "{evaluations}");
    }

    #[test]
    fn survives_a_useless_derivative() {
        // A derivative of the wrong sign sends Newton out of the bracket: bisection takes over.
        let f = |t: f64| (t - 0.3, -1.0);
        let at = |t: f64| Sample {
            t: t.into(),
            z: f(t).0,
            dz: -1.0,
        };
        let (root, _) = refine_zero(at(0.0), at(1.0), |t| f(t.to_f64()));
        assert!((root.to_f64() - 0.3).abs() < 1e-11);
    }

    #[test]
    fn hermite_interpolant_of_a_cubic_is_exact() {
        // p(s) = (s − 0.3)(s + 1)(s − 2): values and slopes at 0 and 1 determine it.
        let p = |s: f64| (s - 0.3) * (s + 1.0) * (s - 2.0);
        let dp = |s: f64| (s + 1.0) * (s - 2.0) + (s - 0.3) * (2.0 * s - 1.0);
        assert!((hermite_zero(p(0.0), dp(0.0), p(1.0), dp(1.0)) - 0.3).abs() < 1e-14);
    }
}
