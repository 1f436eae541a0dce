//! A character-level GPT in nanoGPT's shape (Karpathy, nanoGPT `model.py`; GPT-2, Radford et
//! al. 2019):
//!
//! ```text
//! idx [B, T] byte ids
//!   → tok_emb [V, C]  (+ pos_emb [block_size, C] when not RoPE)   [B, T, C]
//!   → blocks (causal; RoPE inside when configured)                [B, T, C]
//!   → ln_f → logits = h W_head                                    [B, T, V]
//! ```
//!
//! The head is either its own `lm_head` `[C, V]` (no bias) or tied to the token embedding:
//! `logits = h tok_embᵀ` (nanoGPT's default, weight tying of Press & Wolf 2017).
//!
//! # Parameter count
//!
//! With biases on, width C, L blocks, vocabulary V:
//!
//! ```text
//! tok_emb  V·C;  pos_emb block_size·C (learned positions only);  blocks L·(12C² + 13C);
//! ln_f 2C;  lm_head V·C (untied only)
//! ```
//!
//! Defaults (V = 256, C = 384, L = 6, block_size 256, learned positions, tied):
//! 98 304 + 98 304 + 10 646 784 + 768 = **10 844 160**; untied 10 942 464.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use spectral::linalg::{embedding, linear, matmul};

use crate::attention::AttentionConfig;
use crate::attention::causal_mask;
use crate::block::{self, Block};
use crate::error::{ModelError, nonzero, probability};
use crate::gpt2_init;

/// Hyper-parameters of the char-level GPT. The defaults are nanoGPT's shakespeare-char
/// configuration (`config/train_shakespeare_char.py`: 6 layers, 6 heads, 384 wide, context
/// 256), with a byte-level vocabulary of 256 instead of the 65 characters of that corpus.
#[derive(Config, Debug)]
pub struct GptConfig {
    /// Vocabulary V: 256 = every byte, so any UTF-8 text is in-vocabulary.
    #[config(default = 256)]
    pub vocab_size: usize,
    /// Number of transformer blocks L.
    #[config(default = 6)]
    pub n_layer: usize,
    /// Attention heads H (head width 64 at defaults).
    #[config(default = 6)]
    pub n_head: usize,
    /// Residual width C.
    #[config(default = 384)]
    pub n_embd: usize,
    /// Context length: the longest accepted sequence T.
    #[config(default = 256)]
    pub block_size: usize,
    /// Biases in Linear and LayerNorm layers (nanoGPT's `bias = True`).
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on attention weights and residual branches (nanoGPT trains shakespeare-char
    /// with 0.2; 0 keeps runs deterministic).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// RoPE in every attention layer instead of the learned `pos_emb`.
    #[config(default = false)]
    pub rope: bool,
    /// Tie the output head to `tok_emb` (nanoGPT does); off: a separate `lm_head`.
    #[config(default = true)]
    pub tie_weights: bool,
}

impl GptConfig {
    /// The shape shared by all blocks.
    pub fn block_config(&self) -> AttentionConfig {
        AttentionConfig {
            n_embd: self.n_embd,
            n_head: self.n_head,
            bias: self.bias,
            dropout: self.dropout,
            rope_positions: self.rope.then_some(self.block_size),
            residual_std: gpt2_init::residual_std(self.n_layer),
        }
    }

    /// Checks every size and range, naming the first offending value.
    pub fn validate(&self) -> Result<(), ModelError> {
        nonzero("vocab_size", self.vocab_size)?;
        nonzero("n_layer", self.n_layer)?;
        nonzero("block_size", self.block_size)?;
        probability("dropout", self.dropout)?;
        self.block_config().validate()
    }

    /// The closed-form parameter count of the module doc (biases off included).
    pub fn param_count(&self) -> usize {
        let (v, c, l) = (self.vocab_size, self.n_embd, self.n_layer);
        let b = usize::from(self.bias);
        let linear = |d_in: usize, d_out: usize| d_in * d_out + b * d_out;
        let norm = c + b * c;
        let block = 4 * linear(c, c) + linear(c, 4 * c) + linear(4 * c, c) + 2 * norm;
        let pos = if self.rope { 0 } else { self.block_size * c };
        let head = if self.tie_weights { 0 } else { c * v };
        v * c + pos + l * block + norm + head
    }

    /// Builds the model (after [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Gpt<B>, ModelError> {
        self.validate()?;
        let (v, c) = (self.vocab_size, self.n_embd);
        Ok(Gpt {
            tok_emb: gpt2_init::embedding(v, c, device),
            pos_emb: (!self.rope).then(|| gpt2_init::embedding(self.block_size, c, device)),
            blocks: block::stack(self.n_layer, &self.block_config(), device)?,
            ln_f: gpt2_init::layer_norm(c, self.bias, device),
            lm_head: (!self.tie_weights)
                .then(|| gpt2_init::linear(c, v, false, gpt2_init::INIT_STD, device)),
            block_size: self.block_size,
        })
    }
}

