//! The memory bank: M learnable prefix tokens that every data position can attend to.
//!
//! ```text
//! prefix_m = slots[m] + slot_id[m]                 m = 0..M−1, each [C]   → [B, M, C]
//! sequence = [prefix_0 … prefix_{M−1}, x_0 … x_{T−1}]                       [B, M+T, C]
//! ```
//!
//! Slots sit at positions `0..M`, data at `M..M+T`; one causal mask covers the whole sequence,
//! so a slot sees only slots before it (and itself) and a data position sees all slots plus
//! past data. Slot outputs therefore never depend on the data. After the blocks the sequence
//! is split back into memory outputs `[B, M, C]` and data outputs `[B, T, C]`.
//!
//! Optional readouts (all off by default) let the memory act on the data outputs directly,
//! through the summary `s = mean_m(memory outputs)` `[B, 1, C]`, in this order:
//!
//! ```text
//! FiLM:     [γ | β] = film(s),  x ← x ⊙ (1 + γ) + β          film [C, 2C], zero init ⇒ identity
//! gate:     g = σ(gate([x | s])),  x ← (1 − g) ⊙ x + g ⊙ s   gate [2C, C], zero weights, bias −4
//! summary:  x ← x + summary_proj(s)                         summary_proj [C, C], zero init
//! ```
//!
//! The slot-ID embeddings give each slot an identity of its own; without them the slots were
//! observed not to differentiate (design notes, memory v0).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use spectral::linalg::linear;

use crate::error::{ModelError, nonzero};
use crate::gpt2_init;

/// Starting bias of the gate: σ(−4) ≈ 0.018, so the gate opens only as training asks.
pub const GATE_INIT_BIAS: f64 = -4.0;

/// How the memory bank is built.
#[derive(Config, Debug, PartialEq)]
pub struct MemoryConfig {
    /// Number of slots M (prefix tokens); 8 in the reference runs.
    #[config(default = 8)]
    pub n_slots: usize,
    /// Add a learned slot-ID embedding to each slot (on: slots do not differentiate without).
    #[config(default = true)]
    pub slot_id: bool,
    /// FiLM readout: the memory summary scales and shifts the data outputs.
    #[config(default = false)]
    pub film: bool,
    /// Gated readout: a sigmoid gate mixes each data output with the memory summary.
    #[config(default = false)]
    pub gate: bool,
    /// Summary readout: a projection of the memory summary is added to the MDN head's input.
    #[config(default = false)]
    pub summary_to_head: bool,
    /// An auxiliary head `aux_head` `[C, 1]` reading each slot's output, so that slot i can be
    /// regressed onto the window statistic M_i (`spectral_train::auxiliary`); used only by that loss.
    #[config(default = false)]
    pub aux_head: bool,
}

/// What to do to one slot's prefix token for an ablation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotAblation {
    /// Replace the token `slots[m] + slot_id[m]` by zeros.
    Zero,
    /// Replace it by the mean of all M (unedited) tokens.
    Mean,
}

/// Edits applied to the prefix tokens for one forward pass; the weights are untouched.
/// `MemoryEdit::default()` edits nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryEdit {
    /// `(slot, ablation)` pairs, applied in order.
    pub ablations: Vec<(usize, SlotAblation)>,
}

impl MemoryEdit {
    /// No edit.
    pub fn none() -> Self {
        Self::default()
    }

    /// Zero one slot.
    pub fn zero(slot: usize) -> Self {
        Self {
            ablations: vec![(slot, SlotAblation::Zero)],
        }
    }

    /// Replace one slot by the mean of the slots.
    pub fn mean(slot: usize) -> Self {
        Self {
            ablations: vec![(slot, SlotAblation::Mean)],
        }
    }

    /// True when nothing is edited.
    pub fn is_none(&self) -> bool {
        self.ablations.is_empty()
    }
}

/// The memory bank's parameters and readouts.
#[derive(Module, Debug)]
pub struct MemoryBank<B: Backend> {
    /// The slots `[M, C]`, N(0, 0.02²) at init.
    pub slots: Param<Tensor<B, 2>>,
    /// Slot-ID embeddings `[M, C]` (`slot_id.weight`), added to the slots.
    pub slot_id: Option<Embedding<B>>,
    /// FiLM readout `[C, 2C]`.
    pub film: Option<Linear<B>>,
    /// Gate readout `[2C, C]`.
    pub gate: Option<Linear<B>>,
    /// Summary-to-head projection `[C, C]`.
    pub summary_proj: Option<Linear<B>>,
    /// Auxiliary regression head `[C, 1]`, shared by the slots (see [`MemoryBank::aux_predictions`]).
    pub aux_head: Option<Linear<B>>,
}

