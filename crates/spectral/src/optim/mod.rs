//! Optimizers for burn modules: AdamW (burn's) and the spectral family, which shape the
//! update of each hidden weight matrix through its singular values.
//!
//! | method | update of a matrix parameter (burn layout `[d_in, d_out]`) | file |
//! |---|---|---|
//! | AdamW | elementwise adaptive moments, decoupled weight decay | [`adamw`] |
//! | Muon | `msign(momentum)`, shape-scaled | [`muon`] |
//! | TEON | `msign` of K same-type matrices of adjacent layers stacked (mode-1), split back | [`teon`] |
//! | Spectra | momentum with its top-k singular values flattened to the tail's scale | [`spectra`] |
//! | SpectraTeon | Spectra on the TEON stack | [`spectra_teon`] |
//! | ManifoldMuon | steepest descent on the Stiefel manifold under the spectral norm | [`manifold_muon`] |
//!
//! [`SpectralOptimizer`] ([`optimizer`]) routes a module's parameters by [`groups`] (name
//! rules): the matrices to the [`MatrixMethod`](method::MatrixMethod) of the configured
//! [`Method`], everything else to AdamW. It keeps the momenta ([`momentum`]) and the methods'
//! state, saves and restores all of it ([`state`]), and in data-parallel training shards the
//! shaping across devices ([`shard`]). Every method is pinned to PyTorch by three recorded
//! steps (`tests/optim_fixtures.rs`, made by `bench/optim_fixtures.py`).
//!
//! # Adding a method
//!
//! 1. A file `optim/<name>.rs` with the method's config (a serde struct with defaults, one doc
//!    line per field) and a type implementing [`MatrixMethod`](method::MatrixMethod): its
//!    momentum, optionally its grouping and per-group state, the owner's `shape` of a batch and
//!    the `apply` that turns the shared result into new weights. Its numerical core is a pure
//!    function next to it, tested there.
//! 2. In [`method`], a variant of [`Method`] with its name, and one line of the registry
//!    [`matrix_method`](registry::matrix_method) that builds the type from its config.
//! 3. The config as a field of [`OptimizerConfig`] (its `[optimizer.<name>]` TOML table).
//! 4. A learning rate wherever one is chosen per method: those `match`es are exhaustive, so
//!    the compiler names each (the optimizer benchmark's `bench_config` in
//!    `spectral-experiments`, and the tests that train every method).
//!
//! The router, the batching, sharding and checkpoints need no change.

pub mod adamw;
pub mod config;
pub mod groups;
pub mod manifold_muon;
pub mod method;
pub mod momentum;
pub mod muon;
pub mod optimizer;
pub mod pattern;
pub mod registry;
pub mod schedule;
pub mod shard;
pub mod spectra;
pub mod spectra_teon;
pub mod state;
pub mod teon;

pub use adamw::AdamWSettings;
pub use config::{OptimizerConfig, RoleOverride};
pub use groups::{GroupRule, ParamSlot, Role, param_groups, transformer_rules};
pub use method::Method;
pub use optimizer::SpectralOptimizer;
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
