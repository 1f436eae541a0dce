//! Isolating zeros between Gram points.
//!
//! A Gram point `g_n` is *good* when `(−1)^n·Z(g_n) > 0`. Between two consecutive good
//! Gram points `g_s < g_e` (a *Gram block* of length `e − s`), Rosser's rule says Z has at
//! least `e − s` sign changes; Gram's law is the case `e − s = 1`, which needs no search.
//! For longer blocks the missing sign changes are found by evaluating Z at midpoints, first
//! of the intervals that show no sign change (where a pair of zeros hides), then of all
//! intervals, to a bounded depth. Rosser's rule holds for every Gram block below
//! g_13999525; where it fails, [`GramBlock::separate`] says so and [`crate::rosser`] counts the
//! block together with its neighbours ([`GramBlock::join`], [`GramBlock::search_finer`]).

use crate::batch::Evaluator;
use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::hardy_z;
use crate::theta::{gram_point_precise, next_gram_point};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// One evaluation of Hardy's Z function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// The height, in double-double (f64 holds it only to half an ulp: 5e-4 at 10¹³).
    pub t: DoubleDouble,
    pub z: f64,
    /// `Z'(t)`
    pub dz: f64,
}

impl Sample {
    pub fn at(t: DoubleDouble) -> Self {
        let (z, dz) = hardy_z::z_and_derivative(t);
        Self { t, z, dz }
    }

    pub fn positive(&self) -> bool {
        self.z > 0.0
    }
}

/// Whether Gram point `n` with value `Z(g_n) = z` is good: `(−1)^n·z > 0`.
pub fn is_good(n: i64, z: f64) -> bool {
    if n.rem_euclid(2) == 0 {
        z > 0.0
    } else {
        z < 0.0
    }
}

/// Most samples one block may use in its search before giving up.
const MAX_SAMPLES_PER_BLOCK: usize = 1 << 12;

/// The Gram intervals `[g_start, g_end)` between two consecutive good Gram points, with
/// every sample of Z taken in `[g_start, g_end]`, sorted by `t`.
#[derive(Clone, Debug)]
pub struct GramBlock {
    pub start: i64,
    pub end: i64,
    /// `g_start, …, g_end`
    pub gram: Vec<DoubleDouble>,
    pub samples: Vec<Sample>,
}