impl Default for GptConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The char-level GPT. Field order is the parameter order a visitor sees.
#[derive(Module, Debug)]
pub struct Gpt<B: Backend> {
    /// Token embedding `[V, C]` (also the output head when tied).
    pub tok_emb: Embedding<B>,
    /// Learned positions `[block_size, C]`; `None` under RoPE.
    pub pos_emb: Option<Embedding<B>>,
    /// The transformer blocks.
    pub blocks: Vec<Block<B>>,
    /// Final LayerNorm.
    pub ln_f: LayerNorm<B>,
    /// Output head `[C, V]`, no bias; `None` when tied to `tok_emb`.
    pub lm_head: Option<Linear<B>>,
    block_size: usize,
}

impl<B: Backend> Gpt<B> {
    /// Context length: the longest accepted T.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Vocabulary size V.
    pub fn vocab_size(&self) -> usize {
        self.tok_emb.weight.dims()[0]
    }

    /// `idx` `[B, T]` token ids in `0..V` (T ≤ block_size) → logits `[B, T, V]`; logits at `t`
    /// score token `t + 1`. Ids are not range-checked here (that would cost a device sync per
    /// call); an id ≥ V is a caller bug the backend's gather catches or not.
    pub fn forward(&self, idx: Tensor<B, 2, Int>) -> Result<Tensor<B, 3>, ModelError> {
        let [b, t] = idx.dims();
        nonzero("batch size", b)?;
        nonzero("sequence length", t)?;
        if t > self.block_size {
            return Err(ModelError::SequenceTooLong {
                len: t,
                block_size: self.block_size,
            });
        }
        let mut h = embedding(&self.tok_emb, idx); // [B, T, C]
        let [_, _, c] = h.dims();
        if let Some(pos) = &self.pos_emb {
            h = h + pos.weight.val().narrow(0, 0, t).reshape([1, t, c]); // [B, T, C]
        }
        let mask = causal_mask(t, &h.device()); // [T, T]
        let (h, _) = block::forward_stack(&self.blocks, h, &mask, false);
        let h = crate::block::norm(&self.ln_f, h); // [B, T, C]
        let logits = match &self.lm_head {
            Some(head) => linear(head, h), // [B, T, V]
            None => {
                let v = self.vocab_size();
                let w = self.tok_emb.weight.val().transpose(); // [C, V]
                matmul(h.reshape([b * t, c]), w).reshape([b, t, v]) // [B, T, V]
            }
        };
        Ok(logits)
    }

    /// Mean cross-entropy (nats) of `targets` `[B, T]` (the next tokens) under the logits.
    pub fn loss(
        &self,
        idx: Tensor<B, 2, Int>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, ModelError> {
        if targets.dims() != idx.dims() {
            return Err(ModelError::Shape {
                what: "targets",
                expected: idx.dims().to_vec(),
                got: targets.dims().to_vec(),
            });
        }
        let logits = self.forward(idx)?; // [B, T, V]
        Ok(cross_entropy(logits, targets))
    }
}

/// Mean of `−log softmax(logits)[target]` over all positions: logits `[B, T, V]`, targets
/// `[B, T]` → scalar, nats.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
    let [b, t, v] = logits.dims();
    let log_p = log_softmax(logits.reshape([b * t, v]), 1); // [B·T, V]
    log_p.gather(1, targets.reshape([b * t, 1])).mean().neg() // gather: [B·T, 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::{Distribution, TensorData};
    use spectral::device::CpuBackend as B;

    fn tiny() -> GptConfig {
        GptConfig::new()
            .with_vocab_size(11)
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(10)
    }

    fn tokens<BB: Backend>(b: usize, t: usize) -> Tensor<BB, 2, Int> {
        Tensor::<BB, 2>::random(
            [b, t],
            Distribution::Uniform(0.0, 11.0),
            &Default::default(),
        )
        .int()
    }

    #[test]
    fn default_parameter_count_matches_the_closed_form() {
        let device = Default::default();
        let config = GptConfig::new();
        let model = config.init::<B>(&device).unwrap();
        println!("Gpt default parameters (tied): {}", model.num_params());
        assert_eq!(config.param_count(), 10_844_160);
        assert_eq!(model.num_params(), config.param_count());
        let untied = GptConfig::new().with_tie_weights(false);
        assert_eq!(untied.param_count(), 10_942_464);
        for config in [
            tiny(),
            tiny().with_rope(true),
            tiny().with_bias(false).with_tie_weights(false),
        ] {
            assert_eq!(
                config.init::<B>(&device).unwrap().num_params(),
                config.param_count()
            );
        }
    }

    #[test]
    fn logits_have_the_vocabulary_on_the_last_axis() {
        let device = Default::default();
        for config in [tiny(), tiny().with_rope(true).with_tie_weights(false)] {
            let model = config.init::<B>(&device).unwrap();
            assert_eq!(model.forward(tokens(3, 7)).unwrap().dims(), [3, 7, 11]);
        }
    }

