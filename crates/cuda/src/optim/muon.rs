//! Muon on the device (the semantics of `spectral::optim::muon`, `torch.optim.Muon`'s form):
//! for each hidden matrix with clipped gradient `G` (burn layout `[d_in, d_out]`),
//!
//! ```text
//! B ← μB + G;   D = G + μB (Nesterov) or B
//! X₀ = D / (‖D‖_F + 1e-7);   X ← a X + (b A + c A²) X with A = X Xᵀ (wide) — or
//!                            X ← a X + X (b A + c A²) with A = Xᵀ X (tall) — per step
//! W ← W (1 − lr λ) − lr s X,   s = √max(1, d_out / d_in)
//! ```
//!
//! Matrices of one shape are iterated together: one strided-batched gemm per product per
//! step, on iterates of the activation type (bf16 as muon.py, or f32 in the parity mode), with
//! f32 accumulation.

use crate::arena::{DType, Layout, Slot};
use crate::error::EngineError;
use crate::gemm::{Dims, Operand, gemm};
use crate::gpu::{Arena, Arg, Gpu, Kernel};
use crate::kernels;
use crate::params::{Group, ParamTable};

/// `X / (‖X‖_F + NORM_EPS)`: `spectral::linalg::newton_schulz::NORM_EPS`.
const NORM_EPS: f32 = 1e-7;

/// Muon's settings, as `spectral::optim::muon::MuonConfig` with the quintic schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct MuonSettings {
    pub momentum: f32,
    pub nesterov: bool,
    pub weight_decay: f32,
    /// One `(a, b, c)` per Newton–Schulz step (Keller Jordan's quintic, 5 times, by default).
    pub coefficients: Vec<(f32, f32, f32)>,
}

impl Default for MuonSettings {
    fn default() -> Self {
        Self {
            momentum: 0.95,
            nesterov: true,
            weight_decay: 0.0,
            coefficients: vec![(3.4445, -4.7750, 2.0315); 5],
        }
    }
}

/// The matrices of one shape `[rows, cols]` and their scratch in the arena.
#[derive(Clone, Debug)]
pub struct ShapeGroup {
    pub rows: usize,
    pub cols: usize,
    /// Each matrix's first element in the flat parameter buffers.
    pub offsets: Vec<i64>,
    /// The offsets on the device, i64 [count] (the kernels read matrix i's place there).
    offsets_slot: Slot,
    /// The momentum direction, f32 [count, rows·cols].
    direction: Slot,
    /// Frobenius norms f32 [count].
    norms: Slot,
    /// Ping-pong iterates, ACT [count, rows·cols].
    x: [Slot; 2],
    /// The Gram matrix and the polynomial in it, ACT [count, r, r], r = min(rows, cols).
    gram: Slot,
    poly: Slot,
}

impl ShapeGroup {
    fn len(&self) -> usize {
        self.rows * self.cols
    }

    fn count(&self) -> usize {
        self.offsets.len()
    }
}

/// Muon's plan: the [`Group::Matrix`] tensors of a parameter table grouped by shape (in
/// order of first appearance), each with its scratch planned in a layout.
#[derive(Clone, Debug)]
pub struct MuonPlan {
    pub groups: Vec<ShapeGroup>,
    act: DType,
}

impl MuonPlan {
    pub fn new(table: &ParamTable, act: DType, layout: &mut Layout) -> Self {
        let mut shapes: Vec<(usize, usize, Vec<i64>)> = Vec::new();
        for p in table.params().iter().filter(|p| p.group == Group::Matrix) {
            let (rows, cols) = (p.shape[0], p.shape[1]);
            match shapes.iter_mut().find(|s| (s.0, s.1) == (rows, cols)) {
                Some(s) => s.2.push(p.offset as i64),
                None => shapes.push((rows, cols, vec![p.offset as i64])),
            }
        }
        let groups = shapes
            .into_iter()
            .map(|(rows, cols, offsets)| {
                let (n, len, r) = (offsets.len(), rows * cols, rows.min(cols));
                let name = |what: &str| format!("muon.{rows}x{cols}.{what}");
                ShapeGroup {
                    offsets_slot: layout.push(name("offsets"), 2 * n, DType::I32),
                    direction: layout.push(name("direction"), n * len, DType::F32),
                    norms: layout.push(name("norms"), n, DType::F32),
                    x: [
                        layout.push(name("x0"), n * len, act),
                        layout.push(name("x1"), n * len, act),
                    ],
                    gram: layout.push(name("gram"), n * r * r, act),
                    poly: layout.push(name("poly"), n * r * r, act),
                    rows,
                    cols,
                    offsets,
                }
            })
            .collect();
        Self { groups, act }
    }
}

/// The flat buffers a Muon step reads and writes (device addresses of [`ParamTable`] layouts).
#[derive(Clone, Copy, Debug)]
pub struct FlatBuffers {
    /// f32 master weights.
    pub params: u64,
    /// ACT compute copy of the weights.
    pub params_compute: u64,
    /// f32 gradients (unclipped; multiplied by `*clip` here).
    pub grads: u64,
    /// f32 momentum buffers.
    pub momentum: u64,
    /// f32 [1]: the clip factor of this step.
    pub clip: u64,
    /// f32 [1]: this step's learning rate for the matrices.
    pub lr: u64,
}

/// Muon's kernels, bound to a plan in an arena.
pub struct Muon {
    plan: MuonPlan,
    settings: MuonSettings,
    momentum: Kernel,
    frobenius: Kernel,
    normalize: Kernel,
    update: Kernel,
}

