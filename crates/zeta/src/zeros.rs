//! Consecutive zeros `γ_N, …, γ_{N+C−1}` of ζ(1/2 + iγ), computed, counted and verified.
//!
//! 1. The range is widened to good Gram points `g_a ≤ γ_N` and `g_b ≥ γ_{N+C−1}`.
//! 2. Turing's method proves `N(g_a) ≥ a + 1` and `N(g_b) ≤ b + 1` (below height 1000 the
//!    range starts at `g_{−1} ≈ 9.67` instead, under which ζ has no zeros: `N(g_{−1}) = 0`).
//! 3. The Gram intervals in `[g_a, g_b)` are split into chunks that start and end at good
//!    Gram points; rayon's threads take whole chunks. In each, every Gram block is searched
//!    until it shows as many sign changes as it has intervals (Rosser's rule), and each sign
//!    change is refined to a zero.
//! 4. Exactly `b − a` sign changes between the two bounds prove `N(g_a) = a + 1` and
//!    `N(g_b) = b + 1`: every zero in the range was found, each is simple and on the
//!    critical line, and the i-th one found after `g_a` is `γ_{a+1+i}`.
//!
//! Zeros stream to the caller's sink in order, one window of chunks at a time, so memory
//! stays flat however many are asked for.

use crate::error::ZetaError;
use crate::gram_block::{GramWalker, last_good_at_or_before};
use crate::hardy_z;
use crate::phase_sum::MAX_TERMS;
use crate::refine::refine_zero;
use crate::theta::{gram_point, smooth_count};
use crate::turing::{self, TuringBound};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Gram intervals per chunk of parallel work.
const CHUNK_INTERVALS: i64 = 2048;

/// Highest zero index accepted (γ ≈ 3.3·10⁹): Riemann–Siegel's main sum must fit the phase
/// table (`t ≤ 2π·MAX_TERMS²`). Note that an f64 holds γ only to half an ulp: 1.2e-10 near
/// index 2·10⁶, 2.4e-7 near 10¹⁰; the 1e-9 accuracy is tested up to index 3.1·10⁶.
pub const MAX_INDEX: u64 = 10_000_000_000;

/// What a run established about its range, for the `verified:` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    /// Good Gram point below the range (`−1` when the range starts at the bottom).
    pub gram_start: i64,
    /// Good Gram point above the range.
    pub gram_end: i64,
    pub height_start: f64,
    pub height_end: f64,
    /// Zeros found between them: always `gram_end − gram_start`, else the run fails.
    pub zeros_between: u64,
    /// Turing's lower bound at `g_a`; `None` when `a = −1`.
    pub lower: Option<TuringBound>,
    pub upper: TuringBound,
    /// Evaluations of Z spent refining zeros (all chunks).
    pub refine_evaluations: u64,
}

impl Verification {
    /// One line a person can read: what was proved, and how.
    pub fn summary(&self) -> String {
        let lower = match self.lower {
            Some(bound) => format!(
                "N(g_{a}) ≥ {n} by Turing's method over {k} Gram intervals below",
                a = self.gram_start,
                n = self.gram_start + 1,
                k = bound.intervals
            ),
            None => "N(g_-1) = 0 (no zeros below t = 14)".to_string(),
        };
        format!(
            "{lower}; N(g_{b}) ≤ {nb} by Turing's method over {k} Gram intervals above; \
             {c} sign changes of Z found in (g_{a}, g_{b}] = ({ta:.3}, {tb:.3}], so N(g_{b}) = {nb}: \
             no zero missed, all simple and on the critical line",
            b = self.gram_end,
            nb = self.gram_end + 1,
            k = self.upper.intervals,
            c = self.zeros_between,
            a = self.gram_start,
            ta = self.height_start,
            tb = self.height_end,
        )
    }
}

struct Chunk {
    /// First good Gram point of the chunk; its zeros are γ_{start+2}, γ_{start+3}, …
    start: i64,
    end: i64,
    zeros: Vec<f64>,
    evaluations: u64,
}