impl GramBlock {
    /// Number of Gram intervals, hence of zeros Rosser's rule promises.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    pub fn sign_changes(&self) -> usize {
        self.samples
            .windows(2)
            .filter(|w| w[0].positive() != w[1].positive())
            .count()
    }

    /// Pairs of neighbouring samples between which Z changes sign, in order.
    pub fn brackets(&self) -> impl Iterator<Item = (Sample, Sample)> + '_ {
        self.samples
            .windows(2)
            .filter(|w| w[0].positive() != w[1].positive())
            .map(|w| (w[0], w[1]))
    }

    /// Samples Z until the block shows `len()` sign changes; `false` if the search budget
    /// ran out first (a violation of Rosser's rule, or zeros closer than the finest grid).
    pub fn separate(&mut self, ahead: &Ahead) -> bool {
        for round in 0.. {
            if self.sign_changes() >= self.len() {
                return true;
            }
            let Some(points) = self.search_points(round) else {
                return false;
            };
            let samples: Vec<Sample> = points.into_iter().map(|t| ahead.sample(t)).collect();
            self.insert(&samples);
        }
        unreachable!("the budget ends the rounds")
    }

    /// The heights round `round` (0, 1, …) of [`Self::separate`] samples: the midpoints of
    /// the intervals without a sign change in round 0, of every interval after; `None` once
    /// the samples would pass the block's budget.
    fn search_points(&self, round: usize) -> Option<Vec<DoubleDouble>> {
        if self.samples.len() * 2 > MAX_SAMPLES_PER_BLOCK {
            return None;
        }
        Some(
            self.samples
                .windows(2)
                .filter(|w| round > 0 || w[0].positive() == w[1].positive())
                .map(|w| DoubleDouble::midpoint(w[0].t, w[1].t))
                .collect(),
        )
    }

    /// Adds `new` samples (sorted, each inside the block) to the block's, keeping the order.
    fn insert(&mut self, new: &[Sample]) {
        let mut merged = Vec::with_capacity(self.samples.len() + new.len());
        let mut new = new.iter().peekable();
        for &sample in &self.samples {
            while let Some(&&next) = new.peek() {
                if next.t < sample.t {
                    merged.push(next);
                    new.next();
                } else {
                    break;
                }
            }
            merged.push(sample);
        }
        merged.extend(new);
        self.samples = merged;
    }

    /// Samples Z finer, coarsest intervals first, until the block shows at least `len()` sign
    /// changes: round r = 1, 2, …, `rounds` halves every sample interval wider than Δ/2^r, Δ the
    /// block's mean Gram interval. Intervals already finer (a block that went through
    /// [`Self::separate`]) are left alone, so joining a searched block to fresh neighbours
    /// spends the samples on the neighbours. `false` if the last round ends short.
    pub fn search_finer(&mut self, rounds: u32, ahead: &Ahead) -> bool {
        let mean_interval = (self.gram[self.len()] - self.gram[0]).to_f64() / self.len() as f64;
        for round in 1..=rounds {
            if self.sign_changes() >= self.len() {
                return true;
            }
            let widest = mean_interval / f64::from(1u32 << round);
            let mut refined = Vec::with_capacity(self.samples.len() * 2);
            for w in self.samples.windows(2) {
                refined.push(w[0]);
                if (w[1].t - w[0].t).to_f64() > widest {
                    refined.push(ahead.sample(DoubleDouble::midpoint(w[0].t, w[1].t)));
                }
            }
            refined.push(*self.samples.last().expect("a block has samples"));
            self.samples = refined;
        }
        self.sign_changes() >= self.len()
    }

    /// The block `[g_start, g_end)` of `self` followed by `next = [g_end, g_e)`: one stretch
    /// `[g_start, g_e)` with the Gram points and samples of both.
    pub fn join(mut self, next: GramBlock) -> GramBlock {
        assert_eq!(self.end, next.start, "only adjacent blocks join");
        self.end = next.end;
        self.gram.extend_from_slice(&next.gram[1..]);
        self.samples.extend_from_slice(&next.samples[1..]);
        self
    }

    /// The Gram block that ends at the good Gram point `end`, sampled at its Gram points.
    pub fn ending_at(end: i64, ahead: &Ahead) -> GramBlock {
        let start = last_good_at_or_before(end - 1, ahead);
        let block = GramWalker::at_first_good_from(start, ahead).next_block();
        debug_assert_eq!((block.start, block.end), (start, end));
        block
    }

    /// Separation points for Turing's method: for each Gram index `j` in `start..=end`,
    /// the shift `h_j` such that `(−1)^j·Z(g_j + h_j) > 0`, with `g_j + h_j` increasing.
    /// Good Gram points at the ends have `h_j = 0`. Call once the block shows exactly `len()`
    /// sign changes ([`Self::separate`], or [`Self::search_finer`] for a union): after c sign
    /// changes Z has the sign of `g_{start+c}`, so `g_j + h_j` is the sample nearest `g_j`
    /// among those after `j − start` changes.
    pub fn gram_shifts(&self) -> Vec<f64> {
        let mut shifts = vec![0.0; self.len() + 1];
        // Sample i lies after `changes[i]` sign changes; after c changes the sign of Z is
        // that of Gram point start + c.
        let mut changes = 0;
        let mut best = vec![f64::INFINITY; self.len() + 1];
        for (i, sample) in self.samples.iter().enumerate() {
            if i > 0 && sample.positive() != self.samples[i - 1].positive() {
                changes += 1;
            }
            let j = changes.min(self.len());
            let h = (sample.t - self.gram[j]).to_f64();
            if h.abs() < best[j].abs() {
                best[j] = h;
            }
        }
        shifts[1..self.len()].copy_from_slice(&best[1..self.len()]);
        shifts
    }
}

