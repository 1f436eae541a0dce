//! Hardy's `Z(t)`, the zero count `N(T)` and `S(T) = N(T) − θ(T)/π − 1` at given heights.
//!
//! `S(T) = (1/π)·arg ζ(1/2 + iT)` (argument by continuous variation from 2 along the real
//! axis and up) is the fluctuating part of the Riemann–von Mangoldt count; it is formed here
//! from the verified count and θ in double-double, so it keeps ~1e-15 absolute accuracy at any
//! height (θ(T) ≈ 1.4·10¹⁴ at 10¹³). At the ordinate of a zero `N` counts it (`γ ≤ T`).

use crate::double_double::{DoubleDouble, PI};
use crate::error::ZetaError;
use crate::theta::{MIN_HEIGHT, theta_precise};
use crate::zeros::{check_height, count_up_to};

/// What [`values_at`] computes at one height `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeightValues {
    pub t: DoubleDouble,
    /// Hardy's `Z(t)`, real, `|Z(t)| = |ζ(1/2 + it)|`.
    pub z: f64,
    /// `N(t)`: zeros with `0 < γ ≤ t`, proved by Turing's method.
    pub count: u64,
    /// `S(t) = N(t) − θ(t)/π − 1`.
    pub s: f64,
}

/// `S(t)` given `N(t) = count`.
pub fn s_from_count(t: DoubleDouble, count: u64) -> f64 {
    (DoubleDouble::from_f64(count as f64 - 1.0) - theta_precise(t) / PI).to_f64()
}

/// `Z(t)`, `N(t)` and `S(t)` for `9 ≤ t ≤` [`crate::zeros::max_count_height`] (≈ 7.05·10¹²).
pub fn values_at(t: DoubleDouble) -> Result<HeightValues, ZetaError> {
    check_height(t)?;
    if t.hi < MIN_HEIGHT {
        return Err(ZetaError::InvalidRange(format!(
            "Z(t) is computed here for t ≥ {MIN_HEIGHT}, got {}",
            t.hi
        )));
    }
    let count = count_up_to(t)?;
    Ok(HeightValues {
        t,
        z: crate::hardy_z::z(t),
        count,
        s: s_from_count(t, count),
    })
}

/// Reads a height given as a decimal (`267653395648.625`, `1e12`) in double-double
/// ([`DoubleDouble::parse_decimal`]), and checks it is one this program counts zeros at.
pub fn parse_height(text: &str) -> Result<DoubleDouble, ZetaError> {
    let t = DoubleDouble::parse_decimal(text).ok_or_else(|| {
        ZetaError::InvalidRange(format!("height {text:?} is not a decimal number"))
    })?;
    check_height(t)?;
    Ok(t)
}

/// Index of the first zero above the height `t`: `N(t) + 1`.
pub fn first_zero_above(t: DoubleDouble) -> Result<u64, ZetaError> {
    Ok(count_up_to(t)? + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_is_small_and_counts_jump_by_one_at_a_zero() {
        // γ₁ = 14.134725141734693…: N jumps from 0 to 1 there, S by +1.
        let below = values_at(DoubleDouble::from_f64(14.134_725)).unwrap();
        let above = values_at(DoubleDouble::from_f64(14.134_726)).unwrap();
        assert_eq!((below.count, above.count), (0, 1));
        assert!((above.s - below.s - 1.0).abs() < 1e-5);
        assert!(below.z.abs() < 1e-5 && below.s.abs() < 1.0);
    }

    #[test]
    fn heights_parse_to_double_double_and_bad_ones_are_refused() {
        let t = parse_height("267653395648.625948242142").unwrap();
        assert_eq!(t.split_integer().0, 267_653_395_648.0);
        for bad in ["x", "-5", "nan", "inf", "1e14", ""] {
            assert!(parse_height(bad).is_err(), "{bad:?}");
        }
        // The first zero above γ_10¹² − 1e-9 is γ_10¹² (Arb: 267653395648.625948242142649).
        let just_below = parse_height("267653395648.625948241").unwrap();
        assert_eq!(first_zero_above(just_below).unwrap(), 1_000_000_000_000);
    }

    #[test]
    fn bad_heights_are_named() {
        for t in [f64::NAN, -3.0, 0.0, f64::INFINITY, 5.0, 1e13] {
            let error = values_at(DoubleDouble::from_f64(t))
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(&format!("{t}")) || error.contains(&format!("{t:e}")),
                "{error}"
            );
        }
    }
}
