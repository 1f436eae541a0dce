//! The engine's operations: launchers of the kernels in [`kernels`](crate::kernels) and of
//! cuBLAS products, one file per operation. Launchers allocate nothing: every tensor they read
//! or write is a device address the caller planned in its arena, and each operation lists the
//! buffers it needs (names, lengths, types) so the caller can plan them.
//!
//! - [`attention`]: causal self-attention with stored probabilities, on cuBLAS gemms (every
//!   activation type), and the layout kernels both attention paths share.
//! - [`flash_attention`]: causal self-attention by FlashAttention-2 on tensor cores (bf16).

pub mod attention;
pub mod flash_attention;
