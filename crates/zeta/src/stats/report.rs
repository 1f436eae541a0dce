//! Everything `spectral stats` reports about a spacing sample, against GUE and its control:
//! [`StatsReport`] (what `stats.json` holds), [`SampleStatistics`] of one sample and the
//! finite-height drift ([`HeightBlock`]).

use super::distance::{Histogram, ks_distance};
use super::gue_sample::gue_blocks;
use super::{empirical, gaudin, gue, surmise};
use crate::error::ZetaError;
use crate::series_file::{SeriesKind, SeriesReader};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// Lengths L at which Σ² and Δ₃ are measured.
pub const LENGTHS: [f64; 12] = [
    0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 13.0, 16.0, 20.0,
];
/// Histogram of spacings: bins over `[0, HISTOGRAM_MAX)`.
pub const HISTOGRAM_BINS: usize = 60;
pub const HISTOGRAM_MAX: f64 = 3.0;
/// Pair correlation over `(0, PAIR_MAX)`.
pub const PAIR_MAX: f64 = 3.0;
pub const PAIR_BINS: usize = 60;
pub const MAX_LAG: usize = 10;

/// A distance to each reference law.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct ToLaws {
    pub gaudin: f64,
    pub wigner: f64,
    pub poisson: f64,
}

/// Measured statistic with its GUE value at the same abscissa.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub x: f64,
    pub measured: f64,
    pub gue: f64,
}

/// The statistics of one sample of unfolded spacings (mean spacing ≈ 1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SampleStatistics {
    pub count: usize,
    pub mean: f64,
    pub variance: f64,
    /// Kolmogorov–Smirnov distance `sup|F_n − F|`.
    pub ks: ToLaws,
    /// L1 distance between the binned histogram and each law.
    pub l1: ToLaws,
    /// `(bin centre, density)`, against Gaudin's p(s).
    pub histogram: Vec<Point>,
    /// R₂(r) against `1 − (sin πr/πr)²`.
    pub pair_correlation: Vec<Point>,
    pub number_variance: Vec<Point>,
    pub rigidity: Vec<Point>,
    /// Correlation of δ_n and δ_{n+k}, k = 1…10.
    pub autocorrelation: Vec<f64>,
}

/// Measures every statistic of one consecutive run of spacings.
pub fn analyze(spacings: &[f64]) -> SampleStatistics {
    analyze_blocks(&[spacings.to_vec()])
}

/// Measures every statistic of independent runs of spacings (e.g. one per random matrix):
/// windows and lags never straddle two runs.
pub fn analyze_blocks(blocks: &[Vec<f64>]) -> SampleStatistics {
    let spacings: Vec<f64> = blocks.concat();
    let spacings = &spacings[..];
    assert!(
        spacings.len() > 2 * MAX_LAG,
        "need more than {} spacings",
        2 * MAX_LAG
    );
    let n = spacings.len() as f64;
    let mean = spacings.iter().sum::<f64>() / n;
    let variance = spacings.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    let mut sorted = spacings.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let ks = ToLaws {
        gaudin: ks_distance(&sorted, gaudin::gaudin_cdf),
        wigner: ks_distance(&sorted, surmise::wigner_cdf),
        poisson: ks_distance(&sorted, surmise::poisson_cdf),
    };
    let histogram = Histogram::new(spacings, HISTOGRAM_BINS, HISTOGRAM_MAX);
    let l1 = ToLaws {
        gaudin: histogram.l1_distance(gaudin::gaudin_cdf),
        wigner: histogram.l1_distance(surmise::wigner_cdf),
        poisson: histogram.l1_distance(surmise::poisson_cdf),
    };
    let levels: Vec<Vec<f64>> = blocks.iter().map(|b| empirical::positions(b)).collect();
    let (pair, (sigma2, delta3)) = rayon::join(
        || empirical::pair_correlation(&levels, PAIR_MAX, PAIR_BINS),
        || {
            rayon::join(
                || LENGTHS.map(|l| empirical::number_variance(&levels, l)),
                || LENGTHS.map(|l| empirical::rigidity(&levels, l)),
            )
        },
    );
    SampleStatistics {
        count: spacings.len(),
        mean,
        variance,
        ks,
        l1,
        histogram: histogram
            .densities()
            .into_iter()
            .map(|(x, d)| Point {
                x,
                measured: d,
                gue: gaudin::gaudin_density(x),
            })
            .collect(),
        pair_correlation: pair
            .into_iter()
            .map(|(x, r)| Point {
                x,
                measured: r,
                gue: gue::pair_correlation(x),
            })
            .collect(),
        number_variance: LENGTHS
            .iter()
            .zip(sigma2)
            .map(|(&x, m)| Point {
                x,
                measured: m,
                gue: gue::number_variance(x),
            })
            .collect(),
        rigidity: LENGTHS
            .iter()
            .zip(delta3)
            .map(|(&x, m)| Point {
                x,
                measured: m,
                gue: gue::rigidity(x),
            })
            .collect(),
        autocorrelation: (1..=MAX_LAG)
            .map(|lag| empirical::autocorrelation(blocks, lag))
            .collect(),
    }
}

