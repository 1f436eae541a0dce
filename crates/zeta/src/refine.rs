//! Refining a bracketed zero of Z: Newton's method kept inside a shrinking sign-change
//! bracket, with bisection whenever a Newton step would leave it.
//!
//! The start is the zero of the cubic Hermite interpolant of `(Z, Z')` at the bracket's ends
//! (no evaluation of Z needed), typically within 1e-4 of the zero. The iteration stops when
//! the error left after the next Newton step, estimated as `|Z''/2Z'|·step²` with `Z''` from
//! the last two derivatives, is below [`TARGET_ERROR`]; usually after two evaluations.

use crate::batch::Evaluator;
use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::gram_block::Sample;
use crate::hardy_z;
use rayon::prelude::*;

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

/// The zero near 0 of the quintic Hermite interpolant of `(x, value, slope)` at three points,
/// the first at `x = 0`, by Newton's method on the interpolant from 0.
fn hermite_quintic_zero(points: [(f64, f64, f64); 3]) -> f64 {
    // Divided differences over the nodes u = [x0, x0, x1, x1, x2, x2].
    let u = [
        points[0].0,
        points[0].0,
        points[1].0,
        points[1].0,
        points[2].0,
        points[2].0,
    ];
    let mut q = [0.0; 6];
    for (i, p) in points.iter().enumerate() {
        q[2 * i] = p.1;
        q[2 * i + 1] = p.1;
    }
    let mut c = [0.0; 6];
    c[0] = q[0];
    // Column 1: slopes at repeated nodes, secants between.
    let mut column = [0.0; 6];
    for i in 1..6 {
        column[i] = if i % 2 == 1 {
            points[i / 2].2
        } else {
            (q[i] - q[i - 1]) / (u[i] - u[i - 1])
        };
    }
    c[1] = column[1];
    for j in 2..6 {
        for i in (j..6).rev() {
            column[i] = (column[i] - column[i - 1]) / (u[i] - u[i - j]);
        }
        c[j] = column[j];
    }
    let mut d = 0.0;
    for _ in 0..6 {
        // Nested form: p = c0 + (d − u0)(c1 + (d − u1)(c2 + …)), and its derivative.
        let (mut value, mut slope) = (c[5], 0.0);
        for k in (0..5).rev() {
            slope = value + (d - u[k]) * slope;
            value = c[k] + (d - u[k]) * value;
        }
        let step = -value / slope;
        d += step;
        if step.abs() <= 1e-17 * (1.0 + d.abs()) {
            break;
        }
    }
    d
}

/// The zero of `f` between `left` and `right` (which have opposite signs); `f(t) = (Z, Z')`.
/// Also returns the number of evaluations of `f`. A loop over [`Refinement`].
pub fn refine_zero(
    left: Sample,
    right: Sample,
    f: impl Fn(DoubleDouble) -> (f64, f64),
) -> (DoubleDouble, usize) {
    let mut refinement = Refinement::new(left, right);
    loop {
        let (z, dz) = f(refinement.point());
        if let Some(zero) = refinement.feed(z, dz) {
            return (zero, refinement.evaluations());
        }
    }
}

/// The refinement of one bracketed zero, one evaluation at a time: [`Refinement::point`] is
/// where `(Z, Z')` is needed next, [`Refinement::feed`] takes it and says whether the zero is
/// found. Many refinements can so share batches of evaluations (on a GPU) while each one
/// follows exactly the steps [`refine_zero`] takes.
///
/// The iteration runs on the offset `x = t − left.t` (an f64 of the bracket's width, so
/// resolved to ~1e-17 at any height) and evaluates at the double-double `left.t + x`.
#[derive(Clone, Debug)]
pub struct Refinement {
    origin: DoubleDouble,
    left_positive: bool,
    /// The bracket `[a, b]` of offsets, shrinking.
    a: f64,
    b: f64,
    /// The offset evaluated next.
    x: f64,
    /// The previous offset with a known derivative, for the Z'' estimate.
    previous: (f64, f64),
    /// `(x, Z, Z')` at the bracket's two ends, for the quintic after the first evaluation.
    ends: [(f64, f64, f64); 2],
    evaluations: usize,
}

