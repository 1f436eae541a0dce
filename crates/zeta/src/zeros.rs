//! Consecutive zeros `γ_N, …, γ_{N+C−1}` of ζ(1/2 + iγ), computed, counted and verified.
//!
//! 1. The range is widened to good Gram points `g_a ≤ γ_N` and `g_b ≥ γ_{N+C−1}` that no
//!    union of Gram blocks straddles (below height 1000 the range starts at `g_{−1} ≈ 9.67`,
//!    under which ζ has no zeros: `N(g_{−1}) = 0`).
//! 2. Turing's method proves `N(g_a) ≥ a + 1` and `N(g_b) ≤ b + 1` ([`turing`]).
//! 3. The Gram intervals in `[g_a, g_b)` are split into chunks that start and end at good
//!    Gram points; rayon's threads take whole chunks. In each, every Gram block is searched
//!    until it shows as many sign changes as it has intervals (Rosser's rule); where the rule
//!    fails, the block is counted together with its neighbours ([`rosser`]), and each sign
//!    change is refined to a zero. A union may reach into the chunk before: the chunks' zeros
//!    are joined in a [`Chain`], which lets it replace what it covers, and each window of
//!    chunks holds back its last [`MAX_UNION_INTERVALS`] Gram intervals until the next.
//! 4. Exactly `b − a` sign changes between the two bounds prove `N(g_a) = a + 1` and
//!    `N(g_b) = b + 1`: every zero in the range was found, each is simple and on the
//!    critical line, and the i-th one found after `g_a` (from i = 0) is `γ_{a+2+i}`.
//!
//! Zeros stream to the caller's sink in order, one window of chunks at a time, so memory
//! stays flat however many are asked for.

use crate::batch::{Cpu, Evaluator};
use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::gram_block::{Ahead, Sample};
use crate::phase_sum::MAX_TERMS;
use crate::refine::refine_all;
use crate::rosser::{Chain, Drained, MAX_UNION_INTERVALS, RosserUnion, SegmentWalker};
use crate::theta::{gram_point, gram_point_precise, smooth_count};
use crate::turing::{self, TuringBound};
use rayon::prelude::*;
use std::f64::consts::PI;

/// Gram intervals per chunk of parallel work.
const CHUNK_INTERVALS: i64 = 2048;

/// Gram points evaluated ahead beyond a window's last chunk, which runs on to the end of the
/// segment it is in (longer segments are sampled one point at a time).
const LOOK_AHEAD: i64 = 16;

/// Highest zero index accepted (γ ≈ 7.05·10¹²): Riemann–Siegel's main sum must fit the phase
/// table (`t ≤ 2π·MAX_TERMS² ≈ 7.6·10¹²`). Heights are carried in double-double throughout
/// (Gram points, samples, zeros), so the zeros keep their 1e-11 refinement target at every
/// index; an f64 would hold γ only to half an ulp (2.4e-7 near index 10¹⁰, 3e-5 near 10¹²).
/// The 1e-9 accuracy is tested against Arb at indices 10⁸, 10⁹, 10¹⁰, 10¹¹ and 10¹².
pub const MAX_INDEX: u64 = 30_000_000_000_000;

/// What a run established about its range, for the `verified:` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    /// Good Gram point below the range (`−1` when the range starts at the bottom).
    pub gram_start: i64,
    /// Good Gram point above the range.
    pub gram_end: i64,
    pub height_start: DoubleDouble,
    pub height_end: DoubleDouble,
    /// Zeros found between them: always `gram_end − gram_start`, else the run fails.
    pub zeros_between: u64,
    /// Turing's lower bound at `g_a`; `None` when `a = −1`.
    pub lower: Option<TuringBound>,
    pub upper: TuringBound,
    /// Evaluations of Z spent refining zeros (all chunks).
    pub refine_evaluations: u64,
    /// Evaluations of Z made one at a time on the CPU, outside the batches: the searches of
    /// Rosser unions and segments past a window's samples, or, for an evaluator that does not
    /// batch (the CPU's), every sample of the walks; not Turing's walks at the range's ends.
    pub evaluated_alone: u64,
    /// The failures of Rosser's rule in `[g_a, g_b)`, each with the union it was counted over.
    pub rosser_unions: Vec<RosserUnion>,
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
        let unions = match self.rosser_unions.as_slice() {
            [] => String::new(),
            unions => {
                let listed: Vec<String> = unions
                    .iter()
                    .take(3)
                    .map(|u| format!("g_{} in [g_{}, g_{})", u.short_start, u.start, u.end))
                    .collect();
                let more = match unions.len() {
                    n if n > 3 => format!(" and {} more", n - 3),
                    _ => String::new(),
                };
                format!(
                    " (Rosser's rule failed at {}{more}, counted over the union with \
                     neighbouring blocks)",
                    listed.join(", ")
                )
            }
        };
        format!(
            "{lower}; N(g_{b}) ≤ {nb} by Turing's method over {k} Gram intervals above; \
             {c} sign changes of Z found in (g_{a}, g_{b}] = ({ta}, {tb}]{unions}, so \
             N(g_{b}) = {nb}: no zero missed, all simple and on the critical line",
            b = self.gram_end,
            nb = self.gram_end + 1,
            k = self.upper.intervals,
            c = self.zeros_between,
            a = self.gram_start,
            ta = self.height_start.to_decimal(3),
            tb = self.height_end.to_decimal(3),
        )
    }
}