/// Zeros of the Gram blocks from the first good Gram point `≥ nominal_start` up to the
/// first good one `≥ nominal_end` (`last`, a good Gram point, caps it).
fn compute_chunk(nominal_start: i64, nominal_end: i64, last: i64) -> Result<Chunk, ZetaError> {
    let mut walker = GramWalker::at_first_good_from(nominal_start);
    let start = walker.index();
    let mut zeros = Vec::with_capacity((nominal_end - nominal_start).max(0) as usize + 8);
    let mut evaluations = 0;
    while walker.index() < nominal_end.min(last) {
        let mut block = walker.next_block();
        if !block.separate() {
            return Err(ZetaError::RosserViolation {
                gram_start: block.start,
                gram_end: block.end,
                found: block.sign_changes(),
            });
        }
        for (left, right) in block.brackets() {
            let (zero, count) = refine_zero(left, right, hardy_z::z_and_derivative);
            zeros.push(zero);
            evaluations += count as u64;
        }
    }
    Ok(Chunk {
        start,
        end: walker.index(),
        zeros,
        evaluations,
    })
}

/// Checks that `γ_first, …, γ_{first+count−1}` is a range this program computes; returns
/// the last index.
pub fn check_range(first: u64, count: u64) -> Result<u64, ZetaError> {
    if first == 0 {
        return Err(ZetaError::InvalidRange(
            "zeros are numbered from 1; --start 0 is not a zero".into(),
        ));
    }
    if count == 0 {
        return Err(ZetaError::InvalidRange("--count must be at least 1".into()));
    }
    first
        .checked_add(count - 1)
        .filter(|&last| last <= MAX_INDEX)
        .ok_or_else(|| {
            ZetaError::InvalidRange(format!(
                "zeros up to index {MAX_INDEX} are supported; asked for {count} from {first}"
            ))
        })
}

/// Computes `γ_first, …, γ_{first+count−1}` and hands them to `sink` in order, in batches
/// `(index of the batch's first zero, ordinates)`. Fails, without delivering the rest, if a check fails.
pub fn compute_zeros(
    first: u64,
    count: u64,
    mut sink: impl FnMut(u64, &[f64]) -> Result<(), ZetaError>,
) -> Result<Verification, ZetaError> {
    let last_index = check_range(first, count)?;
    debug_assert!(gram_point(last_index as i64) < 2.0 * PI * (MAX_TERMS as f64).powi(2));

    // γ_n lies in (g_{n−2}, g_{n−1}] under Gram's law; a margin of one interval covers the
    // shifts inside Gram blocks at the range's ends.
    let a = {
        let a0 = first as i64 - 3;
        if a0 < 0 || gram_point(a0) < turing::MIN_HEIGHT {
            -1
        } else {
            last_good_at_or_before(a0)
        }
    };
    let b = {
        let mut b0 = last_index as i64 + 1;
        while gram_point(b0) < turing::MIN_HEIGHT {
            b0 += 64;
        }
        GramWalker::at_first_good_from(b0).index()
    };
    let lower = if a >= 0 {
        Some(turing::lower_bound(a).ok_or(ZetaError::TuringFailed {
            gram_index: a,
            side: "below",
        })?)
    } else {
        None
    };
    let upper = turing::upper_bound(b).ok_or(ZetaError::TuringFailed {
        gram_index: b,
        side: "above",
    })?;

    let boundaries: Vec<i64> = (0..)
        .map(|i| a + i * CHUNK_INTERVALS)
        .take_while(|&s| s < b)
        .chain(std::iter::once(b))
        .collect();
    let window = 4 * rayon::current_num_threads().max(1);
    let mut delivered = 0u64;
    let mut expected_start = a;
    let mut found = 0u64;
    let mut evaluations = 0u64;
    for spans in boundaries.windows(2).collect::<Vec<_>>().chunks(window) {
        let chunks: Vec<Chunk> = spans
            .par_iter()
            .map(|span| compute_chunk(span[0], span[1], b))
            .collect::<Result<_, _>>()?;
        for chunk in chunks {
            if chunk.start != expected_start || chunk.zeros.len() as i64 != chunk.end - chunk.start
            {
                return Err(ZetaError::CountMismatch {
                    gram_start: chunk.start,
                    gram_end: chunk.end,
                    found: chunk.zeros.len() as u64,
                });
            }
            expected_start = chunk.end;
            found += chunk.zeros.len() as u64;
            evaluations += chunk.evaluations;
            // Zero i of the chunk is γ_{start + 2 + i}; keep those in [first, last_index].
            let chunk_first = (chunk.start + 2) as u64;
            let lo = first
                .saturating_sub(chunk_first)
                .min(chunk.zeros.len() as u64) as usize;
            let hi = (last_index + 1)
                .saturating_sub(chunk_first)
                .min(chunk.zeros.len() as u64) as usize;
            if lo < hi {
                let ordered = chunk.zeros[lo..hi].windows(2).all(|w| w[0] < w[1]);
                if !ordered {
                    return Err(ZetaError::Internal(format!(
                        "zeros between g_{} and g_{} are not increasing",
                        chunk.start, chunk.end
                    )));
                }
                sink(chunk_first + lo as u64, &chunk.zeros[lo..hi])?;
                delivered += (hi - lo) as u64;
            }
        }
    }
    if expected_start != b || found != (b - a) as u64 || delivered != count {
        return Err(ZetaError::CountMismatch {
            gram_start: a,
            gram_end: b,
            found,
        });
    }
    Ok(Verification {
        gram_start: a,
        gram_end: b,
        height_start: gram_point(a),
        height_end: gram_point(b),
        zeros_between: found,
        lower,
        upper,
        refine_evaluations: evaluations,
    })
}