impl Refinement {
    pub fn new(left: Sample, right: Sample) -> Self {
        let width = (right.t - left.t).to_f64();
        debug_assert!(left.positive() != right.positive() && width > 0.0);
        let x = width * hermite_zero(left.z, left.dz * width, right.z, right.dz * width);
        let previous = if x < width - x {
            (0.0, left.dz)
        } else {
            (width, right.dz)
        };
        Self {
            origin: left.t,
            left_positive: left.positive(),
            a: 0.0,
            b: width,
            x,
            previous,
            ends: [(0.0, left.z, left.dz), (width, right.z, right.dz)],
            evaluations: 0,
        }
    }

    /// Where `(Z, Z')` is needed next.
    pub fn point(&self) -> DoubleDouble {
        self.origin + self.x
    }

    /// Evaluations fed so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// Takes `(Z, Z')` at [`Self::point`]; the zero once it is found.
    pub fn feed(&mut self, z: f64, dz: f64) -> Option<DoubleDouble> {
        // Offsets closer than this are one zero to the precision aimed for (and to that of Z:
        // its rounding, ~1e-13, moves a zero by ~1e-14).
        let resolution = TARGET_ERROR / 1000.0;
        let at = |x: f64| self.origin + x;
        let x = self.x;
        self.evaluations += 1;
        if z == 0.0 {
            return Some(at(x));
        }
        if (z > 0.0) == self.left_positive {
            self.a = x;
        } else {
            self.b = x;
        }
        let (a, b) = (self.a, self.b);
        let step = -z / dz;
        let newton = x + step;
        let second = (dz - self.previous.1) / (x - self.previous.0);
        let predicted_error = (second / (2.0 * dz)).abs() * step * step;
        // Trust the estimate only for a short step that stays in the bracket (to rounding).
        let consistent = step.abs() <= 1e-4 && newton >= a - resolution && newton <= b + resolution;
        if consistent && predicted_error <= TARGET_ERROR / 10.0 || step.abs() <= resolution {
            // A step that rounds onto or past the bracket means the zero sits at its end.
            return Some(at(newton.clamp(a, b)));
        }
        self.previous = (x, dz);
        // After the first evaluation the quintic through the three points usually lands
        // within 1e-9 of the zero, where Newton from the cubic's start needs a second step.
        let next = if self.evaluations == 1 {
            let [(xl, zl, dzl), (xr, zr, dzr)] = self.ends;
            let quintic =
                x + hermite_quintic_zero([(0.0, z, dz), (xl - x, zl, dzl), (xr - x, zr, dzr)]);
            if quintic.is_finite() && (quintic - newton).abs() < 0.5 * step.abs() {
                quintic
            } else {
                newton
            }
        } else {
            newton
        };
        self.x = if next > a && next < b {
            next
        } else {
            0.5 * (a + b)
        };
        if b - a <= 2.0 * resolution || self.evaluations >= MAX_EVALUATIONS {
            return Some(at(self.x));
        }
        None
    }
}

