//! Files of indexed f64 series: zero ordinates `γ_n` or unfolded spacings `δ_n`.
//!
//! Three formats:
//! - `f64`: a 40-byte header, then `count` little-endian f64 deltas `v_i − base`:
//!
//!   | offset | size | field |
//!   |---|---|---|
//!   | 0  | 8 | magic `b"ZETAF64\0"` |
//!   | 8  | 4 | version, u32 LE = 2 |
//!   | 12 | 4 | kind, u32 LE: 0 = zero ordinates γ_n, 1 = unfolded spacings δ_n |
//!   | 16 | 8 | index of the first value (n of γ_n or δ_n), u64 LE |
//!   | 24 | 8 | count, u64 LE |
//!   | 32 | 8 | base, f64 LE: `⌊v_0⌋` for zeros, 0 for spacings |
//!
//!   A value is `base + delta`: the base keeps the digits f64 cannot hold at height (γ near
//!   index 10¹² is 2.7·10¹¹, whose ulp is 3e-5), each delta is good to half its own ulp
//!   (≤ 4.7e-10 while a file's zeros span less than 2²³ ≈ 8.4·10⁶ in height, e.g. 3.6·10⁷
//!   consecutive zeros at 10¹²). Version 1 (a 32-byte header, values stored whole, base 0)
//!   still reads.
//! - `npy`: a NumPy v1.0 array of shape `(count,)`, dtype `<f8` (`numpy.load` reads it), the
//!   values rounded to f64: NumPy's header has no field for a base, so above index ~2·10⁶ a
//!   zero is held only to half an ulp of γ (use `f64` or `txt` there);
//! - `txt`: one `index value` line per value, the value with 17 significant digits and at
//!   least 12 decimals (round-trips f64, and keeps a double-double zero to 1e-12 at any height).
//!
//! Writers stream (memory stays flat) through [`AtomicFile`], so a failed run leaves no file.

use crate::double_double::{DoubleDouble, two_sum};
use crate::error::ZetaError;
use spectral_io::AtomicFile;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub const MAGIC: [u8; 8] = *b"ZETAF64\0";
/// Version written: 2 (header with a base). Version 1 files are still read.
pub const VERSION: u32 = 2;
pub const HEADER_BYTES: u64 = 40;
/// Header length of version 1 files (no base).
pub const HEADER_BYTES_V1: u64 = 32;

/// Least decimals a `txt` value is printed with.
const TXT_MIN_DECIMALS: i64 = 12;

/// What the values of a series are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Ordinates `γ_n` of zeros `1/2 + iγ_n`.
    Zeros = 0,
    /// Unfolded spacings `δ_n`, in units of the mean spacing.
    Spacings = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Txt,
    Npy,
    F64,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Npy => "npy",
            Format::F64 => "f64",
        }
    }

    /// Upper bound on the bytes a file of `count` values takes.
    pub fn size_bound(self, count: u64) -> u64 {
        match self {
            Format::F64 => HEADER_BYTES + 8 * count,
            Format::Npy => 128 + 8 * count,
            // "index value\n": up to 20 digits of index, 28 characters of value.
            Format::Txt => 64 + 50 * count,
        }
    }
}

/// Header of an `f64` series file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: SeriesKind,
    pub first_index: u64,
    pub count: u64,
}

impl Header {
    /// The version-2 header with `base`.
    fn to_bytes(self, base: f64) -> [u8; HEADER_BYTES as usize] {
        let mut bytes = [0u8; HEADER_BYTES as usize];
        bytes[..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&(self.kind as u32).to_le_bytes());
        bytes[16..24].copy_from_slice(&self.first_index.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.count.to_le_bytes());
        bytes[32..40].copy_from_slice(&base.to_le_bytes());
        bytes
    }
}

/// The base of an `f64` file: `⌊first value⌋` for zeros (an integer-valued f64, exact), 0 for
/// spacings (values of order 1 need none).
fn base_for(kind: SeriesKind, first: DoubleDouble) -> f64 {
    match kind {
        SeriesKind::Zeros if first.hi.is_finite() => first.split_integer().0,
        _ => 0.0,
    }
}

/// `value` in decimal with 17 significant digits and at least `TXT_MIN_DECIMALS` decimals.
fn txt_value(value: DoubleDouble) -> String {
    let exponent = if value.hi == 0.0 || !value.hi.is_finite() {
        0
    } else {
        value.hi.abs().log10().floor() as i64
    };
    if !value.hi.is_finite() {
        return value.hi.to_string();
    }
    value.to_decimal((16 - exponent).max(TXT_MIN_DECIMALS) as usize)
}

