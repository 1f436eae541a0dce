//! Evaluating Z at many heights at once: [`Cpu`] on rayon's threads, or `gpu::Cuda` (feature
//! `cuda`) with the main sums of Riemann–Siegel on a GPU.
//!
//! The search for zeros ([`crate::zeros`]) asks for its samples in batches: the Gram points of a
//! window of work, each round of the search of its Gram blocks ([`crate::gram_block::Ahead`]),
//! then each round of refinement of every zero in the window ([`crate::refine::refine_all`]).
//! What is left (Rosser unions, the walks of Turing's method at the edges) is evaluated one
//! point at a time on the CPU.

use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::hardy_z;
use rayon::prelude::*;

/// Evaluates `(Z(t), Z'(t))` at many heights at once.
pub trait Evaluator {
    /// `(Z, Z')` at each height, in order; heights within [`crate::zeros::max_height`].
    fn evaluate(&mut self, heights: &[DoubleDouble]) -> Result<Vec<(f64, f64)>, ZetaError>;

    /// Gram intervals worth gathering into one window of work (its Gram points are one batch).
    fn window_intervals(&self) -> i64;

    /// Whether the search should gather its evaluations into batches. `false` on the CPU,
    /// where each walk and each refinement evaluates its points as it goes, on its own thread:
    /// a batch is a barrier, and between batches one thread would do the bookkeeping while
    /// the others wait (measured 8–12 % slower for the first 2·10⁶ zeros on 2 cores).
    fn batches(&self) -> bool {
        true
    }
}

/// Every evaluation on the CPU, in parallel over rayon's threads. By default the search does
/// not batch on the CPU ([`Evaluator::batches`]); `Cpu { batch: true }` makes it batch as it
/// does for a GPU, which must give the same zeros, bit for bit.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    pub batch: bool,
}

/// Gram intervals per window on the CPU: the work of four chunks per thread.
const CPU_WINDOW_INTERVALS_PER_THREAD: i64 = 4 * 2048;

impl Evaluator for Cpu {
    fn evaluate(&mut self, heights: &[DoubleDouble]) -> Result<Vec<(f64, f64)>, ZetaError> {
        Ok(heights
            .par_iter()
            .map(|&t| hardy_z::z_and_derivative(t))
            .collect())
    }

    fn window_intervals(&self) -> i64 {
        CPU_WINDOW_INTERVALS_PER_THREAD * rayon::current_num_threads().max(1) as i64
    }

    fn batches(&self) -> bool {
        self.batch
    }
}
