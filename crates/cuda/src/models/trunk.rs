//! What the engine's two models share: the transformer trunk's activation plan. A step's
//! activations are laid out once, for its static shape, in the arena.
//!
//! Rows: the trunk runs over N = B·S rows (S positions per sequence: the GPT's T tokens, or
//! the SpacingMDN's M memory slots and T spacings); the head and the loss see the rows of
//! the data positions alone (all N for the GPT, B·T for the SpacingMDN).

use crate::arena::{DType, Layout, Slot};
use crate::error::EngineError;

/// The trunk's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrunkShape {
    pub layers: usize,
    pub heads: usize,
    pub width: usize,
    pub batch: usize,
    /// Positions per sequence S.
    pub positions: usize,
}

/// Head widths the attention kernels are built for.
pub const HEAD_WIDTHS: [usize; 2] = [32, 64];

/// Checks that `width` splits into `heads` heads the engine's attention runs, saying in one
/// line why not: what both models' shapes require of their trunk.
pub fn check_heads(width: usize, heads: usize) -> Result<(), EngineError> {
    let fail = |why: String| Err(EngineError::Unsupported(why));
    if !width.is_multiple_of(heads) {
        return fail(format!("width {width} is not a multiple of {heads} heads"));
    }
    let head_width = width / heads;
    if !HEAD_WIDTHS.contains(&head_width) {
        return fail(format!(
            "head width {head_width} (the engine's attention runs head widths {HEAD_WIDTHS:?})"
        ));
    }
    if !width.is_multiple_of(8) {
        return fail(format!("width {width} (the engine wants a multiple of 8)"));
    }
    Ok(())
}

impl TrunkShape {
    /// N = B·S.
    pub fn rows(&self) -> usize {
        self.batch * self.positions
    }
}

/// The head's buffers, by model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadShape {
    /// A language-model head over a vocabulary: ids and targets i32 [N], logits ACT [N, V].
    Tokens { vocab: usize },
    /// A mixture head: spacings x and targets y f32 [B·T], its output f32 [B·T, 3K] (the
    /// mixture's parameters keep f32's digits: a bf16 mean would be off by up to 2⁻⁸ of
    /// itself), that output's gradient ACT [B·T, 3K], and the per-sequence weight-gradient
    /// partials f32 [B, C, 3K].
    Mixture { seq: usize, components: usize },
}

/// The activations of one training step, each at its place in the arena. `act` is the
/// activation type (bf16, or f32 in the parity mode).
#[derive(Clone, Debug)]
pub struct Activations {
    /// The model's inputs and targets (see [`HeadShape`]).
    pub inputs: Slot,
    pub targets: Slot,
    /// The residual stream before each norm: `residual[i]` is norm `i`'s input, f32 [N, C];
    /// norms are numbered LN₁ of block 0, LN₂ of block 0, …, LN_f (2L + 1 in all).
    pub residual: Vec<Slot>,
    /// Each norm's output ACT [N, C] and statistics f32 [N].
    pub normed: Vec<Slot>,
    pub mean: Vec<Slot>,
    pub rstd: Vec<Slot>,
    /// q, k, v from the gemm, ACT [3, N, C] (transient: the attention saves its own inputs).
    pub qkv: Slot,
    /// Per block: the attention output y, ACT [N, C] (the o-projection's input).
    pub attn_out: Vec<Slot>,
    /// Per block: the MLP's pre-activation h W_fc + b_fc, ACT [N, 4C] (GELU's input).
    pub fc_pre: Vec<Slot>,
    /// The MLP's activation g = gelu(pre), ACT [N, 4C]: recomputed per block in the backward
    /// pass from `fc_pre` (transient, one buffer).
    pub fc_act: Slot,
    /// A branch output before its residual add (o-projection or MLP projection), ACT [N, C].
    pub branch: Slot,
    /// The head's output: logits ACT, overwritten by their gradient in the loss kernel; or the
    /// mixture's parameters before the head's bias, f32.
    pub head_out: Slot,
    /// The mixture head's output gradient, ACT (empty for the GPT, whose gradient overwrites
    /// its logits).
    pub head_grad: Slot,
    /// The head's weight-gradient partials (the mixture head's; empty for the GPT).
    pub head_partials: Slot,
    /// Per-row losses f32 and the mean loss f32 [1].
    pub row_loss: Slot,
    pub loss: Slot,
    /// Backward scratch: the residual gradient f32 [N, C]; a norm output's gradient ACT
    /// [N, C]; a branch output's gradient ACT [N, C] (the residual gradient in ACT, written
    /// by the norm's backward); the q, k, v gradients ACT [3, N, C]; an MLP gradient ACT
    /// [N, 4C].
    pub d_residual: Slot,
    pub d_normed: Slot,
    pub d_branch: Slot,
    pub d_qkv: Slot,
    pub d_fc: Slot,
}

