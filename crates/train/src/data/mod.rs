//! Datasets: sequences cut into windows of length `T` for next-value prediction.
//!
//! Both datasets hold one 1-D sequence `s` of length `n`, split by position into a training
//! range `[0, n_train)` and a validation range `[n_train, n)` ([`Split`]). A window starting at
//! `j` is the input `x = s[j .. j+T]` and the target `y = s[j+1 .. j+T+1]` (`y[t] = x[t+1]`),
//! so it touches `T + 1` values, all inside one range: no training window reads a validation
//! value, as input or as target.
//!
//! - [`SpacingDataset`]: unfolded zeta-zero spacings (f32 tensors `[B, T]`), from the files
//!   `spectral unfold` writes or from memory; keeps the absolute index of its first spacing.
//! - [`TextDataset`]: bytes (Int tensors `[B, T]`, vocabulary 256), by default the embedded
//!   Shakespeare slice in `data/shakespeare/`.
//! - [`synthetic_video`]: seeded clips of moving, rotating textured shapes (64×64 RGB) and
//!   their frame triplets, for frame interpolation (`spectral bench frames`).
//! - [`identity`]: the data file a run read, by absolute path and sha256.
//! - [`sampling`]: training windows as a pure function of `(seed, step, row)`, so a run resumes
//!   from its step number alone; validation windows are fixed and consecutive.

pub mod identity;
pub mod sampling;
pub mod spacings;
pub mod split;
pub mod synthetic_video;
pub mod text;

pub use spacings::{SpacingBatch, SpacingDataset};
pub use split::Split;
pub use text::{TEXT_VAL_FRACTION, TextDataset, TokenBatch, VOCAB_SIZE};

use std::path::PathBuf;

/// What went wrong building a dataset or a batch; every message names the data source
/// (a file path, or a description of in-memory data) and the offending value.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A series file could not be opened or read (bad magic, truncated, ...).
    #[error(transparent)]
    Series(#[from] spectral_zeta::ZetaError),

    #[error(
        "{path}: holds {found}, not unfolded spacings; make a spacings file with `spectral unfold`"
    )]
    WrongKind { path: PathBuf, found: &'static str },

    #[error("{origin}: no values")]
    Empty { origin: String },

    #[error("{origin}: spacing δ_{index} = {value} is not finite")]
    NotFinite {
        origin: String,
        index: u64,
        value: f64,
    },

    #[error(
        "{origin}: spacing δ_{index} = {value} is not positive (spacings of distinct zeros are > 0)"
    )]
    NotPositive {
        origin: String,
        index: u64,
        value: f64,
    },

    #[error("val_fraction {val_fraction} is not in (0, 1): both splits need values")]
    BadFraction { val_fraction: f64 },

    #[error(
        "{origin}: the {split} split has {len} values, too few for one window of seq_len \
         {seq_len} (a window needs seq_len + 1 = {} values)",
        seq_len + 1
    )]
    TooShort {
        origin: String,
        split: &'static str,
        len: usize,
        seq_len: usize,
    },

    #[error(
        "{origin}: {total} values at val_fraction {val_fraction} leave {len} in the {split} split; \
         each split needs at least 2 (one input and its target)"
    )]
    SplitTooSmall {
        origin: String,
        split: &'static str,
        len: usize,
        total: usize,
        val_fraction: f64,
    },

    #[error("{path} has changed since the run read it (sha256 {expected:.12}…, now {found:.12}…)")]
    Changed {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("a batch needs batch >= 1 and seq_len >= 1, got batch {batch}, seq_len {seq_len}")]
    EmptyBatch { batch: usize, seq_len: usize },
}
