//! Spectral analysis of trained weights (`spectral spectrum`): for every matrix of a
//! checkpoint (ours or a PyTorch `state_dict`), its exact singular values (faer, f64),
//! spectral norm, condition number, stable and effective rank, ranks at 90/95/99 % energy;
//! the network's modular norm; JSON, a terminal table and charts.
//!
//! | file | idea |
//! |---|---|
//! | [`source`] | the matrices of a safetensors file in burn's layout (PyTorch's transposed) |
//! | [`stats`] | the statistics of one matrix |
//! | [`modular`] | the modular norm and its per-layer coefficients |
//! | [`report`] | a file's report, the side-by-side table, JSON and charts |

pub mod modular;
pub mod report;
pub mod source;
pub mod stats;

pub use modular::{ModularNorm, modular_norm};
pub use report::{SpectrumReport, analyze_file, table, to_json, write_outputs};
pub use source::{Layout, NamedMatrix, Role, read_matrices};
pub use stats::MatrixStats;

/// Failures of an analysis.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(transparent)]
    Linalg(#[from] crate::linalg::LinalgError),
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}