/// `γ_first, …, γ_{first+count−1}` in memory.
pub fn zeros(first: u64, count: u64) -> Result<Vec<f64>, ZetaError> {
    let mut out = Vec::with_capacity(count as usize);
    compute_zeros(first, count, |_, batch| {
        out.extend_from_slice(batch);
        Ok(())
    })?;
    Ok(out)
}

/// `N(t)`: the number of zeros with `0 < γ ≤ t`, counted from verified zeros around `t`.
pub fn count_up_to(t: f64) -> Result<u64, ZetaError> {
    if !(t.is_finite() && t > 0.0) {
        return Err(ZetaError::InvalidRange(format!(
            "height must be positive, got {t}"
        )));
    }
    if t < 14.0 {
        return Ok(0);
    }
    // |N(t) − smooth_count(t)| = |S(t) + O(1/t)| stays below 3 far beyond 10¹⁰.
    let mut margin = 16u64;
    loop {
        let center = smooth_count(t).round() as u64;
        let first = center.saturating_sub(margin).max(1);
        let values = zeros(first, 2 * margin)?;
        let below = values.iter().filter(|&&g| g <= t).count() as u64;
        if (first == 1 || below > 0) && below < values.len() as u64 {
            return Ok(first - 1 + below);
        }
        margin *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_zero_ranges() {
        assert!(matches!(zeros(0, 5), Err(ZetaError::InvalidRange(_))));
        assert!(matches!(zeros(1, 0), Err(ZetaError::InvalidRange(_))));
        assert!(matches!(
            zeros(MAX_INDEX, 2),
            Err(ZetaError::InvalidRange(_))
        ));
    }

    #[test]
    fn a_range_is_the_concatenation_of_its_parts() {
        let whole = zeros(4_990, 30).unwrap();
        let head = zeros(4_990, 13).unwrap();
        let tail = zeros(5_003, 17).unwrap();
        assert_eq!(whole, [head, tail].concat());
    }
}
