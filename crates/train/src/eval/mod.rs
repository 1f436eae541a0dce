//! The SpacingMDN evaluation suite (design notes 002): scoring rules, rollouts,
//! memory attention, slot ablations and the six memory diagnostics.
//!
//! | module | idea |
//! |---|---|
//! | [`mixture`] | a Gaussian mixture per target on the host (f64): CDF, mean |
//! | [`crps`] | CRPS of a Gaussian mixture in closed form |
//! | [`pit`] | PIT histogram and its flatness |
//! | [`rollout`] | free-running rollouts, Err@H and drift@H, two-sample KS |
//! | [`memory_attention`] | `mem_entropy`: spread of the data's attention over the slots |
//! | [`load`] | checkpoint → SpacingMDN, its data, [`EvalSettings`], [`EvalError`] |
//! | [`suite`] | `spectral eval`: all metrics on the validation split |
//! | [`diagnostics`] | `spectral diagnose`: the six memory phenomena, a number and a reading each |
//! | [`report`] | the printed tables |
//! | [`slots`] | `spectral slots`: per-slot zero/mean ablation, eff%, rollout Δ, labels |
//! | [`sample`] | `spectral sample`: text from a char-GPT, rollouts from a SpacingMDN, to a file |

pub mod crps;
pub mod diagnostics;
pub mod load;
pub mod memory_attention;
pub mod mixture;
pub mod pit;
pub mod report;
pub mod rollout;
pub mod sample;
pub mod slots;
pub mod suite;
#[cfg(test)]
pub(crate) mod testing;

pub use load::{EvalError, EvalSettings, Loaded, load_spacing_mdn};
