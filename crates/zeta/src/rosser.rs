//! When Rosser's rule fails: counting zeros over unions of Gram blocks.
//!
//! Rosser's rule says a Gram block `[g_s, g_e)` (between consecutive good Gram points) holds
//! at least `e − s` zeros. It first fails at the block `[g_13999525, g_13999527)`, which holds
//! none (Brent, *Math. Comp.* 33 (1979); van de Lune, te Riele & Winter, *Math. Comp.* 46
//! (1986), over the first 1.5·10⁹ zeros), and fails more often with height. The missing
//! zeros lie in a neighbouring block, which holds more than its share; over the union of the
//! two the count is exact again. In terms of
//! `S(t) = N(t) − θ(t)/π − 1`, which is even at good Gram points: S dips to −2 at the short
//! block's end (or rises to +2 at its start) and is back to 0 at the union's ends.
//!
//! [`resolve_union`] grows a short block by one neighbouring Gram block at a time, right then
//! left alternately, and after each step samples the union finer, coarsest intervals first
//! ([`GramBlock::search_finer`], down to 1/2^[`UNION_ROUNDS`] of a Gram interval), until it
//! shows exactly as many sign changes as it has Gram intervals. A union spans at most
//! [`MAX_UNION_INTERVALS`] Gram intervals; a short block that needs more is an error.
//!
//! The union depends only on the short block, so every walk that meets it forms the same one:
//! the chunks computed in parallel, and the walks of Turing's method at a window's edges, agree
//! on where unions begin and end. [`SegmentWalker`] yields Gram blocks and unions in order, and
//! [`Chain`] gathers what they hold (zeros, Turing's shifts), letting a union that reaches back
//! over segments already gathered replace them.

use crate::error::ZetaError;
use crate::gram_block::{Ahead, GramBlock, GramWalker};

/// Most Gram intervals a union may span. The unions met up to γ_101,000,000 span 3 or 4;
/// 64 leaves room, and bounds the look-back that windows and chunks keep.
pub const MAX_UNION_INTERVALS: i64 = 64;

/// Rounds of [`GramBlock::search_finer`] after each growth step: a union is searched down to
/// 1/256 of a Gram interval. The extra zeros of the neighbouring block lie a fraction of an
/// interval from its own (at the first failure, three zeros 0.11 and 0.09 apart in a Gram
/// interval of 0.45: found by round 3, at spacing 0.056); closer pairs inside the short block
/// itself were already looked for by its own search ([`GramBlock::separate`]).
pub const UNION_ROUNDS: u32 = 8;

/// A failure of Rosser's rule and the union it was counted over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RosserUnion {
    /// The Gram block `[g_short_start, g_short_end)` that showed too few sign changes.
    pub short_start: i64,
    pub short_end: i64,
    /// The union `[g_start, g_end)` of it and its neighbours, with exactly `end − start` zeros.
    pub start: i64,
    pub end: i64,
}

/// The union of `short` (a Gram block whose own search, [`GramBlock::separate`], found a
/// number of sign changes other than its length) with as few neighbouring blocks as make the
/// count exact.
pub fn resolve_union(
    short: GramBlock,
    ahead: &Ahead,
) -> Result<(GramBlock, RosserUnion), ZetaError> {
    resolve_union_within(short, MAX_UNION_INTERVALS, ahead)
}

fn resolve_union_within(
    short: GramBlock,
    max_intervals: i64,
    ahead: &Ahead,
) -> Result<(GramBlock, RosserUnion), ZetaError> {
    let (short_start, short_end, found) = (short.start, short.end, short.sign_changes());
    let mut union = short;
    for step in 0.. {
        let grow_left = step % 2 == 1 && union.start > -1;
        let next = if grow_left {
            GramBlock::ending_at(union.start, ahead)
        } else {
            GramWalker::at_first_good_from(union.end, ahead).next_block()
        };
        if union.len() + next.len() > max_intervals as usize {
            break;
        }
        union = if grow_left {
            next.join(union)
        } else {
            union.join(next)
        };
        if union.search_finer(UNION_ROUNDS, ahead) && union.sign_changes() == union.len() {
            let record = RosserUnion {
                short_start,
                short_end,
                start: union.start,
                end: union.end,
            };
            return Ok((union, record));
        }
    }
    Err(ZetaError::RosserUnresolved {
        gram_start: short_start,
        gram_end: short_end,
        found,
        union_start: union.start,
        union_end: union.end,
        union_found: union.sign_changes(),
        samples_per_interval: 1 << UNION_ROUNDS,
        max_intervals,
    })
}

