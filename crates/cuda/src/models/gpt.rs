//! The char-GPT (`spectral_models::gpt`) on the engine: nanoGPT's pre-norm blocks with biases,
//! learned positions, exact-erf GELU, and the head tied to the token embedding.
//!
//! ```text
//! idx [B, T] → r₀ = tok_emb[idx] + pos_emb[t]                       f32 [N, C], N = B·T
//! block l:  h = LN₁(r)  → q, k, v = h W_{q,k,v} (one strided gemm)  ACT [3, N, C]
//!           y = causal attention(q + b_q, k + b_k, v + b_v)          ACT [N, C]
//!           r ← r + (y W_o + b_o);  h = LN₂(r)                       (the add fused into LN₂)
//!           g = gelu(h W_fc + b_fc)                                  ACT [N, 4C]
//!           r ← r + (g W_proj + b_proj)                              (fused into the next LN)
//! h_f = LN_f(r) → logits = h_f tok_embᵀ                              ACT [N, V]
//! loss = mean cross-entropy(logits, targets)                         f32 [1]
//! ```
//!
//! The residual stream `r` is f32 (as under PyTorch's autocast, where the sum of an f32
//! stream and a bf16 branch is f32); matrices, activations and their gradients are `ACT`
//! (bf16, or f32 in the parity mode); weight gradients are f32.

use crate::arena::{DType, Layout, Slot};
use crate::error::EngineError;
use crate::params::{Group, ParamTable};

/// A char-GPT's dimensions and its static batch shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptShape {
    /// Vocabulary V.
    pub vocab: usize,
    /// Blocks L.
    pub layers: usize,
    /// Heads H.
    pub heads: usize,
    /// Residual width C.
    pub width: usize,
    /// Rows of the position table (the model's context length).
    pub block_size: usize,
    /// Sequences per step B.
    pub batch: usize,
    /// Tokens per sequence T (≤ `block_size`).
    pub seq: usize,
}

/// Head widths the attention kernels are built for.
pub const HEAD_WIDTHS: [usize; 2] = [32, 64];

impl GptShape {
    /// Rows of every activation: N = B·T.
    pub fn rows(&self) -> usize {
        self.batch * self.seq
    }

    /// Head width D = C / H.
    pub fn head_width(&self) -> usize {
        self.width / self.heads
    }

    /// Checks the shape is one the engine runs, saying in one line why not.
    pub fn validate(&self) -> Result<(), EngineError> {
        let fail = |why: String| Err(EngineError::Unsupported(why));
        if [
            self.vocab,
            self.layers,
            self.heads,
            self.width,
            self.batch,
            self.seq,
        ]
        .contains(&0)
        {
            return fail(format!("a GPT with a zero dimension: {self:?}"));
        }
        if !self.width.is_multiple_of(self.heads) {
            return fail(format!(
                "width {} is not a multiple of {} heads",
                self.width, self.heads
            ));
        }
        if !HEAD_WIDTHS.contains(&self.head_width()) {
            return fail(format!(
                "head width {} (the engine's attention runs head widths {HEAD_WIDTHS:?})",
                self.head_width()
            ));
        }
        if self.seq > self.block_size {
            return fail(format!(
                "sequences of {} tokens, longer than the context {}",
                self.seq, self.block_size
            ));
        }
        if !self.width.is_multiple_of(8) {
            return fail(format!(
                "width {} (the engine wants a multiple of 8)",
                self.width
            ));
        }
        Ok(())
    }

    /// The parameters, named and shaped as `spectral_models::gpt::Gpt`'s (biases on, learned
    /// positions, tied head). Each block's q, k, v weights are one stack (a strided batch of
    /// three gemms).
    pub fn params(&self) -> ParamTable {
        let (v, c, f) = (self.vocab, self.width, 4 * self.width);
        let mut list = vec![
            ("tok_emb.weight".to_string(), vec![v, c], Group::Decayed),
            (
                "pos_emb.weight".to_string(),
                vec![self.block_size, c],
                Group::Decayed,
            ),
        ];
        let mut stacks = Vec::new();
        for l in 0..self.layers {
            let p =
                |name: &str, shape: Vec<usize>, group| (format!("blocks.{l}.{name}"), shape, group);
            list.extend([
                p("ln1.gamma", vec![c], Group::Undecayed),
                p("ln1.beta", vec![c], Group::Undecayed),
                p("attn.q.weight", vec![c, c], Group::Matrix),
                p("attn.q.bias", vec![c], Group::Undecayed),
                p("attn.k.weight", vec![c, c], Group::Matrix),
                p("attn.k.bias", vec![c], Group::Undecayed),
                p("attn.v.weight", vec![c, c], Group::Matrix),
                p("attn.v.bias", vec![c], Group::Undecayed),
                p("attn.o.weight", vec![c, c], Group::Matrix),
                p("attn.o.bias", vec![c], Group::Undecayed),
                p("ln2.gamma", vec![c], Group::Undecayed),
                p("ln2.beta", vec![c], Group::Undecayed),
                p("mlp.fc.weight", vec![c, f], Group::Matrix),
                p("mlp.fc.bias", vec![f], Group::Undecayed),
                p("mlp.proj.weight", vec![f, c], Group::Matrix),
                p("mlp.proj.bias", vec![c], Group::Undecayed),
            ]);
            stacks.push(
                ["q", "k", "v"]
                    .map(|x| format!("blocks.{l}.attn.{x}.weight"))
                    .to_vec(),
            );
        }
        list.push(("ln_f.gamma".into(), vec![c], Group::Undecayed));
        list.push(("ln_f.beta".into(), vec![c], Group::Undecayed));
        ParamTable::new(list, &stacks)
    }
}