/// The zeros of all `brackets` (pairs of samples of opposite sign), refined together: each
/// round evaluates the next point of every refinement not yet done in one batch. Returns the
/// zeros in the brackets' order and the evaluations spent. An evaluator that does not batch
/// ([`Evaluator::batches`]) has each zero refined to the end by [`refine_zero`] on its own
/// thread instead.
pub fn refine_all(
    brackets: &[(Sample, Sample)],
    evaluator: &mut dyn Evaluator,
) -> Result<(Vec<DoubleDouble>, u64), ZetaError> {
    if !evaluator.batches() {
        let refined: Vec<(DoubleDouble, usize)> = brackets
            .par_iter()
            .map(|&(left, right)| refine_zero(left, right, hardy_z::z_and_derivative))
            .collect();
        let evaluations = refined.iter().map(|&(_, count)| count as u64).sum();
        return Ok((
            refined.into_iter().map(|(zero, _)| zero).collect(),
            evaluations,
        ));
    }
    let mut zeros = vec![DoubleDouble::default(); brackets.len()];
    // (index of the bracket, its refinement, the zero once found)
    let mut active: Vec<(usize, Refinement, Option<DoubleDouble>)> = brackets
        .par_iter()
        .enumerate()
        .map(|(i, &(left, right))| (i, Refinement::new(left, right), None))
        .collect();
    let mut points = Vec::with_capacity(active.len());
    let mut evaluations = 0;
    while !active.is_empty() {
        active
            .par_iter()
            .map(|(_, refinement, _)| refinement.point())
            .collect_into_vec(&mut points);
        let values = evaluator.evaluate(&points)?;
        evaluations += points.len() as u64;
        active
            .par_iter_mut()
            .zip(values)
            .for_each(|((_, refinement, zero), (z, dz))| *zero = refinement.feed(z, dz));
        active.retain(|&(i, _, zero)| match zero {
            Some(zero) => {
                zeros[i] = zero;
                false
            }
            None => true,
        });
    }
    Ok((zeros, evaluations))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gram_block::{Ahead, GramWalker};

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
    fn quintic_interpolant_of_a_quintic_is_exact() {
        // p(x) = (x − 0.01)(x + 0.7)(x − 0.4)(x² + 1): values and slopes at 0, −0.3 and 0.35.
        let p = |x: f64| (x - 0.01) * (x + 0.7) * (x - 0.4) * (x * x + 1.0);
        // p' by the product rule, one factor differentiated at a time.
        let dp = |x: f64| {
            (x + 0.7) * (x - 0.4) * (x * x + 1.0)
                + (x - 0.01) * (x - 0.4) * (x * x + 1.0)
                + (x - 0.01) * (x + 0.7) * (x * x + 1.0)
                + (x - 0.01) * (x + 0.7) * (x - 0.4) * 2.0 * x
        };
        let at = |x: f64| (x, p(x), dp(x));
        let zero = hermite_quintic_zero([at(0.0), at(-0.3), at(0.35)]);
        assert!((zero - 0.01).abs() < 1e-15, "{zero}");
    }

    #[test]
    fn zeros_of_z_take_about_two_evaluations() {
        // The quintic after the first evaluation: 2.14 per zero over the first 10⁵ zeros
        // (2.74 with Newton alone). Here: the first 2000 zeros' brackets at Gram points.
        let (mut zeros, mut evaluations) = (0, 0);
        let mut walker = GramWalker::at_first_good_from(-1, Ahead::none());
        while zeros < 2000 {
            let mut block = walker.next_block();
            assert!(block.separate(Ahead::none()));
            for (left, right) in block.brackets() {
                let (_, count) = refine_zero(left, right, crate::hardy_z::z_and_derivative);
                evaluations += count;
                zeros += 1;
            }
        }
        let per_zero = evaluations as f64 / zeros as f64;
        assert!(per_zero < 2.4, "{per_zero} evaluations per zero");
    }

    #[test]
    fn hermite_interpolant_of_a_cubic_is_exact() {
        // p(s) = (s − 0.3)(s + 1)(s − 2): values and slopes at 0 and 1 determine it.
        let p = |s: f64| (s - 0.3) * (s + 1.0) * (s - 2.0);
        let dp = |s: f64| (s + 1.0) * (s - 2.0) + (s - 0.3) * (2.0 * s - 1.0);
        assert!((hermite_zero(p(0.0), dp(0.0), p(1.0), dp(1.0)) - 0.3).abs() < 1e-14);
    }
}