impl<B: Backend> MemoryBank<B> {
    /// A bank of `config.n_slots` slots of width `n_embd`.
    pub fn new(
        config: &MemoryConfig,
        n_embd: usize,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        nonzero("n_slots", config.n_slots)?;
        nonzero("n_embd", n_embd)?;
        let (m, c) = (config.n_slots, n_embd);
        let gate = config.gate.then(|| {
            let mut gate = gpt2_init::zero_linear(2 * c, c, device);
            gate.bias = Some(Param::from_tensor(Tensor::full(
                [c],
                GATE_INIT_BIAS,
                device,
            )));
            gate
        });
        Ok(Self {
            slots: gpt2_init::embedding(m, c, device).weight,
            slot_id: config.slot_id.then(|| gpt2_init::embedding(m, c, device)),
            film: config
                .film
                .then(|| gpt2_init::zero_linear(c, 2 * c, device)),
            gate,
            summary_proj: config
                .summary_to_head
                .then(|| gpt2_init::zero_linear(c, c, device)),
            aux_head: config
                .aux_head
                .then(|| gpt2_init::linear(c, 1, true, gpt2_init::INIT_STD, device)),
        })
    }

    /// The auxiliary head applied to every slot's output: `memory` `[B, M, C]` → `[B, M]`
    /// (slot i's prediction of window statistic i); `None` without an aux head.
    pub fn aux_predictions(&self, memory: Tensor<B, 3>) -> Option<Tensor<B, 2>> {
        let head = self.aux_head.as_ref()?;
        let [b, m, _] = memory.dims();
        Some(head.forward(memory).reshape([b, m])) // [B, M, 1] → [B, M]
    }

    /// Number of slots M.
    pub fn n_slots(&self) -> usize {
        self.slots.dims()[0]
    }

    /// Checks an edit against this bank: every slot index must exist.
    pub fn check(&self, edit: &MemoryEdit) -> Result<(), ModelError> {
        let n_slots = self.n_slots();
        match edit.ablations.iter().find(|(slot, _)| *slot >= n_slots) {
            Some(&(slot, _)) => Err(ModelError::SlotOutOfRange { slot, n_slots }),
            None => Ok(()),
        }
    }

    /// The prefix tokens `slots + slot_id` `[M, C]` with `edit` applied.
    pub fn tokens(&self, edit: &MemoryEdit) -> Result<Tensor<B, 2>, ModelError> {
        self.check(edit)?;
        let mut tokens = self.slots.val(); // [M, C]
        if let Some(id) = &self.slot_id {
            tokens = tokens + id.weight.val();
        }
        let [_, c] = tokens.dims();
        let mean = tokens.clone().mean_dim(0); // [1, C]
        for &(slot, ablation) in &edit.ablations {
            let row = match ablation {
                SlotAblation::Zero => Tensor::zeros([1, c], &mean.device()),
                SlotAblation::Mean => mean.clone(),
            };
            tokens = tokens.slice_assign([slot..slot + 1, 0..c], row);
        }
        Ok(tokens)
    }

    /// The prefix for a batch of `batch`: `[B, M, C]`.
    pub fn prefix(&self, batch: usize, edit: &MemoryEdit) -> Result<Tensor<B, 3>, ModelError> {
        let tokens = self.tokens(edit)?; // [M, C]
        let [m, c] = tokens.dims();
        Ok(tokens.unsqueeze_dim::<3>(0).expand([batch, m, c])) // [B, M, C]
    }

    /// Applies the configured readouts to the data outputs `x` `[B, T, C]` given the memory
    /// outputs `memory` `[B, M, C]`; the identity when none is configured.
    pub fn readout(&self, x: Tensor<B, 3>, memory: Tensor<B, 3>) -> Tensor<B, 3> {
        if self.film.is_none() && self.gate.is_none() && self.summary_proj.is_none() {
            return x;
        }
        let [b, t, c] = x.dims();
        let summary = memory.mean_dim(1); // [B, 1, C]
        let mut x = x;
        if let Some(film) = &self.film {
            let gb = film.forward(summary.clone()); // [B, 1, 2C]
            let gamma = gb.clone().narrow(2, 0, c); // [B, 1, C]
            let beta = gb.narrow(2, c, c); // [B, 1, C]
            x = x * gamma.add_scalar(1.0) + beta; // [B, T, C]
        }
        if let Some(gate) = &self.gate {
            let s = summary.clone().expand([b, t, c]); // [B, T, C]
            let g = sigmoid(linear(gate, Tensor::cat(vec![x.clone(), s.clone()], 2))); // [B, T, C]
            x = (g.clone().neg().add_scalar(1.0)) * x + g * s; // [B, T, C]
        }
        if let Some(proj) = &self.summary_proj {
            x = x + proj.forward(summary); // [B, T, C]
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};
    use spectral::device::CpuBackend as B;

    fn all_readouts() -> MemoryConfig {
        MemoryConfig::new()
            .with_film(true)
            .with_gate(true)
            .with_summary_to_head(true)
    }

    #[test]
    fn prefix_is_slots_plus_ids_for_every_batch_row() {
        let device = Default::default();
        let bank = MemoryBank::<B>::new(&MemoryConfig::new().with_n_slots(3), 4, &device).unwrap();
        let prefix = bank.prefix(2, &MemoryEdit::none()).unwrap();
        assert_eq!(prefix.dims(), [2, 3, 4]);
        let want = bank.slots.val() + bank.slot_id.as_ref().unwrap().weight.val();
        for row in 0..2 {
            prefix
                .clone()
                .narrow(0, row, 1)
                .squeeze_dim::<2>(0)
                .into_data()
                .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(0.0));
        }
    }

