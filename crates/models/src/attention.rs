//! Causal multi-head self-attention (Vaswani et al. 2017, "Attention Is All You Need"), with
//! optional rotary position encoding (Su et al. 2021, "RoFormer", arXiv:2104.09864).
//!
//! For an input `x` `[B, T, C]` split into `H` heads of width `D = C / H`:
//!
//! ```text
//! Q = x W_q + b_q,  K = x W_k + b_k,  V = x W_v + b_v          each [B, T, C] → [B, H, T, D]
//! Q, K ← RoPE(Q), RoPE(K)                                      (when configured)
//! A = softmax(Q Kᵀ / √D + mask)                                 [B, H, T, T]
//! y = concat_heads(A V) W_o + b_o                               [B, T, C]
//! ```
//!
//! `mask` is additive: 0 where key `j ≤ query i`, −∞ above the diagonal, over the *whole*
//! sequence the block sees (with a memory bank: slots and data together).
//!
//! Q, K, V and the output are four separate `Linear`s named `q`, `k`, `v`, `o` (burn layout
//! `[d_in, d_out]` = `[C, C]`), not one fused `[C, 3C]` matrix: the optimizers pair Q/K/V
//! matrices by these names (TEON stacks them), and a fused matrix would hide the split.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, RotaryEncoding, RotaryEncodingConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};
use spectral::linalg::{fused_causal_attention, fuses, linear, matmul, rope_table};

use crate::error::{ModelError, nonzero, probability};
use crate::gpt2_init;

/// The additive causal mask `[S, S]`: entry `(i, j)` is 0 when `j ≤ i` (query `i` may look at
/// key `j`) and −∞ otherwise. Every row keeps its diagonal, so no softmax row is all −∞.
pub fn causal_mask<B: Backend>(len: usize, device: &B::Device) -> Tensor<B, 2> {
    // tril_mask is true strictly above the diagonal: the entries to hide.
    let hidden = Tensor::<B, 2, Bool>::tril_mask([len, len], 0, device);
    Tensor::zeros([len, len], device).mask_fill(hidden, f32::NEG_INFINITY)
}

/// The shape of a causal self-attention layer, and so of the transformer block around it
/// (its MLP is `[C, 4C]` then `[4C, C]`), shared by every block of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionConfig {
    /// Width `C` of the residual stream.
    pub n_embd: usize,
    /// Number of attention heads `H`; must divide `C`.
    pub n_head: usize,
    /// Biases in the Linear and LayerNorm layers.
    pub bias: bool,
    /// Dropout probability on attention weights and on each residual branch (0 = off).
    pub dropout: f64,
    /// `Some(n)`: apply RoPE to q and k, with a table for positions `0..n` (the longest
    /// sequence the block will see, memory slots included). `None`: no rotation.
    pub rope_positions: Option<usize>,
    /// Init std of the residual projections `attn.o` and `mlp.proj`
    /// ([`gpt2_init::residual_std`]).
    pub residual_std: f64,
}

impl AttentionConfig {
    /// Width `D = C / H` of one head.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Checks the sizes: nonzero, `H` divides `C`, an even head width under RoPE, dropout in
    /// `[0, 1)`.
    pub fn validate(&self) -> Result<(), ModelError> {
        nonzero("n_embd", self.n_embd)?;
        nonzero("n_head", self.n_head)?;
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(ModelError::HeadsDontDivide {
                n_embd: self.n_embd,
                n_head: self.n_head,
            });
        }
        if let Some(n) = self.rope_positions {
            nonzero("rope positions", n)?;
            if !self.head_dim().is_multiple_of(2) {
                return Err(ModelError::OddHeadDim {
                    head_dim: self.head_dim(),
                });
            }
        }
        probability("dropout", self.dropout)
    }
}

/// Causal multi-head self-attention with separate `q`, `k`, `v`, `o` projections.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// Query projection `[C, C]`.
    pub q: Linear<B>,
    /// Key projection `[C, C]`.
    pub k: Linear<B>,
    /// Value projection `[C, C]`.
    pub v: Linear<B>,
    /// Output projection `[C, C]` (a residual projection: GPT-2's scaled init).
    pub o: Linear<B>,
    /// Rotary encoding over head width `D` for positions `0..max_len`; a constant table, not a
    /// parameter.
    pub rope: Option<RotaryEncoding<B>>,
    attn_dropout: Dropout,
    resid_dropout: Dropout,
    n_head: usize,
}