/// A stretch of Gram intervals `[g_start, g_end)` between good Gram points whose samples show
/// exactly `end − start` sign changes: a Gram block, or a union of blocks.
#[derive(Clone, Debug)]
pub struct Segment {
    pub block: GramBlock,
    /// Set when the stretch is a union formed because Rosser's rule failed.
    pub union: Option<RosserUnion>,
}

/// Walks segments forward from a good Gram point. A union may begin before segments already
/// yielded (when the extra zeros lie in an earlier block); [`Chain::push`] handles that.
pub struct SegmentWalker<'a> {
    blocks: GramWalker<'a>,
    ahead: &'a Ahead,
}

impl<'a> SegmentWalker<'a> {
    /// Starts at the first good Gram point with index `≥ n`, taking samples from `ahead`.
    pub fn at_first_good_from(n: i64, ahead: &'a Ahead) -> Self {
        Self {
            blocks: GramWalker::at_first_good_from(n, ahead),
            ahead,
        }
    }

    /// The good Gram point the next segment starts at (unless it is a union reaching back).
    pub fn index(&self) -> i64 {
        self.blocks.index()
    }

    pub fn next_segment(&mut self) -> Result<Segment, ZetaError> {
        let mut block = self.blocks.next_block();
        if block.separate(self.ahead) && block.sign_changes() == block.len() {
            return Ok(Segment { block, union: None });
        }
        let (block, union) = resolve_union(block, self.ahead)?;
        self.blocks = GramWalker::at_first_good_from(union.end, self.ahead);
        Ok(Segment {
            block,
            union: Some(union),
        })
    }
}

/// What consecutive segments hold, in order: items (zeros, or one record of shifts per
/// segment) and the good Gram points between segments.
///
/// A pushed segment that begins before the held ones end is a union reaching back; it replaces
/// the held segments from its start on, which must begin exactly there.
#[derive(Clone, Debug)]
pub struct Chain<T> {
    /// `(good Gram index, items before it)` at each boundary of the held segments.
    marks: Vec<(i64, usize)>,
    /// The union each held segment is, if it is one.
    unions: Vec<Option<RosserUnion>>,
    items: Vec<T>,
    /// Lowest Gram index a segment may start at.
    floor: i64,
}

/// Segments taken off the front of a [`Chain`].
#[derive(Clone, Debug, PartialEq)]
pub struct Drained<T> {
    pub start: i64,
    pub end: i64,
    pub items: Vec<T>,
    pub unions: Vec<RosserUnion>,
}

impl<T> Chain<T> {
    /// An empty chain whose segments may not start below `floor` (`i64::MIN`: anywhere).
    pub fn new(floor: i64) -> Self {
        Self {
            marks: Vec::new(),
            unions: Vec::new(),
            items: Vec::new(),
            floor,
        }
    }

    pub fn start(&self) -> Option<i64> {
        self.marks.first().map(|m| m.0)
    }

    pub fn end(&self) -> Option<i64> {
        self.marks.last().map(|m| m.0)
    }

