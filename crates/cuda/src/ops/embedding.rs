//! Token and position embeddings (`kernels/embedding.cu`):
//!
//! ```text
//! forward:   out[n, :] = wte[idx[n], :] + wpe[n mod T, :]        out f32 [N, C] (the residual stream)
//! backward:  dwte[v, :] += Σ_{n : idx[n] = v} dout[n, :]          dwte f32 [V, C]
//!            dwpe[t, :]  = Σ_b dout[b·T + t, :]                   dwpe f32 [T, C]
//! ```
//!
//! with `idx` i32 `[N]` (N = B·T rows, row n at position n mod T), `wte` ACT `[V, C]` and
//! `wpe` ACT `[T, C]` the compute copies, `dout` f32 `[N, C]` the residual stream's gradient.
//! An id outside `[0, V)` embeds as zeros and receives no gradient.
//!
//! The backward pass is deterministic without float atomics: a stable counting sort orders
//! the rows by id, each id's rows are summed in segments of 256 by one block each, and each id
//! adds its segments in order (`dwte` accumulates, as a tied `wte` also gets the language
//! head's gradient). `dwpe` is a column sum over the B batch rows of `[B, T·C]`.

use crate::arena::DType;
use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::reduce::Reduce;
use crate::ops::{act_defines, int};

/// The largest vocabulary (`MAX_VOCAB`): the sort's per-id counts live in shared memory.
pub const MAX_VOCAB: usize = 1024;
/// Rows a sort block takes (`SORT_ROWS`).
const SORT_ROWS: usize = 2048;
/// Rows a segment sums at most (`SEGMENT_ROWS`).
const SEGMENT_ROWS: usize = 256;

/// The sizes of an embedding: `n = B·T` rows, positions `t`, vocabulary `v`, width `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub n: usize,
    pub t: usize,
    pub v: usize,
    pub c: usize,
}

/// The tensors of the backward pass, by device address.
#[derive(Clone, Copy, Debug)]
pub struct Backward {
    /// Token ids, i32 `[N]`.
    pub idx: u64,
    /// The gradient of the forward output, f32 `[N, C]`.
    pub dout: u64,
    /// The token table's gradient, f32 `[V, C]`, accumulated (`+=`).
    pub dwte: u64,
    /// The position table's gradient, f32 `[T, C]`, written (0: no position table).
    pub dwpe: u64,
    /// Scratch, 4-byte elements `[Embedding::workspace_len(shape)]`, 16-byte aligned.
    pub workspace: u64,
}

/// Where the backward pass's scratch lies inside the workspace, in 4-byte elements, each
/// region 64-element (256-byte) aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Workspace {
    groups: usize,
    segments: usize,
    counts: usize,
    offsets: usize,
    seg_start: usize,
    sorted: usize,
    partials: usize,
    len: usize,
}

impl Workspace {
    fn plan(s: Shape) -> Self {
        let groups = s.n.div_ceil(SORT_ROWS).max(1);
        // Each id's segments: ⌈rows/256⌉ ≤ rows/256 + 1, so all of them ≤ N/256 + V.
        let segments = s.n.div_ceil(SEGMENT_ROWS) + s.v;
        let mut end = 0;
        let mut region = |len: usize| {
            let at = end;
            end = (at + len).next_multiple_of(64);
            at
        };
        let counts = region(groups * s.v);
        let offsets = region(s.v + 1);
        let seg_start = region(s.v + 1);
        let sorted = region(s.n);
        let partials = region(segments * s.c);
        Self {
            groups,
            segments,
            counts,
            offsets,
            seg_start,
            sorted,
            partials,
            len: end,
        }
    }
}

/// The embedding kernels, for one activation type of the tables.
#[derive(Clone)]
pub struct Embedding {
    forward: Kernel,
    count: Kernel,
    scan: Kernel,
    scatter: Kernel,
    segment_sums: Kernel,
    fixup: Kernel,
    reduce: Reduce,
}

fn check(s: Shape) -> Result<(), EngineError> {
    if !(1..=MAX_VOCAB).contains(&s.v) {
        return Err(EngineError::Unsupported(format!(
            "an embedding of {} ids (1 to {MAX_VOCAB})",
            s.v
        )));
    }
    if s.t == 0 || !s.n.is_multiple_of(s.t) {
        return Err(EngineError::Unsupported(format!(
            "{} embedding rows in sequences of {}",
            s.n, s.t
        )));
    }
    int("rows", s.n)?;
    int("columns", s.c)?;
    Ok(())
}

impl Embedding {
    pub fn new(gpu: &mut Gpu, act: DType) -> Result<Self, EngineError> {
        let defines = act_defines(act)?;
        let mut load = |name| gpu.kernel(&kernels::EMBEDDING, &defines, name);
        Ok(Self {
            forward: load("embedding_forward")?,
            count: load("embedding_count")?,
            scan: load("embedding_scan")?,
            scatter: load("embedding_scatter")?,
            segment_sums: load("embedding_segment_sums")?,
            fixup: load("embedding_fixup")?,
            reduce: Reduce::new(gpu)?,
        })
    }

