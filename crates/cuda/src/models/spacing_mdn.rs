//! The SpacingMDN (`spectral_models::spacing_mdn`) on the engine, as the GPU benchmark and the
//! main job train it: RoPE in every block, the memory bank's `M` slot tokens (slots + slot-ID
//! embeddings) as a prefix, and the mixture head on the data positions; no memory readouts.
//!
//! ```text
//! x [B, T] spacings → r₀ = [slots + slot_id ; x W_in + b_in]          f32 [B, S, C], S = M + T
//! blocks (the GPT's, with RoPE over the S positions)
//! h_f = LN_f(r) → raw = h_f[:, M:] W_head                            f32 [B, T, 3K]
//! loss = mean mixture NLL(raw + b_head, y)                            f32 [1]
//! ```

use crate::error::EngineError;
use crate::models::gpt::block_params;
use crate::models::trunk::check_heads;
use crate::params::{Group, ParamTable};

/// A SpacingMDN's dimensions and its static batch shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MdnShape {
    pub layers: usize,
    pub heads: usize,
    pub width: usize,
    /// Memory slots M (0: no memory bank).
    pub slots: usize,
    /// Whether the bank has slot-ID embeddings.
    pub slot_id: bool,
    /// Mixture components K.
    pub components: usize,
    /// σ's floor, in mean-spacing units.
    pub sigma_floor: f32,
    /// Sequences per step B.
    pub batch: usize,
    /// Spacings per sequence T.
    pub seq: usize,
}

impl MdnShape {
    /// Positions per sequence S = M + T.
    pub fn positions(&self) -> usize {
        self.slots + self.seq
    }

    pub fn head_width(&self) -> usize {
        self.width / self.heads
    }

    pub fn validate(&self) -> Result<(), EngineError> {
        let fail = |why: String| Err(EngineError::Unsupported(why));
        if [
            self.layers,
            self.heads,
            self.width,
            self.components,
            self.batch,
            self.seq,
        ]
        .contains(&0)
        {
            return fail(format!("a SpacingMDN with a zero dimension: {self:?}"));
        }
        check_heads(self.width, self.heads)
    }

    /// The parameters, named and shaped as `spectral_models::spacing_mdn::SpacingMdn`'s with
    /// RoPE, biases and a memory bank without readouts.
    pub fn params(&self) -> ParamTable {
        let (c, m, k) = (self.width, self.slots, self.components);
        let mut list = Vec::new();
        if m > 0 {
            list.push(("memory.slots".to_string(), vec![m, c], Group::Decayed));
            if self.slot_id {
                list.push((
                    "memory.slot_id.weight".to_string(),
                    vec![m, c],
                    Group::Decayed,
                ));
            }
        }
        list.push(("input_proj.weight".into(), vec![1, c], Group::Decayed));
        list.push(("input_proj.bias".into(), vec![c], Group::Undecayed));
        let mut stacks = Vec::new();
        for l in 0..self.layers {
            let (params, stack) = block_params(l, c);
            list.extend(params);
            stacks.push(stack);
        }
        list.push(("ln_f.gamma".into(), vec![c], Group::Undecayed));
        list.push(("ln_f.beta".into(), vec![c], Group::Undecayed));
        list.push((
            "mdn_head.linear.weight".into(),
            vec![c, 3 * k],
            Group::Decayed,
        ));
        list.push(("mdn_head.linear.bias".into(), vec![3 * k], Group::Undecayed));
        ParamTable::new(list, &stacks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench() -> MdnShape {
        MdnShape {
            layers: 6,
            heads: 8,
            width: 256,
            slots: 8,
            slot_id: true,
            components: 8,
            sigma_floor: 1e-3,
            batch: 512,
            seq: 255,
        }
    }

    #[test]
    fn the_benchmark_model_has_the_models_parameter_count() {
        // spectral_models' closed form at the defaults with the default memory bank, the count
        // bench/train_ref.py asserts too.
        assert_eq!(bench().params().count(), 4_749_848);
        assert_eq!(
            MdnShape {
                slots: 0,
                ..bench()
            }
            .params()
            .count(),
            4_745_752
        );
    }

    #[test]
    fn shapes_the_engine_cannot_run_are_refused_in_one_line() {
        assert!(bench().validate().is_ok());
        let message = MdnShape {
            heads: 16,
            ..bench()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("head widths") && !message.contains('\n'),
            "{message}"
        );
    }
}
