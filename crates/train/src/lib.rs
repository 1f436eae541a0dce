//! Training loop, checkpoints, metrics and evaluations (`DESIGN.md`, crates/train).
//!
//! | module | idea |
//! |---|---|
//! | [`activation_grams`] | Gram matrices `XᵀX` of the block matrices' inputs on calibration windows |
//! | [`auxiliary`] | auxiliary losses (window statistics, drift) and ramped regularizers |
//! | [`collective`] | device threads as peers of burn's collective: all-reduce, broadcast |
//! | [`compress`] | SVD compression of a checkpoint (`spectral compress`), its file, its loader |
//! | [`data_parallel`] | training on several devices: batch shares, gradient all-reduce, sharded optimizer |
//! | [`devices`] | the devices a run names, checked, and the one dispatch onto their backend |
//! | [`engine`] | training on the CUDA engine (`spectral-cuda`): what it supports, checkpoints both ways, its loop |
//! | [`data`] | spacing and text datasets, leak-free splits, stateless window sampling |
//! | [`config`] | a run's TOML config |
//! | [`model_init`] | a config's `init`: the model's own, or a `spectral::init` redraw |
//! | [`task`] | a (model, data) pair as the loop sees it |
//! | [`train_loop`] | the one training loop: clip, step, schedule, eval cadence, with hooks for what differs |
//! | [`trainer`] | training on one device: a configured task through the loop, with its hooks (`OneDevice`) |
//! | [`run_start`] | what a run starts from: the seeded model, or a checkpoint to resume |
//! | [`run_log`] | a run's books: config.toml, metrics, best/last checkpoints, progress bar, summary |
//! | [`launch`] | a configured run on its device or devices (`train_on_device`) |
//! | [`run_dir`] | one process per run directory (its lock), and what a fresh run may replace |
//! | [`memory_check`] | a CPU batch's activations against the memory available, before work |
//! | [`error`] | [`TrainError`] |
//! | [`checkpoint`] | one atomic safetensors file: model, optimizer state, step, config, CRC-32 per array |
//! | [`eval`] | SpacingMDN evaluation: CRPS, PIT, Err@H, mem_entropy, slot ablations, diagnostics |
//! | [`metrics`] | `metrics.jsonl` |
//! | [`runs`] | finished run directories read back (config + metrics) |
//! | [`spacing_eval`] | validation NLL and MAE of a SpacingMDN, free-running rollouts |

pub mod activation_grams;
pub mod auxiliary;
pub mod checkpoint;
pub mod collective;
pub mod compress;
pub mod config;
pub mod data;
pub mod data_parallel;
pub mod devices;
pub mod engine;
pub mod error;
pub mod eval;
pub mod launch;
pub mod memory_check;
pub mod metrics;
pub mod model_init;
pub mod run_dir;
pub mod run_log;
pub mod run_start;
pub mod runs;
pub mod spacing_eval;
pub mod task;
pub mod train_loop;
pub mod trainer;

pub use config::{DataConfig, EngineChoice, ModelConfig, TrainConfig};
pub use error::TrainError;
pub use launch::train_on_device;
pub use run_dir::Start;
pub use run_log::TrainSummary;
pub use trainer::train;
