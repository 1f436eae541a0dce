//! The train/validation split of one sequence by position, and the windows drawn from it.
//!
//! A sequence `s` of `n` values splits into train `[0, n_train)` and validation `[n_train, n)`,
//! with `n_train = round((1 − val_fraction) · n)`. A window of length `T` starting at `j` is
//! `x = s[j .. j+T]`, `y = s[j+1 .. j+T+1]`; it touches `[j, j+T]`.
//!
//! - Training windows start at `j ∈ [0, n_train − T)`, so their last target index `j + T` is
//!   below `n_train`: no training window sees a validation value. Starts are drawn by
//!   [`sampling::window_start`](super::sampling::window_start), uniform over the
//!   `n_train − T` possible starts.
//! - Validation windows are consecutive and fixed: `j_k = n_train + k·T` for
//!   `k = 0 .. ⌊(n_val − 1)/T⌋` (at most `max_windows`). Their inputs tile the validation range
//!   and so do their targets, so each validation value after the first is predicted exactly
//!   once, from context inside the validation range only.

use super::DataError;
use super::sampling::window_starts;
use std::ops::Range;

/// A sequence of `len` values split by position into train and validation ranges, each long
/// enough for at least one window of length 1 (two values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    origin: String,
    len: usize,
    n_train: usize,
}

impl Split {
    /// Splits `len` values, the last `val_fraction` of them for validation. `origin` names the
    /// data (a path) in error messages.
    pub fn new(
        origin: impl Into<String>,
        len: usize,
        val_fraction: f64,
    ) -> Result<Self, DataError> {
        let origin = origin.into();
        if !(val_fraction > 0.0 && val_fraction < 1.0) {
            return Err(DataError::BadFraction { val_fraction });
        }
        if len == 0 {
            return Err(DataError::Empty { origin });
        }
        let n_train = (((1.0 - val_fraction) * len as f64).round() as usize).min(len);
        let split = Self {
            origin,
            len,
            n_train,
        };
        for (name, range) in [("train", split.train()), ("validation", split.val())] {
            if range.len() < 2 {
                return Err(DataError::SplitTooSmall {
                    origin: split.origin,
                    split: name,
                    len: range.len(),
                    total: len,
                    val_fraction,
                });
            }
        }
        Ok(split)
    }

    /// Number of values in the whole sequence.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a split holds at least four values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Positions of the training values.
    pub fn train(&self) -> Range<usize> {
        0..self.n_train
    }

    /// Positions of the validation values.
    pub fn val(&self) -> Range<usize> {
        self.n_train..self.len
    }

    /// The longest window both ranges can hold (each range has at least `T + 1` values).
    pub fn max_seq_len(&self) -> usize {
        self.n_train.min(self.len - self.n_train) - 1
    }

    /// Checks both ranges hold a window of length `seq_len`, naming the short one if not.
    pub fn check(&self, seq_len: usize) -> Result<(), DataError> {
        if seq_len == 0 {
            return Err(DataError::EmptyBatch { batch: 1, seq_len });
        }
        for (split, range) in [("train", self.train()), ("validation", self.val())] {
            if range.len() < seq_len + 1 {
                return Err(DataError::TooShort {
                    origin: self.origin.clone(),
                    split,
                    len: range.len(),
                    seq_len,
                });
            }
        }
        Ok(())
    }

    /// Starts of the `batch` training windows of length `seq_len` at `step`: a pure function
    /// of `(seed, step, row)`, each uniform over `[0, n_train − seq_len)`.
    pub fn train_starts(
        &self,
        step: u64,
        batch: usize,
        seq_len: usize,
        seed: u64,
    ) -> Result<Vec<usize>, DataError> {
        if batch == 0 {
            return Err(DataError::EmptyBatch { batch, seq_len });
        }
        self.check(seq_len)?;
        let n_starts = (self.n_train - seq_len) as u64;
        Ok(window_starts(seed, step, batch, n_starts)
            .into_iter()
            .map(|start| start as usize)
            .collect())
    }

    /// Starts of the fixed validation windows of length `seq_len`: `n_train + k·seq_len` for
    /// `k = 0 .. min(⌊(n_val − 1)/seq_len⌋, max_windows)`.
    pub fn val_starts(&self, seq_len: usize, max_windows: usize) -> Result<Vec<usize>, DataError> {
        self.check(seq_len)?;
        let count = ((self.val().len() - 1) / seq_len).min(max_windows);
        Ok((0..count).map(|k| self.n_train + k * seq_len).collect())
    }
}