    /// Tied head: the logits are exactly h·tok_embᵀ, so moving one row of the embedding moves
    /// that token's logit column.
    #[test]
    fn tied_head_reads_the_embedding() {
        let device = Default::default();
        let mut model = tiny().init::<B>(&device).unwrap();
        // Token 10 is not in the input, so only the head reads its embedding row.
        let idx = Tensor::<B, 2, Int>::from_data(TensorData::from([[1i64, 2, 3, 4]]), &device);
        let before = model.forward(idx.clone()).unwrap();
        let w = model.tok_emb.weight.val();
        let bumped = w.slice_assign([10..11, 0..8], Tensor::ones([1, 8], &device));
        model.tok_emb.weight = burn::module::Param::from_tensor(bumped);
        let after = model.forward(idx).unwrap();
        let diff = (after - before).abs();
        let others: f32 = diff.clone().narrow(2, 0, 10).max().into_scalar();
        let col: f32 = diff.narrow(2, 10, 1).max().into_scalar();
        assert_eq!(others, 0.0);
        assert!(col > 1e-3, "{col}");
    }

    #[test]
    fn logits_are_causal() {
        let device = Default::default();
        for config in [tiny(), tiny().with_rope(true)] {
            let model = config.init::<B>(&device).unwrap();
            let idx =
                Tensor::<B, 2, Int>::from_data(TensorData::from([[1i64, 2, 3, 4, 5, 6]]), &device);
            let bumped =
                Tensor::<B, 2, Int>::from_data(TensorData::from([[1i64, 2, 3, 9, 5, 6]]), &device);
            let a = model.forward(idx).unwrap();
            let b = model.forward(bumped).unwrap();
            let diff = (a - b).abs();
            let before: f32 = diff.clone().narrow(1, 0, 3).max().into_scalar();
            let at: f32 = diff.narrow(1, 3, 1).max().into_scalar();
            assert_eq!(before, 0.0);
            assert!(at > 0.0);
        }
    }

    /// At init every logit is ≈ 0, so the loss is ≈ ln V; the hand-built case pins
    /// the cross-entropy itself.
    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let device = Default::default();
        let logits = Tensor::<B, 3>::from_floats([[[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]]], &device);
        let targets = Tensor::<B, 2, Int>::from_data(TensorData::from([[1i64, 0]]), &device);
        let lse = |x: [f64; 3]| x.iter().map(|v| v.exp()).sum::<f64>().ln();
        let want = ((lse([1.0, 2.0, 0.5]) - 2.0) + (lse([0.0, 0.0, 3.0]) - 0.0)) / 2.0;
        let got: f32 = cross_entropy(logits, targets).into_scalar();
        assert!((got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        let model = tiny().init::<B>(&device).unwrap();
        let loss: f32 = model
            .loss(tokens(2, 6), tokens(2, 6))
            .unwrap()
            .into_scalar();
        assert!((loss as f64 - 11f64.ln()).abs() < 0.05, "{loss}");
    }

    #[test]
    fn bad_inputs_and_configs_are_errors() {
        let device = Default::default();
        let model = tiny().init::<B>(&device).unwrap();
        assert_eq!(
            model.forward(tokens(1, 11)).unwrap_err(),
            ModelError::SequenceTooLong {
                len: 11,
                block_size: 10
            }
        );
        assert!(matches!(
            model.loss(tokens(1, 4), tokens(1, 5)),
            Err(ModelError::Shape { .. })
        ));
        let err = |c: GptConfig| c.init::<B>(&device).unwrap_err();
        assert_eq!(
            err(tiny().with_vocab_size(0)),
            ModelError::ZeroSize { name: "vocab_size" }
        );
        assert_eq!(
            err(tiny().with_n_embd(9)),
            ModelError::HeadsDontDivide {
                n_embd: 9,
                n_head: 2
            }
        );
        assert_eq!(
            err(tiny().with_n_embd(6).with_rope(true)),
            ModelError::OddHeadDim { head_dim: 3 }
        );
    }

    #[test]
    fn adamw_steps_lower_the_loss() {
        type A = Autodiff<B>;
        let device = Default::default();
        for config in [tiny(), tiny().with_rope(true).with_tie_weights(false)] {
            let mut model = config.init::<A>(&device).unwrap();
            let mut optim = AdamWConfig::new().init::<A, Gpt<A>>();
            let (idx, targets) = (tokens::<A>(4, 8), tokens::<A>(4, 8));
            let first: f32 = model
                .loss(idx.clone(), targets.clone())
                .unwrap()
                .into_scalar();
            for _ in 0..5 {
                let loss = model.loss(idx.clone(), targets.clone()).unwrap();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-2, model, grads);
            }
            let last: f32 = model.loss(idx, targets).unwrap().into_scalar();
            assert!(last < first - 1e-2, "loss {first} → {last}");
        }
    }
}
