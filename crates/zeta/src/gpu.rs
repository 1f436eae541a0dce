//! [`Cuda`]: an [`Evaluator`] with the main sums of Riemann–Siegel on an NVIDIA GPU (feature
//! `cuda`).
//!
//! The main sum is `O(√t)` terms per evaluation (2·10⁵ at t = 2.7·10¹¹, near the zero of index
//! 10¹²) and everything else O(1), so the GPU takes the sums and the CPU the rest: for each
//! batch of heights the host computes θ(t) and the number of terms ([`MainSum::at`], on rayon's
//! threads), `phase_sum.cu` sums every term with the same double-double phase reduction as the
//! CPU kernel (one block per four heights, each table entry read once for the four), and the
//! host adds the Riemann–Siegel corrections ([`MainSum::finish`]). Heights below
//! [`RIEMANN_SIEGEL_MIN_HEIGHT`] (Euler–Maclaurin) stay on the CPU.
//!
//! The phase table ([`PhaseTable::large`], 35 MiB) is uploaded once, when the GPU is opened.

use crate::batch::Evaluator;
use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::hardy_z::{self, RIEMANN_SIEGEL_MIN_HEIGHT};
use crate::phase_sum::{MAX_TERMS, PhaseSums, PhaseTable};
use crate::riemann_siegel::MainSum;
use rayon::prelude::*;
use spectral_cuda::{
    Arena, Arg, DType, EngineError, Gpu, Kernel, KernelCache, Layout, Slot, Source,
};

/// The kernel source.
const PHASE_SUM: Source = Source {
    name: "phase_sum.cu",
    code: include_str!("phase_sum.cu"),
};

/// Threads per block and heights per block, as `phase_sum.cu` is compiled.
const BLOCK: u32 = 256;
const POINTS_PER_BLOCK: usize = 4;

/// Most heights per launch (the input and output buffers are sized for it: 10 MiB).
const MAX_BATCH: usize = 1 << 18;

/// Gram intervals per window of work on a GPU: a window's Gram points make one launch of
/// ~1.3·10⁵ heights, 3·10⁴ blocks, enough to fill an H200 many times over.
const WINDOW_INTERVALS: i64 = 64 * 2048;

fn device_error(error: EngineError) -> ZetaError {
    ZetaError::Device(error.to_string())
}

/// The slots of the device allocation.
struct Slots {
    ln_hi: Slot,
    ln_lo: Slot,
    amplitude: Slot,
    amplitude_ln: Slot,
    t_hi: Slot,
    t_lo: Slot,
    theta: Slot,
    terms: Slot,
    out: Slot,
}

/// Evaluates Z on one GPU (and the CPU's threads): see the module's documentation.
pub struct Cuda {
    gpu: Gpu,
    kernel: Kernel,
    arena: Arena,
    slots: Slots,
    name: String,
}

impl Cuda {
    /// Opens GPU `ordinal`, compiles the kernel (or loads it from the engine's kernel cache,
    /// [`KernelCache::default_dir`]) and uploads the phase table.
    pub fn open(ordinal: usize) -> Result<Self, ZetaError> {
        Self::open_with_cache(ordinal, KernelCache::default_dir())
    }

    /// [`Cuda::open`] with the kernel cached in `cache`.
    pub fn open_with_cache(ordinal: usize, cache: KernelCache) -> Result<Self, ZetaError> {
        let mut gpu = Gpu::open(ordinal, cache).map_err(device_error)?;
        let defines = [
            format!("BLOCK={BLOCK}"),
            format!("POINTS={POINTS_PER_BLOCK}"),
        ];
        let kernel = gpu
            .kernel(&PHASE_SUM, &defines, "phase_sums")
            .map_err(device_error)?;
        let mut layout = Layout::new();
        let slots = Slots {
            ln_hi: layout.push("ln_hi", MAX_TERMS, DType::F64),
            ln_lo: layout.push("ln_lo", MAX_TERMS, DType::F64),
            amplitude: layout.push("amplitude", MAX_TERMS, DType::F64),
            amplitude_ln: layout.push("amplitude_ln", MAX_TERMS, DType::F64),
            t_hi: layout.push("t_hi", MAX_BATCH, DType::F64),
            t_lo: layout.push("t_lo", MAX_BATCH, DType::F64),
            theta: layout.push("theta", MAX_BATCH, DType::F64),
            terms: layout.push("terms", MAX_BATCH, DType::I32),
            out: layout.push("out", 3 * MAX_BATCH, DType::F64),
        };
        let arena = gpu.arena(&layout).map_err(device_error)?;
        let table = PhaseTable::large();
        for (slot, values) in [
            (slots.ln_hi, &table.ln_hi),
            (slots.ln_lo, &table.ln_lo),
            (slots.amplitude, &table.amplitude),
            (slots.amplitude_ln, &table.amplitude_ln),
        ] {
            gpu.upload(arena.ptr(slot), values).map_err(device_error)?;
        }
        let name = format!("cuda:{ordinal} ({})", gpu.name());
        Ok(Self {
            gpu,
            kernel,
            arena,
            slots,
            name,
        })
    }

