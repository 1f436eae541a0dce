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

use crate::error::EngineError;
use crate::models::trunk::check_heads;
use crate::params::{Group, ParamSpec, ParamTable};

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
        check_heads(self.width, self.heads)?;
        if self.seq > self.block_size {
            return fail(format!(
                "sequences of {} tokens, longer than the context {}",
                self.seq, self.block_size
            ));
        }
        Ok(())
    }

    /// The parameters, named and shaped as `spectral_models::gpt::Gpt`'s (biases on, learned
    /// positions, tied head). Each block's q, k, v weights are one stack (a strided batch of
    /// three gemms).
    pub fn params(&self) -> ParamTable {
        let (v, c) = (self.vocab, self.width);
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
            let (params, stack) = block_params(l, c);
            list.extend(params);
            stacks.push(stack);
        }
        list.push(("ln_f.gamma".into(), vec![c], Group::Undecayed));
        list.push(("ln_f.beta".into(), vec![c], Group::Undecayed));
        ParamTable::new(list, &stacks)
    }
}

/// Block `l`'s parameters (name, burn shape, group) in visiting order, and its q, k, v
/// weights as one stack (a strided batch of three gemms).
pub(crate) fn block_params(l: usize, c: usize) -> (Vec<ParamSpec>, Vec<String>) {
    let f = 4 * c;
    let p = |name: &str, shape: Vec<usize>, group| (format!("blocks.{l}.{name}"), shape, group);
    let params = vec![
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
    ];
    let stack = ["q", "k", "v"]
        .map(|x| format!("blocks.{l}.attn.{x}.weight"))
        .to_vec();
    (params, stack)
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
}