impl<B: Backend> CausalSelfAttention<B> {
    /// Builds the layer from a validated [`AttentionConfig`] (see [`AttentionConfig::validate`]).
    pub fn new(config: &AttentionConfig, device: &B::Device) -> Self {
        let c = config.n_embd;
        let proj = |std| gpt2_init::linear(c, c, config.bias, std, device);
        let rope = config
            .rope_positions
            .map(|max_len| RotaryEncodingConfig::new(max_len, config.head_dim()).init(device));
        Self {
            q: proj(gpt2_init::INIT_STD),
            k: proj(gpt2_init::INIT_STD),
            v: proj(gpt2_init::INIT_STD),
            o: proj(config.residual_std),
            rope,
            attn_dropout: DropoutConfig::new(config.dropout).init(),
            resid_dropout: DropoutConfig::new(config.dropout).init(),
            n_head: config.n_head,
        }
    }

    /// Number of heads `H`.
    pub fn n_head(&self) -> usize {
        self.n_head
    }

    /// `x` `[B, T, C]`, `mask` `[T, T]` from [`causal_mask`] → `[B, T, C]`.
    ///
    /// # Panics
    /// When `T` exceeds the RoPE table (`AttentionConfig::rope_positions`); the models check the
    /// sequence length before calling.
    ///
    /// With `--attention fused` or `cublas` on burn's CUDA backend ([`fused_causal_attention`]),
    /// the heads are attended in one custom operation that builds the causal mask itself:
    /// `mask` must then be [`causal_mask`]`(T)`, as every caller's is. Attention dropout keeps
    /// the materialized path while training.
    pub fn forward(&self, x: Tensor<B, 3>, mask: &Tensor<B, 2>) -> Tensor<B, 3> {
        match self.forward_fused(x.clone()) {
            Some(y) => y,
            None => self.forward_with_attention(x, mask).0,
        }
    }

    /// The fused path of [`forward`](Self::forward), or `None` where it does not run.
    fn forward_fused(&self, x: Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        let [b, t, c] = x.dims();
        let h = self.n_head;
        let dropout = B::ad_enabled(&x.device()) && self.attn_dropout.prob > 0.0;
        if dropout || !fuses::<B>(x.dtype(), c / h) {
            return None;
        }
        let heads = |y: Tensor<B, 3>| y.reshape([b, t, h, c / h]); // [B, T, H, D], no copy
        let q = heads(linear(&self.q, x.clone()));
        let k = heads(linear(&self.k, x.clone()));
        let v = heads(linear(&self.v, x));
        let table = self.rope.as_ref().map(|rope| rope_table(rope, t)); // [T, D/2, 2]
        let y = fused_causal_attention(q, k, v, table); // [B, T, H, D]
        Some(
            self.resid_dropout
                .forward(linear(&self.o, y.reshape([b, t, c]))),
        )
    }

    /// Like [`forward`](Self::forward), also returning the attention probabilities
    /// `[B, H, T, T]` (row `i` of head `h` is the distribution of query `i` over keys; rows sum
    /// to 1, entries above the diagonal are 0). Taken before attention dropout.
    pub fn forward_with_attention(
        &self,
        x: Tensor<B, 3>,
        mask: &Tensor<B, 2>,
    ) -> (Tensor<B, 3>, Tensor<B, 4>) {
        let [b, t, c] = x.dims();
        let h = self.n_head;
        let d = c / h;
        let heads = |y: Tensor<B, 3>| y.reshape([b, t, h, d]).swap_dims(1, 2); // [B, H, T, D]
        let mut q = heads(linear(&self.q, x.clone())); // [B, H, T, D]
        let mut k = heads(linear(&self.k, x.clone())); // [B, H, T, D]
        let v = heads(linear(&self.v, x)); // [B, H, T, D]
        if let Some(rope) = &self.rope {
            q = rope.forward(q);
            k = rope.forward(k);
        }
        let scores = matmul(q, k.swap_dims(2, 3)).div_scalar((d as f64).sqrt()); // [B, H, T, T]
        let scores = scores + mask.clone().reshape([1, 1, t, t]);
        let att = softmax(scores, 3); // [B, H, T, T]
        let y = matmul(self.attn_dropout.forward(att.clone()), v); // [B, H, T, D]
        let y = y.swap_dims(1, 2).reshape([b, t, c]); // [B, T, C]
        (self.resid_dropout.forward(linear(&self.o, y)), att)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData, Tolerance};
    use spectral::device::CpuBackend as B;

    fn config(rope: bool) -> AttentionConfig {
        AttentionConfig {
            n_embd: 8,
            n_head: 2,
            bias: true,
            dropout: 0.0,
            rope_positions: rope.then_some(16),
            residual_std: 0.02,
        }
    }