/// A pair of samples of opposite sign: one zero between them.
type Bracket = (Sample, Sample);

/// The segments from the first good Gram point `≥ nominal_start` up to the first segment
/// boundary `≥ nominal_end` (`last`, a segment boundary, caps it), with the brackets of their
/// zeros; the first may begin before the chunk's nominal start (a union reaching back).
fn compute_chunk(
    nominal_start: i64,
    nominal_end: i64,
    last: i64,
    ahead: &Ahead,
) -> Result<Chain<Bracket>, ZetaError> {
    let mut walker = SegmentWalker::at_first_good_from(nominal_start, ahead);
    let mut chain = Chain::new(i64::MIN);
    while walker.index() < nominal_end.min(last) {
        let segment = walker.next_segment()?;
        let block = &segment.block;
        chain.push(block.start, block.end, segment.union, block.brackets())?;
    }
    Ok(chain)
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
/// `(index of the batch's first zero, ordinates)`, each ordinate a double-double within ~1e-11
/// of the zero. Fails, without delivering the rest, if a check fails. On the CPU; see
/// [`compute_zeros_with`].
pub fn compute_zeros(
    first: u64,
    count: u64,
    sink: impl FnMut(u64, &[DoubleDouble]) -> Result<(), ZetaError>,
) -> Result<Verification, ZetaError> {
    compute_zeros_with(first, count, &mut Cpu::default(), sink)
}

/// [`compute_zeros`] with the batches of evaluations (the Gram points and block searches of
/// each window, the rounds of refinement: [`crate::batch`]) made by `evaluator`.
pub fn compute_zeros_with(
    first: u64,
    count: u64,
    evaluator: &mut dyn Evaluator,
    mut sink: impl FnMut(u64, &[DoubleDouble]) -> Result<(), ZetaError>,
) -> Result<Verification, ZetaError> {
    let last_index = check_range(first, count)?;
    debug_assert!(gram_point(last_index as i64 + 400) < max_height());

    // γ_n lies in (g_{n−2}, g_{n−1}] under Gram's law; a margin of one interval covers the
    // shifts inside Gram blocks at the range's ends, and the edges move out of any union.
    let a0 = first as i64 - 3;
    let (a, lower) = if a0 < 0 || gram_point(a0) < turing::MIN_HEIGHT {
        (-1, None)
    } else {
        let (a, bound) = turing::lower_edge(a0)?;
        (a, Some(bound))
    };
    let mut b0 = last_index as i64 + 1;
    while gram_point(b0) < turing::MIN_HEIGHT {
        b0 += 64;
    }
    let (b, upper) = turing::upper_edge(b0)?;

    let boundaries: Vec<i64> = (0..)
        .map(|i| a + i * CHUNK_INTERVALS)
        .take_while(|&s| s < b)
        .chain(std::iter::once(b))
        .collect();
    let spans: Vec<&[i64]> = boundaries.windows(2).collect();
    let chunks_per_window = (evaluator.window_intervals() / CHUNK_INTERVALS).max(1) as usize;
    let windows: Vec<&[&[i64]]> = spans.chunks(chunks_per_window).collect();
    let mut chain = Chain::new(a);
    let mut out = Delivery {
        first,
        last_index,
        next_index: (a + 2) as u64,
        delivered: 0,
        last_zero: DoubleDouble::from_f64(f64::NEG_INFINITY),
        unions: Vec::new(),
        sink: &mut sink,
    };
    let (mut evaluations, mut evaluated_alone) = (0u64, 0u64);
    for (w, group) in windows.iter().enumerate() {
        let window_end = group[group.len() - 1][1];
        let ahead = Ahead::evaluate(group[0][0], window_end + LOOK_AHEAD, evaluator)?;
        let chunks: Vec<Chain<Bracket>> = group
            .par_iter()
            .map(|span| compute_chunk(span[0], span[1], b, &ahead))
            .collect::<Result<_, _>>()?;
        evaluated_alone += ahead.missed();
        for chunk in chunks {
            for (start, end, union, brackets) in chunk.segments() {
                chain.push(start, end, union, brackets.iter().copied())?;
            }
        }
        // A union found in the next window starts at most MAX_UNION_INTERVALS before it.
        let settled = windows
            .get(w + 1)
            .map_or(b, |next| next[0][0] - MAX_UNION_INTERVALS);
        let drained = chain.drain_to(settled);
        let (zeros, spent) = refine_all(&drained.items, evaluator)?;
        evaluations += spent;
        out.deliver(Drained {
            start: drained.start,
            end: drained.end,
            items: zeros,
            unions: drained.unions,
        })?;
    }
    let found = out.next_index - (a + 2) as u64;
    if chain.end() != Some(b) || found != (b - a) as u64 || out.delivered != count {
        return Err(ZetaError::CountMismatch {
            gram_start: a,
            gram_end: b,
            found,
        });
    }
    Ok(Verification {
        gram_start: a,
        gram_end: b,
        height_start: gram_point_precise(a),
        height_end: gram_point_precise(b),
        zeros_between: found,
        lower,
        upper,
        refine_evaluations: evaluations,
        evaluated_alone,
        rosser_unions: out.unions,
    })
}

/// Hands drained zeros to the caller's sink, numbered from `γ_{a+2}` and cut to the asked range.
struct Delivery<'s, F> {
    first: u64,
    last_index: u64,
    /// Index of the next zero to come out of the chain.
    next_index: u64,
    delivered: u64,
    last_zero: DoubleDouble,
    unions: Vec<RosserUnion>,
    sink: &'s mut F,
}