/// Walks Gram points forward from a good one, yielding consecutive Gram blocks.
pub struct GramWalker<'a> {
    index: i64,
    last: Sample,
    ahead: &'a Ahead,
}

impl<'a> GramWalker<'a> {
    /// Starts at the first good Gram point with index `≥ n`.
    pub fn at_first_good_from(n: i64, ahead: &'a Ahead) -> Self {
        let mut index = n;
        loop {
            let sample = ahead.gram(index, None);
            if is_good(index, sample.z) {
                return Self {
                    index,
                    last: sample,
                    ahead,
                };
            }
            index += 1;
        }
    }

    /// Index of the good Gram point the walker stands on.
    pub fn index(&self) -> i64 {
        self.index
    }

    /// The next block, from the current good Gram point to the next good one.
    pub fn next_block(&mut self) -> GramBlock {
        let start = self.index;
        let mut gram = vec![self.last.t];
        let mut samples = vec![self.last];
        loop {
            self.index += 1;
            let previous = *gram.last().expect("starts with g_start");
            let sample = self.ahead.gram(self.index, Some(previous));
            gram.push(sample.t);
            samples.push(sample);
            if is_good(self.index, sample.z) {
                self.last = sample;
                return GramBlock {
                    start,
                    end: self.index,
                    gram,
                    samples,
                };
            }
        }
    }
}

/// Index of the last good Gram point with index `≤ n` (`n ≥ −1`; `g_{−1}` is good).
pub fn last_good_at_or_before(n: i64, ahead: &Ahead) -> i64 {
    let mut index = n;
    while index > -1 && !is_good(index, ahead.gram(index, None).z) {
        index -= 1;
    }
    index
}

/// Samples of Z evaluated ahead, in batches ([`Ahead::evaluate`]): the Gram points
/// `g_first, …, g_last` of a window of work, then each round of [`GramBlock::separate`]'s
/// search of every Gram block among them that shows too few sign changes. Walks look their
/// samples up here and evaluate what is missing (unions, the ends of the window) on the CPU,
/// one at a time ([`Ahead::missed`] counts them).
#[derive(Debug, Default)]
pub struct Ahead {
    first: i64,
    /// `Z` at `g_first, …`
    gram: Vec<Sample>,
    /// `(Z, Z')` by the bits of the height.
    points: HashMap<(u64, u64), (f64, f64)>,
    missed: AtomicU64,
}

/// Gram points computed in order from one [`gram_point_precise`] (each next one by
/// [`next_gram_point`]).
const GRAM_PIECE: usize = 1024;