/// Spacing variance and KS distance to Gaudin for one block of consecutive zeros.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HeightBlock {
    /// Index n of the block's first spacing δ_n.
    pub first_index: u64,
    pub count: usize,
    /// Approximate height of the block's middle zero, `g_{n−2}` (Gram point).
    pub height: f64,
    pub variance: f64,
    pub ks_gaudin: f64,
}

/// The finite-height drift: statistics per block of `blocks` equal parts of the sample.
pub fn height_drift(spacings: &[f64], first_index: u64, blocks: usize) -> Vec<HeightBlock> {
    let size = spacings.len() / blocks.max(1);
    (0..blocks)
        .filter(|_| size > 0)
        .map(|b| {
            let block = &spacings[b * size..(b + 1) * size];
            let n = block.len() as f64;
            let mean = block.iter().sum::<f64>() / n;
            let mut sorted = block.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            let index = first_index + (b * size) as u64;
            HeightBlock {
                first_index: index,
                count: block.len(),
                height: crate::theta::gram_point((index + size as u64 / 2) as i64 - 2),
                variance: block.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n,
                ks_gaudin: ks_distance(&sorted, gaudin::gaudin_cdf),
            }
        })
        .collect()
}

/// The fewest spacings [`StatsReport::of_file`] accepts (Σ² and Δ₃ at L = 20 need many windows).
pub const MIN_SPACINGS: usize = 1000;

/// The largest spacing [`StatsReport::of_file`] accepts. Unfolded spacings have mean 1, and
/// GUE's (Wigner surmise) put one above 10 at probability 6e-55.
pub const MAX_SPACING: f64 = 100.0;

/// What `spectral stats` measures of a spacings file (written as its `stats.json`, read back
/// by `spectral report`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatsReport {
    /// The spacings file, as given.
    pub source: String,
    /// Index n of the file's first spacing δ_n.
    pub first_index: u64,
    pub zeros: SampleStatistics,
    /// GUE control: bulk spacings of random Hermitian matrices, as many as the zeros.
    pub gue_control: SampleStatistics,
    pub height_drift: Vec<HeightBlock>,
    /// Wall time of the whole measurement, seconds.
    pub seconds: f64,
}

impl StatsReport {
    /// Reads the spacings file `path` (written by `spectral unfold`), checks that it holds at
    /// least [`MIN_SPACINGS`] positive finite spacings, none above [`MAX_SPACING`], and
    /// measures them beside a GUE control sample drawn with `seed`, with the drift over
    /// `height_blocks` blocks.
    pub fn of_file(path: &Path, seed: u64, height_blocks: usize) -> Result<Self, ZetaError> {
        let started = Instant::now();
        let bad = |message: String| ZetaError::BadFile {
            path: path.to_path_buf(),
            message,
        };
        let reader = SeriesReader::open(path)?;
        let header = reader.header;
        if header.kind != SeriesKind::Spacings {
            return Err(bad(
                "holds zero ordinates, not spacings; run `spectral unfold` first".into(),
            ));
        }
        let spacings = reader.read_all()?;
        if spacings.len() < MIN_SPACINGS {
            return Err(bad(format!(
                "{} spacings are too few for these statistics (need ≥ {MIN_SPACINGS})",
                spacings.len()
            )));
        }
        if let Some((i, value)) = spacings
            .iter()
            .enumerate()
            .find(|(_, s)| !(s.is_finite() && **s > 0.0))
        {
            return Err(bad(format!(
                "spacing {} is {value}, not a positive number",
                header.first_index + i as u64
            )));
        }
        if let Some((i, value)) = spacings.iter().enumerate().find(|(_, s)| **s > MAX_SPACING) {
            return Err(bad(format!(
                "spacing {} is {value:e}: unfolded spacings have mean 1, and one above \
                 {MAX_SPACING} does not come from consecutive zeros (a corrupt file, or not \
                 unfolded spacings)",
                header.first_index + i as u64
            )));
        }
        let (zeros, gue_control) = rayon::join(
            || analyze(&spacings),
            || analyze_blocks(&gue_blocks(spacings.len(), seed)),
        );
        Ok(Self {
            source: path.display().to_string(),
            first_index: header.first_index,
            zeros,
            gue_control,
            height_drift: height_drift(&spacings, header.first_index, height_blocks),
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gue_control_sample_is_close_to_gue_and_far_from_poisson() {
        let blocks = super::super::gue_sample::gue_blocks(100_000, 1);
        let stats = analyze_blocks(&blocks);
        // KS of n = 10⁵ samples from the law itself is ~1/√n·(0.5…1.5).
        assert!(stats.ks.gaudin < 0.006, "{:?}", stats.ks);
        assert!(stats.ks.poisson > 0.1 && stats.ks.wigner > stats.ks.gaudin);
        for p in stats.number_variance.iter().chain(&stats.rigidity) {
            assert!((p.measured - p.gue).abs() < 0.1 * p.gue + 0.01, "{p:?}");
        }
        assert!(
            stats.autocorrelation[0] < -0.2,
            "GUE neighbours repel: {}",
            stats.autocorrelation[0]
        );
    }
}
