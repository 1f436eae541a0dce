//! Errors of the zeta crate: every one names the values that caused it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ZetaError {
    #[error("invalid range: {0}")]
    InvalidRange(String),

    #[error(
        "Rosser's rule fails in the Gram block [g_{gram_start}, g_{gram_end}) ({found} of {} sign \
         changes found), and the union [g_{union_start}, g_{union_end}) of it and its neighbouring \
         blocks still shows {union_found} of {} after sampling each Gram interval \
         {samples_per_interval} times: unions are grown to at most {max_intervals} Gram \
         intervals, so this case needs a wider search than this program does",
        gram_end - gram_start,
        union_end - union_start
    )]
    RosserUnresolved {
        gram_start: i64,
        gram_end: i64,
        found: usize,
        union_start: i64,
        union_end: i64,
        union_found: usize,
        samples_per_interval: u32,
        max_intervals: i64,
    },

    #[error(
        "two failures of Rosser's rule overlap: the union [g_{union_start}, g_{union_end}) begins \
         inside the stretch [g_{held_start}, g_{held_end}) already counted as one; unions that \
         partly overlap are not merged by this program"
    )]
    RosserOverlap {
        union_start: i64,
        union_end: i64,
        held_start: i64,
        held_end: i64,
    },

    #[error(
        "Turing's method could not bound N(g_{gram_index}) from {side} within {max_intervals} \
         Gram intervals"
    )]
    TuringFailed {
        gram_index: i64,
        side: &'static str,
        max_intervals: i64,
    },

    #[error(
        "zero count check failed between g_{gram_start} and g_{gram_end}: found {found} sign changes, \
         expected {}; refusing to write unverified zeros",
        gram_end - gram_start
    )]
    CountMismatch {
        gram_start: i64,
        gram_end: i64,
        found: u64,
    },

    /// A GPU that could not be opened or failed at work (feature `cuda`).
    #[error("GPU: {0}")]
    Device(String),

    #[error("internal consistency check failed: {0}")]
    Internal(String),

    #[error("{path}: {io}")]
    Io { path: PathBuf, io: std::io::Error },

    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
}

impl From<spectral_io::IoError> for ZetaError {
    fn from(error: spectral_io::IoError) -> Self {
        Self::io(error.path, error.source)
    }
}

impl ZetaError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            io: source,
        }
    }
}