/// The activations of one training step, each at its place in the arena. `act` is the
/// activation type (bf16, or f32 in the parity mode).
#[derive(Clone, Debug)]
pub struct GptActivations {
    /// Token ids and next-token targets, i32 [N].
    pub idx: Slot,
    pub targets: Slot,
    /// The residual stream before each norm: `residual[i]` is LN `i`'s input, f32 [N, C];
    /// norms are numbered LN₁ of block 0, LN₂ of block 0, …, LN_f (2L + 1 in all).
    pub residual: Vec<Slot>,
    /// Each norm's output ACT [N, C] and statistics f32 [N].
    pub normed: Vec<Slot>,
    pub mean: Vec<Slot>,
    pub rstd: Vec<Slot>,
    /// Per block: q, k, v from the gemm, ACT [3, N, C] (transient: the attention saves its own
    /// inputs).
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
    /// Logits ACT [N, V]; overwritten by their gradient in the loss kernel.
    pub logits: Slot,
    /// Per-row losses f32 [N] and the mean loss f32 [1].
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

impl GptActivations {
    /// Plans the activations of `shape` in `layout`. The attention's own buffers (its permuted
    /// inputs, statistics and scratch) are planned by the attention op.
    pub fn plan(shape: &GptShape, act: DType, layout: &mut Layout) -> Self {
        let (n, c, f, v) = (shape.rows(), shape.width, 4 * shape.width, shape.vocab);
        let norms = 2 * shape.layers + 1;
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
        Self {
            idx: layout.push("idx", n, DType::I32),
            targets: layout.push("targets", n, DType::I32),
            residual: per(layout, "residual", norms, n * c, DType::F32),
            normed: per(layout, "normed", norms, n * c, act),
            mean: per(layout, "mean", norms, n, DType::F32),
            rstd: per(layout, "rstd", norms, n, DType::F32),
            qkv: layout.push("qkv", 3 * n * c, act),
            attn_out: per(layout, "attn_out", shape.layers, n * c, act),
            fc_pre: per(layout, "fc_pre", shape.layers, n * f, act),
            fc_act: layout.push("fc_act", n * f, act),
            branch: layout.push("branch", n * c, act),
            logits: layout.push("logits", n * v, act),
            row_loss: layout.push("row_loss", n, DType::F32),
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

    pub(crate) fn small() -> GptShape {
        GptShape {
            vocab: 256,
            layers: 2,
            heads: 4,
            width: 128,
            block_size: 64,
            batch: 3,
            seq: 50,
        }
    }

    #[test]
    fn the_parameter_count_is_the_models_closed_form() {
        // spectral_models::gpt's closed form with biases, learned positions, tied head:
        // V·C + block_size·C + L·(12C² + 13C) + 2C.
        for shape in [
            small(),
            GptShape {
                layers: 12,
                heads: 12,
                width: 768,
                block_size: 256,
                ..small()
            },
        ] {
            let (v, c, l) = (shape.vocab, shape.width, shape.layers);
            let want = v * c + shape.block_size * c + l * (12 * c * c + 13 * c) + 2 * c;
            assert_eq!(shape.params().count(), want);
        }
        // GPT-2 small's shape: the count bench/train_ref.py asserts against.
        let gpt2 = GptShape {
            layers: 12,
            heads: 12,
            width: 768,
            block_size: 256,
            ..small()
        };
        assert_eq!(gpt2.params().count(), 85_449_216);
    }

    #[test]
    fn qkv_weights_are_one_stack() {
        let table = small().params();
        let q = table.get("blocks.1.attn.q.weight").offset;
        assert_eq!(table.get("blocks.1.attn.k.weight").offset, q + 128 * 128);
        assert_eq!(
            table.get("blocks.1.attn.v.weight").offset,
            q + 2 * 128 * 128
        );
    }

    #[test]
    fn shapes_the_engine_cannot_run_are_refused_in_one_line() {
        assert!(small().validate().is_ok());
        for (bad, says) in [
            (
                GptShape {
                    heads: 3,
                    ..small()
                },
                "not a multiple",
            ),
            (
                GptShape {
                    heads: 8,
                    ..small()
                },
                "head width 16",
            ),
            (GptShape { seq: 65, ..small() }, "longer than the context"),
            (
                GptShape {
                    batch: 0,
                    ..small()
                },
                "zero dimension",
            ),
        ] {
            let message = bad.validate().unwrap_err().to_string();
            assert!(
                message.contains(says) && !message.contains('\n'),
                "{message}"
            );
        }
    }

    #[test]
    fn the_activation_plan_fits_the_shape() {
        let shape = small();
        let mut layout = Layout::new();
        let plan = GptActivations::plan(&shape, DType::BF16, &mut layout);
        assert_eq!(plan.residual.len(), 2 * shape.layers + 1);
        assert_eq!(plan.logits.len, shape.rows() * shape.vocab);
        assert_eq!(plan.fc_pre[1].len, shape.rows() * 4 * shape.width);
        assert_eq!(plan.normed[0].dtype, DType::BF16);
        assert_eq!(plan.residual[0].dtype, DType::F32);
    }
}
