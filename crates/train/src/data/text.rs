//! Text as a next-byte prediction dataset, with the embedded Shakespeare slice by default.
//!
//! The vocabulary is the 256 byte values ([`VOCAB_SIZE`]); token `k` is byte `k`. The embedded
//! corpus (`data/shakespeare/input.txt`, see its `SOURCE.md`) is pure ASCII, so there one byte
//! is one character and the model is character-level, as in nanoGPT's `shakespeare_char`
//! (which instead builds a 65-symbol vocabulary; 256 keeps any file readable with no table).
//! Other files may hold UTF-8: their multi-byte characters become several tokens, and
//! [`TextDataset::decode`] shows any invalid sequence a model samples as `U+FFFD`.
//!
//! Split and windows are those of [`Split`]: the first 90 % of the bytes train, the last 10 %
//! validate ([`TEXT_VAL_FRACTION`]); `x = s[j .. j+T]`, `y = s[j+1 .. j+T+1]`.

use super::DataError;
use super::split::{Split, gather};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use std::borrow::Cow;
use std::path::Path;

/// Token count of the byte-level vocabulary.
pub const VOCAB_SIZE: usize = 256;

/// Fraction of the text, at its end, held out for validation.
pub const TEXT_VAL_FRACTION: f64 = 0.1;

/// The first 1,000,017 bytes of Shakespeare's complete works (`data/shakespeare/SOURCE.md`).
static SHAKESPEARE: &[u8] = include_bytes!("../../../../data/shakespeare/input.txt");

/// Token ids and next-token targets `(x, y)`, both `[B, T]` Int in `[0, 256)`,
/// `y[b][t] = x[b][t + 1]` inside the window.
pub type TokenBatch<B> = (Tensor<B, 2, Int>, Tensor<B, 2, Int>);

/// A byte sequence split by position into train and validation.
#[derive(Clone, Debug)]
pub struct TextDataset {
    bytes: Cow<'static, [u8]>,
    split: Split,
}

impl TextDataset {
    /// The Shakespeare slice compiled into the binary (1,000,017 bytes, ASCII), split 90/10.
    pub fn embedded() -> Self {
        Self::from_bytes(SHAKESPEARE, "embedded Shakespeare", TEXT_VAL_FRACTION)
            .expect("the embedded corpus holds 1 MB, far more than one window per split")
    }