impl Ahead {
    /// Nothing ahead: every sample is evaluated when it is asked for.
    pub fn none() -> &'static Ahead {
        static NONE: LazyLock<Ahead> = LazyLock::new(Ahead::default);
        &NONE
    }

    /// Evaluates `g_first..=g_last` (`first ≥ −1`) and the samples [`GramBlock::separate`]
    /// takes in the Gram blocks among them, by `evaluator`; nothing if it does not batch
    /// ([`Evaluator::batches`]).
    pub fn evaluate(
        first: i64,
        last: i64,
        evaluator: &mut dyn Evaluator,
    ) -> Result<Ahead, ZetaError> {
        if !evaluator.batches() {
            return Ok(Ahead::default());
        }
        let starts: Vec<i64> = (first..=last).step_by(GRAM_PIECE).collect();
        let heights: Vec<DoubleDouble> = starts
            .par_iter()
            .flat_map_iter(|&start| {
                let end = (start + GRAM_PIECE as i64 - 1).min(last);
                let mut t = gram_point_precise(start);
                std::iter::once(t).chain((start + 1..=end).map(move |n| {
                    t = next_gram_point(n, t);
                    t
                }))
            })
            .collect();
        let gram: Vec<Sample> = heights
            .iter()
            .zip(evaluator.evaluate(&heights)?)
            .map(|(&t, (z, dz))| Sample { t, z, dz })
            .collect();

        // The blocks among them, searched round by round as `GramBlock::separate` would,
        // each round of all blocks one batch.
        let good: Vec<usize> = (0..gram.len())
            .filter(|&i| is_good(first + i as i64, gram[i].z))
            .collect();
        let mut searching: Vec<GramBlock> = good
            .windows(2)
            .map(|pair| GramBlock {
                start: first + pair[0] as i64,
                end: first + pair[1] as i64,
                gram: gram[pair[0]..=pair[1]].iter().map(|s| s.t).collect(),
                samples: gram[pair[0]..=pair[1]].to_vec(),
            })
            .filter(|block| block.sign_changes() < block.len())
            .collect();
        let mut points = HashMap::new();
        for round in 0.. {
            // A block whose budget is spent drops out, as `separate` gives up on it.
            let requests: Vec<(GramBlock, Vec<DoubleDouble>)> = searching
                .into_iter()
                .filter_map(|block| {
                    let heights = block.search_points(round)?;
                    Some((block, heights))
                })
                .collect();
            if requests.is_empty() {
                break;
            }
            let heights: Vec<DoubleDouble> =
                requests.iter().flat_map(|(_, p)| p).copied().collect();
            let mut values = evaluator.evaluate(&heights)?.into_iter();
            searching = Vec::with_capacity(requests.len());
            for (mut block, heights) in requests {
                let samples: Vec<Sample> = heights
                    .iter()
                    .zip(values.by_ref())
                    .map(|(&t, (z, dz))| Sample { t, z, dz })
                    .collect();
                points.extend(samples.iter().map(|s| (bits(s.t), (s.z, s.dz))));
                block.insert(&samples);
                if block.sign_changes() < block.len() {
                    searching.push(block);
                }
            }
        }
        Ok(Ahead {
            first,
            gram,
            points,
            missed: AtomicU64::new(0),
        })
    }

    /// The sample at `t`: evaluated ahead, or now.
    pub fn sample(&self, t: DoubleDouble) -> Sample {
        match self.points.get(&bits(t)) {
            Some(&(z, dz)) => Sample { t, z, dz },
            None => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                Sample::at(t)
            }
        }
    }

    /// The sample at the Gram point `g_index`: evaluated ahead, or now (from `previous`,
    /// `g_{index−1}`, when the walk knows it).
    pub fn gram(&self, index: i64, previous: Option<DoubleDouble>) -> Sample {
        let ahead = usize::try_from(index - self.first)
            .ok()
            .and_then(|i| self.gram.get(i));
        if let Some(&sample) = ahead {
            return sample;
        }
        self.missed.fetch_add(1, Ordering::Relaxed);
        Sample::at(match previous {
            Some(previous) => next_gram_point(index, previous),
            None => gram_point_precise(index),
        })
    }

    /// Samples asked for that were not evaluated ahead.
    pub fn missed(&self) -> u64 {
        self.missed.load(Ordering::Relaxed)
    }
}

fn bits(t: DoubleDouble) -> (u64, u64) {
    (t.hi.to_bits(), t.lo.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bad_gram_point_is_126() {
        // Gram's law first fails at g_126 (Hutchinson, 1925): the first Gram block longer
        // than one interval is [g_125, g_127).
        let mut walker = GramWalker::at_first_good_from(-1, Ahead::none());
        let mut block = walker.next_block();
        while block.len() == 1 {
            block = walker.next_block();
        }
        assert_eq!((block.start, block.end), (125, 127));
        assert_eq!(block.sign_changes(), 0);
        assert!(block.separate(Ahead::none()));
        assert_eq!(block.sign_changes(), 2);
        let shifts = block.gram_shifts();
        assert_eq!(shifts[0], 0.0);
        assert_eq!(shifts[2], 0.0);
        let shifted = gram_point_precise(126) + shifts[1];
        assert!(is_good(126, hardy_z::z(shifted)));
    }
}
