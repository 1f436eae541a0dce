//! Unfolded spacings of zeta zeros as a next-spacing prediction dataset.
//!
//! The sequence is `δ_n = N(γ_{n+1}) − N(γ_n)`, in units of the mean spacing (so its mean is
//! about 1), as `spectral unfold` writes it: an `f64` series file
//! ([`spectral_zeta::series_file`]) of kind `Spacings`, whose header gives the index `n₀` of the first
//! spacing. Position `p` in this dataset is the spacing `δ_{n₀+p}`.
//!
//! Windows, split and sampling are those of [`Split`]: `x = δ[j .. j+T]`, `y = δ[j+1 .. j+T+1]`,
//! training windows strictly before the validation range. Values are stored and served as f32.

use super::DataError;
use super::split::{Split, gather};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use spectral_zeta::series_file::{SeriesKind, SeriesReader};
use std::ops::Range;
use std::path::Path;

/// Inputs and targets `(x, y)` of spacing windows, both `[B, T]` f32, `y[b][t] = x[b][t + 1]`
/// inside the window.
pub type SpacingBatch<B> = (Tensor<B, 2>, Tensor<B, 2>);

/// A validated series of unfolded spacings, split by position into train and validation.
#[derive(Clone, Debug)]
pub struct SpacingDataset {
    values: Vec<f32>,
    first_index: u64,
    split: Split,
}

impl SpacingDataset {
    /// Reads a spacings file written by `spectral unfold` (`f64` format), the last
    /// `val_fraction` of it for validation.
    ///
    /// Errors: the file cannot be read or is not a series file ([`DataError::Series`]), holds
    /// zero ordinates instead of spacings ([`DataError::WrongKind`]), or its values fail the
    /// checks of [`from_values`](Self::from_values).
    pub fn open(path: impl AsRef<Path>, val_fraction: f64) -> Result<Self, DataError> {
        let path = path.as_ref();
        let reader = SeriesReader::open(path)?;
        let header = reader.header;
        if header.kind != SeriesKind::Spacings {
            return Err(DataError::WrongKind {
                path: path.to_path_buf(),
                found: "zero ordinates γ_n",
            });
        }
        let values = reader.read_all()?;
        Self::build(
            values,
            header.first_index,
            val_fraction,
            path.display().to_string(),
        )
    }

    /// Builds the dataset from spacings in memory; `values[0]` is `δ_{first_index}`.
    ///
    /// Errors: `val_fraction` outside `(0, 1)`, no values, a non-finite or non-positive
    /// spacing (named by its index), or a split with fewer than two values.
    pub fn from_values(
        values: Vec<f64>,
        first_index: u64,
        val_fraction: f64,
    ) -> Result<Self, DataError> {
        Self::build(
            values,
            first_index,
            val_fraction,
            "in-memory spacings".into(),
        )
    }

    fn build(
        values: Vec<f64>,
        first_index: u64,
        val_fraction: f64,
        origin: String,
    ) -> Result<Self, DataError> {
        if values.is_empty() {
            return Err(DataError::Empty { origin });
        }
        for (position, &value) in values.iter().enumerate() {
            let index = first_index + position as u64;
            if !value.is_finite() {
                return Err(DataError::NotFinite {
                    origin,
                    index,
                    value,
                });
            }
            if value <= 0.0 {
                return Err(DataError::NotPositive {
                    origin,
                    index,
                    value,
                });
            }
        }
        let split = Split::new(origin, values.len(), val_fraction)?;
        Ok(Self {
            values: values.into_iter().map(|v| v as f32).collect(),
            first_index,
            split,
        })
    }

    /// Number of spacings.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: a dataset holds at least four spacings.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The spacings, as served (f32).
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The index `n₀` of the first spacing `δ_{n₀}` (from the file header).
    pub fn first_index(&self) -> u64 {
        self.first_index
    }

    /// The split by position.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Indices `n` of the spacings `δ_n` trained on.
    pub fn train_indices(&self) -> Range<u64> {
        self.absolute(self.split.train())
    }

    /// Indices `n` of the spacings `δ_n` held out for validation.
    pub fn val_indices(&self) -> Range<u64> {
        self.absolute(self.split.val())
    }

    fn absolute(&self, range: Range<usize>) -> Range<u64> {
        self.first_index + range.start as u64..self.first_index + range.end as u64
    }