/// Gathers the windows at `starts` into flat row-major inputs and targets, each `[B, T]` with
/// `B = starts.len()`, `T = seq_len`: `x[b][t] = values[starts[b] + t]`,
/// `y[b][t] = values[starts[b] + t + 1]`. Every start must satisfy
/// `start + seq_len < values.len()` (the starts from [`Split`] do).
pub(crate) fn gather<V: Copy>(values: &[V], starts: &[usize], seq_len: usize) -> (Vec<V>, Vec<V>) {
    let mut x = Vec::with_capacity(starts.len() * seq_len);
    let mut y = Vec::with_capacity(starts.len() * seq_len);
    for &start in starts {
        x.extend_from_slice(&values[start..start + seq_len]);
        y.extend_from_slice(&values[start + 1..start + seq_len + 1]);
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ninety_ten_split_of_a_thousand() {
        let split = Split::new("test", 1000, 0.1).unwrap();
        assert_eq!(split.train(), 0..900);
        assert_eq!(split.val(), 900..1000);
        assert_eq!(split.max_seq_len(), 99);
    }

    #[test]
    fn bad_fractions_and_lengths_are_typed_errors() {
        for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(matches!(
                Split::new("t", 100, f),
                Err(DataError::BadFraction { .. })
            ));
        }
        assert!(matches!(
            Split::new("t", 0, 0.1),
            Err(DataError::Empty { .. })
        ));
        // 10 values at 10 %: 1 validation value, not enough for one input and its target.
        let error = Split::new("t", 10, 0.1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t: 10 values at val_fraction 0.1 leave 1 in the validation split; each split needs \
             at least 2 (one input and its target)"
        );
        let split = Split::new("series.f64", 100, 0.1).unwrap();
        let message = split.check(10).unwrap_err().to_string();
        assert_eq!(
            message,
            "series.f64: the validation split has 10 values, too few for one window of seq_len \
             10 (a window needs seq_len + 1 = 11 values)"
        );
        assert!(split.check(9).is_ok());
        assert!(matches!(
            split.train_starts(0, 0, 4, 1),
            Err(DataError::EmptyBatch { .. })
        ));
    }

    #[test]
    fn val_windows_tile_the_validation_range() {
        let split = Split::new("t", 100, 0.2).unwrap(); // val = 80..100
        assert_eq!(split.val_starts(6, usize::MAX).unwrap(), [80, 86, 92]);
        // Targets of the last window end at 92 + 6 = 98 < 100; a fourth would need 104.
        assert_eq!(split.val_starts(6, 2).unwrap(), [80, 86]);
        assert_eq!(split.val_starts(19, 9).unwrap(), [80]);
        assert_eq!(split.val_starts(6, 0).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn gather_offsets_targets_by_one() {
        let values: Vec<u32> = (0..20).collect();
        let (x, y) = gather(&values, &[3, 10], 4);
        assert_eq!(x, [3, 4, 5, 6, 10, 11, 12, 13]);
        assert_eq!(y, [4, 5, 6, 7, 11, 12, 13, 14]);
    }

    proptest! {
        /// No leakage: every training window, inputs and targets, ends before the first
        /// validation value; every validation window lies inside the validation range; all
        /// for any length, fraction, window length and step.
        #[test]
        fn no_training_window_touches_validation(
            len in 4usize..20_000,
            val_fraction in 0.01f64..0.99,
            seq_len in 1usize..300,
            step in any::<u64>(),
            seed in any::<u64>(),
        ) {
            let Ok(split) = Split::new("p", len, val_fraction) else {
                // Only too-short splits may be refused.
                let n_val = len - (((1.0 - val_fraction) * len as f64).round() as usize).min(len);
                prop_assert!(n_val < 2 || len - n_val < 2);
                return Ok(());
            };
            prop_assert_eq!(split.train().end, split.val().start);
            prop_assert_eq!(split.val().end, len);
            if split.check(seq_len).is_err() {
                prop_assert!(seq_len > split.max_seq_len());
                return Ok(());
            }
            for start in split.train_starts(step, 16, seq_len, seed).unwrap() {
                // Last target index of the window.
                prop_assert!(start + seq_len < split.val().start);
            }
            let val = split.val_starts(seq_len, usize::MAX).unwrap();
            prop_assert!(!val.is_empty());
            for (k, &start) in val.iter().enumerate() {
                prop_assert!(start >= split.val().start);
                prop_assert!(start + seq_len < len);
                prop_assert_eq!(start, split.val().start + k * seq_len);
            }
            // Maximal: one more window would run past the end.
            prop_assert!(val.last().unwrap() + 2 * seq_len >= len);
        }
    }
}