fn npy_header(count: u64) -> Vec<u8> {
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({count},), }}");
    // Magic (6) + version (2) + header length (2) + dict, padded with spaces to a multiple
    // of 64 and ended by a newline.
    let unpadded = 10 + dict.len() + 1;
    let padding = unpadded.div_ceil(64) * 64 - unpadded;
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    header.extend_from_slice(&((dict.len() + padding + 1) as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.extend(std::iter::repeat_n(b' ', padding));
    header.push(b'\n');
    header
}

/// Streams a series of known length to a file in one of the [`Format`]s.
pub struct SeriesWriter {
    file: AtomicFile,
    format: Format,
    header: Header,
    /// The `f64` format's base, fixed by the first value (its header waits for it).
    base: Option<f64>,
    written: u64,
    text: String,
}

impl SeriesWriter {
    /// Creates the (temporary) file and writes the header. Fails, before anything is computed,
    /// if the directory is missing or unwritable or the file system lacks room for it.
    pub fn create(
        path: impl AsRef<Path>,
        format: Format,
        header: Header,
    ) -> Result<Self, ZetaError> {
        let path = path.as_ref();
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let needed = format.size_bound(header.count);
        if !spectral_io::is_stdout(path)
            && let Some(available) = spectral_io::available_space(&directory)
            && needed > available
        {
            return Err(ZetaError::io(
                path,
                std::io::Error::other(format!(
                    "needs up to {needed} bytes but only {available} are free on its file system"
                )),
            ));
        }
        let mut file = AtomicFile::create(path)?;
        if format == Format::Npy {
            file.write_all(&npy_header(header.count))?;
        }
        Ok(Self {
            file,
            format,
            header,
            base: None,
            written: 0,
            text: String::new(),
        })
    }

    /// Appends values, f64 or double-double (zeros at height); more than the header's count
    /// is an error.
    pub fn write<V: Copy + Into<DoubleDouble>>(&mut self, values: &[V]) -> Result<(), ZetaError> {
        if self.written + values.len() as u64 > self.header.count {
            return Err(ZetaError::Internal(format!(
                "{}: more values than the {} announced",
                self.file.path().display(),
                self.header.count
            )));
        }
        match self.format {
            Format::F64 => {
                let Some(&first) = values.first() else {
                    return Ok(());
                };
                let base = match self.base {
                    Some(base) => base,
                    None => {
                        let base = base_for(self.header.kind, first.into());
                        self.file.write_all(&self.header.to_bytes(base))?;
                        *self.base.insert(base)
                    }
                };
                let bytes: Vec<u8> = values
                    .iter()
                    .flat_map(|&v| (v.into() - base).to_f64().to_le_bytes())
                    .collect();
                self.file.write_all(&bytes)?;
            }
            Format::Npy => {
                let bytes: Vec<u8> = values
                    .iter()
                    .flat_map(|&v| v.into().to_f64().to_le_bytes())
                    .collect();
                self.file.write_all(&bytes)?;
            }
            Format::Txt => {
                self.text.clear();
                for (i, &v) in values.iter().enumerate() {
                    let index = self.header.first_index + self.written + i as u64;
                    let value = txt_value(v.into());
                    writeln!(self.text, "{index} {value}").expect("writing to a String");
                }
                let text = std::mem::take(&mut self.text);
                self.file.write_all(text.as_bytes())?;
                self.text = text;
            }
        }
        self.written += values.len() as u64;
        Ok(())
    }

    /// Checks the announced count was written, then moves the file into place.
    pub fn finish(mut self) -> Result<(), ZetaError> {
        if self.format == Format::F64 && self.base.is_none() {
            self.file.write_all(&self.header.to_bytes(0.0))?;
        }
        if self.written != self.header.count {
            return Err(ZetaError::Internal(format!(
                "{}: wrote {} of the {} values announced",
                self.file.path().display(),
                self.written,
                self.header.count
            )));
        }
        Ok(self.file.commit()?)
    }
}

/// Reads an `f64` series file (version 1 or 2) in chunks, checking its header and length first.
pub struct SeriesReader {
    path: PathBuf,
    reader: BufReader<File>,
    pub header: Header,
    /// The file's version (1: values stored whole; 2: `base` plus deltas).
    pub version: u32,
    /// What every stored delta is added to (0 in version 1 files and for spacings).
    pub base: f64,
    remaining: u64,
}

impl SeriesReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ZetaError> {
        let path = path.as_ref().to_path_buf();
        let bad = |message: String| ZetaError::BadFile {
            path: path.clone(),
            message,
        };
        let file = File::open(&path).map_err(|e| ZetaError::io(&path, e))?;
        let length = file.metadata().map_err(|e| ZetaError::io(&path, e))?.len();
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut bytes = [0u8; HEADER_BYTES as usize];
        if length < HEADER_BYTES_V1 {
            return Err(bad(format!(
                "{length} bytes is too short for a spectral f64 series file"
            )));
        }
        reader
            .read_exact(&mut bytes[..HEADER_BYTES_V1 as usize])
            .map_err(|e| ZetaError::io(&path, e))?;
        if bytes[..8] != MAGIC {
            return Err(bad("not a spectral f64 series file (bad magic; write one with `spectral zeros --format f64`)".into()));
        }
        let field = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .rev()
                .fold(0u64, |acc, &b| acc << 8 | b as u64)
        };
        let version = field(8..12);
        let header_bytes = match version {
            1 => HEADER_BYTES_V1,
            2 if length >= HEADER_BYTES => HEADER_BYTES,
            2 => {
                return Err(bad(format!(
                    "{length} bytes is too short for a version 2 header"
                )));
            }
            _ => {
                return Err(bad(format!(
                    "version {version} is not supported (this program reads versions 1 to {VERSION})"
                )));
            }
        };
        let kind = match field(12..16) {
            0 => SeriesKind::Zeros,
            1 => SeriesKind::Spacings,
            other => return Err(bad(format!("unknown series kind {other}"))),
        };
        let header = Header {
            kind,
            first_index: field(16..24),
            count: field(24..32),
        };
        let mut base = 0.0;
        if header_bytes == HEADER_BYTES {
            reader
                .read_exact(&mut bytes[HEADER_BYTES_V1 as usize..])
                .map_err(|e| ZetaError::io(&path, e))?;
            base = f64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes"));
            if !base.is_finite() {
                return Err(bad(format!("base {base} is not finite")));
            }
        }
        let expected = header
            .count
            .checked_mul(8)
            .and_then(|b| b.checked_add(header_bytes));
        if expected != Some(length) {
            return Err(bad(format!(
                "truncated or corrupt: the header announces {} values ({} bytes) but the file has {length} bytes",
                header.count,
                expected.map_or("too many".to_string(), |e| e.to_string()),
            )));
        }
        Ok(Self {
            path,
            reader,
            header,
            version: version as u32,
            base,
            remaining: header.count,
        })
    }

    /// Fills `buffer` with up to its length of stored deltas; returns how many.
    fn read_deltas(&mut self, buffer: &mut [f64]) -> Result<usize, ZetaError> {
        let n = (self.remaining as usize).min(buffer.len());
        let mut bytes = vec![0u8; n * 8];
        self.reader
            .read_exact(&mut bytes)
            .map_err(|e| ZetaError::io(&self.path, e))?;
        for (value, chunk) in buffer.iter_mut().zip(bytes.chunks_exact(8)) {
            *value = f64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Fills `buffer` with up to its length of values rounded to f64 (`base + delta`);
    /// returns how many (0 at the end).
    pub fn read_chunk(&mut self, buffer: &mut [f64]) -> Result<usize, ZetaError> {
        let n = self.read_deltas(buffer)?;
        if self.base != 0.0 {
            buffer[..n].iter_mut().for_each(|v| *v += self.base);
        }
        Ok(n)
    }

    /// Fills `buffer` with up to its length of values `base + delta`, exactly, in
    /// double-double; returns how many (0 at the end).
    pub fn read_precise(&mut self, buffer: &mut [DoubleDouble]) -> Result<usize, ZetaError> {
        let mut deltas = vec![0.0; buffer.len()];
        let n = self.read_deltas(&mut deltas)?;
        for (value, &delta) in buffer.iter_mut().zip(&deltas[..n]) {
            let (hi, lo) = two_sum(self.base, delta);
            *value = DoubleDouble::new(hi, lo);
        }
        Ok(n)
    }

    /// The whole series in memory.
    pub fn read_all(mut self) -> Result<Vec<f64>, ZetaError> {
        let mut values = vec![0.0; self.header.count as usize];
        let n = self.read_chunk(&mut values)?;
        debug_assert_eq!(n, values.len());
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, format: Format, values: &[f64]) {
        let header = Header {
            kind: SeriesKind::Zeros,
            first_index: 7,
            count: values.len() as u64,
        };
        let mut writer = SeriesWriter::create(path, format, header).unwrap();
        writer.write(&values[..1]).unwrap();
        writer.write(&values[1..]).unwrap();
        writer.finish().unwrap();
    }

    #[test]
    fn f64_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.f64");
        let values = [
            14.134_725_141_734_693,
            21.022_039_638_771_555,
            1e6 + 1.0 / 3.0,
        ];
        write(&path, Format::F64, &values);
        let reader = SeriesReader::open(&path).unwrap();
        assert_eq!(
            reader.header,
            Header {
                kind: SeriesKind::Zeros,
                first_index: 7,
                count: 3
            }
        );
        assert_eq!(reader.read_all().unwrap(), values);
    }

    #[test]
    fn txt_round_trips_every_digit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.txt");
        let values = [
            14.134_725_141_734_693,
            1_642_800.286_884_672,
            0.123_456_789_012_345_67,
        ];
        write(&path, Format::Txt, &values);
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, (line, want)) in text.lines().zip(values).enumerate() {
            let mut fields = line.split(' ');
            assert_eq!(fields.next().unwrap(), (7 + i).to_string());
            let got: f64 = fields.next().unwrap().parse().unwrap();
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn f64_and_txt_keep_zeros_at_height_to_the_double_double() {
        // γ_10¹² and γ_10¹²+1 (Arb): an f64 holds them to 3e-5 only.
        let zeros = [
            DoubleDouble::parse_decimal("267653395648.625948242142649409").unwrap(),
            DoubleDouble::parse_decimal("267653395648.847523129021300806").unwrap(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let header = Header {
            kind: SeriesKind::Zeros,
            first_index: 1_000_000_000_000,
            count: 2,
        };
        for format in [Format::F64, Format::Txt] {
            let path = dir.path().join(format!("z.{}", format.extension()));
            let mut writer = SeriesWriter::create(&path, format, header).unwrap();
            writer.write(&zeros).unwrap();
            writer.finish().unwrap();
            let back: Vec<DoubleDouble> = if format == Format::F64 {
                let mut reader = SeriesReader::open(&path).unwrap();
                assert_eq!((reader.version, reader.base), (2, 267_653_395_648.0));
                let mut buffer = [DoubleDouble::default(); 2];
                assert_eq!(reader.read_precise(&mut buffer).unwrap(), 2);
                buffer.to_vec()
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.starts_with("1000000000000 267653395648.625948242143\n"),
                    "{text}"
                );
                text.lines()
                    .map(|l| DoubleDouble::parse_decimal(l.split_once(' ').unwrap().1).unwrap())
                    .collect()
            };
            for (got, want) in back.iter().zip(&zeros) {
                // f64: a delta below 1 is stored to 1.1e-16; txt: half the 12th decimal.
                let bound = if format == Format::F64 {
                    1.2e-16
                } else {
                    5e-13
                };
                assert!((*got - *want).to_f64().abs() <= bound, "{format:?}");
            }
        }
    }

    #[test]
    fn version_1_files_still_read() {
        // A version-1 file as the previous writer made it: 32-byte header, values whole.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.f64");
        let values: [f64; 2] = [14.134_725_141_734_693, 21.022_039_638_771_555];
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&2u64.to_le_bytes());
        values
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        std::fs::write(&path, &bytes).unwrap();
        let reader = SeriesReader::open(&path).unwrap();
        assert_eq!((reader.version, reader.base), (1, 0.0));
        assert_eq!(reader.header.count, 2);
        assert_eq!(reader.read_all().unwrap(), values);
        // A version this program does not know is refused by name.
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let error = SeriesReader::open(&path).err().unwrap().to_string();
        assert!(error.contains("version 3 is not supported"), "{error}");
    }

    #[test]
    fn npy_header_is_aligned_and_describes_the_array() {
        let header = npy_header(2_000_000);
        assert_eq!(header.len() % 64, 0);
        assert!(String::from_utf8_lossy(&header).contains("'shape': (2000000,)"));
    }

    #[test]
    fn truncated_and_foreign_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.f64");
        write(&path, Format::F64, &[1.0, 2.0, 3.0]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let error = SeriesReader::open(&path).err().unwrap().to_string();
        assert!(error.contains("truncated"), "{error}");
        std::fs::write(&path, b"# just some text file that is long enough").unwrap();
        let error = SeriesReader::open(&path).err().unwrap().to_string();
        assert!(error.contains("bad magic"), "{error}");
    }

    #[test]
    fn writing_fewer_values_than_announced_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.f64");
        let header = Header {
            kind: SeriesKind::Zeros,
            first_index: 1,
            count: 5,
        };
        let mut writer = SeriesWriter::create(&path, Format::F64, header).unwrap();
        writer.write(&[1.0]).unwrap();
        assert!(writer.finish().is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
