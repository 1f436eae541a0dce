//! Consecutive zeros of ζ(1/2 + iγ) computed into a series file (`spectral zeros`, the main
//! job), with progress on stderr.

use spectral_io::progress::Progress;
use spectral_zeta::batch::Evaluator;
use spectral_zeta::series_file::{Format, Header, SeriesKind, SeriesWriter};
use spectral_zeta::{Verification, ZetaError};
use std::path::Path;

/// Computes the `count` zeros γ_start, γ_start+1, … into `out` in `format`, Z evaluated by
/// `evaluator` (`batch::Cpu`, or a GPU's); returns Turing's verification that none is
/// missing. The range is checked before any file is created.
pub fn write_zeros(
    start: u64,
    count: u64,
    format: Format,
    out: &Path,
    evaluator: &mut dyn Evaluator,
) -> Result<Verification, ZetaError> {
    let header = Header {
        kind: SeriesKind::Zeros,
        first_index: start,
        count,
    };
    spectral_zeta::zeros::check_range(start, count)?;
    let mut writer = SeriesWriter::create(out, format, header)?;
    let bar = Progress::new("zeros", count, "zeros");
    let verification = spectral_zeta::compute_zeros_with(start, count, evaluator, |_, batch| {
        bar.inc(batch.len() as u64);
        writer.write(batch)
    })?;
    writer.finish()?;
    bar.finish();
    Ok(verification)
}