    fn input(t: usize) -> Tensor<B, 3> {
        Tensor::random(
            [2, t, 8],
            Distribution::Normal(0.0, 1.0),
            &Default::default(),
        )
    }

    #[test]
    fn mask_is_zero_on_and_below_the_diagonal() {
        let mask = causal_mask::<B>(3, &Default::default());
        let inf = f32::NEG_INFINITY;
        assert_eq!(
            mask.into_data(),
            TensorData::from([[0.0, inf, inf], [0.0, 0.0, inf], [0.0, 0.0, 0.0]])
        );
    }

    #[test]
    fn probabilities_are_causal_rows_that_sum_to_one() {
        let device = Default::default();
        let attn = CausalSelfAttention::<B>::new(&config(true), &device);
        let (y, att) = attn.forward_with_attention(input(5), &causal_mask(5, &device));
        assert_eq!(y.dims(), [2, 5, 8]);
        assert_eq!(att.dims(), [2, 2, 5, 5]);
        att.clone().sum_dim(3).into_data().assert_approx_eq::<f32>(
            &Tensor::<B, 4>::ones([2, 2, 5, 1], &device).into_data(),
            Tolerance::absolute(1e-6),
        );
        let values = att.into_data().to_vec::<f32>().unwrap();
        for (n, p) in values.iter().enumerate() {
            let (i, j) = ((n / 5) % 5, n % 5);
            if j > i {
                assert_eq!(*p, 0.0, "query {i} sees future key {j}");
            } else {
                assert!(*p > 0.0);
            }
        }
    }

    #[test]
    fn later_inputs_do_not_change_earlier_outputs() {
        let device = Default::default();
        let attn = CausalSelfAttention::<B>::new(&config(true), &device);
        let mask = causal_mask(6, &device);
        let x = input(6);
        let bumped = x
            .clone()
            .slice_assign([0..2, 4..5, 0..8], Tensor::ones([2, 1, 8], &device));
        let a = attn.forward(x, &mask);
        let b = attn.forward(bumped, &mask);
        let diff = (a - b).abs();
        let before: f32 = diff.clone().slice([0..2, 0..4, 0..8]).max().into_scalar();
        let at: f32 = diff.slice([0..2, 4..5, 0..8]).max().into_scalar();
        assert_eq!(before, 0.0);
        assert!(at > 1e-4, "the change at position 4 must show there ({at})");
    }

    /// RoPE makes the score between positions i and j depend on i − j only: rotating q and k
    /// from a common offset s leaves every qᵀk unchanged, while the scores do depend on the
    /// positions (the rotation is not the identity).
    #[test]
    fn rope_scores_are_invariant_to_a_common_shift() {
        let device = Default::default();
        let rope = RotaryEncodingConfig::new(32, 4).init::<B>(&device);
        let q = Tensor::<B, 4>::random([1, 2, 6, 4], Distribution::Normal(0.0, 1.0), &device);
        let k = Tensor::<B, 4>::random([1, 2, 6, 4], Distribution::Normal(0.0, 1.0), &device);
        let scores = |start| {
            rope.apply(q.clone(), start)
                .matmul(rope.apply(k.clone(), start).swap_dims(2, 3))
        };
        let plain = q.clone().matmul(k.clone().swap_dims(2, 3));
        let at0 = scores(0);
        // f32 rotations of O(1) vectors: agreement to a few ulps of the O(1) scores.
        at0.clone()
            .into_data()
            .assert_approx_eq::<f32>(&scores(7).into_data(), Tolerance::absolute(1e-5));
        let moved: f32 = (at0 - plain).abs().max().into_scalar();
        assert!(moved > 1e-2, "RoPE left the scores unchanged ({moved})");
    }

    /// The rotation of one channel pair against a hand computation in f64: position p rotates
    /// pair (x0, x1) by angle p·θ⁰ = p (first frequency is 10000^0 = 1).
    #[test]
    fn rope_rotates_the_first_pair_by_the_position() {
        let device = Default::default();
        let rope = RotaryEncodingConfig::new(8, 2).init::<B>(&device);
        let x = Tensor::<B, 2>::from_floats([[0.3, -1.2], [0.3, -1.2], [0.3, -1.2]], &device);
        let got = rope.forward(x).into_data().to_vec::<f32>().unwrap();
        for p in 0..3 {
            let (s, c) = (p as f64).sin_cos();
            let (x0, x1) = (0.3f64, -1.2f64);
            let want = [x0 * c - x1 * s, x0 * s + x1 * c];
            for (g, w) in got[2 * p..2 * p + 2].iter().zip(want) {
                assert!((*g as f64 - w).abs() < 1e-6, "position {p}: {g} vs {w}");
            }
        }
    }
}