    /// The device, as `cuda:N (name)`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The phase sums at `inputs` (at most [`MAX_BATCH`]), on the GPU.
    pub fn phase_sums(&self, inputs: &[MainSum]) -> Result<Vec<PhaseSums>, ZetaError> {
        assert!(inputs.len() <= MAX_BATCH, "a batch of {}", inputs.len());
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let t_hi: Vec<f64> = inputs.iter().map(|m| m.t.hi).collect();
        let t_lo: Vec<f64> = inputs.iter().map(|m| m.t.lo).collect();
        let theta: Vec<f64> = inputs.iter().map(|m| m.theta).collect();
        let terms: Vec<i32> = inputs
            .iter()
            .map(|m| {
                assert!(m.terms <= MAX_TERMS, "{} terms", m.terms);
                m.terms as i32
            })
            .collect();
        let (gpu, arena, slots) = (&self.gpu, &self.arena, &self.slots);
        let run = || -> Result<Vec<f64>, EngineError> {
            gpu.upload(arena.ptr(slots.t_hi), &t_hi)?;
            gpu.upload(arena.ptr(slots.t_lo), &t_lo)?;
            gpu.upload(arena.ptr(slots.theta), &theta)?;
            gpu.upload(arena.ptr(slots.terms), &terms)?;
            let blocks = inputs.len().div_ceil(POINTS_PER_BLOCK) as u32;
            let ptr = |slot: Slot| Arg::Ptr(arena.ptr(slot));
            // SAFETY: the arguments follow `phase_sums`' parameters; every slot holds what the
            // kernel reads or writes for `inputs.len()` points of at most MAX_TERMS terms.
            unsafe {
                gpu.launch(
                    &self.kernel,
                    (blocks, 1, 1),
                    (BLOCK, 1, 1),
                    0,
                    &[
                        ptr(slots.t_hi),
                        ptr(slots.t_lo),
                        ptr(slots.theta),
                        ptr(slots.terms),
                        ptr(slots.ln_hi),
                        ptr(slots.ln_lo),
                        ptr(slots.amplitude),
                        ptr(slots.amplitude_ln),
                        ptr(slots.out),
                        Arg::I32(inputs.len() as i32),
                    ],
                )?;
            }
            let mut out = vec![0.0; 3 * inputs.len()];
            gpu.download(arena.ptr(slots.out), &mut out)?;
            Ok(out)
        };
        let out = run().map_err(device_error)?;
        Ok(out
            .chunks_exact(3)
            .map(|s| PhaseSums {
                cos: s[0],
                sin: s[1],
                sin_ln: s[2],
            })
            .collect())
    }
}

impl Evaluator for Cuda {
    fn evaluate(&mut self, heights: &[DoubleDouble]) -> Result<Vec<(f64, f64)>, ZetaError> {
        let mut values = vec![(0.0, 0.0); heights.len()];
        let (low, high): (Vec<usize>, Vec<usize>) =
            (0..heights.len()).partition(|&i| heights[i].hi < RIEMANN_SIEGEL_MIN_HEIGHT);
        for &i in &low {
            values[i] = hardy_z::z_and_derivative(heights[i]);
        }
        for batch in high.chunks(MAX_BATCH) {
            let inputs: Vec<MainSum> = batch.par_iter().map(|&i| MainSum::at(heights[i])).collect();
            let sums = self.phase_sums(&inputs)?;
            let finished: Vec<(f64, f64)> = inputs
                .par_iter()
                .zip(sums)
                .map(|(input, sums)| input.finish(sums))
                .collect();
            for (&i, value) in batch.iter().zip(finished) {
                values[i] = value;
            }
        }
        Ok(values)
    }

    fn window_intervals(&self) -> i64 {
        WINDOW_INTERVALS
    }
}