impl Activations {
    /// Plans the activations of `trunk` with `head` in `layout`. The attention's own buffers
    /// (its permuted inputs, statistics and scratch) are planned by the attention op.
    pub fn plan(trunk: &TrunkShape, head: HeadShape, act: DType, layout: &mut Layout) -> Self {
        let (n, c, f) = (trunk.rows(), trunk.width, 4 * trunk.width);
        let norms = 2 * trunk.layers + 1;
        let per = |layout: &mut Layout,
                   what: &str,
                   count: usize,
                   len: usize,
                   dtype: DType|
         -> Vec<Slot> {
            (0..count)
                .map(|i| layout.push(format!("{what}.{i}"), len, dtype))
                .collect()
        };
        let (inputs, targets, head_out, head_grad, head_partials, data_rows) = match head {
            HeadShape::Tokens { vocab } => (
                layout.push("idx", n, DType::I32),
                layout.push("targets", n, DType::I32),
                layout.push("logits", n * vocab, act),
                layout.push("mixture_grad", 0, act),
                layout.push("head_partials", 0, DType::F32),
                n,
            ),
            HeadShape::Mixture { seq, components } => {
                let data = trunk.batch * seq;
                (
                    layout.push("x", data, DType::F32),
                    layout.push("y", data, DType::F32),
                    layout.push("mixture", data * 3 * components, DType::F32),
                    layout.push("mixture_grad", data * 3 * components, act),
                    layout.push(
                        "head_partials",
                        trunk.batch * c * 3 * components,
                        DType::F32,
                    ),
                    data,
                )
            }
        };
        Self {
            inputs,
            targets,
            residual: per(layout, "residual", norms, n * c, DType::F32),
            normed: per(layout, "normed", norms, n * c, act),
            mean: per(layout, "mean", norms, n, DType::F32),
            rstd: per(layout, "rstd", norms, n, DType::F32),
            qkv: layout.push("qkv", 3 * n * c, act),
            attn_out: per(layout, "attn_out", trunk.layers, n * c, act),
            fc_pre: per(layout, "fc_pre", trunk.layers, n * f, act),
            fc_act: layout.push("fc_act", n * f, act),
            branch: layout.push("branch", n * c, act),
            head_out,
            head_grad,
            head_partials,
            row_loss: layout.push("row_loss", data_rows, DType::F32),
            loss: layout.push("loss", 1, DType::F32),
            d_residual: layout.push("d_residual", n * c, DType::F32),
            d_normed: layout.push("d_normed", n * c, act),
            d_branch: layout.push("d_branch", n * c, act),
            d_qkv: layout.push("d_qkv", 3 * n * c, act),
            d_fc: layout.push("d_fc", n * f, act),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_fits_both_heads() {
        let trunk = TrunkShape {
            layers: 2,
            heads: 4,
            width: 128,
            batch: 3,
            positions: 58,
        };
        let mut layout = Layout::new();
        let gpt = Activations::plan(
            &trunk,
            HeadShape::Tokens { vocab: 256 },
            DType::BF16,
            &mut layout,
        );
        assert_eq!(gpt.residual.len(), 5);
        assert_eq!(gpt.head_out.len, 3 * 58 * 256);
        assert_eq!(gpt.head_grad.len, 0);
        assert_eq!(
            (gpt.inputs.dtype, gpt.residual[0].dtype, gpt.normed[0].dtype),
            (DType::I32, DType::F32, DType::BF16)
        );
        let mdn = Activations::plan(
            &trunk,
            HeadShape::Mixture {
                seq: 50,
                components: 8,
            },
            DType::BF16,
            &mut layout,
        );
        assert_eq!(mdn.inputs.len, 150);
        assert_eq!(mdn.row_loss.len, 150);
        assert_eq!(mdn.head_out.len, 150 * 24);
        assert_eq!(
            (mdn.head_out.dtype, mdn.head_grad.dtype, mdn.head_grad.len),
            (DType::F32, DType::BF16, 150 * 24)
        );
        assert_eq!(mdn.head_partials.len, 3 * 128 * 24);
        assert_eq!(mdn.fc_pre[1].len, 3 * 58 * 512);
    }
}