impl<F: FnMut(u64, &[DoubleDouble]) -> Result<(), ZetaError>> Delivery<'_, F> {
    fn deliver(&mut self, drained: Drained<DoubleDouble>) -> Result<(), ZetaError> {
        let zeros = &drained.items;
        let batch_first = self.next_index;
        self.next_index += zeros.len() as u64;
        self.unions.extend(drained.unions);
        let lo = self
            .first
            .saturating_sub(batch_first)
            .min(zeros.len() as u64) as usize;
        let hi = (self.last_index + 1)
            .saturating_sub(batch_first)
            .min(zeros.len() as u64) as usize;
        if lo >= hi {
            return Ok(());
        }
        let kept = &zeros[lo..hi];
        let ordered = self.last_zero < kept[0] && kept.windows(2).all(|w| w[0] < w[1]);
        if !ordered {
            return Err(ZetaError::Internal(format!(
                "zeros between g_{} and g_{} are not increasing",
                drained.start, drained.end
            )));
        }
        self.last_zero = kept[kept.len() - 1];
        (self.sink)(batch_first + lo as u64, kept)?;
        self.delivered += kept.len() as u64;
        Ok(())
    }
}

/// `γ_first, …, γ_{first+count−1}` in memory, in double-double.
pub fn zeros_precise(first: u64, count: u64) -> Result<Vec<DoubleDouble>, ZetaError> {
    let mut out = Vec::with_capacity(count as usize);
    compute_zeros(first, count, |_, batch| {
        out.extend_from_slice(batch);
        Ok(())
    })?;
    Ok(out)
}

/// `γ_first, …, γ_{first+count−1}` in memory, rounded to f64 (half an ulp of γ: 1.2e-10 near
/// index 2·10⁶; use [`zeros_precise`] above it for 1e-9).
pub fn zeros(first: u64, count: u64) -> Result<Vec<f64>, ZetaError> {
    Ok(zeros_precise(first, count)?
        .into_iter()
        .map(DoubleDouble::to_f64)
        .collect())
}

/// Highest height at which Z can be evaluated here, `2π·MAX_TERMS²` (≈ 7.6·10¹²).
pub fn max_height() -> f64 {
    2.0 * PI * (MAX_TERMS as f64).powi(2)
}

/// Highest height [`count_up_to`] accepts: where the smooth count reaches `MAX_INDEX`
/// less a margin for the zeros it computes around the height (≈ 7.05·10¹²).
pub fn max_count_height() -> f64 {
    gram_point(MAX_INDEX as i64 - 100_000)
}

/// Checks that `t` is a height this program counts zeros at: finite, positive, at most
/// [`max_count_height`]; names the value otherwise.
pub fn check_height(t: DoubleDouble) -> Result<(), ZetaError> {
    if !(t.hi.is_finite() && t.hi > 0.0) {
        return Err(ZetaError::InvalidRange(format!(
            "height must be positive and finite, got {}",
            t.hi
        )));
    }
    let max = max_count_height();
    if t.hi > max {
        return Err(ZetaError::InvalidRange(format!(
            "heights up to {max:.4e} (the zero of index {MAX_INDEX}) are supported, got {:e}",
            t.hi
        )));
    }
    Ok(())
}

/// `N(t)`: the number of zeros with `0 < γ ≤ t`, counted from verified zeros around `t`
/// (an f64 height, or a double-double one to place it between zeros closer than f64 resolves).
pub fn count_up_to(t: impl Into<DoubleDouble>) -> Result<u64, ZetaError> {
    let t = t.into();
    check_height(t)?;
    if t.hi < 14.0 {
        return Ok(0);
    }
    // |N(t) − smooth_count(t)| = |S(t) + O(1/t)| stays below 3 far beyond 10¹⁰.
    let mut margin = 16u64;
    loop {
        let center = smooth_count(t.hi).round() as u64;
        let first = center.saturating_sub(margin).max(1);
        let values = zeros_precise(first, 2 * margin)?;
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
