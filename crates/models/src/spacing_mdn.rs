//! SpacingMDN: a causal transformer over unfolded spacings whose head is a Gaussian mixture
//! over the next spacing (design notes 002; nanoGPT_RH).
//!
//! ```text
//! x [B, T] spacings (mean 1)
//!   → input_proj: Linear 1 → C                                   [B, T, C]
//!   → (memory) prepend the M slot tokens                          [B, M+T, C]
//!   → (no RoPE) + pos_emb[0..M+T]                                 [B, M+T, C]
//!   → blocks (causal over the whole sequence; RoPE inside)        [B, M+T, C]
//!   → ln_f, split                                  memory [B, M, C], data [B, T, C]
//!   → (memory readouts on data) → mdn_head        log π, μ, σ each [B, T, K]
//! ```
//!
//! Output `t` is the distribution of spacing `t + 1` given spacings `0..=t`, so
//! [`SpacingMdn::loss`] takes the targets `y[:, t] = x[:, t + 1]`.
//!
//! # Parameter count
//!
//! With biases on (the default), width C, L blocks, K components, context `block_size`:
//!
//! ```text
//! input_proj   2C                              (weight [1, C], bias [C])
//! pos_emb      (block_size + M)·C              only without RoPE (M = 0 without memory)
//! blocks       L·(12C² + 13C)                  q,k,v,o 4(C² + C); fc 4C² + 4C; proj 4C² + C;
//!                                              ln1, ln2 4C
//! ln_f         2C
//! mdn_head     3K(C + 1)
//! memory       M·C slots + M·C slot_id         (+ film 2C² + 2C, gate 2C² + C,
//!                                                 summary_proj C² + C when on)
//! ```
//!
//! Defaults (C = 256, L = 6, K = 8, RoPE, no memory): 512 + 4 738 560 + 512 + 6 168 =
//! **4 745 752**; with the default memory bank (M = 8, slot IDs) 4 749 848.
//! [`SpacingMdnConfig::param_count`] evaluates this formula, biases off included.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::{Embedding, LayerNorm, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::attention::AttentionConfig;
use crate::attention::causal_mask;
use crate::block::{self, Block};
use crate::error::{ModelError, nonzero, probability};
use crate::gpt2_init;
use crate::mdn::{DEFAULT_SIGMA_FLOOR, MixtureHead, mixture_mean, mixture_nll};
use crate::memory::{MemoryBank, MemoryConfig, MemoryEdit};

/// Hyper-parameters of a SpacingMDN; defaults are the reference runs' (≈ 4.75 M parameters).
#[derive(Config, Debug)]
pub struct SpacingMdnConfig {
    /// Number of transformer blocks L.
    #[config(default = 6)]
    pub n_layer: usize,
    /// Attention heads H (head width C / H = 32 at defaults).
    #[config(default = 8)]
    pub n_head: usize,
    /// Residual width C.
    #[config(default = 256)]
    pub n_embd: usize,
    /// Longest spacing sequence T the model accepts (memory slots come on top).
    #[config(default = 256)]
    pub block_size: usize,
    /// Mixture components K.
    #[config(default = 8)]
    pub n_components: usize,
    /// Rotary position encoding in every attention layer; off: a learned `pos_emb` instead.
    #[config(default = true)]
    pub rope: bool,
    /// Biases in Linear and LayerNorm layers (the MDN head always has one).
    #[config(default = true)]
    pub bias: bool,
    /// Dropout on attention weights and residual branches (0 = off).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Smallest σ of a component, in mean-spacing units.
    #[config(default = "DEFAULT_SIGMA_FLOOR")]
    pub sigma_floor: f64,
    /// The memory bank; `None` (default) is the base model.
    #[config(default = "None")]
    pub memory: Option<MemoryConfig>,
}

impl SpacingMdnConfig {
    /// Number of memory slots M (0 without memory).
    pub fn n_slots(&self) -> usize {
        self.memory.as_ref().map_or(0, |m| m.n_slots)
    }

    /// The shape shared by all blocks.
    pub fn block_config(&self) -> AttentionConfig {
        AttentionConfig {
            n_embd: self.n_embd,
            n_head: self.n_head,
            bias: self.bias,
            dropout: self.dropout,
            rope_positions: self.rope.then_some(self.block_size + self.n_slots()),
            residual_std: gpt2_init::residual_std(self.n_layer),
        }
    }

