//! The direct Riemann–Siegel main sum against the Odlyzko–Schönhage multi-evaluation
//! (`spectral_zeta::multi_eval`), per evaluation of `(Z, Z')`, on one thread each, at the
//! zeros of index 10⁹, 10¹⁰ and 10¹².
//!
//! For each, the heights a window of 10⁶ zeros asks for: 2.14 evaluations per zero (the
//! refinement's count, docs/zeta.md), 2,140,000 heights spread uniformly (a fixed
//! pseudo-random sequence) over the window's range of t, from its first Gram point. The
//! multi-evaluation computes all of them (grids, FFTs and interpolation: the amortized cost);
//! the direct sum, every k-th of the same heights (its cost per evaluation does not depend
//! on how many there are). Both in one run, so the ratio is from the same machine state.
//!
//! Then end to end, on all threads: `compute_zeros` (direct, `batch::Cpu`) against
//! `compute_zeros_with` and a [`MultiEvaluator`], verified zeros per second, on windows of
//! 10⁶ zeros at 10⁹, 10⁵ at 10¹⁰ and 10⁴ at 10¹² (the direct side would take minutes on
//! larger ones), and the largest difference between the two sets of zeros.
//!
//! Run: `cargo bench -p spectral-zeta --bench multi_eval` (add `-- 1e9` to run one index).

use spectral_zeta::DoubleDouble;
use spectral_zeta::multi_eval::{self, Block, MultiEvaluator, Params};
use std::hint::black_box;
use std::time::Instant;

const ZEROS: f64 = 1.0e6;
const EVALUATIONS_PER_ZERO: f64 = 2.14;
/// Heights the direct sum is timed at, per index.
const DIRECT_SAMPLES: usize = 4000;

fn main() {
    let only: Option<f64> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    let params = Params::default();
    println!(
        "window: {ZEROS:.0} zeros, {EVALUATIONS_PER_ZERO} evaluations per zero, one thread; \
         multi-evaluation {params:?}"
    );
    println!(
        "{:>6} {:>10} {:>7} {:>8} {:>7} {:>11} {:>11} {:>11} {:>8} {:>9}",
        "index", "t", "N", "evals", "blocks", "direct/ev", "multi/ev", "block", "ratio", "max|ΔZ|"
    );
    for index in [1.0e9, 1.0e10, 1.0e12] {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        run(index, &params);
    }
    println!(
        "end to end, {} threads: {:>6} {:>8} {:>10} {:>10} {:>8} {:>7} {:>9}",
        rayon::current_num_threads(),
        "index",
        "zeros",
        "direct",
        "multi",
        "ratio",
        "blocks",
        "max|Δγ|"
    );
    for (index, count) in [(1.0e9, 1_000_000), (1.0e10, 100_000), (1.0e12, 10_000)] {
        if only.is_some_and(|o| o != index) {
            continue;
        }
        zeros(index as u64, count, &params);
    }
}

fn zeros(first: u64, count: u64, params: &Params) {
    let mut direct = Vec::with_capacity(count as usize);
    let clock = Instant::now();
    spectral_zeta::compute_zeros(first, count, |_, batch| {
        direct.extend_from_slice(batch);
        Ok(())
    })
    .expect("direct zeros");
    let direct_seconds = clock.elapsed().as_secs_f64();
    let mut multi = Vec::with_capacity(count as usize);
    let mut evaluator = MultiEvaluator::new(*params);
    let clock = Instant::now();
    spectral_zeta::compute_zeros_with(first, count, &mut evaluator, |_, batch| {
        multi.extend_from_slice(batch);
        Ok(())
    })
    .expect("multi-evaluation zeros");
    let multi_seconds = clock.elapsed().as_secs_f64();
    assert_eq!(direct.len(), multi.len());
    let worst = direct
        .iter()
        .zip(&multi)
        .map(|(&a, &b)| (a - b).to_f64().abs())
        .fold(0.0, f64::max);
    println!(
        "{:>28} {:>8} {:>9.2}s {:>9.2}s {:>7.1}x {:>7} {:>9.1e}   ({:.0} vs {:.0} zeros/s)",
        format!("{first:.0e}"),
        count,
        direct_seconds,
        multi_seconds,
        direct_seconds / multi_seconds,
        evaluator.blocks_built(),
        worst,
        count as f64 / direct_seconds,
        count as f64 / multi_seconds
    );
}

fn run(index: f64, params: &Params) {
    let start = spectral_zeta::theta::gram_point_precise(index as i64);
    let t = start.hi;
    // Zeros per unit height: ln(t/2π)/2π.
    let range = ZEROS * 2.0 * std::f64::consts::PI / (t / (2.0 * std::f64::consts::PI)).ln();
    let count = (ZEROS * EVALUATIONS_PER_ZERO) as usize;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut offsets: Vec<f64> = (0..count)
        .map(|_| {
            // xorshift64*: uniform in [0, 1).
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let x = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            x * range
        })
        .collect();
    offsets.sort_by(f64::total_cmp);
    let heights: Vec<DoubleDouble> = offsets.iter().map(|&x| start + x).collect();

    // Multi-evaluation, all heights (warm the phase tables first).
    let _ = spectral_zeta::phase_sum::PhaseTable::large();
    let clock = Instant::now();
    let multi = multi_eval::z_and_derivative_sorted(&heights, params).expect("multi-evaluation");
    let multi_seconds = clock.elapsed().as_secs_f64();
    // One block alone: the grid's share.
    let centre = start + 0.5 * range;
    let clock = Instant::now();
    let block = Block::new(centre, Block::terms_at(centre), params).expect("block");
    let block_seconds = clock.elapsed().as_secs_f64();
    let blocks = (range / (2.0 * block.reach())).ceil();

    // Direct sum at every k-th height.
    let step = count / DIRECT_SAMPLES;
    let sample: Vec<usize> = (0..DIRECT_SAMPLES).map(|i| i * step).collect();
    let clock = Instant::now();
    let direct: Vec<(f64, f64)> = sample
        .iter()
        .map(|&i| spectral_zeta::hardy_z::z_and_derivative(black_box(heights[i])))
        .collect();
    let direct_seconds = clock.elapsed().as_secs_f64();
    let worst = sample
        .iter()
        .zip(&direct)
        .map(|(&i, d)| (multi[i].0 - d.0).abs())
        .fold(0.0, f64::max);

    let direct_per = direct_seconds / DIRECT_SAMPLES as f64;
    let multi_per = multi_seconds / count as f64;
    println!(
        "{:>6} {:>10.3e} {:>7} {:>8} {:>7} {:>9.0}ns {:>9.0}ns {:>9.1}ms {:>7.1}x {:>9.1e}",
        format!("{index:.0e}"),
        t,
        Block::terms_at(start),
        count,
        blocks,
        direct_per * 1e9,
        multi_per * 1e9,
        block_seconds * 1e3,
        direct_per / multi_per,
        worst
    );
    println!(
        "        window t ∈ [{t:.6e}, +{range:.0}]: multi-evaluation {multi_seconds:.2} s for all \
         {count} (blocks ≈ {:.0}% of it); direct {direct_seconds:.2} s for {DIRECT_SAMPLES}, \
         {:.1} s projected for all",
        100.0 * blocks * block_seconds / multi_seconds,
        direct_per * count as f64
    );
}
