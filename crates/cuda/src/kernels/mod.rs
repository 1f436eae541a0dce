//! The engine's CUDA C sources (compiled at run time after the prelude, `nvrtc.rs`). Each
//! source's header comment states its kernels' layouts; the Rust launchers are in `ops`.

use crate::nvrtc::Source;

/// A kernel of the prelude's helpers alone: round-trips values through bf16 (for the tests of
/// the prelude itself).
pub const PRELUDE_CHECK: Source = Source {
    name: "prelude_check.cu",
    code: include_str!("prelude_check.cu"),
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

/// Every source, for the compile check.
pub const ALL: &[Source] = &[
    PRELUDE_CHECK,
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

    /// Every source compiles for Hopper (sm_90) in both activation types. Needs libnvrtc
    /// (not a GPU): `pip install nvidia-cuda-nvrtc==13.0.*` puts one under
    /// `site-packages/nvidia/cu13/lib`; run with that directory in `LD_LIBRARY_PATH`.
    #[test]
    #[ignore = "needs libnvrtc"]
    fn every_source_compiles_for_sm90() {
        for source in ALL {
            for act in ["float", "bf16"] {
                let defines = [format!("ACT={act}")];
                if let Err(e) = crate::nvrtc::compile(source, &defines, (9, 0)) {
                    panic!("{e}");
                }
            }
        }
    }
}