    /// Length, in 4-byte elements, of [`Backward::workspace`] for `shape`: the sort's counts
    /// and offsets, the sorted row order and the segment sums `[N/256 + V, C]`.
    pub fn workspace_len(shape: Shape) -> usize {
        Workspace::plan(shape).len
    }

    /// `out[n, :] = wte[idx[n], :] + wpe[n mod T, :]`: `idx` i32 `[N]`, `wte` ACT `[V, C]`,
    /// `wpe` ACT `[T, C]` (0: none), `out` f32 `[N, C]`.
    pub fn forward(
        &self,
        gpu: &Gpu,
        idx: u64,
        wte: u64,
        wpe: u64,
        out: u64,
        shape: Shape,
    ) -> Result<(), EngineError> {
        check(shape)?;
        let Shape { n, t, v, c } = shape;
        if n == 0 || c == 0 {
            return Ok(());
        }
        // SAFETY: the tensors as documented, for `shape` (the caller's contract).
        unsafe {
            gpu.launch(
                &self.forward,
                (n.div_ceil(8) as u32, 1, 1),
                (256, 1, 1),
                0,
                &[
                    Arg::Ptr(idx),
                    Arg::Ptr(wte),
                    Arg::Ptr(wpe),
                    Arg::Ptr(out),
                    Arg::I32(n as i32),
                    Arg::I32(t as i32),
                    Arg::I32(v as i32),
                    Arg::I32(c as i32),
                ],
            )
        }
    }

    /// `dwte += ` the rows of `dout` summed by id, `dwpe =` `dout` summed over the batch
    /// (module doc), deterministically.
    pub fn backward(&self, gpu: &Gpu, b: &Backward, shape: Shape) -> Result<(), EngineError> {
        check(shape)?;
        let Shape { n, t, v, c } = shape;
        if c == 0 {
            return Ok(());
        }
        let w = Workspace::plan(shape);
        let at = |offset: usize| b.workspace + 4 * offset as u64;
        let (counts, offsets, seg_start) = (at(w.counts), at(w.offsets), at(w.seg_start));
        let (sorted, partials) = (at(w.sorted), at(w.partials));
        let (n32, v32, c32) = (n as i32, v as i32, c as i32);
        let tiles = c.div_ceil(256) as u32;
        // SAFETY: idx holds n i32s, dout n × c f32s, dwte v × c f32s; the workspace regions
        // are sized by `Workspace::plan` for this shape; each kernel's grid is the one its
        // source describes.
        unsafe {
            gpu.launch(
                &self.count,
                (w.groups as u32, 1, 1),
                (256, 1, 1),
                0,
                &[
                    Arg::Ptr(b.idx),
                    Arg::I32(n32),
                    Arg::I32(v32),
                    Arg::Ptr(counts),
                ],
            )?;
            gpu.launch(
                &self.scan,
                (1, 1, 1),
                (MAX_VOCAB as u32, 1, 1),
                0,
                &[
                    Arg::Ptr(counts),
                    Arg::I32(w.groups as i32),
                    Arg::I32(v32),
                    Arg::Ptr(offsets),
                    Arg::Ptr(seg_start),
                ],
            )?;
            gpu.launch(
                &self.scatter,
                (w.groups as u32, 1, 1),
                (256, 1, 1),
                0,
                &[
                    Arg::Ptr(b.idx),
                    Arg::I32(n32),
                    Arg::I32(v32),
                    Arg::Ptr(counts),
                    Arg::Ptr(offsets),
                    Arg::Ptr(sorted),
                ],
            )?;
            gpu.launch(
                &self.segment_sums,
                (w.segments as u32, tiles, 1),
                (32, 8, 1),
                0,
                &[
                    Arg::Ptr(b.dout),
                    Arg::Ptr(sorted),
                    Arg::Ptr(offsets),
                    Arg::Ptr(seg_start),
                    Arg::I32(v32),
                    Arg::I32(c32),
                    Arg::Ptr(partials),
                ],
            )?;
            gpu.launch(
                &self.fixup,
                (tiles, v as u32, 1),
                (256, 1, 1),
                0,
                &[
                    Arg::Ptr(partials),
                    Arg::Ptr(seg_start),
                    Arg::I32(v32),
                    Arg::I32(c32),
                    Arg::Ptr(b.dwte),
                ],
            )?;
        }
        if b.dwpe != 0 {
            self.reduce
                .sum_rows(gpu, b.dout, n / t, t * c, b.dwpe, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_regions_are_aligned_and_disjoint() {
        let shape = Shape {
            n: 131_071,
            t: 1,
            v: 256,
            c: 768,
        };
        let w = Workspace::plan(shape);
        let starts = [w.counts, w.offsets, w.seg_start, w.sorted, w.partials];
        let lens = [w.groups * 256, 257, 257, shape.n, w.segments * 768];
        for i in 0..starts.len() {
            assert_eq!(starts[i] % 64, 0);
            let end = starts[i] + lens[i];
            assert!(end <= starts.get(i + 1).copied().unwrap_or(w.len));
        }
        assert_eq!(w.groups, 64);
        assert_eq!(w.segments, 512 + 256);
    }
}
