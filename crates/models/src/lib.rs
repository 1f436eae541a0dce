//! Models on burn: the SpacingMDN with its memory bank and the char-level GPT
//! (`DESIGN.md`, crates/models).
//!
//! | file | idea |
//! |---|---|
//! | [`attention`] | causal multi-head self-attention, separate `q`/`k`/`v`/`o`, optional RoPE |
//! | [`block`] | pre-norm transformer block (`ln1`, `attn`, `ln2`, `mlp`) |
//! | [`mdn`] | mixture-density head and its NLL |
//! | [`memory`] | memory bank: learnable prefix slots and their readouts |
//! | [`spacing_mdn`] | SpacingMDN: spacings → mixture over the next spacing |
//! | [`gpt`] | char-level GPT (nanoGPT) |
//! | [`frame_generator`] | the notes' frame-interpolation conv net (two frames → the middle one) |
//! | [`generate`] | sampling text from the GPT |
//! | [`names`] | the stable parameter-name scheme, and a visitor that lists it |
//! | [`gpt2_init`] | GPT-2 initialization of the layers |
//! | [`error`] | [`ModelError`] |
//!
//! Every model is generic over burn's `Backend`, f32, and is tested on
//! `spectral::device::CpuBackend` (NdArray) and its `Autodiff` wrapper. Linear weights use
//! burn's `[d_in, d_out]` layout.

pub mod attention;
pub mod block;
pub mod error;
pub mod frame_generator;
pub mod gpt2_init;
pub mod mdn;
pub mod memory;

pub use error::ModelError;
pub mod generate;
pub mod gpt;
pub mod names;
pub mod spacing_mdn;

pub use frame_generator::{FrameGenerator, FrameGeneratorConfig};
pub use gpt::{Gpt, GptConfig};
pub use mdn::{Mixture, MixtureHead, mixture_log_prob, mixture_mean, mixture_nll};
pub use memory::{MemoryBank, MemoryConfig, MemoryEdit, SlotAblation};
pub use names::param_shapes;
pub use spacing_mdn::{MdnOutput, SpacingMdn, SpacingMdnConfig};