    /// The training batch of `step`: inputs `x` and targets `y`, both `[batch, seq_len]` f32,
    /// with `y[b][t] = δ[j_b + t + 1]` where `x[b][t] = δ[j_b + t]`. The starts `j_b` are a
    /// pure function of `(seed, step, b)` ([`Split::train_starts`]).
    ///
    /// Errors: `batch` or `seq_len` zero, or a split too short for a window of `seq_len`.
    pub fn train_batch<B: Backend>(
        &self,
        step: u64,
        batch: usize,
        seq_len: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<SpacingBatch<B>, DataError> {
        let starts = self.split.train_starts(step, batch, seq_len, seed)?;
        Ok(self.tensors(&starts, seq_len, device))
    }

    /// The fixed validation windows ([`Split::val_starts`], at most `max_windows`) in order,
    /// grouped into batches of up to `batch` rows: each `(x, y)` is `[rows, seq_len]` f32.
    pub fn val_batches<B: Backend>(
        &self,
        batch: usize,
        seq_len: usize,
        max_windows: usize,
        device: &B::Device,
    ) -> Result<Vec<SpacingBatch<B>>, DataError> {
        if batch == 0 {
            return Err(DataError::EmptyBatch { batch, seq_len });
        }
        let starts = self.split.val_starts(seq_len, max_windows)?;
        Ok(starts
            .chunks(batch)
            .map(|chunk| self.tensors(chunk, seq_len, device))
            .collect())
    }

    fn tensors<B: Backend>(
        &self,
        starts: &[usize],
        seq_len: usize,
        device: &B::Device,
    ) -> SpacingBatch<B> {
        let (x, y) = gather(&self.values, starts, seq_len);
        let shape = [starts.len(), seq_len];
        (
            Tensor::from_data(TensorData::new(x, shape), device), // [B, T]
            Tensor::from_data(TensorData::new(y, shape), device), // [B, T]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::device::CpuBackend;
    use spectral_zeta::series_file::{Format, Header, SeriesWriter};
    use std::path::PathBuf;

    type B = CpuBackend;

    /// Distinct, positive spacings whose value tells their position: δ_p = 1 + p/1000.
    fn ramp(len: usize) -> Vec<f64> {
        (0..len).map(|p| 1.0 + p as f64 / 1000.0).collect()
    }

    fn position(value: f32) -> usize {
        ((value as f64 - 1.0) * 1000.0).round() as usize
    }

    fn rows(tensor: Tensor<B, 2>) -> Vec<Vec<f32>> {
        let [_, t] = tensor.dims();
        let flat = tensor.into_data().to_vec::<f32>().unwrap();
        flat.chunks(t).map(<[f32]>::to_vec).collect()
    }

    fn write_series(dir: &Path, kind: SeriesKind, first_index: u64, values: &[f64]) -> PathBuf {
        let path = dir.join("series.f64");
        let header = Header {
            kind,
            first_index,
            count: values.len() as u64,
        };
        let mut writer = SeriesWriter::create(&path, Format::F64, header).unwrap();
        writer.write(values).unwrap();
        writer.finish().unwrap();
        path
    }

    #[test]
    fn batches_have_shape_b_t_and_targets_shifted_by_one() {
        let data = SpacingDataset::from_values(ramp(2000), 1, 0.1).unwrap();
        let device = Default::default();
        let (x, y) = data.train_batch::<B>(5, 8, 32, 99, &device).unwrap();
        assert_eq!(x.dims(), [8, 32]);
        assert_eq!(y.dims(), [8, 32]);
        for (xr, yr) in rows(x).iter().zip(rows(y)) {
            let start = position(xr[0]);
            for t in 0..32 {
                assert_eq!(position(xr[t]), start + t, "x is a contiguous window");
                assert_eq!(position(yr[t]), start + t + 1, "y is x moved by one");
                if t + 1 < 32 {
                    assert_eq!(yr[t], xr[t + 1]);
                }
            }
            assert!(
                start + 32 < 1800,
                "last target {} is in training",
                start + 32
            );
        }
    }

    #[test]
    fn train_batches_are_deterministic_in_seed_and_step() {
        let data = SpacingDataset::from_values(ramp(5000), 1, 0.2).unwrap();
        let device = Default::default();
        let batch = |step, seed| rows(data.train_batch::<B>(step, 4, 16, seed, &device).unwrap().0);
        assert_eq!(batch(3, 7), batch(3, 7));
        assert_ne!(batch(3, 7), batch(4, 7));
        assert_ne!(batch(3, 7), batch(3, 8));
    }

    #[test]
    fn val_batches_are_fixed_consecutive_windows_in_the_validation_range() {
        let data = SpacingDataset::from_values(ramp(1000), 1, 0.1).unwrap(); // val = 900..1000
        let device = Default::default();
        let batches = data.val_batches::<B>(4, 10, 100, &device).unwrap();
        // ⌊99 / 10⌋ = 9 windows in batches of 4, 4, 1.
        let sizes: Vec<usize> = batches.iter().map(|(x, _)| x.dims()[0]).collect();
        assert_eq!(sizes, [4, 4, 1]);
        let starts: Vec<usize> = batches
            .iter()
            .flat_map(|(x, _)| rows(x.clone()))
            .map(|row| position(row[0]))
            .collect();
        assert_eq!(starts, (0..9).map(|k| 900 + 10 * k).collect::<Vec<_>>());
        for (x, y) in &batches {
            for (xr, yr) in rows(x.clone()).iter().zip(rows(y.clone())) {
                assert!(position(xr[0]) >= 900 && position(yr[9]) < 1000);
            }
        }
        let again = data.val_batches::<B>(4, 10, 100, &device).unwrap();
        for ((x1, y1), (x2, y2)) in batches.into_iter().zip(again) {
            assert_eq!(rows(x1), rows(x2));
            assert_eq!(rows(y1), rows(y2));
        }
        assert_eq!(data.val_batches::<B>(4, 10, 5, &device).unwrap().len(), 2);
    }

    #[test]
    fn reads_spacing_files_and_keeps_the_first_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_series(dir.path(), SeriesKind::Spacings, 1_000_001, &ramp(100));
        let data = SpacingDataset::open(&path, 0.25).unwrap();
        assert_eq!(data.len(), 100);
        assert_eq!(data.first_index(), 1_000_001);
        assert_eq!(data.train_indices(), 1_000_001..1_000_076);
        assert_eq!(data.val_indices(), 1_000_076..1_000_101);
        assert_eq!(data.values()[99], 1.099f32);
    }

    #[test]
    fn bad_inputs_give_typed_errors_naming_the_value() {
        let empty = SpacingDataset::from_values(vec![], 1, 0.1).unwrap_err();
        assert!(matches!(empty, DataError::Empty { .. }), "{empty}");

        let mut values = ramp(100);
        values[41] = f64::NAN;
        let error = SpacingDataset::from_values(values, 10, 0.1).unwrap_err();
        assert!(
            matches!(error, DataError::NotFinite { index: 51, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("δ_51 = NaN"), "{error}");

        let mut values = ramp(100);
        values[7] = -0.5;
        let error = SpacingDataset::from_values(values, 1, 0.1).unwrap_err();
        assert!(
            matches!(error, DataError::NotPositive { index: 8, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("δ_8 = -0.5"), "{error}");

        let mut values = ramp(100);
        values[0] = f64::INFINITY;
        assert!(matches!(
            SpacingDataset::from_values(values, 1, 0.1),
            Err(DataError::NotFinite { index: 1, .. })
        ));

        let short = SpacingDataset::from_values(ramp(3), 1, 0.5).unwrap_err();
        assert!(matches!(short, DataError::SplitTooSmall { .. }), "{short}");

        let data = SpacingDataset::from_values(ramp(100), 1, 0.1).unwrap();
        let device = Default::default();
        let error = data.train_batch::<B>(0, 2, 10, 1, &device).unwrap_err();
        assert!(
            matches!(
                error,
                DataError::TooShort {
                    split: "validation",
                    len: 10,
                    seq_len: 10,
                    ..
                }
            ),
            "{error}"
        );
        assert!(data.val_batches::<B>(0, 4, 10, &device).is_err());
    }

    #[test]
    fn zeros_files_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_series(
            dir.path(),
            SeriesKind::Zeros,
            1,
            &[14.13, 21.02, 25.01, 30.42],
        );
        let error = SpacingDataset::open(&path, 0.5).unwrap_err();
        assert!(matches!(error, DataError::WrongKind { .. }), "{error}");
        assert!(error.to_string().contains("series.f64"), "{error}");

        std::fs::write(&path, b"a text file that is long enough to have a header").unwrap();
        let error = SpacingDataset::open(&path, 0.5).unwrap_err();
        assert!(matches!(error, DataError::Series(_)), "{error}");
        assert!(error.to_string().contains("bad magic"), "{error}");

        let missing = dir.path().join("missing.f64");
        assert!(matches!(
            SpacingDataset::open(&missing, 0.5),
            Err(DataError::Series(_))
        ));
    }
}
