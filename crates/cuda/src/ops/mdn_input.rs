//! The SpacingMDN's input stage (kernels/mdn_input.cu): the memory bank's prefix tokens
//! `slots + slot_id` and the input projection of each spacing, into the f32 residual stream,
//! and its backward pass with deterministic sums.

use crate::error::EngineError;
use crate::gpu::{Arg, Gpu, Kernel};
use crate::kernels;
use crate::ops::int;
use crate::ops::reduce::Reduce;

/// Rows of the `B·T` data rows each backward block sums.
const ROWS_PER_GROUP: usize = 256;
const THREADS: u32 = 256;

/// Sizes: `batch` sequences of `seq` spacings after `slots` memory tokens, width `width`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputShape {
    pub batch: usize,
    pub seq: usize,
    pub slots: usize,
    pub width: usize,
}

impl InputShape {
    fn groups(&self) -> usize {
        (self.batch * self.seq).div_ceil(ROWS_PER_GROUP).max(1)
    }
}

/// Parameters by device address (f32, master weights); `slot_id` 0 when the bank has no
/// slot-ID embedding, `slots` 0 when there is no bank (`slots` = 0 in the shape).
#[derive(Clone, Copy, Debug)]
pub struct InputParams {
    pub w: u64,
    pub bias: u64,
    pub slots: u64,
    pub slot_id: u64,
}

pub struct MdnInput {
    forward: Kernel,
    partials: Kernel,
    slots: Kernel,
    reduce: Reduce,
}

impl MdnInput {
    pub fn new(gpu: &mut Gpu) -> Result<Self, EngineError> {
        let mut load = |name| gpu.kernel(&kernels::MDN_INPUT, &[], name);
        Ok(Self {
            forward: load("mdn_input_forward")?,
            partials: load("mdn_input_backward_partials")?,
            slots: load("mdn_input_backward_slots")?,
            reduce: Reduce::new(gpu)?,
        })
    }

    /// Length (f32 elements) of the backward pass's scratch: `[groups, 2, C]` partials and
    /// their `[2, C]` sum.
    pub fn partials_len(shape: InputShape) -> usize {
        (shape.groups() + 1) * 2 * shape.width
    }

    fn dims(shape: InputShape) -> Result<[Arg; 4], EngineError> {
        Ok([
            Arg::I32(int("batch", shape.batch)?),
            Arg::I32(int("seq", shape.seq)?),
            Arg::I32(int("slots", shape.slots)?),
            Arg::I32(int("width", shape.width)?),
        ])
    }

    /// `out` f32 `[B, M + T, C]` from the spacings `x` f32 `[B, T]`.
    pub fn forward(
        &self,
        gpu: &Gpu,
        x: u64,
        p: &InputParams,
        out: u64,
        shape: InputShape,
    ) -> Result<(), EngineError> {
        let total = shape.batch * (shape.slots + shape.seq) * shape.width;
        let blocks = total.div_ceil(THREADS as usize).clamp(1, 8192) as u32;
        let mut args = vec![
            Arg::Ptr(x),
            Arg::Ptr(p.w),
            Arg::Ptr(p.bias),
            Arg::Ptr(p.slots),
            Arg::Ptr(p.slot_id),
            Arg::Ptr(out),
        ];
        args.extend(Self::dims(shape)?);
        // SAFETY: the buffers of mdn_input.cu's layouts for `shape` (the caller's contract).
        unsafe { gpu.launch(&self.forward, (blocks, 1, 1), (THREADS, 1, 1), 0, &args) }
    }

    /// Parameter gradients (written) from the residual gradient `d` f32 `[B, M + T, C]`:
    /// `dw`, `dbias` f32 `[C]`, `dslots`, `dslot_id` f32 `[M, C]` (0 where absent).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        gpu: &Gpu,
        x: u64,
        d: u64,
        grads: &InputParams,
        partials: u64,
        shape: InputShape,
    ) -> Result<(), EngineError> {
        let groups = shape.groups();
        let mut args = vec![Arg::Ptr(x), Arg::Ptr(d), Arg::Ptr(partials)];
        args.extend(Self::dims(shape)?);
        args.push(Arg::I32(ROWS_PER_GROUP as i32));
        // SAFETY: as in `forward`; `partials` holds `partials_len(shape)` f32s.
        unsafe {
            gpu.launch(
                &self.partials,
                (groups as u32, 1, 1),
                (THREADS, 1, 1),
                0,
                &args,
            )
        }?;
        // partials [groups, 2C] summed over groups: [dw | dbias] would be 2C contiguous
        // outputs; they go to two separate tensors, so sum each half.
        let c = shape.width;
        self.reduce.sum_rows(
            gpu,
            partials,
            groups,
            2 * c,
            partials_out(partials, groups, c),
            false,
        )?;
        let summed = partials_out(partials, groups, c);
        gpu.copy(grads.w, summed, 4 * c)?;
        gpu.copy(grads.bias, summed + 4 * c as u64, 4 * c)?;
        if shape.slots > 0 {
            let n = shape.slots * c;
            let mut args = vec![Arg::Ptr(d), Arg::Ptr(grads.slots), Arg::Ptr(grads.slot_id)];
            args.extend(Self::dims(shape)?);
            // SAFETY: as above; dslots and dslot_id hold M·C f32s.
            unsafe {
                gpu.launch(
                    &self.slots,
                    (n.div_ceil(THREADS as usize) as u32, 1, 1),
                    (THREADS, 1, 1),
                    0,
                    &args,
                )
            }?;
        }
        Ok(())
    }
}

/// Where the summed `[2C]` row goes: just past the partials, inside the scratch (which
/// [`MdnInput::partials_len`] sizes with room for it).
fn partials_out(partials: u64, groups: usize, c: usize) -> u64 {
    partials + 4 * (groups * 2 * c) as u64
}
