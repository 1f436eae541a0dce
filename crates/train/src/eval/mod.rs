//! The SpacingMDN evaluation suite (design notes 002, issue 7): scoring rules, rollouts,
//! memory attention, slot ablations and the six memory diagnostics.
//!
//! | module | idea |
//! |---|---|
//! | [`mixture`] | a Gaussian mixture per target on the host (f64): CDF, mean |
//! | [`crps`] | CRPS of a Gaussian mixture in closed form |
//! | [`calibration`] | PIT histogram and its flatness |
//! | [`rollout`] | free-running rollouts, Err@H and drift@H, two-sample KS |
//! | [`memory_attention`] | `mem_entropy`: spread of the data's attention over the slots |

pub mod calibration;
pub mod crps;
pub mod memory_attention;
pub mod mixture;
pub mod rollout;
#[cfg(test)]
pub(crate) mod testing;