    /// Appends the segment `[g_start, g_end)`. One that ends inside the held segments adds
    /// nothing (they already count its zeros); one that begins inside them and ends beyond
    /// replaces them from `start` on.
    pub fn push(
        &mut self,
        start: i64,
        end: i64,
        union: Option<RosserUnion>,
        items: impl IntoIterator<Item = T>,
    ) -> Result<(), ZetaError> {
        assert!(start < end, "a segment [g_{start}, g_{end}) is empty");
        if let Some(held_end) = self.end() {
            if end <= held_end {
                return Ok(());
            }
            if start > held_end {
                return Err(ZetaError::Internal(format!(
                    "segment [g_{start}, g_{end}) leaves a gap after g_{held_end}"
                )));
            }
            if start < held_end {
                match self.marks.binary_search_by_key(&start, |m| m.0) {
                    Ok(i) => {
                        self.items.truncate(self.marks[i].1);
                        self.marks.truncate(i + 1);
                        self.unions.truncate(i);
                    }
                    Err(0) if start >= self.floor => {
                        self.marks.clear();
                        self.unions.clear();
                        self.items.clear();
                    }
                    Err(0) => {
                        return Err(ZetaError::Internal(format!(
                            "the union [g_{start}, g_{end}) reaches below g_{}, where this \
                             stretch was fixed to start",
                            self.floor
                        )));
                    }
                    Err(i) => {
                        return Err(ZetaError::RosserOverlap {
                            union_start: start,
                            union_end: end,
                            held_start: self.marks[i - 1].0,
                            held_end: self.marks[i].0,
                        });
                    }
                }
            }
        }
        if self.marks.is_empty() {
            if start < self.floor {
                return Err(ZetaError::Internal(format!(
                    "segment [g_{start}, g_{end}) starts below g_{}",
                    self.floor
                )));
            }
            self.marks.push((start, 0));
        }
        self.items.extend(items);
        self.marks.push((end, self.items.len()));
        self.unions.push(union);
        Ok(())
    }

    /// The held segments in order: `(start, end, union, items)`.
    pub fn segments(
        &self,
    ) -> impl DoubleEndedIterator<Item = (i64, i64, Option<RosserUnion>, &[T])> {
        self.marks
            .windows(2)
            .zip(&self.unions)
            .map(|(m, union)| (m[0].0, m[1].0, *union, &self.items[m[0].1..m[1].1]))
    }