    #[test]
    fn edits_zero_or_average_one_slot() {
        let device = Default::default();
        let bank = MemoryBank::<B>::new(&MemoryConfig::new().with_n_slots(3), 4, &device).unwrap();
        let plain = bank.tokens(&MemoryEdit::none()).unwrap();
        let zeroed = bank.tokens(&MemoryEdit::zero(1)).unwrap();
        let averaged = bank.tokens(&MemoryEdit::mean(2)).unwrap();
        let row = |t: &Tensor<B, 2>, i: usize| {
            t.clone()
                .narrow(0, i, 1)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        assert_eq!(row(&zeroed, 1), vec![0.0; 4]);
        assert_eq!(row(&zeroed, 0), row(&plain, 0));
        assert_eq!(row(&zeroed, 2), row(&plain, 2));
        let mean = plain
            .clone()
            .mean_dim(0)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(row(&averaged, 2), mean);
        assert_ne!(row(&averaged, 2), row(&plain, 2));
        assert_eq!(
            bank.tokens(&MemoryEdit::zero(3)).unwrap_err(),
            ModelError::SlotOutOfRange {
                slot: 3,
                n_slots: 3
            }
        );
    }

    /// At init the FiLM and summary readouts are exactly the identity and the gate nearly so
    /// (each output moves at most σ(−4) of the way to the summary).
    #[test]
    fn readouts_start_near_the_identity() {
        let device = Default::default();
        let x = Tensor::<B, 3>::random([2, 5, 4], Distribution::Normal(0.0, 1.0), &device);
        let mem = Tensor::<B, 3>::random([2, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let film_only = MemoryConfig::new()
            .with_film(true)
            .with_summary_to_head(true);
        let bank = MemoryBank::<B>::new(&film_only, 4, &device).unwrap();
        bank.readout(x.clone(), mem.clone())
            .into_data()
            .assert_approx_eq::<f32>(&x.clone().into_data(), Tolerance::absolute(0.0));
        let bank = MemoryBank::<B>::new(&all_readouts(), 4, &device).unwrap();
        let moved: f32 = (bank.readout(x.clone(), mem) - x).abs().max().into_scalar();
        assert!(moved > 0.0 && moved < 0.1, "{moved}");
    }

    /// With trained (here: random) readout weights the output depends on the memory.
    #[test]
    fn readouts_carry_the_memory() {
        let device = Default::default();
        let mut bank = MemoryBank::<B>::new(&all_readouts(), 4, &device).unwrap();
        let random = |d_in, d_out| gpt2_init::linear(d_in, d_out, true, 0.5, &device);
        bank.film = Some(random(4, 8));
        bank.gate = Some(random(8, 4));
        bank.summary_proj = Some(random(4, 4));
        let x = Tensor::<B, 3>::random([2, 5, 4], Distribution::Normal(0.0, 1.0), &device);
        let mem = Tensor::<B, 3>::random([2, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let a = bank.readout(x.clone(), mem.clone());
        let b = bank.readout(x, mem.mul_scalar(2.0));
        assert_eq!(a.dims(), [2, 5, 4]);
        let diff: f32 = (a - b).abs().max().into_scalar();
        assert!(diff > 1e-3, "{diff}");
    }

    #[test]
    fn zero_slots_is_an_error() {
        let err =
            MemoryBank::<B>::new(&MemoryConfig::new().with_n_slots(0), 4, &Default::default());
        assert_eq!(err.unwrap_err(), ModelError::ZeroSize { name: "n_slots" });
    }

    #[test]
    fn aux_head_predicts_one_value_per_slot() {
        let device = Default::default();
        let config = MemoryConfig::new().with_n_slots(3).with_aux_head(true);
        let bank = MemoryBank::<B>::new(&config, 4, &device).unwrap();
        let memory = Tensor::<B, 3>::ones([2, 3, 4], &device);
        let predictions = bank.aux_predictions(memory.clone()).unwrap();
        assert_eq!(predictions.dims(), [2, 3]);
        // One shared head: equal slot outputs give equal predictions, w·1 + b.
        let head = bank.aux_head.as_ref().unwrap();
        let want: f32 =
            (head.weight.val().sum() + head.bias.as_ref().unwrap().val().sum()).into_scalar();
        let got: Vec<f32> = predictions.into_data().to_vec().unwrap();
        assert!(
            got.iter().all(|v| (v - want).abs() < 1e-6),
            "{got:?} vs {want}"
        );
        let plain = MemoryBank::<B>::new(&MemoryConfig::new().with_n_slots(3), 4, &device).unwrap();
        assert!(plain.aux_predictions(memory).is_none());
    }
}
