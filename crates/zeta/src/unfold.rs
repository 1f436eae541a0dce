//! Unfolding: zeros to spacings of mean 1.
//!
//! The smooth zero count `N(t) ≈ θ(t)/π + 1` has density `ln(t/2π)/2π`, so the unfolded
//! nearest-neighbour spacings are
//!
//! ```text
//! δ_n = (γ_{n+1} − γ_n)·ln(γ_n/2π)/2π,
//! ```
//!
//! dimensionless, in units of the local mean spacing (mean → 1 as the count grows). The
//! difference `γ_{n+1} − γ_n` is taken from the zeros in double-double (as the `f64` files
//! of version 2 hold them), so a spacing keeps ~1e-9 relative accuracy at any height; from
//! zeros rounded to f64 it would be off by up to 2e-4 at index 10¹² (an ulp of γ over a
//! spacing of 0.23).

use crate::double_double::DoubleDouble;
use crate::error::ZetaError;
use crate::series_file::{Format, Header, SeriesKind, SeriesReader, SeriesWriter};
use std::f64::consts::PI;
use std::path::Path;

/// γ₁ (to f64), the height of the first zero: no ordinate of a zero lies below it, and the
/// unfolding density `ln(t/2π)/2π` is negative below t = 2π.
pub const FIRST_ZERO: f64 = 14.134725141734693;

/// `δ_n` for consecutive zeros `γ_n < γ_{n+1}`, given as f64 or double-double.
pub fn unfolded_spacing(
    gamma_n: impl Into<DoubleDouble>,
    gamma_next: impl Into<DoubleDouble>,
) -> f64 {
    let (gamma_n, gamma_next) = (gamma_n.into(), gamma_next.into());
    (gamma_next - gamma_n).to_f64() * (gamma_n.hi / (2.0 * PI)).ln() / (2.0 * PI)
}

/// Count, mean, variance (population), min and max of a stream of values (Welford).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: f64,
    pub variance: f64,
    pub min: f64,
    pub max: f64,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            variance: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Summary {
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        // `variance` holds the running sum of squared deviations until `finish`.
        self.variance += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    fn finish(mut self) -> Self {
        self.variance = if self.count > 0 {
            self.variance / self.count as f64
        } else {
            f64::NAN
        };
        self
    }

    pub fn of(values: &[f64]) -> Self {
        let mut summary = Self::default();
        values.iter().for_each(|&x| summary.push(x));
        summary.finish()
    }
}

/// Reads a zeros file (`f64` format), writes the unfolded spacings `δ_n` (one fewer value,
/// same first index) and returns their summary. Streams; checks the zeros are finite and
/// strictly increasing.
pub fn unfold_file(input: &Path, output: &Path) -> Result<Summary, ZetaError> {
    let mut reader = SeriesReader::open(input)?;
    let header = reader.header;
    let bad = |message: String| ZetaError::BadFile {
        path: input.to_path_buf(),
        message,
    };
    if header.kind != SeriesKind::Zeros {
        return Err(bad(
            "holds spacings, not zeros; unfold takes the output of `spectral zeros --format f64`"
                .into(),
        ));
    }
    if header.count < 2 {
        return Err(bad(format!(
            "{} zero(s): at least two are needed for a spacing",
            header.count
        )));
    }
    let out_header = Header {
        kind: SeriesKind::Spacings,
        first_index: header.first_index,
        count: header.count - 1,
    };
    let mut writer = SeriesWriter::create(output, Format::F64, out_header)?;
    let mut summary = Summary::default();
    let mut buffer = vec![DoubleDouble::default(); 1 << 16];
    let mut spacings = Vec::with_capacity(buffer.len());
    let mut previous: Option<DoubleDouble> = None;
    let mut index = header.first_index;
    loop {
        let n = reader.read_precise(&mut buffer)?;
        if n == 0 {
            break;
        }
        spacings.clear();
        for &gamma in &buffer[..n] {
            if !gamma.hi.is_finite() {
                return Err(bad(format!(
                    "value {} at index {index} is not a zero ordinate",
                    gamma.hi
                )));
            }
            if gamma.hi < FIRST_ZERO {
                return Err(bad(format!(
                    "value {} at index {index} is below the first zero (γ₁ = {FIRST_ZERO}), so it \
                     is not a zero ordinate",
                    gamma.hi
                )));
            }
            if let Some(prev) = previous {
                if gamma <= prev {
                    return Err(bad(format!(
                        "zeros not increasing at index {index}: {} then {}",
                        prev.to_decimal(12),
                        gamma.to_decimal(12)
                    )));
                }
                let delta = unfolded_spacing(prev, gamma);
                summary.push(delta);
                spacings.push(delta);
            }
            previous = Some(gamma);
            index += 1;
        }
        writer.write(&spacings)?;
    }
    writer.finish()?;
    Ok(summary.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_two_pass_formulas() {
        let values = [0.5, 1.5, 0.9, 1.1, 2.0];
        let s = Summary::of(&values);
        let mean = values.iter().sum::<f64>() / 5.0;
        let variance = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0;
        assert_eq!(s.count, 5);
        assert!((s.mean - mean).abs() < 1e-15 && (s.variance - variance).abs() < 1e-15);
        assert_eq!((s.min, s.max), (0.5, 2.0));
    }

    #[test]
    fn unfolding_at_height_uses_the_precise_zeros() {
        // γ_10¹² and γ_10¹²+1 (Arb, tests/data/height_zeros_reference.txt) through an f64
        // file: the spacing keeps the digits that zeros rounded to f64 (ulp 3e-5) would lose.
        let zeros = [
            DoubleDouble::parse_decimal("267653395648.625948242142649409").unwrap(),
            DoubleDouble::parse_decimal("267653395648.847523129021300806").unwrap(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("z.f64"), dir.path().join("s.f64"));
        let header = Header {
            kind: SeriesKind::Zeros,
            first_index: 1_000_000_000_000,
            count: 2,
        };
        let mut writer = SeriesWriter::create(&input, Format::F64, header).unwrap();
        writer.write(&zeros).unwrap();
        writer.finish().unwrap();
        let summary = unfold_file(&input, &output).unwrap();
        // (γ₂ − γ₁)·ln(γ₁/2π)/2π with γ₂ − γ₁ = 0.221574886878651397 (from the decimals).
        let want =
            0.221_574_886_878_651_4 * (267_653_395_648.625_95 / (2.0 * PI)).ln() / (2.0 * PI);
        assert!(
            (summary.mean - want).abs() < 1e-15,
            "{} vs {want}",
            summary.mean
        );
        let rounded = unfolded_spacing(zeros[0].to_f64(), zeros[1].to_f64());
        assert!(
            (rounded - want).abs() > 1e-6,
            "f64 zeros would be off by {:e}",
            rounded - want
        );
    }

    #[test]
    fn spacing_of_mean_density_is_one() {
        // Two points one mean spacing 2π/ln(t/2π) apart unfold to 1.
        let t = 1.0e5;
        let gap = 2.0 * PI / (t / (2.0 * PI)).ln();
        // t + gap rounds to the ulp of t (1.5e-11), relative to a gap of 0.6.
        assert!((unfolded_spacing(t, t + gap) - 1.0).abs() < 4.0 * f64::EPSILON * t / gap);
    }
}
