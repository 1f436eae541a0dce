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

/// Every source, for the compile check.
pub const ALL: &[Source] = &[
    PRELUDE_CHECK,
    ATTENTION_LAYOUT,
    CAUSAL_SOFTMAX,
    FLASH_ATTENTION,
    MUON,
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