    /// Checks every size and range, naming the first offending value.
    pub fn validate(&self) -> Result<(), ModelError> {
        nonzero("n_layer", self.n_layer)?;
        nonzero("block_size", self.block_size)?;
        nonzero("n_components", self.n_components)?;
        if let Some(memory) = &self.memory {
            nonzero("n_slots", memory.n_slots)?;
        }
        probability("dropout", self.dropout)?;
        self.block_config().validate()
    }

    /// The closed-form parameter count of the module doc.
    pub fn param_count(&self) -> usize {
        let (c, l, k, m) = (self.n_embd, self.n_layer, self.n_components, self.n_slots());
        let b = usize::from(self.bias);
        let linear = |d_in: usize, d_out: usize, bias: usize| d_in * d_out + bias * d_out;
        let norm = c + b * c;
        let block = 4 * linear(c, c, b) + linear(c, 4 * c, b) + linear(4 * c, c, b) + 2 * norm;
        let pos = if self.rope {
            0
        } else {
            (self.block_size + m) * c
        };
        let memory = self.memory.as_ref().map_or(0, |mem| {
            let on = |flag: bool, n: usize| if flag { n } else { 0 };
            m * c
                + on(mem.slot_id, m * c)
                + on(mem.film, linear(c, 2 * c, 1))
                + on(mem.gate, linear(2 * c, c, 1))
                + on(mem.summary_to_head, linear(c, c, 1))
                + on(mem.aux_head, linear(c, 1, 1))
        });
        linear(1, c, b) + pos + memory + l * block + norm + linear(c, 3 * k, 1)
    }

    /// Builds the model (after [`validate`](Self::validate)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<SpacingMdn<B>, ModelError> {
        self.validate()?;
        let c = self.n_embd;
        let m = self.n_slots();
        // A random bias as well as weight: LayerNorm(w·s + b) then still depends on s, where
        // LayerNorm(w·s) would be ±LayerNorm(w) for every spacing s.
        let input_proj = LinearConfig::new(1, c)
            .with_bias(self.bias)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: gpt2_init::INIT_STD,
            })
            .init(device);
        Ok(SpacingMdn {
            memory: match &self.memory {
                Some(memory) => Some(MemoryBank::new(memory, c, device)?),
                None => None,
            },
            input_proj,
            pos_emb: (!self.rope).then(|| gpt2_init::embedding(self.block_size + m, c, device)),
            blocks: block::stack(self.n_layer, &self.block_config(), device)?,
            ln_f: gpt2_init::layer_norm(c, self.bias, device),
            mdn_head: MixtureHead::new(c, self.n_components, self.sigma_floor, device)?,
            block_size: self.block_size,
        })
    }
}

impl Default for SpacingMdnConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// What a forward pass gives: the mixture at every position and the memory outputs.
#[derive(Debug, Clone)]
pub struct MdnOutput<B: Backend> {
    /// Log mixture weights `[B, T, K]`.
    pub log_pi: Tensor<B, 3>,
    /// Component means `[B, T, K]`, mean-spacing units.
    pub mu: Tensor<B, 3>,
    /// Component scales `[B, T, K]`, ≥ σ_floor, mean-spacing units.
    pub sigma: Tensor<B, 3>,
    /// Memory outputs after `ln_f`, `[B, M, C]` (for auxiliary losses); `None` without memory.
    pub memory_out: Option<Tensor<B, 3>>,
}

impl<B: Backend> MdnOutput<B> {
    /// The predicted mean spacing `Σ π μ` at each position, `[B, T]`.
    pub fn mean(&self) -> Tensor<B, 2> {
        mixture_mean(self.log_pi.clone(), self.mu.clone())
    }

    /// Mean NLL (nats) of the next spacings `y` `[B, T]`.
    pub fn nll(&self, y: Tensor<B, 2>) -> Tensor<B, 1> {
        mixture_nll(self.log_pi.clone(), self.mu.clone(), self.sigma.clone(), y)
    }
}

/// The SpacingMDN. Field order is the parameter order a visitor sees.
#[derive(Module, Debug)]
pub struct SpacingMdn<B: Backend> {
    /// The memory bank (`memory.slots`, `memory.slot_id.weight`, readouts).
    pub memory: Option<MemoryBank<B>>,
    /// Spacing embedding `[1, C]`.
    pub input_proj: Linear<B>,
    /// Learned positions `[block_size + M, C]`, only without RoPE.
    pub pos_emb: Option<Embedding<B>>,
    /// The transformer blocks.
    pub blocks: Vec<Block<B>>,
    /// Final LayerNorm.
    pub ln_f: LayerNorm<B>,
    /// Mixture head `[C, 3K]` (`mdn_head.linear.weight`, `mdn_head.linear.bias`).
    pub mdn_head: MixtureHead<B>,
    block_size: usize,
}

