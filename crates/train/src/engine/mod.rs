//! Training on the CUDA engine (`spectral-cuda`): the toolkit's own models with bf16
//! activations and f32 master weights, the whole step replayed as one CUDA graph.
//!
//! - [`plan`]: which configs the engine runs ([`EnginePlan::of`] says in one line why not) and
//!   which of engine and burn a run gets ([`choose`]).
//! - [`state`]: the engine's weights and optimizer moments as a checkpoint's `model/…` and
//!   `optim/…` entries in burn's format, and back: either side resumes the other's checkpoint.
//! - [`run`]: the run itself, with the burn trainer's books (config.toml, metrics.jsonl,
//!   best/last checkpoints, progress bar, NaN stop).

pub mod plan;
pub mod run;
pub mod state;

pub use plan::{Choice, EnginePlan, choose};
pub use run::{HostBatch, Windows, open_engine, train_on_engine};
