//! Muon and TEON on the device (the semantics of `spectral::optim::muon` and
//! `spectral::optim::teon`, `torch.optim.Muon`'s form): for each hidden matrix with clipped
//! gradient `G` (burn layout `[d_in, d_out]`),
//!
//! ```text
//! B ← μB + G;   D = G + μB (Nesterov) or B
//! X₀ = D / (‖D‖_F + 1e-7);   X ← a X + (b A + c A²) X with A = X Xᵀ (wide) — or
//!                            X ← a X + X (b A + c A²) with A = Xᵀ X (tall) — per step
//! W ← W (1 − lr λ) − lr s X,   s = √max(1, d_out / d_in)
//! ```
//!
//! TEON runs the same steps on stacks: K same-shape matrices `[d_in, d_out]` of adjacent layers
//! (chosen by the caller, [`MuonPlan::stacked`]) one above the other, `[K·d_in, d_out]` — the
//! mode-1 stack of PyTorch's `[out, in]` layout, transposed. The momentum is per matrix; the
//! Frobenius norm and the Newton–Schulz iteration are per stack; the update is per matrix again,
//! each block of the stack scaled by `√K·s(d_in, d_out)`. Since K row-major `[d_in, d_out]`
//! matrices gathered one after another are already a row-major `[K·d_in, d_out]` stack, Muon is
//! the case K = 1 of the same code.
//!
//! Stacks (or matrices) of one `(K, d_in, d_out)` are iterated together: one strided-batched
//! gemm per product per step, on iterates of the activation type (bf16 as muon.py, or f32 in
//! the parity mode), with f32 accumulation.

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

/// The matrices of one shape `[rows, cols]` (burn's `[d_in, d_out]`) that are iterated in
/// stacks of the same size `stack`, and their scratch in the arena.
#[derive(Clone, Debug)]
pub struct ShapeGroup {
    pub rows: usize,
    pub cols: usize,
    /// Matrices per stack: 1 for Muon's matrices, K for TEON's `[K·rows, cols]` stacks.
    pub stack: usize,
    /// Each matrix's first element in the flat parameter buffers, stack after stack: member
    /// `j` of stack `s` is `offsets[s·stack + j]` (the block at rows `j·rows..(j+1)·rows`).
    pub offsets: Vec<i64>,
    /// The offsets on the device, i64 [count] (the kernels read matrix i's place there).
    offsets_slot: Slot,
    /// The momentum direction, f32 [count, rows·cols] = [stacks, stack·rows, cols].
    direction: Slot,
    /// Frobenius norms of the stacks, f32 [stacks].
    norms: Slot,
    /// Ping-pong iterates, ACT [stacks, stack·rows, cols].
    x: [Slot; 2],
    /// The Gram matrix and the polynomial in it, ACT [stacks, r, r], r = min(stack·rows, cols).
    gram: Slot,
    poly: Slot,
}

impl ShapeGroup {
    /// Elements of one matrix.
    fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Matrices in the group.
    pub fn count(&self) -> usize {
        self.offsets.len()
    }

    /// Stacks in the group (each iterated as one `[stack·rows, cols]` matrix).
    pub fn stacks(&self) -> usize {
        self.count() / self.stack
    }

    /// The factor of each matrix's block of the orthogonalized stack: `√K·s(rows, cols)`.
    pub fn scale(&self) -> f32 {
        update_scale(self.stack, self.rows, self.cols)
    }
}

/// The scale of the update of a `[d_in, d_out]` matrix that is one of `k` blocks of an
/// orthogonalized stack (k = 1: Muon): `√k·√max(1, d_out/d_in)`, Keller Jordan's shape scale
/// in burn's layout times TEON's `√k` (computed in f64 and rounded once, as burn's).
pub fn update_scale(k: usize, d_in: usize, d_out: usize) -> f32 {
    ((k as f64).sqrt() * (d_out as f64 / d_in as f64).max(1.0).sqrt()) as f32
}

/// Muon's (or TEON's) plan: the [`Group::Matrix`] tensors of a parameter table in stacks —
/// TEON's, or each matrix alone — and the stacks grouped by `(stack size, shape)` in order of
/// first appearance, each group with its scratch planned in a layout.
#[derive(Clone, Debug)]
pub struct MuonPlan {
    pub groups: Vec<ShapeGroup>,
    act: DType,
}

impl MuonPlan {
    /// Muon: every matrix of `table` alone, grouped by shape.
    pub fn new(table: &ParamTable, act: DType, layout: &mut Layout) -> Self {
        Self::stacked(table, &[], act, layout).expect("no stacks to check")
    }