impl<B: Backend> SpacingMdn<B> {
    /// Longest accepted sequence T.
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Number of memory slots M (0 without memory).
    pub fn n_slots(&self) -> usize {
        self.memory.as_ref().map_or(0, MemoryBank::n_slots)
    }

    /// `x` `[B, T]` spacings (T ≤ block_size) → the mixture over each next spacing.
    pub fn forward(&self, x: Tensor<B, 2>) -> Result<MdnOutput<B>, ModelError> {
        self.forward_with(x, &MemoryEdit::none())
    }

    /// [`forward`](Self::forward) with the memory's prefix tokens edited (slot ablation).
    /// Errors when an edit is asked of a model without memory, or names a missing slot.
    pub fn forward_with(
        &self,
        x: Tensor<B, 2>,
        edit: &MemoryEdit,
    ) -> Result<MdnOutput<B>, ModelError> {
        Ok(self.run(x, edit, false)?.0)
    }

    /// [`forward_with`](Self::forward_with), also returning every block's attention
    /// probabilities `[B, H, M+T, M+T]` over the whole sequence (slots at positions `0..M`),
    /// e.g. for the attention mass data positions put on memory slots.
    pub fn forward_with_attention(
        &self,
        x: Tensor<B, 2>,
        edit: &MemoryEdit,
    ) -> Result<(MdnOutput<B>, Vec<Tensor<B, 4>>), ModelError> {
        self.run(x, edit, true)
    }

    /// Mean NLL (nats) of `y` `[B, T]` (the next spacings: `y[:, t]` follows `x[:, t]`).
    pub fn loss(&self, x: Tensor<B, 2>, y: Tensor<B, 2>) -> Result<Tensor<B, 1>, ModelError> {
        self.loss_with(x, y, &MemoryEdit::none())
    }

    /// [`loss`](Self::loss) under a memory edit.
    pub fn loss_with(
        &self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        edit: &MemoryEdit,
    ) -> Result<Tensor<B, 1>, ModelError> {
        if y.dims() != x.dims() {
            return Err(ModelError::Shape {
                what: "targets y",
                expected: x.dims().to_vec(),
                got: y.dims().to_vec(),
            });
        }
        Ok(self.forward_with(x, edit)?.nll(y))
    }

