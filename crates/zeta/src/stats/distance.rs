//! How far an empirical spacing sample is from a model law: Kolmogorov–Smirnov and L1.

/// `sup_s |F_n(s) − F(s)|` for a sample sorted ascending and a model CDF `F`.
pub fn ks_distance(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    debug_assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "sample must be sorted"
    );
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let f = cdf(s);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

/// A histogram of spacings on `[0, max)` with equal bins; values beyond fall in no bin
/// but count in the total.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub max: f64,
    pub counts: Vec<u64>,
    pub total: u64,
}

impl Histogram {
    pub fn new(values: &[f64], bins: usize, max: f64) -> Self {
        assert!(bins > 0 && max > 0.0);
        let mut counts = vec![0u64; bins];
        for &v in values {
            let bin = (v / max * bins as f64).floor();
            if bin >= 0.0 && (bin as usize) < bins {
                counts[bin as usize] += 1;
            }
        }
        Self {
            max,
            counts,
            total: values.len() as u64,
        }
    }

    pub fn width(&self) -> f64 {
        self.max / self.counts.len() as f64
    }

    /// Bin centres and empirical densities `count / (total·width)`.
    pub fn densities(&self) -> Vec<(f64, f64)> {
        let w = self.width();
        self.counts
            .iter()
            .enumerate()
            .map(|(i, &c)| ((i as f64 + 0.5) * w, c as f64 / (self.total as f64 * w)))
            .collect()
    }

    /// L1 distance `∫|h − p|` between the histogram density and a model with CDF `F`, both
    /// averaged over each bin (mass beyond `max` counted as a difference too).
    pub fn l1_distance(&self, cdf: impl Fn(f64) -> f64) -> f64 {
        let w = self.width();
        let n = self.total as f64;
        let inside: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (c as f64 / n - (cdf((i + 1) as f64 * w) - cdf(i as f64 * w))).abs())
            .sum();
        let empirical_beyond = 1.0 - self.counts.iter().sum::<u64>() as f64 / n;
        inside + (empirical_beyond - (1.0 - cdf(self.max))).abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::surmise::{poisson_cdf, wigner_cdf};

    fn exponential_sample(n: usize) -> Vec<f64> {
        // Deterministic quantiles of Exp(1): the sample whose empirical CDF is closest to F.
        (0..n)
            .map(|i| -(1.0 - (i as f64 + 0.5) / n as f64).ln())
            .collect()
    }

    #[test]
    fn ks_of_exact_quantiles_is_half_a_step() {
        let sample = exponential_sample(1000);
        let d = ks_distance(&sample, poisson_cdf);
        assert!((d - 0.5 / 1000.0).abs() < 1e-12, "{d}");
        assert!(ks_distance(&sample, wigner_cdf) > 0.1);
    }

    #[test]
    fn l1_shrinks_for_the_true_law_and_not_for_a_wrong_one() {
        let sample = exponential_sample(100_000);
        let histogram = Histogram::new(&sample, 50, 5.0);
        assert!(histogram.l1_distance(poisson_cdf) < 1e-3);
        assert!(histogram.l1_distance(wigner_cdf) > 0.3);
        let mass: f64 = histogram
            .densities()
            .iter()
            .map(|(_, d)| d * histogram.width())
            .sum();
        assert!((mass - (1.0 - (-5.0f64).exp())).abs() < 1e-4);
    }
}
