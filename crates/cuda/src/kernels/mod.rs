//! The engine's CUDA C sources (compiled at run time after the prelude, `nvrtc.rs`). Each
//! source's header comment states its kernels' layouts; the Rust launchers are in `ops`.

use crate::nvrtc::Source;

/// A kernel of the prelude's helpers alone: round-trips values through bf16 (for the tests of
/// the prelude itself).
pub const PRELUDE_CHECK: Source = Source {
    name: "prelude_check.cu",
    code: include_str!("prelude_check.cu"),
};

/// Muon's momentum, normalization and update over a group of same-shape matrices.
pub const MUON: Source = Source {
    name: "muon.cu",
    code: include_str!("muon.cu"),
};

/// Bias, RoPE and the `[B, T, C]` ↔ `[B, H, T, D]` permutes around attention.
pub const ATTENTION_LAYOUT: Source = Source {
    name: "attention_layout.cu",
    code: include_str!("attention_layout.cu"),
};

/// The causal softmax of stored scores, and its backward.
pub const CAUSAL_SOFTMAX: Source = Source {
    name: "causal_softmax.cu",
    code: include_str!("causal_softmax.cu"),
};

/// Causal attention by FlashAttention-2 on tensor cores, bf16 only; `-DHEAD_DIM=32` or `64`.
pub const FLASH_ATTENTION: Source = Source {
    name: "flash_attention.cu",
    code: include_str!("flash_attention.cu"),
};

/// Deterministic sums of f32 data: per-block partials, then one finishing block (a sum times a
/// factor, or a norm and its clip factor); and column sums of an f32 matrix.
pub const REDUCE: Source = Source {
    name: "reduce.cu",
    code: include_str!("reduce.cu"),
};

/// burn's AdamW over one contiguous group of the flat f32 buffers, writing the ACT copy.
pub const ADAMW: Source = Source {
    name: "adamw.cu",
    code: include_str!("adamw.cu"),
};

/// f32 to ACT, elementwise.
pub const CAST: Source = Source {
    name: "cast.cu",
    code: include_str!("cast.cu"),
};

/// Cross-entropy over a byte vocabulary: per-row loss and the gradient of the scaled sum, in
/// one pass.
pub const CROSS_ENTROPY: Source = Source {
    name: "cross_entropy.cu",
    code: include_str!("cross_entropy.cu"),
};

/// LayerNorm with the residual add in front, and its backward pass.
pub const LAYER_NORM: Source = Source {
    name: "layer_norm.cu",
    code: include_str!("layer_norm.cu"),
};

/// Bias and exact GELU after a linear layer, their backward pass with the bias gradient, and
/// the bias add and column sum of linears without activation.
pub const BIAS_GELU: Source = Source {
    name: "bias_gelu.cu",
    code: include_str!("bias_gelu.cu"),
};

/// Token and position embeddings; the backward pass by a stable counting sort of the rows.
pub const EMBEDDING: Source = Source {
    name: "embedding.cu",
    code: include_str!("embedding.cu"),
};

/// The SpacingMDN's Gaussian-mixture negative log-likelihood and its gradient, in one pass.
pub const MIXTURE_NLL: Source = Source {
    name: "mixture_nll.cu",
    code: include_str!("mixture_nll.cu"),
};

/// The SpacingMDN's input stage: memory prefix tokens and the input projection.
pub const MDN_INPUT: Source = Source {
    name: "mdn_input.cu",
    code: include_str!("mdn_input.cu"),
};

/// Every source, for the compile check.
pub const ALL: &[Source] = &[
    PRELUDE_CHECK,
    ATTENTION_LAYOUT,
    CAUSAL_SOFTMAX,
    FLASH_ATTENTION,
    MUON,
    MDN_INPUT,
    REDUCE,
    ADAMW,
    CAST,
    CROSS_ENTROPY,
    LAYER_NORM,
    BIAS_GELU,
    EMBEDDING,
    MIXTURE_NLL,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The `-D` sets a source is launched with: both activation types, or for the flash
    /// kernels (bf16 alone) both head widths.
    fn variants(source: &Source) -> Vec<Vec<String>> {
        if source.name == FLASH_ATTENTION.name {
            [32, 64].map(|d| vec![format!("HEAD_DIM={d}")]).to_vec()
        } else {
            ["float", "bf16"]
                .map(|act| vec![format!("ACT={act}")])
                .to_vec()
        }
    }

    /// Every source compiles for Hopper (sm_90) in every variant it is launched with. Needs
    /// libnvrtc (not a GPU): `pip install nvidia-cuda-nvrtc==13.0.*` puts one under
    /// `site-packages/nvidia/cu13/lib`; run with that directory in `LD_LIBRARY_PATH`.
    #[test]
    #[ignore = "needs libnvrtc"]
    fn every_source_compiles_for_sm90() {
        for source in ALL {
            for defines in variants(source) {
                if let Err(e) = crate::nvrtc::compile(source, &defines, (9, 0)) {
                    panic!("{defines:?}: {e}");
                }
            }
        }
    }
}