    /// TEON: each entry of `stacks` names K ≥ 1 matrices of `table` ([`Group::Matrix`], one
    /// shape `[d_in, d_out]`), in stack order, iterated as one `[K·d_in, d_out]` matrix; every
    /// matrix in no stack is iterated alone (Muon). The caller picks the stacks
    /// (`spectral::optim::teon::teon_groups` does for a training config). Names the first
    /// unknown, non-matrix, repeated or mis-shaped member.
    pub fn stacked(
        table: &ParamTable,
        stacks: &[Vec<String>],
        act: DType,
        layout: &mut Layout,
    ) -> Result<Self, EngineError> {
        // (stack size, rows, cols, offsets) of each unit: the stacks, then the matrices left.
        let mut units: Vec<(usize, usize, usize, Vec<i64>)> = Vec::new();
        let mut taken: Vec<&str> = Vec::new();
        for names in stacks {
            let mut shape = None;
            let mut offsets = Vec::with_capacity(names.len());
            for name in names {
                let p = table
                    .params()
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| {
                        EngineError::Unsupported(format!("a stack names {name}, not a parameter"))
                    })?;
                if p.group != Group::Matrix {
                    return Err(EngineError::Unsupported(format!(
                        "a stack names {name}, which is not a hidden matrix"
                    )));
                }
                if taken.contains(&name.as_str()) {
                    return Err(EngineError::Unsupported(format!("{name} is in two stacks")));
                }
                let dims = (p.shape[0], p.shape[1]);
                if *shape.get_or_insert(dims) != dims {
                    return Err(EngineError::Unsupported(format!(
                        "a stack of {names:?} mixes the shapes {:?} and {dims:?}",
                        shape.expect("set")
                    )));
                }
                taken.push(name);
                offsets.push(p.offset as i64);
            }
            if let Some((rows, cols)) = shape {
                units.push((names.len(), rows, cols, offsets));
            }
        }
        for p in table.params().iter().filter(|p| p.group == Group::Matrix) {
            if !taken.contains(&p.name.as_str()) {
                units.push((1, p.shape[0], p.shape[1], vec![p.offset as i64]));
            }
        }
        let mut keyed: Vec<(usize, usize, usize, Vec<i64>)> = Vec::new();
        for (stack, rows, cols, offsets) in units {
            match keyed
                .iter_mut()
                .find(|g| (g.0, g.1, g.2) == (stack, rows, cols))
            {
                Some(g) => g.3.extend(offsets),
                None => keyed.push((stack, rows, cols, offsets)),
            }
        }
        let groups = keyed
            .into_iter()
            .map(|(stack, rows, cols, offsets)| {
                let (n, len) = (offsets.len(), rows * cols);
                let stacks = n / stack;
                let r = (stack * rows).min(cols);
                let name = |what: &str| format!("muon.{stack}x{rows}x{cols}.{what}");
                ShapeGroup {
                    offsets_slot: layout.push(name("offsets"), 2 * n, DType::I32),
                    direction: layout.push(name("direction"), n * len, DType::F32),
                    norms: layout.push(name("norms"), stacks, DType::F32),
                    x: [
                        layout.push(name("x0"), n * len, act),
                        layout.push(name("x1"), n * len, act),
                    ],
                    gram: layout.push(name("gram"), stacks * r * r, act),
                    poly: layout.push(name("poly"), stacks * r * r, act),
                    rows,
                    cols,
                    stack,
                    offsets,
                }
            })
            .collect();
        Ok(Self { groups, act })
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

    /// Enqueues one Muon (TEON) step over every matrix (launches and gemms only: capturable).
    pub fn step(&self, gpu: &Gpu, arena: &Arena, flat: FlatBuffers) -> Result<(), EngineError> {
        for g in &self.plan.groups {
            let (count, len) = (g.count(), g.len());
            // Per matrix: momentum and update. Per stack: norm and normalization.
            let (stacks, stack_len) = (g.stacks(), g.stack * len);
            let blocks_x = (len.div_ceil(THREADS as usize) as u32).min(1024);
            let grid = (blocks_x, count as u32, 1);
            let stack_blocks_x = (stack_len.div_ceil(THREADS as usize) as u32).min(1024);
            let stack_grid = (stack_blocks_x, stacks as u32, 1);
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
                    (stacks as u32, 1, 1),
                    (1024, 1, 1),
                    0,
                    &[direction, norms, Arg::I64(stack_len as i64)],
                )?;
                gpu.launch(
                    &self.normalize,
                    stack_grid,
                    (THREADS, 1, 1),
                    0,
                    &[
                        direction,
                        norms,
                        Arg::Ptr(arena.ptr(g.x[0])),
                        Arg::I64(stack_len as i64),
                        Arg::F32(NORM_EPS),
                    ],
                )?;
            }
            let last = self.newton_schulz(gpu, arena, g)?;
            let scale = g.scale();
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
        // Each stack is one [m, n] = [stack·rows, cols] matrix.
        let (m, n, count) = (g.stack * g.rows, g.cols, g.stacks());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3-layer transformer's matrices in burn's layout (width 8, MLP 32) and a bias.
    fn table() -> ParamTable {
        let mut list = Vec::new();
        for l in 0..3 {
            for (name, shape) in [
                ("attn.q", [8, 8]),
                ("attn.k", [8, 8]),
                ("attn.v", [8, 8]),
                ("attn.o", [8, 8]),
                ("mlp.fc", [8, 32]),
                ("mlp.proj", [32, 8]),
            ] {
                list.push((
                    format!("blocks.{l}.{name}.weight"),
                    shape.to_vec(),
                    Group::Matrix,
                ));
            }
            list.push((format!("blocks.{l}.attn.q.bias"), vec![8], Group::Undecayed));
        }
        ParamTable::new(list, &[])
    }

