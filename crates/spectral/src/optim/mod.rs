//! Optimizers for burn modules: AdamW (burn's) and the spectral family, which shape the
//! update of each hidden weight matrix through its singular values.
//!
//! | method | update of a matrix parameter | file |
//! |---|---|---|
//! | Muon | `msign(momentum)`, shape-scaled | [`muon`] |
//! | TEON | `msign` of K same-type matrices of adjacent layers stacked (mode-1), split back | [`teon`] |
//! | Spectra | momentum with its top-k singular values flattened to the tail's scale | [`spectra`] |
//! | SpectraTeon | Spectra on the TEON stack | [`spectra`], [`teon`] |
//! | ManifoldMuon | steepest descent on the Stiefel manifold under the spectral norm | [`manifold_muon`] |
//!
//! [`SpectralOptimizer`] routes a module's parameters by [`groups`] (name rules), runs the
//! chosen method on the matrices and AdamW on everything else, and saves and restores all of
//! its state ([`state`]). In data-parallel training it shards the shaping across devices
//! ([`shard`]).

pub mod groups;
pub mod manifold_muon;
pub mod muon;
pub mod optimizer;
pub mod pattern;
pub mod schedule;
pub mod shard;
pub mod spectra;
pub mod state;
pub mod teon;

pub use groups::{GroupRule, ParamSlot, Role, param_groups, transformer_rules};
pub use optimizer::{AdamWSettings, Method, OptimizerConfig, RoleOverride, SpectralOptimizer};
pub use schedule::Schedule;
pub use shard::{MatrixExchange, Shard, SingleDevice};

/// What can go wrong when routing parameters or restoring optimizer state.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    #[error("parameter `{0}` matches no group rule; add a rule for it")]
    UnmatchedParam(String),
    #[error(
        "group rule `{0}` matches no parameter of this model (mark it optional if that is intended)"
    )]
    UnusedRule(String),
    #[error(
        "parameter `{path}` of shape {shape:?} matched the matrix rule `{pattern}` but is not 2-D"
    )]
    NotAMatrix {
        path: String,
        shape: Vec<usize>,
        pattern: String,
    },
    #[error("optimizer state: {0}")]
    State(String),
    #[error("sharded step: {0}")]
    Exchange(String),
}