    /// Takes off the held segments that end at or before `limit`; later segments may no
    /// longer start below the last one taken.
    pub fn drain_to(&mut self, limit: i64) -> Drained<T> {
        let taken = self
            .marks
            .partition_point(|m| m.0 <= limit)
            .saturating_sub(1);
        let start = self.start().unwrap_or(self.floor);
        let (end, count) = self.marks.get(taken).copied().unwrap_or((start, 0));
        let unions = self.unions.drain(..taken).flatten().collect();
        let items = self.items.drain(..count).collect();
        self.marks.drain(..taken);
        for mark in &mut self.marks {
            mark.1 -= count;
        }
        self.floor = self.floor.max(end);
        Drained {
            start,
            end,
            items,
            unions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::double_double::DoubleDouble;
    use crate::gram_block::is_good;
    use crate::hardy_z;

    fn walk_to(n: i64) -> SegmentWalker<'static> {
        SegmentWalker::at_first_good_from(n, Ahead::none())
    }

    #[test]
    fn the_first_failure_of_rossers_rule_is_at_gram_point_13999525() {
        // Brent (1979): the Gram block [g_13999525, g_13999527) holds no zero; the first
        // such block. Its own search comes up empty.
        let mut walker = GramWalker::at_first_good_from(13_999_520, Ahead::none());
        let mut block = walker.next_block();
        while block.start < 13_999_525 {
            assert!(block.separate(Ahead::none()) && block.sign_changes() == block.len());
            block = walker.next_block();
        }
        assert_eq!((block.start, block.end), (13_999_525, 13_999_527));
        assert!(!block.separate(Ahead::none()));
        assert_eq!(block.sign_changes(), 0);

        let (union, record) = resolve_union(block, Ahead::none()).unwrap();
        assert_eq!(
            (record.short_start, record.short_end),
            (13_999_525, 13_999_527)
        );
        assert!(record.start <= 13_999_525 && record.end >= 13_999_527);
        assert_eq!(union.sign_changes(), union.len());
        // Separation points for Turing's method: the right sign at every Gram index, in order.
        let shifts = union.gram_shifts();
        let mut previous = DoubleDouble::from_f64(f64::NEG_INFINITY);
        for (j, h) in (union.start..=union.end).zip(&shifts) {
            let t = union.gram[(j - union.start) as usize] + *h;
            assert!(is_good(j, hardy_z::z(t)) && t > previous, "g_{j} + {h}");
            previous = t;
        }
    }

    #[test]
    fn a_union_past_its_limit_is_an_error_that_names_it() {
        let mut walker = GramWalker::at_first_good_from(13_999_525, Ahead::none());
        let mut block = walker.next_block();
        assert!(!block.separate(Ahead::none()));
        let error = resolve_union_within(block, 2, Ahead::none()).unwrap_err();
        assert!(
            matches!(
                error,
                ZetaError::RosserUnresolved {
                    gram_start: 13_999_525,
                    gram_end: 13_999_527,
                    found: 0,
                    max_intervals: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("[g_13999525, g_13999527)"), "{message}");
        assert!(message.contains("at most 2 Gram intervals"), "{message}");
    }

    #[test]
    fn walks_from_anywhere_near_a_failure_agree_on_its_union() {
        let union_from = |n: i64| {
            let mut walker = walk_to(n);
            loop {
                let segment = walker.next_segment().unwrap();
                if let Some(union) = segment.union {
                    return union;
                }
            }
        };
        let reference = union_from(13_999_500);
        for n in reference.start - 3..=reference.short_start {
            assert_eq!(union_from(n), reference, "walk from g_{n}");
        }
    }

    fn chain_of(segments: &[(i64, i64, &[u32])]) -> Result<Chain<u32>, ZetaError> {
        let mut chain = Chain::new(i64::MIN);
        for &(start, end, items) in segments {
            chain.push(start, end, None, items.iter().copied())?;
        }
        Ok(chain)
    }

    #[test]
    fn a_union_reaching_back_replaces_what_it_covers() {
        let mut chain = chain_of(&[(0, 1, &[10]), (1, 3, &[11, 12]), (3, 4, &[13])]).unwrap();
        let union = RosserUnion {
            short_start: 4,
            short_end: 6,
            start: 1,
            end: 6,
        };
        chain.push(1, 6, Some(union), [21, 22, 23, 24, 25]).unwrap();
        // A segment inside what is held (a later chunk's view of the union) adds nothing.
        chain.push(4, 5, None, [99]).unwrap();
        chain.push(6, 7, None, [26]).unwrap();
        let all: Vec<_> = chain
            .segments()
            .map(|(s, e, u, i)| (s, e, u.is_some(), i.to_vec()))
            .collect();
        assert_eq!(
            all,
            [
                (0, 1, false, vec![10]),
                (1, 6, true, vec![21, 22, 23, 24, 25]),
                (6, 7, false, vec![26])
            ]
        );
        let drained = chain.drain_to(6);
        assert_eq!((drained.start, drained.end), (0, 6));
        assert_eq!(drained.items, [10, 21, 22, 23, 24, 25]);
        assert_eq!(drained.unions, [union]);
        // Nothing may start below what was drained now.
        assert!(matches!(
            chain.push(5, 9, None, [0]),
            Err(ZetaError::Internal(_))
        ));
        assert_eq!(chain.drain_to(100).items, [26]);
    }

    #[test]
    fn partly_overlapping_unions_are_refused() {
        let mut chain = chain_of(&[(0, 3, &[1, 2, 3]), (3, 4, &[4])]).unwrap();
        let error = chain.push(1, 5, None, [0; 4]).unwrap_err();
        assert!(
            matches!(
                error,
                ZetaError::RosserOverlap {
                    union_start: 1,
                    held_start: 0,
                    held_end: 3,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(matches!(
            chain.push(5, 6, None, [0]),
            Err(ZetaError::Internal(_))
        ));
    }

    #[test]
    fn a_union_may_reach_before_an_unfixed_start() {
        let mut chain = chain_of(&[(3, 4, &[1])]).unwrap();
        chain.push(1, 6, None, [0; 5]).unwrap();
        assert_eq!((chain.start(), chain.end()), (Some(1), Some(6)));
        let mut fixed = Chain::new(3);
        fixed.push(3, 4, None, [1]).unwrap();
        assert!(fixed.push(1, 6, None, [0; 5]).is_err());
    }
}
