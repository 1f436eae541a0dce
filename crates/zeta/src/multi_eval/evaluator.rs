//! [`MultiEvaluator`]: an [`Evaluator`] that takes Z from Odlyzko–Schönhage blocks
//! ([`Block`]) instead of the direct main sum.
//!
//! Each batch's heights are sorted; those no block in the cache covers get new blocks, laid
//! from the lowest up ([`Block::starting_at`]) and built in parallel on rayon's threads; then
//! every height is interpolated from its block, in parallel. The search for zeros moves up in
//! height, so blocks stay cached while a batch reaches them (a block spans ~1.5·10⁴ in height at
//! index 10⁹, several windows of work) and are dropped once a batch starts above them. Heights
//! below [`RIEMANN_SIEGEL_MIN_HEIGHT`] (Euler–Maclaurin) are evaluated directly, as are the
//! evaluations the search makes one at a time (Rosser unions, Turing's walks).

use super::{Block, Params, place};
use crate::batch::Evaluator;
use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::hardy_z::{self, RIEMANN_SIEGEL_MIN_HEIGHT};
use rayon::prelude::*;

/// Gram intervals per window of work: as on the CPU per thread (`batch::Cpu`), a few
/// thousand zeros, well inside one block.
const WINDOW_INTERVALS_PER_THREAD: i64 = 4 * 2048;

/// Most blocks kept (1 MiB each with the default 2¹⁶ points).
const MAX_CACHED: usize = 16;

/// Evaluates `(Z, Z')` for batches of heights from cached multi-evaluation blocks.
#[derive(Default)]
pub struct MultiEvaluator {
    pub params: Params,
    /// Cached blocks, by increasing centre.
    blocks: Vec<Block>,
    /// Blocks built so far (for the record of a run).
    built: u64,
}

impl MultiEvaluator {
    pub fn new(params: Params) -> Self {
        Self {
            params,
            blocks: Vec::new(),
            built: 0,
        }
    }

    /// Blocks built since this evaluator was made.
    pub fn blocks_built(&self) -> u64 {
        self.built
    }

    /// The cached block that covers `t`, if any (blocks are sorted by centre and overlap
    /// little: the nearest centres on either side are the only candidates).
    fn block_for(&self, t: DoubleDouble) -> Option<&Block> {
        let after = self.blocks.partition_point(|block| block.centre() <= t);
        [after.checked_sub(1), Some(after)]
            .into_iter()
            .flatten()
            .filter_map(|i| self.blocks.get(i))
            .find(|block| block.covers(t))
    }
}

impl Evaluator for MultiEvaluator {
    fn evaluate(&mut self, heights: &[DoubleDouble]) -> Result<Vec<(f64, f64)>, ZetaError> {
        let mut high: Vec<DoubleDouble> = heights
            .iter()
            .copied()
            .filter(|t| t.hi >= RIEMANN_SIEGEL_MIN_HEIGHT)
            .collect();
        high.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        if let Some(&lowest) = high.first() {
            // Blocks wholly below this batch are behind the search.
            self.blocks
                .retain(|block| (block.centre() + block.reach()).hi >= lowest.hi);
        }

        // Lay new blocks under the heights no cached block covers, from the lowest up; a
        // block placed at a height covers at least `place`'s bound above its centre, so the
        // next is placed from the first height beyond it.
        let mut centres = Vec::new();
        let mut covered_to = f64::NEG_INFINITY;
        for &t in &high {
            if t.hi < covered_to || self.block_for(t).is_some() {
                continue;
            }
            let (centre, reach) = place(t, &self.params);
            centres.push(centre);
            covered_to = (centre + reach).hi;
        }
        let new: Vec<Block> = centres
            .par_iter()
            .map(|&centre| Block::new(centre, Block::terms_at(centre).max(2), &self.params))
            .collect::<Result<_, _>>()?;
        self.built += new.len() as u64;
        self.blocks.extend(new);
        self.blocks.sort_by(|a, b| {
            a.centre()
                .partial_cmp(&b.centre())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let excess = self.blocks.len().saturating_sub(MAX_CACHED);
        self.blocks.drain(..excess);

        let this = &*self;
        heights
            .par_iter()
            .map(|&t| match this.block_for(t) {
                Some(block) if t.hi >= RIEMANN_SIEGEL_MIN_HEIGHT => block.z_and_derivative(t),
                _ => Ok(hardy_z::z_and_derivative(t)),
            })
            .collect()
    }

    fn window_intervals(&self) -> i64 {
        WINDOW_INTERVALS_PER_THREAD * rayon::current_num_threads().max(1) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zeros::compute_zeros_with;

    /// The zeros of `count` from `first` by the direct evaluator and by a [`MultiEvaluator`],
    /// checked to be as many, verified alike; returns the largest difference.
    fn compare_zeros(first: u64, count: u64) -> f64 {
        let mut direct = Vec::new();
        let verified_direct = crate::compute_zeros(first, count, |_, batch| {
            direct.extend_from_slice(batch);
            Ok(())
        })
        .unwrap();
        let mut multi = Vec::new();
        let mut evaluator = MultiEvaluator::default();
        let verified_multi = compute_zeros_with(first, count, &mut evaluator, |_, batch| {
            multi.extend_from_slice(batch);
            Ok(())
        })
        .unwrap();
        assert_eq!(direct.len(), multi.len());
        assert_eq!(verified_direct.zeros_between, verified_multi.zeros_between);
        assert!(evaluator.blocks_built() > 0);
        direct
            .iter()
            .zip(&multi)
            .map(|(&a, &b)| (a - b).to_f64().abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn finds_the_zeros_the_direct_sum_finds() {
        // 20,000 zeros from index 10⁸ (t ≈ 4.3·10⁷), and the first 20,000 (t to 1.9·10⁴,
        // where one block spans N from 17 to 53 and the terms between its N and N(t) are
        // taken out directly): each zero within the refinement's 1e-11 target of the direct
        // evaluator's (measured 4.5e-14 and 1.1e-14: the Z values differ by ~1e-13, so the
        // zeros by ~1e-13/|Z'|).
        for first in [100_000_000, 1] {
            let worst = compare_zeros(first, 20_000);
            println!("from γ_{first}: max |γ_direct − γ_multi| = {worst:.2e}");
            assert!(worst < 1e-11, "from γ_{first}: max difference {worst:e}");
        }
    }

    #[test]
    fn mixed_batches_match_the_direct_evaluator() {
        // Unsorted heights, some below the Riemann–Siegel crossover, two far apart.
        let heights: Vec<DoubleDouble> = [1.0e9 + 3.3, 150.0, 1.0e9, 5.0e6, 1.0e9 + 0.7, 1999.0]
            .into_iter()
            .map(DoubleDouble::from_f64)
            .collect();
        let mut evaluator = MultiEvaluator::new(Params {
            modes: 1 << 12,
            ..Params::default()
        });
        let got = evaluator.evaluate(&heights).unwrap();
        for (&t, (z, _)) in heights.iter().zip(got) {
            let want = hardy_z::z(t);
            assert!((z - want).abs() < 1e-12, "t = {}: {z} vs {want}", t.hi);
        }
        assert_eq!(evaluator.blocks_built(), 2);
    }
}
