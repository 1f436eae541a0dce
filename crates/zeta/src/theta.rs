//! The Riemann–Siegel theta function `θ(t) = arg Γ(1/4 + it/2) − (t/2)·ln π` and Gram points.
//!
//! For `t ≥ 9` we use the asymptotic (Stirling) series
//!
//! ```text
//! θ(t) = (t/2)·ln(t/2π) − t/2 − π/8 + Σ_{k≥1} (1 − 2^{1−2k})·|B_{2k}| / (4k(2k−1)·t^{2k−1})
//! ```
//!
//! whose terms are below 1e-19 after ten of them for `t ≥ 9`. The leading part is of size
//! `t·ln t`: [`theta_precise`] evaluates it in double-double, from a height given in
//! double-double, so that θ and its value modulo 2π keep ~1e-16 absolute accuracy at any
//! height up to 10¹³ (plain f64 loses ~1e-9 at `t = 10⁶`, and cannot even hold t to 1e-9
//! above 10⁷).
//!
//! Gram points `g_n` solve `θ(g_n) = nπ` ([`gram_point_precise`], in double-double);
//! `g_{−1} ≈ 9.667` is the first one above the minimum of θ, and the first zero `γ₁ ≈ 14.13` lies in `(g_{−1}, g_0)`.

use crate::double_double::{DoubleDouble, LN_2, LN_TWO_PI, PI as PI_DD, two_prod};
use crate::phase_sum::PhaseTable;
use std::f64::consts::PI;

/// Lowest height at which the asymptotic series here is used (accurate to 1e-13 at 9,
/// to 1e-15 from 12 on: θ has exponentially small terms ~e^{−πt} the series omits).
pub const MIN_HEIGHT: f64 = 9.0;

/// `(1 − 2^{1−2k})·|B_{2k}| / (4k(2k−1))` for k = 1..=10: the coefficient of `t^{1−2k}`.
const SERIES: [f64; 10] = {
    // |B_{2k}| for k = 1..=10 as exact fractions.
    const B: [(f64, f64); 10] = [
        (1.0, 6.0),
        (1.0, 30.0),
        (1.0, 42.0),
        (1.0, 30.0),
        (5.0, 66.0),
        (691.0, 2730.0),
        (7.0, 6.0),
        (3617.0, 510.0),
        (43867.0, 798.0),
        (174611.0, 330.0),
    ];
    let mut c = [0.0; 10];
    let mut k = 1;
    while k <= 10 {
        let two_k = 2 * k;
        let mut pow2 = 1.0;
        let mut i = 1;
        while i < two_k {
            pow2 *= 2.0;
            i += 1;
        }
        let (num, den) = B[k - 1];
        c[k - 1] = (1.0 - 1.0 / pow2) * num / den / (4.0 * k as f64 * (2.0 * k as f64 - 1.0));
        k += 1;
    }
    c
};

/// The correction series `Σ_k SERIES[k]·t^{1−2k}` (≈ 1/(48t) at large t).
fn series_correction(t: f64) -> f64 {
    let inv = 1.0 / t;
    let inv2 = inv * inv;
    SERIES.iter().rev().fold(0.0, |acc, &c| acc * inv2 + c) * inv
}

/// Derivative of [`series_correction`].
fn series_correction_derivative(t: f64) -> f64 {
    let inv2 = 1.0 / (t * t);
    let mut acc = 0.0;
    for (k, &c) in SERIES.iter().enumerate().rev() {
        acc = acc * inv2 - (2 * k + 1) as f64 * c;
    }
    acc * inv2
}

/// θ(t) in plain f64 (absolute error ≈ `1e-16·t·ln t`). For `t ≥ MIN_HEIGHT`.
pub fn theta(t: f64) -> f64 {
    0.5 * t * ((t / (2.0 * PI)).ln() - 1.0) - PI / 8.0 + series_correction(t)
}

/// `ln t` in double-double, absolute error ≲ 1e-30, for `t ≥ 1`, fast: `t = 2^k·x` with
/// `x ∈ [2¹⁵, 2¹⁶)`, `x = m(1 + U)` for the nearest integer m (whose double-double log is
/// tabulated) and `|U| ≤ 1.6e-5`, `U = u + u_lo` to ~1e-37. Then
/// `ln(1 + U) = U − U²/2 + U³/3 − U⁴/4 + U⁵/5 − …`: `U²` is formed exactly (two-product, plus
/// the cross term `2u·u_lo`), the terms from `U³` on are below 1.3e-15 and need only f64, and
/// the first one left out, `U⁶/6`, is below 3e-30.
pub fn ln_double_double(t: f64) -> DoubleDouble {
    debug_assert!(t >= 1.0 && t.is_finite());
    let k = t.log2().floor() as i32 - 15;
    let x = t * 2f64.powi(-k); // exact
    let m = x.round();
    let d = x - m; // exact (Sterbenz)
    let u = d / m;
    let u_lo = (-u).mul_add(m, d) / m;
    let (square, square_lo) = two_prod(u, u);
    let small = u_lo - 0.5 * square_lo - u * u_lo + u * square * (1.0 / 3.0 - u * (0.25 - 0.2 * u));
    let series = DoubleDouble::from_f64(u) + (-0.5 * square) + small;
    let ln_m = PhaseTable::global().ln(m as usize);
    LN_2.mul_f64(k as f64) + ln_m + series
}

