//! Turing's method: proving that no zero was missed below or above a Gram point.
//!
//! Sign changes of Z only give a lower bound on the number of zeros. Turing's method bounds
//! `N(g_m)` from both sides using Lehman's bound on `∫S(t)dt`, in the form given by Edwards
//! (*Riemann's Zeta Function*, §8.3): with separation points `g_j + h_j` where
//! `(−1)^j·Z(g_j + h_j) > 0` (increasing in j, `h_j = 0` at good Gram points),
//!
//! ```text
//! N(g_m) ≤ m + 1 + (1.91 + 0.114·ln(g_{m+k}/2π) + Σ_{j=m+1}^{m+k−1} h_j) / (g_{m+k} − g_m)
//! N(g_m) ≥ m + 1 − (1.91 + 0.114·ln(g_m/2π)     + Σ_{j=1}^{k−1} h_{m−j}) / (g_m − g_{m−k})
//! ```
//!
//! so `N(g_m) = m + 1` follows once the fraction is below 1. We use `|h_j|` in place of
//! `h_j`, which can only make the test harder to pass. Lehman's bound holds for heights
//! above 168π; the checks here are only used from [`MIN_HEIGHT`] up.

use crate::gram_block::{GramBlock, GramWalker, is_good, last_good_at_or_before};
use crate::hardy_z;
use crate::theta::gram_point;
use std::f64::consts::PI;

/// Lowest Gram point height at which a Turing check is made (above Lehman's 168π).
pub const MIN_HEIGHT: f64 = 1000.0;

/// Gram intervals a check may scan before it gives up.
const MAX_INTERVALS: i64 = 400;

/// A Turing bound that was established.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TuringBound {
    /// The good Gram point `m` at which the bound holds.
    pub gram_index: i64,
    /// Gram intervals scanned beyond `g_m` (`k` above).
    pub intervals: i64,
    /// The fraction that had to be below 1.
    pub fraction: f64,
}

fn lehman_numerator(height: f64, shifts: f64) -> f64 {
    1.91 + 0.114 * (height / (2.0 * PI)).ln() + shifts
}

/// Proves `N(g_m) ≤ m + 1` for a good Gram point `m` with `g_m ≥ MIN_HEIGHT`; `None` if the
/// blocks after it did not allow it within `MAX_INTERVALS` (Rosser's rule failing there).
pub fn upper_bound(m: i64) -> Option<TuringBound> {
    let g_m = gram_point(m);
    assert!(
        g_m >= MIN_HEIGHT && is_good(m, hardy_z::z(g_m)),
        "g_{m} must be good and ≥ {MIN_HEIGHT}"
    );
    let mut walker = GramWalker::at_first_good_from(m);
    let mut shifts = 0.0;
    while walker.index() - m < MAX_INTERVALS {
        let mut block = walker.next_block();
        if !block.separate() {
            return None;
        }
        shifts += block.gram_shifts().iter().map(|h| h.abs()).sum::<f64>();
        let g_end = *block.gram.last().expect("block has Gram points");
        let fraction = lehman_numerator(g_end, shifts) / (g_end - g_m);
        if fraction < 1.0 {
            return Some(TuringBound {
                gram_index: m,
                intervals: block.end - m,
                fraction,
            });
        }
    }
    None
}

/// Proves `N(g_m) ≥ m + 1` for a good Gram point `m` with `g_m ≥ MIN_HEIGHT`, scanning
/// Gram blocks downward from `g_m`.
pub fn lower_bound(m: i64) -> Option<TuringBound> {
    let g_m = gram_point(m);
    assert!(
        g_m >= MIN_HEIGHT && is_good(m, hardy_z::z(g_m)),
        "g_{m} must be good and ≥ {MIN_HEIGHT}"
    );
    let numerator_base = lehman_numerator(g_m, 0.0);
    let mut shifts = 0.0;
    let mut end = m;
    while m - end < MAX_INTERVALS {
        let start = last_good_at_or_before(end - 1);
        let mut block = block_between(start, end);
        if !block.separate() {
            return None;
        }
        shifts += block.gram_shifts().iter().map(|h| h.abs()).sum::<f64>();
        let fraction = (numerator_base + shifts) / (g_m - block.gram[0]);
        if fraction < 1.0 {
            return Some(TuringBound {
                gram_index: m,
                intervals: m - start,
                fraction,
            });
        }
        end = start;
    }
    None
}

fn block_between(start: i64, end: i64) -> GramBlock {
    let mut walker = GramWalker::at_first_good_from(start);
    let block = walker.next_block();
    debug_assert_eq!((block.start, block.end), (start, end));
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold_at_a_good_gram_point() {
        let m = last_good_at_or_before(10_000);
        let upper = upper_bound(m).expect("upper bound");
        let lower = lower_bound(m).expect("lower bound");
        assert!(upper.fraction < 1.0 && lower.fraction < 1.0);
        // A handful of Gram intervals suffice at this height.
        assert!(
            upper.intervals < 40 && lower.intervals < 40,
            "{upper:?} {lower:?}"
        );
    }
}
