//! The pre-norm transformer block (GPT-2; nanoGPT `Block`):
//!
//! ```text
//! x ← x + attn(ln1(x))          causal self-attention, [B, T, C]
//! x ← x + mlp(ln2(x))           mlp(h) = proj(gelu(fc(h))), fc [C, 4C], proj [4C, C]
//! ```

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use spectral::linalg::{layer_norm, linear, linear_gelu};

use crate::attention::{AttentionConfig, CausalSelfAttention};
use crate::error::{ModelError, nonzero};
use crate::gpt2_init;

/// The feed-forward branch: `proj(gelu(fc(x)))`, exact (erf) GELU.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Expansion `[C, 4C]`.
    pub fc: Linear<B>,
    /// Contraction `[4C, C]` (a residual projection: GPT-2's scaled init).
    pub proj: Linear<B>,
    dropout: Dropout,
}

impl<B: Backend> Mlp<B> {
    /// Builds the branch from a validated config.
    pub fn new(config: &AttentionConfig, device: &B::Device) -> Self {
        let c = config.n_embd;
        Self {
            fc: gpt2_init::linear(c, 4 * c, config.bias, gpt2_init::INIT_STD, device),
            proj: gpt2_init::linear(4 * c, c, config.bias, config.residual_std, device),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }

    /// `[B, T, C]` → `[B, T, C]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = linear_gelu(&self.fc, x); // [B, T, 4C]: gelu(fc(x)), fused on a GPU by `--gelu`
        self.dropout.forward(linear(&self.proj, h)) // [B, T, C]
    }
}

/// One pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// LayerNorm before attention (`gamma`, `beta` of width C).
    pub ln1: LayerNorm<B>,
    /// Causal self-attention.
    pub attn: CausalSelfAttention<B>,
    /// LayerNorm before the MLP.
    pub ln2: LayerNorm<B>,
    /// Feed-forward branch.
    pub mlp: Mlp<B>,
}

impl<B: Backend> Block<B> {
    /// Builds a block; fails on an invalid config.
    pub fn new(config: &AttentionConfig, device: &B::Device) -> Result<Self, ModelError> {
        config.validate()?;
        let norm = || gpt2_init::layer_norm(config.n_embd, config.bias, device);
        Ok(Self {
            ln1: norm(),
            attn: CausalSelfAttention::new(config, device),
            ln2: norm(),
            mlp: Mlp::new(config, device),
        })
    }

    /// `x` `[B, T, C]`, additive causal `mask` `[T, T]` → `[B, T, C]`.
    /// Attention through [`CausalSelfAttention::forward`], so `--attention fused` applies.
    pub fn forward(&self, x: Tensor<B, 3>, mask: &Tensor<B, 2>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(norm(&self.ln1, x), mask); // [B, T, C]
        x.clone() + self.mlp.forward(norm(&self.ln2, x)) // [B, T, C]
    }

    /// Also returns this block's attention probabilities `[B, H, T, T]`.
    pub fn forward_with_attention(
        &self,
        x: Tensor<B, 3>,
        mask: &Tensor<B, 2>,
    ) -> (Tensor<B, 3>, Tensor<B, 4>) {
        let (a, att) = self
            .attn
            .forward_with_attention(norm(&self.ln1, x.clone()), mask);
        let x = x + a; // [B, T, C]
        let x = x.clone() + self.mlp.forward(norm(&self.ln2, x)); // [B, T, C]
        (x, att)
    }
}

/// `ln` applied to `x` `[B, T, C]` (a LayerNorm of [`gpt2_init::layer_norm`]), in one fused kernel
/// each way on a GPU under `--layer-norm fused`.
pub fn norm<B: Backend>(ln: &LayerNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    layer_norm(ln, gpt2_init::LAYER_NORM_EPS, x)
}

/// Builds `n_layer` blocks of one config (`blocks.0` … `blocks.{n_layer−1}`).
pub fn stack<B: Backend>(
    n_layer: usize,
    config: &AttentionConfig,
    device: &B::Device,
) -> Result<Vec<Block<B>>, ModelError> {
    nonzero("n_layer", n_layer)?;
    (0..n_layer).map(|_| Block::new(config, device)).collect()
}

/// Runs `x` `[B, S, C]` through the blocks in order under one additive causal `mask`
/// `[S, S]`; with `keep_attention`, also returns each block's attention probabilities
/// `[B, H, S, S]` (else an empty Vec).
pub fn forward_stack<B: Backend>(
    blocks: &[Block<B>],
    mut x: Tensor<B, 3>,
    mask: &Tensor<B, 2>,
    keep_attention: bool,
) -> (Tensor<B, 3>, Vec<Tensor<B, 4>>) {
    let mut maps = Vec::new();
    for block in blocks {
        if keep_attention {
            let (y, att) = block.forward_with_attention(x, mask);
            maps.push(att);
            x = y;
        } else {
            x = block.forward(x, mask);
        }
    }
    (x, maps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::causal_mask;
    use burn::tensor::Distribution;
    use spectral::device::CpuBackend as B;

    fn config() -> AttentionConfig {
        AttentionConfig {
            n_embd: 8,
            n_head: 2,
            bias: true,
            dropout: 0.0,
            rope_positions: Some(8),
            residual_std: 0.02,
        }
    }

    #[test]
    fn shapes_are_preserved() {
        let device = Default::default();
        let block = Block::<B>::new(&config(), &device).unwrap();
        let x = Tensor::random([3, 5, 8], Distribution::Normal(0.0, 1.0), &device);
        let (y, att) = block.forward_with_attention(x, &causal_mask(5, &device));
        assert_eq!(y.dims(), [3, 5, 8]);
        assert_eq!(att.dims(), [3, 2, 5, 5]);
        assert_eq!(block.mlp.fc.weight.dims(), [8, 32]);
        assert_eq!(block.mlp.proj.weight.dims(), [32, 8]);
    }

    #[test]
    fn bad_configs_name_the_value() {
        let device = Default::default();
        let err = |c: AttentionConfig| Block::<B>::new(&c, &device).unwrap_err();
        assert_eq!(
            err(AttentionConfig {
                n_head: 3,
                ..config()
            }),
            ModelError::HeadsDontDivide {
                n_embd: 8,
                n_head: 3
            }
        );
        assert_eq!(
            err(AttentionConfig {
                n_head: 0,
                ..config()
            }),
            ModelError::ZeroSize { name: "n_head" }
        );
        assert_eq!(
            err(AttentionConfig {
                n_head: 8,
                ..config()
            }),
            ModelError::OddHeadDim { head_dim: 1 }
        );
        assert!(matches!(
            err(AttentionConfig {
                dropout: 1.0,
                ..config()
            }),
            ModelError::OutOfRange {
                name: "dropout",
                ..
            }
        ));
        // Without RoPE an odd head width is fine.
        let odd = AttentionConfig {
            n_head: 8,
            rope_positions: None,
            ..config()
        };
        assert!(Block::<B>::new(&odd, &device).is_ok());
    }
}
