//! Mean and sample standard deviation of a summary over seeds or runs: `mean ± std` with
//! `std² = Σ (x − mean)² / (n − 1)` (0 for one value). Every `mean ± std` the experiments
//! report (the init and frame benchmarks' tables, the shoot-out, the memory-bank table of the
//! results page) is computed by [`mean_std`] and written by [`plus_minus`].

/// Mean and sample standard deviation of `n` values.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

/// Mean and sample std (n − 1; 0 for one value) of `values`; `None` when empty.
pub fn mean_std(values: &[f64]) -> Option<MeanStd> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Some(MeanStd {
        mean,
        std: var.sqrt(),
        n,
    })
}

impl MeanStd {
    /// `(mean, std)`: the pair a summary row of a JSON report holds.
    pub fn pair(self) -> (f64, f64) {
        (self.mean, self.std)
    }

    /// `mean ± std` with `digits` decimals ([`plus_minus`]); the mean alone for one value,
    /// which has no spread to show.
    pub fn pm(self, digits: usize) -> String {
        if self.n == 1 {
            return format!("{:.digits$}", self.mean);
        }
        plus_minus(self.pair(), digits)
    }
}

/// [`mean_std`] as a summary row's `(mean, std)` pair; `(NaN, NaN)` when `values` is empty.
pub fn mean_std_pair(values: &[f64]) -> (f64, f64) {
    mean_std(values).map_or((f64::NAN, f64::NAN), MeanStd::pair)
}

/// `mean ± std` of a `(mean, std)` pair, both with `digits` decimals.
pub fn plus_minus((mean, std): (f64, f64), digits: usize) -> String {
    format!("{mean:.digits$} ± {std:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_is_the_sample_std() {
        let v = mean_std(&[1.0, 2.0, 4.0]).unwrap();
        // mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9; / 2 = 7/3.
        assert!((v.mean - 7.0 / 3.0).abs() < 1e-15);
        assert!((v.std - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_std(&[5.0]).unwrap().std, 0.0);
        assert!(mean_std(&[]).is_none());
    }

    #[test]
    fn pairs_and_their_text() {
        // Finals 1.8, 1.9, 2.0: mean 1.9, sample std 0.1.
        let (mean, std) = mean_std_pair(&[1.8, 1.9, 2.0]);
        assert!((mean - 1.9).abs() < 1e-15 && (std - 0.1).abs() < 1e-15);
        assert_eq!(plus_minus((mean, std), 4), "1.9000 ± 0.1000");
        assert_eq!(mean_std(&[1.0, 3.0]).unwrap().pm(1), "2.0 ± 1.4");
        assert_eq!(mean_std(&[0.25]).unwrap().pm(3), "0.250");
        assert!(mean_std_pair(&[]).0.is_nan());
    }
}