    fn names(table: &ParamTable, offsets: &[i64]) -> Vec<String> {
        offsets
            .iter()
            .map(|&o| {
                let p = table.params().iter().find(|p| p.offset as i64 == o);
                p.expect("an offset of a parameter").name.clone()
            })
            .collect()
    }

    fn pair(what: &str) -> Vec<String> {
        (0..2)
            .map(|l| format!("blocks.{l}.{what}.weight"))
            .collect()
    }

    #[test]
    fn teon_stacks_pairs_and_leaves_the_rest_to_muon() {
        let table = table();
        let stacks = [pair("attn.q"), pair("attn.k"), pair("attn.v")];
        let mut layout = Layout::new();
        let plan = MuonPlan::stacked(&table, &stacks, DType::F32, &mut layout).unwrap();
        let keys: Vec<(usize, usize, usize)> = plan
            .groups
            .iter()
            .map(|g| (g.stack, g.rows, g.cols))
            .collect();
        assert_eq!(keys, [(2, 8, 8), (1, 8, 8), (1, 8, 32), (1, 32, 8)]);
        // The stacks, member after member: layer 0 above layer 1.
        let teon = &plan.groups[0];
        assert_eq!(names(&table, &teon.offsets), stacks.concat());
        assert_eq!(teon.stacks(), 3);
        // The odd layer's Q, K, V and every O are Muon's, in table order.
        let muon = &plan.groups[1];
        let alone: Vec<String> = [
            "0.attn.o", "1.attn.o", "2.attn.q", "2.attn.k", "2.attn.v", "2.attn.o",
        ]
        .map(|x| format!("blocks.{x}.weight"))
        .to_vec();
        assert_eq!(names(&table, &muon.offsets), alone);
        assert_eq!(plan.groups[2].count() + plan.groups[3].count(), 6);
        // Every matrix exactly once; the bias in no group.
        let mut all: Vec<String> = plan
            .groups
            .iter()
            .flat_map(|g| names(&table, &g.offsets))
            .collect();
        all.sort();
        let mut want: Vec<String> = table
            .params()
            .iter()
            .filter(|p| p.group == Group::Matrix)
            .map(|p| p.name.clone())
            .collect();
        want.sort();
        assert_eq!(all, want);
        // Scales: √K times Keller Jordan's √max(1, d_out/d_in).
        assert_eq!(teon.scale(), 2f32.sqrt());
        assert_eq!(muon.scale(), 1.0);
        assert_eq!(plan.groups[2].scale(), 2.0);
        assert_eq!(plan.groups[3].scale(), 1.0);
        // A stack's norm and Newton–Schulz scratch are per stack of [16, 8]: Gram [8, 8].
        assert_eq!(teon.norms.len, 3);
        assert_eq!(teon.gram.len, 3 * 8 * 8);
        assert_eq!(teon.x[0].len, 6 * 64);
        assert_eq!(teon.direction.len, 6 * 64);
    }

    #[test]
    fn muon_is_teon_without_stacks() {
        let table = table();
        let (mut a, mut b) = (Layout::new(), Layout::new());
        let muon = MuonPlan::new(&table, DType::BF16, &mut a);
        let teon = MuonPlan::stacked(&table, &[], DType::BF16, &mut b).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        let shapes: Vec<(usize, usize, usize, usize)> = muon
            .groups
            .iter()
            .map(|g| (g.stack, g.rows, g.cols, g.count()))
            .collect();
        assert_eq!(shapes, [(1, 8, 8, 12), (1, 8, 32, 3), (1, 32, 8, 3)]);
        for (m, t) in muon.groups.iter().zip(&teon.groups) {
            assert_eq!(m.offsets, t.offsets);
        }
        assert_eq!(update_scale(1, 256, 1024), 2.0);
        assert_eq!(update_scale(2, 1024, 256), 2f32.sqrt());
        assert_eq!(update_scale(4, 64, 256), 4.0);
    }

    #[test]
    fn a_stack_that_does_not_fit_is_named() {
        let table = table();
        let plan = |stacks: &[Vec<String>]| {
            MuonPlan::stacked(&table, stacks, DType::F32, &mut Layout::new())
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let error = plan(&[vec![
            "blocks.0.attn.q.weight".into(),
            "blocks.0.mlp.fc.weight".into(),
        ]]);
        assert!(error.contains("mixes the shapes"), "{error}");
        let error = plan(&[pair("attn.q"), pair("attn.q")]);
        assert!(
            error.contains("blocks.0.attn.q.weight is in two stacks"),
            "{error}"
        );
        let error = plan(&[vec!["blocks.0.attn.q.bias".into()]]);
        assert!(error.contains("not a hidden matrix"), "{error}");
        let error = plan(&[vec!["blocks.9.attn.q.weight".into()]]);
        assert!(error.contains("blocks.9.attn.q.weight"), "{error}");
    }
}