    fn run(
        &self,
        x: Tensor<B, 2>,
        edit: &MemoryEdit,
        keep_attention: bool,
    ) -> Result<(MdnOutput<B>, Vec<Tensor<B, 4>>), ModelError> {
        let [b, t] = x.dims();
        nonzero("batch size", b)?;
        nonzero("sequence length", t)?;
        if t > self.block_size {
            return Err(ModelError::SequenceTooLong {
                len: t,
                block_size: self.block_size,
            });
        }
        let prefix = match &self.memory {
            Some(memory) => Some(memory.prefix(b, edit)?), // [B, M, C]
            None if edit.is_none() => None,
            None => return Err(ModelError::NoMemory),
        };
        let m = self.n_slots();
        let s = m + t;
        let mut h = self.input_proj.forward(x.reshape([b, t, 1])); // [B, T, C]
        if let Some(prefix) = prefix {
            h = Tensor::cat(vec![prefix, h], 1); // [B, M+T, C]
        }
        if let Some(pos) = &self.pos_emb {
            let [_, c] = pos.weight.dims();
            h = h + pos.weight.val().narrow(0, 0, s).reshape([1, s, c]); // [B, M+T, C]
        }
        let mask = causal_mask(s, &h.device()); // [M+T, M+T]
        let (h, maps) = block::forward_stack(&self.blocks, h, &mask, keep_attention);
        let h = crate::block::norm(&self.ln_f, h); // [B, M+T, C]
        let (data, memory_out) = match &self.memory {
            Some(memory) => {
                let mem = h.clone().narrow(1, 0, m); // [B, M, C]
                let data = memory.readout(h.narrow(1, m, t), mem.clone()); // [B, T, C]
                (data, Some(mem))
            }
            None => (h, None),
        };
        let mixture = self.mdn_head.forward(data); // each [B, T, K]
        let out = MdnOutput {
            log_pi: mixture.log_pi,
            mu: mixture.mu,
            sigma: mixture.sigma,
            memory_out,
        };
        Ok((out, maps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
    use burn::tensor::Distribution;
    use spectral::device::CpuBackend as B;

    fn tiny() -> SpacingMdnConfig {
        SpacingMdnConfig::new()
            .with_n_layer(2)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(12)
            .with_n_components(3)
    }

    fn with_memory(config: SpacingMdnConfig) -> SpacingMdnConfig {
        let memory = MemoryConfig::new()
            .with_n_slots(3)
            .with_film(true)
            .with_gate(true)
            .with_summary_to_head(true);
        config.with_memory(Some(memory))
    }

    fn spacings<BB: Backend>(b: usize, t: usize) -> Tensor<BB, 2> {
        Tensor::random([b, t], Distribution::Uniform(0.2, 2.0), &Default::default())
    }

    fn max_abs_diff<const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn default_parameter_count_matches_the_closed_form() {
        let config = SpacingMdnConfig::new();
        let model = config.init::<B>(&Default::default()).unwrap();
        println!("SpacingMdn default parameters: {}", model.num_params());
        assert_eq!(config.param_count(), 4_745_752);
        assert_eq!(model.num_params(), config.param_count());
        let memory = SpacingMdnConfig::new().with_memory(Some(MemoryConfig::new()));
        assert_eq!(memory.param_count(), 4_745_752 + 2 * 8 * 256);
        assert_eq!(
            memory.init::<B>(&Default::default()).unwrap().num_params(),
            memory.param_count()
        );
    }

    #[test]
    fn parameter_count_formula_holds_for_every_option() {
        let device = Default::default();
        for config in [
            tiny(),
            tiny().with_rope(false),
            tiny().with_bias(false),
            with_memory(tiny()),
            with_memory(tiny()).with_rope(false).with_bias(false),
            tiny().with_memory(Some(MemoryConfig::new().with_slot_id(false))),
            tiny().with_memory(Some(MemoryConfig::new().with_aux_head(true))),
        ] {
            let model = config.init::<B>(&device).unwrap();
            assert_eq!(model.num_params(), config.param_count(), "{config:?}");
        }
    }

    #[test]
    fn shapes_with_and_without_memory() {
        let device = Default::default();
        for (config, m) in [
            (tiny(), None),
            (with_memory(tiny()), Some(3)),
            (tiny().with_rope(false), None),
        ] {
            let model = config.init::<B>(&device).unwrap();
            let (out, maps) = model
                .forward_with_attention(spacings(2, 7), &MemoryEdit::none())
                .unwrap();
            assert_eq!(out.log_pi.dims(), [2, 7, 3]);
            assert_eq!(out.mu.dims(), [2, 7, 3]);
            assert_eq!(out.sigma.dims(), [2, 7, 3]);
            assert_eq!(out.mean().dims(), [2, 7]);
            assert_eq!(
                out.memory_out.as_ref().map(|t| t.dims()),
                m.map(|m| [2, m, 8])
            );
            let s = 7 + m.unwrap_or(0);
            assert_eq!(maps.len(), 2);
            assert!(maps.iter().all(|a| a.dims() == [2, 2, s, s]));
        }
    }

    /// Changing spacing t leaves every output before t unchanged (bit for bit: masked
    /// attention weights are exact zeros) and changes the output at t.
    #[test]
    fn outputs_are_causal() {
        let device = Default::default();
        for config in [tiny(), with_memory(tiny()), tiny().with_rope(false)] {
            let model = config.init::<B>(&device).unwrap();
            let x = spacings::<B>(2, 9);
            let bumped = x
                .clone()
                .slice_assign([0..2, 5..6], Tensor::full([2, 1], 3.0, &device));
            let a = model.forward(x).unwrap();
            let b = model.forward(bumped).unwrap();
            for (p, q) in [
                (a.mu.clone(), b.mu.clone()),
                (a.sigma, b.sigma),
                (a.log_pi, b.log_pi),
            ] {
                assert_eq!(
                    max_abs_diff(p.clone().narrow(1, 0, 5), q.clone().narrow(1, 0, 5)),
                    0.0
                );
                assert!(max_abs_diff(p.narrow(1, 5, 1), q.narrow(1, 5, 1)) > 0.0);
            }
            if let (Some(ma), Some(mb)) = (a.memory_out, b.memory_out) {
                assert_eq!(max_abs_diff(ma, mb), 0.0);
            }
        }
    }

    /// Memory outputs see only slots: two unrelated batches give identical memory outputs.
    #[test]
    fn memory_outputs_ignore_the_data() {
        let model = with_memory(tiny()).init::<B>(&Default::default()).unwrap();
        let a = model.forward(spacings(2, 4)).unwrap().memory_out.unwrap();
        let b = model.forward(spacings(2, 11)).unwrap().memory_out.unwrap();
        assert_eq!(a.dims(), [2, 3, 8]);
        assert_eq!(max_abs_diff(a, b), 0.0);
    }

    #[test]
    fn slot_ablation_changes_the_prediction() {
        let model = with_memory(tiny()).init::<B>(&Default::default()).unwrap();
        let x = spacings::<B>(2, 6);
        let base = model.forward(x.clone()).unwrap();
        let same = model.forward_with(x.clone(), &MemoryEdit::none()).unwrap();
        assert_eq!(max_abs_diff(base.mu.clone(), same.mu), 0.0);
        for edit in [MemoryEdit::zero(1), MemoryEdit::mean(2)] {
            let ablated = model.forward_with(x.clone(), &edit).unwrap();
            let moved = max_abs_diff(base.mu.clone(), ablated.mu);
            assert!(moved > 0.0, "{edit:?} left the prediction unchanged");
        }
        assert_eq!(
            model.forward_with(x, &MemoryEdit::zero(3)).unwrap_err(),
            ModelError::SlotOutOfRange {
                slot: 3,
                n_slots: 3
            }
        );
    }

    #[test]
    fn ablating_without_memory_is_an_error() {
        let model = tiny().init::<B>(&Default::default()).unwrap();
        assert_eq!(
            model
                .forward_with(spacings(1, 4), &MemoryEdit::zero(0))
                .unwrap_err(),
            ModelError::NoMemory
        );
    }

    #[test]
    fn bad_inputs_and_configs_are_errors() {
        let device = Default::default();
        let model = with_memory(tiny()).init::<B>(&device).unwrap();
        assert_eq!(
            model.forward(spacings(1, 13)).unwrap_err(),
            ModelError::SequenceTooLong {
                len: 13,
                block_size: 12
            }
        );
        assert_eq!(
            model.loss(spacings(2, 5), spacings(2, 4)).unwrap_err(),
            ModelError::Shape {
                what: "targets y",
                expected: vec![2, 5],
                got: vec![2, 4]
            }
        );
        let err = |c: SpacingMdnConfig| c.init::<B>(&device).unwrap_err();
        assert_eq!(
            err(tiny().with_n_head(3)),
            ModelError::HeadsDontDivide {
                n_embd: 8,
                n_head: 3
            }
        );
        assert_eq!(
            err(tiny().with_n_layer(0)),
            ModelError::ZeroSize { name: "n_layer" }
        );
        assert_eq!(
            err(tiny().with_n_components(0)),
            ModelError::ZeroSize {
                name: "n_components"
            }
        );
        assert_eq!(
            err(tiny().with_block_size(0)),
            ModelError::ZeroSize { name: "block_size" }
        );
        assert_eq!(
            err(tiny().with_memory(Some(MemoryConfig::new().with_n_slots(0)))),
            ModelError::ZeroSize { name: "n_slots" }
        );
        assert!(matches!(
            err(tiny().with_sigma_floor(0.0)),
            ModelError::OutOfRange { .. }
        ));
    }

    /// A few AdamW steps on one batch lower its loss, with and without memory.
    #[test]
    fn adamw_steps_lower_the_loss() {
        type A = Autodiff<B>;
        let device = Default::default();
        for config in [tiny(), with_memory(tiny())] {
            let mut model = config.init::<A>(&device).unwrap();
            let mut optim = AdamWConfig::new().init::<A, SpacingMdn<A>>();
            let x = spacings::<A>(4, 10);
            let y = spacings::<A>(4, 10);
            let first: f32 = model.loss(x.clone(), y.clone()).unwrap().into_scalar();
            for _ in 0..5 {
                let loss = model.loss(x.clone(), y.clone()).unwrap();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-2, model, grads);
            }
            let last: f32 = model.loss(x, y).unwrap().into_scalar();
            assert!(last < first - 1e-2, "loss {first} → {last}");
        }
    }
}