/// `ln t` for a double-double `t ≥ 1`: `ln t_hi + t_lo/t_hi` (the next term, `(t_lo/t_hi)²/2`,
/// is below 1e-32), absolute error ≲ 1e-30.
pub fn ln_precise(t: DoubleDouble) -> DoubleDouble {
    ln_double_double(t.hi) + t.lo / t.hi
}

/// θ(t) in double-double for a height given to double-double precision.
///
/// The leading part `(t/2)·(ln t − ln 2π − 1)` keeps ~1e-30 relative precision (≈ 1e-17
/// absolute at `t = 10¹³`, where θ ≈ 1.4·10¹⁴); the correction series is summed in f64
/// (≤ 1e-17 absolute for `t ≥ 12`). So θ, and θ modulo 2π, are good to ~1e-16 absolute at
/// every height up to 10¹³ and beyond (tested against mpmath from 10⁸ to 10¹³).
pub fn theta_precise(t: DoubleDouble) -> DoubleDouble {
    let log_term = ln_precise(t) - LN_TWO_PI - DoubleDouble::from_f64(1.0);
    let half = DoubleDouble::new(0.5 * t.hi, 0.5 * t.lo);
    half * log_term + (-PI / 8.0 + series_correction(t.hi))
}

/// θ(t) reduced modulo 2π to `[−π, π]`, with ~1e-16 absolute error at any height
/// ([`theta_precise`]).
pub fn theta_mod_two_pi(t: DoubleDouble) -> f64 {
    theta_precise(t).rem_two_pi().to_f64()
}

/// θ'(t) = ½·ln(t/2π) + O(t⁻²).
pub fn theta_derivative(t: f64) -> f64 {
    0.5 * (t / (2.0 * PI)).ln() + series_correction_derivative(t)
}

/// Smooth zero count `θ(t)/π + 1`: the Riemann–von Mangoldt main term of `N(t)`.
pub fn smooth_count(t: f64) -> f64 {
    theta(t) / PI + 1.0
}

/// Principal branch of the Lambert W function for `x ≥ 0` (Halley iteration).
fn lambert_w0(x: f64) -> f64 {
    let mut w = if x < 1.0 {
        x / (1.0 + x)
    } else {
        x.ln() - x.ln().ln().max(0.0)
    };
    for _ in 0..20 {
        let ew = w.exp();
        let f = w * ew - x;
        let step = f / (ew * (w + 1.0) - (w + 2.0) * f / (2.0 * w + 2.0));
        w -= step;
        if step.abs() <= 1e-15 * w.abs().max(1e-300) {
            break;
        }
    }
    w
}

/// The Gram point `g_n`, the solution of `θ(g_n) = nπ` above the minimum of θ, for `n ≥ −1`,
/// in double-double: Newton's method on [`theta_precise`] puts it within ~1e-17 absolute of
/// the true point at every height (f64 alone holds `g_n` only to half an ulp, 5e-4 at 10¹³).
///
/// Starts from the inverse of the leading terms, `2π·exp(1 + W((8n+1)/(8e)))`.
pub fn gram_point_precise(n: i64) -> DoubleDouble {
    assert!(n >= -1, "Gram points are defined here for n ≥ −1, got {n}");
    let x = (8.0 * n as f64 + 1.0) / (8.0 * std::f64::consts::E);
    let guess = (2.0 * PI * (1.0 + lambert_w0(x)).exp()).max(MIN_HEIGHT);
    solve_gram(n, DoubleDouble::from_f64(guess))
}

/// The Gram point `g_n` rounded to f64 (see [`gram_point_precise`]).
pub fn gram_point(n: i64) -> f64 {
    gram_point_precise(n).to_f64()
}

/// The Gram point `g_n` given `g_{n−1}` (Newton from `g_{n−1} + π/θ'`): cheaper than
/// [`gram_point_precise`] when walking Gram points in order, usually one evaluation of θ.
pub fn next_gram_point(n: i64, previous: DoubleDouble) -> DoubleDouble {
    solve_gram(n, previous + PI / theta_derivative(previous.hi))
}