    /// Reads a text file, split 90/10.
    ///
    /// Errors: the file cannot be read ([`DataError::Io`]), or it is too short for two bytes
    /// in each split.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, DataError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(bytes, path.display().to_string(), TEXT_VAL_FRACTION)
    }

    /// Builds the dataset from bytes, the last `val_fraction` of them for validation; `origin`
    /// names the text in error messages.
    pub fn from_bytes(
        bytes: impl Into<Cow<'static, [u8]>>,
        origin: impl Into<String>,
        val_fraction: f64,
    ) -> Result<Self, DataError> {
        let bytes = bytes.into();
        let split = Split::new(origin, bytes.len(), val_fraction)?;
        Ok(Self { bytes, split })
    }

    /// The text, as bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bytes (= tokens).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a dataset holds at least four bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The split by position (byte offsets).
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The training batch of `step`: token ids `x` and next-token targets `y`, both
    /// `[batch, seq_len]` Int in `[0, 256)`, `y[b][t] = s[j_b + t + 1]` where
    /// `x[b][t] = s[j_b + t]`. The starts `j_b` are a pure function of `(seed, step, b)`.
    ///
    /// Errors: `batch` or `seq_len` zero, or a split too short for a window of `seq_len`.
    pub fn train_batch<B: Backend>(
        &self,
        step: u64,
        batch: usize,
        seq_len: usize,
        seed: u64,
        device: &B::Device,
    ) -> Result<TokenBatch<B>, DataError> {
        let starts = self.split.train_starts(step, batch, seq_len, seed)?;
        Ok(self.tensors(&starts, seq_len, device))
    }

    /// The fixed validation windows ([`Split::val_starts`], at most `max_windows`) in order,
    /// grouped into batches of up to `batch` rows: each `(x, y)` is `[rows, seq_len]` Int.
    pub fn val_batches<B: Backend>(
        &self,
        batch: usize,
        seq_len: usize,
        max_windows: usize,
        device: &B::Device,
    ) -> Result<Vec<TokenBatch<B>>, DataError> {
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
    ) -> TokenBatch<B> {
        let (x, y) = gather(&self.bytes, starts, seq_len);
        let shape = [starts.len(), seq_len];
        let ids = |bytes: Vec<u8>| {
            let ids: Vec<i32> = bytes.into_iter().map(i32::from).collect();
            Tensor::from_data(TensorData::new(ids, shape), device) // [B, T]
        };
        (ids(x), ids(y))
    }

    /// Text of a byte sequence (e.g. a sample), with invalid UTF-8 shown as `U+FFFD`.
    pub fn decode(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::device::CpuBackend;

    type B = CpuBackend;

    fn rows(tensor: Tensor<B, 2, Int>) -> Vec<Vec<u8>> {
        let [_, t] = tensor.dims();
        let ids: Vec<i64> = tensor.into_data().convert::<i64>().to_vec().unwrap();
        ids.chunks(t)
            .map(|row| row.iter().map(|&id| u8::try_from(id).unwrap()).collect())
            .collect()
    }

    #[test]
    fn embedded_corpus_is_the_documented_ascii_slice() {
        let data = TextDataset::embedded();
        assert_eq!(data.len(), 1_000_017);
        assert!(data.bytes().is_ascii());
        assert!(data.bytes().starts_with(b"ALL'S WELL THAT ENDS WELL\n"));
        assert!(data.bytes().ends_with(b"wherein villainous, but in\n"));
        assert_eq!(data.split().train(), 0..900_015);
        assert_eq!(data.split().val(), 900_015..1_000_017);
        let text = TextDataset::decode(data.bytes());
        assert_eq!(text.len(), data.len(), "ASCII: one byte per character");
        assert!(text.contains("To be, or not to be"));
    }

    #[test]
    fn batches_are_byte_ids_with_targets_shifted_by_one() {
        let data = TextDataset::embedded();
        let device = Default::default();
        let (x, y) = data.train_batch::<B>(12, 6, 64, 5, &device).unwrap();
        assert_eq!(x.dims(), [6, 64]);
        assert_eq!(y.dims(), [6, 64]);
        let corpus = data.bytes();
        for (xr, yr) in rows(x).iter().zip(rows(y)) {
            // Locate the window by its content: it must be a slice of the training range.
            let start = corpus[..900_015]
                .windows(65)
                .position(|w| w[..64] == xr[..] && w[1..] == yr[..])
                .expect("window is a contiguous slice of the training text");
            assert!(start + 64 < 900_015);
            assert_eq!(xr[1..], yr[..63]);
        }
    }

    #[test]
    fn batches_are_deterministic_and_val_batches_stay_in_validation() {
        let data = TextDataset::from_bytes(
            (0..=255u8).cycle().take(1000).collect::<Vec<u8>>(),
            "ramp",
            0.1,
        )
        .unwrap();
        let device = Default::default();
        let batch = |step| rows(data.train_batch::<B>(step, 3, 8, 1, &device).unwrap().0);
        assert_eq!(batch(9), batch(9));
        assert_ne!(batch(9), batch(10));

        let val = data.val_batches::<B>(5, 8, 1000, &device).unwrap();
        // val = 900..1000: ⌊99 / 8⌋ = 12 windows, in batches of 5, 5, 2.
        let sizes: Vec<usize> = val.iter().map(|(x, _)| x.dims()[0]).collect();
        assert_eq!(sizes, [5, 5, 2]);
        let firsts: Vec<u8> = val
            .iter()
            .flat_map(|(x, _)| rows(x.clone()))
            .map(|row| row[0])
            .collect();
        let want: Vec<u8> = (0..12).map(|k| ((900 + 8 * k) % 256) as u8).collect();
        assert_eq!(firsts, want);
        let (_, last_y) = val.last().unwrap();
        assert_eq!(
            *rows(last_y.clone()).last().unwrap().last().unwrap(),
            ((900 + 8 * 12) % 256) as u8,
            "last target is s[996] < 1000"
        );
    }

    #[test]
    fn files_and_bad_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.txt");
        std::fs::write(&path, "hello, world\n".repeat(10)).unwrap();
        let data = TextDataset::from_file(&path).unwrap();
        assert_eq!(data.len(), 130);
        assert_eq!(TextDataset::decode(&data.bytes()[..5]), "hello");

        let missing = dir.path().join("missing.txt");
        let error = TextDataset::from_file(&missing).unwrap_err();
        assert!(matches!(error, DataError::Io { .. }), "{error}");
        assert!(error.to_string().contains("missing.txt"), "{error}");

        std::fs::write(&path, "").unwrap();
        assert!(matches!(
            TextDataset::from_file(&path),
            Err(DataError::Empty { .. })
        ));
        let device = Default::default();
        let error = data.train_batch::<B>(0, 1, 13, 0, &device).unwrap_err();
        assert!(matches!(error, DataError::TooShort { .. }), "{error}");
        assert!(data.train_batch::<B>(0, 1, 12, 0, &device).is_ok());
        assert_eq!(TextDataset::decode(&[0x68, 0xFF, 0x69]), "h\u{FFFD}i");
    }
}