const THREADS: u32 = 256;

impl Muon {
    /// Compiles the kernels and uploads the plan's offset tables into `arena`.
    pub fn new(
        gpu: &mut Gpu,
        plan: MuonPlan,
        settings: MuonSettings,
        arena: &Arena,
    ) -> Result<Self, EngineError> {
        let defines = [format!(
            "ACT={}",
            if plan.act == DType::BF16 {
                "bf16"
            } else {
                "float"
            }
        )];
        let mut kernel = |name| gpu.kernel(&kernels::MUON, &defines, name);
        let (momentum, frobenius, normalize, update) = (
            kernel("muon_momentum")?,
            kernel("muon_frobenius")?,
            kernel("muon_normalize")?,
            kernel("muon_update")?,
        );
        for group in &plan.groups {
            gpu.upload(arena.ptr(group.offsets_slot), &group.offsets)?;
        }
        Ok(Self {
            plan,
            settings,
            momentum,
            frobenius,
            normalize,
            update,
        })
    }

    /// Enqueues one Muon step over every matrix (launches and gemms only: capturable).
    pub fn step(&self, gpu: &Gpu, arena: &Arena, flat: FlatBuffers) -> Result<(), EngineError> {
        for g in &self.plan.groups {
            let (count, len) = (g.count(), g.len());
            let blocks_x = (len.div_ceil(THREADS as usize) as u32).min(1024);
            let grid = (blocks_x, count as u32, 1);
            let offsets = Arg::Ptr(arena.ptr(g.offsets_slot));
            let direction = Arg::Ptr(arena.ptr(g.direction));
            let norms = Arg::Ptr(arena.ptr(g.norms));
            let s = &self.settings;
            // SAFETY (all launches): the arguments follow muon.cu's signatures; every slot was
            // planned for this group's count and shape.
            unsafe {
                gpu.launch(
                    &self.momentum,
                    grid,
                    (THREADS, 1, 1),
                    0,
                    &[
                        Arg::Ptr(flat.grads),
                        Arg::Ptr(flat.momentum),
                        Arg::Ptr(flat.clip),
                        offsets,
                        direction,
                        Arg::I64(len as i64),
                        Arg::F32(s.momentum),
                        Arg::I32(s.nesterov as i32),
                    ],
                )?;
                gpu.launch(
                    &self.frobenius,
                    (count as u32, 1, 1),
                    (1024, 1, 1),
                    0,
                    &[direction, norms, Arg::I64(len as i64)],
                )?;
                gpu.launch(
                    &self.normalize,
                    grid,
                    (THREADS, 1, 1),
                    0,
                    &[
                        direction,
                        norms,
                        Arg::Ptr(arena.ptr(g.x[0])),
                        Arg::I64(len as i64),
                        Arg::F32(NORM_EPS),
                    ],
                )?;
            }
            let last = self.newton_schulz(gpu, arena, g)?;
            let scale = (g.cols as f32 / g.rows as f32).max(1.0).sqrt();
            // SAFETY: as above.
            unsafe {
                gpu.launch(
                    &self.update,
                    grid,
                    (THREADS, 1, 1),
                    0,
                    &[
                        Arg::Ptr(flat.params),
                        Arg::Ptr(flat.params_compute),
                        Arg::Ptr(arena.ptr(g.x[last])),
                        offsets,
                        Arg::I64(len as i64),
                        Arg::Ptr(flat.lr),
                        Arg::F32(scale),
                        Arg::F32(s.weight_decay),
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// The iteration on `g`'s iterates, starting in `x[0]`; returns which buffer holds the
    /// result.
    fn newton_schulz(
        &self,
        gpu: &Gpu,
        arena: &Arena,
        g: &ShapeGroup,
    ) -> Result<usize, EngineError> {
        let act = self.plan.act;
        let (m, n, count) = (g.rows, g.cols, g.count());
        let r = m.min(n);
        let tall = m > n;
        let op = |slot: Slot, stride: usize| Operand::new(arena.ptr(slot), act).strided(stride);
        let (gram, poly) = (op(g.gram, r * r), op(g.poly, r * r));
        let mut current = 0;
        for &(a, b, c) in &self.settings.coefficients {
            let (x, next) = (op(g.x[current], m * n), op(g.x[1 - current], m * n));
            // A = X Xᵀ (wide, [m, m]) or Xᵀ X (tall, [n, n]).
            let (first, second) = if tall { (x.t(), x) } else { (x, x.t()) };
            let k = if tall { m } else { n };
            gemm(
                gpu,
                Dims {
                    m: r,
                    n: r,
                    k,
                    batch: count,
                },
                first,
                second,
                gram,
                1.0,
                0.0,
            )?;
            // P = b A + c A A.
            gpu.copy(poly.ptr, gram.ptr, count * r * r * act.size())?;
            gemm(
                gpu,
                Dims {
                    m: r,
                    n: r,
                    k: r,
                    batch: count,
                },
                gram,
                gram,
                poly,
                c,
                b,
            )?;
            // X' = a X + P X (wide) or a X + X P (tall).
            gpu.copy(next.ptr, x.ptr, count * m * n * act.size())?;
            let (left, right, k) = if tall { (x, poly, n) } else { (poly, x, m) };
            gemm(
                gpu,
                Dims {
                    m,
                    n,
                    k,
                    batch: count,
                },
                left,
                right,
                next,
                1.0,
                a,
            )?;
            current = 1 - current;
        }
        Ok(current)
    }
}