/// Newton's method stops once a step is below this: the error left after a step s is about
/// `s²·θ''/(2θ') ≤ 0.12·s²`, below 2e-15 for every `t ≥ g_{−1}`.
const GRAM_LAST_STEP: f64 = 1e-7;

fn solve_gram(n: i64, guess: DoubleDouble) -> DoubleDouble {
    let target = PI_DD.mul_f64(n as f64);
    let mut t = guess;
    for _ in 0..50 {
        let step = (theta_precise(t) - target).to_f64() / theta_derivative(t.hi);
        t = t - step;
        if step.abs() <= GRAM_LAST_STEP {
            break;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theta_matches_mpmath() {
        // 40-digit values from tests/data/make_reference.py. The asymptotic series is
        // accurate to ~1e-13 at t = 9.5; above that the error is the f64 rounding of t·ln t.
        for row in crate::test_util::table(include_str!("../tests/data/theta_reference.txt")) {
            let (t, want) = (row[0], row[1]);
            let got = theta(t);
            assert!(
                (got - want).abs() < 4e-16 * want.abs().max(300.0),
                "θ({t}) = {got}, want {want}"
            );
            // The reduced phase keeps ~1e-16 absolute accuracy at every height; below t = 12
            // the series itself is off by ~1e-13 (θ has exponentially small terms ~e^{−πt}).
            let reduced = theta_mod_two_pi(t.into());
            let tolerance = if t < 12.0 { 1e-13 } else { 1e-15 };
            assert!(
                (reduced - row[2]).abs() < tolerance,
                "θ({t}) mod 2π = {reduced}, want {}",
                row[2]
            );
        }
    }

    #[test]
    fn theta_matches_mpmath_at_heights_f64_cannot_hold() {
        // Heights 10⁸..10¹³ with fractional parts, read in double-double; 40-digit values from
        // tests/data/make_height_reference.py. θ is ~1.4·10¹⁴ at the top: the error left is the
        // f64 rounding of the reduced result and of the correction series.
        let data = include_str!("../tests/data/height_theta_reference.txt");
        for row in crate::test_util::precise_table(data) {
            let (t, want) = (row[0], row[1].to_f64());
            let got = theta_mod_two_pi(t);
            assert!(
                (got - want).abs() < 1e-15,
                "θ({}) mod 2π = {got}, want {want}",
                t.to_decimal(9)
            );
        }
    }

    #[test]
    fn reduced_theta_agrees_with_plain_theta_at_low_height() {
        for t in [10.0, 50.0, 300.0] {
            let plain = theta(t).rem_euclid(2.0 * PI);
            let reduced = theta_mod_two_pi(t.into()).rem_euclid(2.0 * PI);
            let diff = (plain - reduced).abs();
            assert!(diff.min(2.0 * PI - diff) < 1e-13, "t = {t}");
        }
    }

    #[test]
    fn fast_log_matches_the_newton_corrected_log() {
        for t in [
            1.0,
            9.5,
            2000.123,
            32_767.9,
            65_535.6,
            600_269.5,
            1.642_800_3e6,
            2.7e10,
            2.676_533_956_486_259e11,
            7.0e12 + 0.333,
        ] {
            let fast = ln_double_double(t);
            let exact = DoubleDouble::from_f64(t).ln();
            // Both are good to ~1e-30 (the Newton-corrected log's own error, ~1e-29·ln t).
            assert!((fast - exact).to_f64().abs() < 1e-28, "ln {t}");
        }
    }

    #[test]
    fn derivative_matches_central_difference() {
        for t in [20.0_f64, 1000.0, 1.0e5] {
            let h = 1e-4 * t.sqrt();
            let fd = (theta(t + h) - theta(t - h)) / (2.0 * h);
            assert!((fd - theta_derivative(t)).abs() < 1e-8, "t = {t}");
        }
    }

    #[test]
    fn gram_points_solve_theta_and_increase() {
        let mut previous = 0.0;
        for n in (-1..200).chain([10_000, 1_000_000, 3_000_000]) {
            let g = gram_point(n);
            assert!(g > previous);
            let residual = (theta(g) - n as f64 * PI) / theta(g).abs().max(1.0);
            assert!(residual.abs() < 1e-15, "n = {n}: residual {residual}");
            previous = g;
        }
        let mut g = gram_point_precise(999_999);
        for n in 1_000_000..1_000_050 {
            g = next_gram_point(n, g);
            let direct = gram_point_precise(n);
            assert!((g - direct).to_f64().abs() < 1e-15, "n = {n}");
        }
        // g_{-1} and g_0 from mpmath.grampoint at 20 digits.
        assert!((gram_point(-1) - 9.666_908_056_130_192).abs() < 1e-12);
        assert!((gram_point(0) - 17.845_599_540_410_86).abs() < 1e-12);
    }
}
