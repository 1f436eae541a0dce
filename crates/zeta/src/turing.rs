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
//!
//! The separation points come from segments ([`crate::rosser`]): Gram blocks, and unions of
//! blocks where Rosser's rule fails, whose samples show exactly as many sign changes as Gram
//! intervals; after c of them Z has the sign of `g_{s+c}`, so every Gram index gets its point.
//! A window's edge must not fall inside a union (`N(g_m) ≠ m + 1` can hold there), so
//! [`lower_edge`] and [`upper_edge`] walk from [`MAX_UNION_INTERVALS`] beyond it, take the
//! nearest segment boundary outward, and prove the bound there.

use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::gram_block::Ahead;
use crate::rosser::{Chain, MAX_UNION_INTERVALS, SegmentWalker};
use std::f64::consts::PI;

/// Lowest Gram point height at which a Turing check is made (above Lehman's 168π).
pub const MIN_HEIGHT: f64 = 1000.0;

/// Lowest height Lehman's bound holds from.
const LEHMAN_MIN_HEIGHT: f64 = 168.0 * PI;

/// Gram intervals a check may scan before it gives up.
pub const MAX_INTERVALS: i64 = 400;

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

/// One segment's share of Turing's sum: its ends and `Σ|h_j|` over its Gram points.
#[derive(Clone, Copy, Debug)]
struct Shifts {
    g_start: DoubleDouble,
    g_end: DoubleDouble,
    sum: f64,
}

/// Walks segments from the first good Gram point `≥ from` until they reach `until`.
fn walk(from: i64, until: i64) -> Result<(SegmentWalker<'static>, Chain<Shifts>), ZetaError> {
    let mut walker = SegmentWalker::at_first_good_from(from.max(-1), Ahead::none());
    let mut chain = Chain::new(i64::MIN);
    while chain.end().is_none_or(|end| end < until) {
        step(&mut walker, &mut chain)?;
    }
    Ok((walker, chain))
}

fn step(walker: &mut SegmentWalker, chain: &mut Chain<Shifts>) -> Result<(), ZetaError> {
    let segment = walker.next_segment()?;
    let block = &segment.block;
    let shifts = Shifts {
        g_start: block.gram[0],
        g_end: block.gram[block.len()],
        sum: block.gram_shifts().iter().map(|h| h.abs()).sum(),
    };
    chain.push(block.start, block.end, segment.union, [shifts])
}

/// The upper edge of a window: the first good Gram point `b ≥ nominal` that no union of
/// Gram blocks straddles, with Turing's proof that `N(g_b) ≤ b + 1` (`g_nominal ≥ MIN_HEIGHT`).
pub fn upper_edge(nominal: i64) -> Result<(i64, TuringBound), ZetaError> {
    let (mut walker, mut chain) =
        walk(nominal - MAX_UNION_INTERVALS, nominal + MAX_UNION_INTERVALS)?;
    loop {
        // Every union reaching back over g_nominal has been formed: b is settled.
        let mut after = chain.segments().skip_while(|s| s.0 < nominal).peekable();
        let (b, g_b) = match after.peek() {
            Some(&(start, _, _, shifts)) => (start, shifts[0].g_start),
            None => unreachable!("the walk passed g_nominal"),
        };
        assert!(
            g_b.hi >= MIN_HEIGHT,
            "g_{b} = {} is below {MIN_HEIGHT}",
            g_b.hi
        );
        let mut sum = 0.0;
        for (_, end, _, shifts) in after {
            sum += shifts[0].sum;
            let g_end = shifts[0].g_end;
            let fraction = lehman_numerator(g_end.hi, sum) / (g_end - g_b).to_f64();
            if fraction < 1.0 {
                let bound = TuringBound {
                    gram_index: b,
                    intervals: end - b,
                    fraction,
                };
                return Ok((b, bound));
            }
        }
        if chain.end().expect("walked") - b >= MAX_INTERVALS {
            return Err(ZetaError::TuringFailed {
                gram_index: b,
                side: "above",
                max_intervals: MAX_INTERVALS,
            });
        }
        step(&mut walker, &mut chain)?;
    }
}

/// The lower edge of a window: the last good Gram point `a ≤ nominal` that no union of Gram
/// blocks straddles, with Turing's proof that `N(g_a) ≥ a + 1` (`g_nominal ≥ MIN_HEIGHT`).
pub fn lower_edge(nominal: i64) -> Result<(i64, TuringBound), ZetaError> {
    let mut a = nominal;
    for below in [2 * MAX_UNION_INTERVALS, MAX_INTERVALS] {
        let (_, chain) = walk(nominal - below, nominal + MAX_UNION_INTERVALS)?;
        let segments: Vec<_> = chain.segments().collect();
        let at = segments.partition_point(|s| s.1 <= nominal);
        let (start, _, _, shifts) = segments[at];
        a = start;
        let g_a = shifts[0].g_start;
        let base = lehman_numerator(g_a.hi, 0.0);
        let mut sum = 0.0;
        for &(start, _, _, shifts) in segments[..at].iter().rev() {
            let g_start = shifts[0].g_start;
            if g_start.hi < LEHMAN_MIN_HEIGHT {
                break;
            }
            sum += shifts[0].sum;
            let fraction = (base + sum) / (g_a - g_start).to_f64();
            if fraction < 1.0 {
                let bound = TuringBound {
                    gram_index: a,
                    intervals: a - start,
                    fraction,
                };
                return Ok((a, bound));
            }
        }
    }
    Err(ZetaError::TuringFailed {
        gram_index: a,
        side: "below",
        max_intervals: MAX_INTERVALS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gram_block::last_good_at_or_before;

    #[test]
    fn bounds_hold_at_a_good_gram_point() {
        let m = last_good_at_or_before(10_000, Ahead::none());
        let (b, upper) = upper_edge(m).expect("upper bound");
        let (a, lower) = lower_edge(m).expect("lower bound");
        // Rosser's rule holds here: the edges stay where they were asked for.
        assert_eq!((a, b), (m, m));
        assert!(upper.fraction < 1.0 && lower.fraction < 1.0);
        // A handful of Gram intervals suffice at this height.
        assert!(
            upper.intervals < 40 && lower.intervals < 40,
            "{upper:?} {lower:?}"
        );
    }

    #[test]
    fn edges_move_out_of_a_union() {
        // The first failure of Rosser's rule, [g_13999525, g_13999527), is counted over a
        // union with a neighbour: an edge asked for inside it moves to the union's ends.
        let mut walker = SegmentWalker::at_first_good_from(13_999_520, Ahead::none());
        let union = loop {
            if let Some(union) = walker.next_segment().unwrap().union {
                break union;
            }
        };
        for nominal in union.start + 1..union.end {
            let (a, lower) = lower_edge(nominal).unwrap();
            let (b, upper) = upper_edge(nominal).unwrap();
            assert_eq!(
                (a, b),
                (union.start, union.end),
                "edges asked at g_{nominal}"
            );
            assert!(lower.fraction < 1.0 && upper.fraction < 1.0);
        }
    }
}
