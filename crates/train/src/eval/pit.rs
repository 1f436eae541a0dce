//! Calibration by the probability integral transform (PIT; Dawid 1984, Gneiting et al. 2007).
//!
//! ```text
//! u_i = F_i(y_i)          F_i the predicted distribution function of target i
//! ```
//!
//! If every `y_i` is drawn from `F_i`, the `u_i` are i.i.d. uniform on [0, 1] and the
//! histogram is flat. A hump in the middle means over-dispersed forecasts (σ too large), a U
//! shape under-dispersed ones, a slope a biased mean. Flatness is summarised by Pearson's χ²
//! against the uniform counts (`bins − 1` degrees of freedom under calibration: mean
//! `bins − 1`, sd `√(2(bins − 1))`) and by the largest relative bin deviation.

/// A PIT histogram on [0, 1] with equal bins.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PitHistogram {
    /// Fraction of the targets in each bin (sums to 1); `1/bins` each when calibrated.
    pub fractions: Vec<f64>,
    /// Pearson's χ² of the counts against uniform (`bins − 1` degrees of freedom).
    pub chi2: f64,
    /// `max_b |fraction_b · bins − 1|`: 0 when flat, 0.2 means a bin 20 % off.
    pub max_rel_dev: f64,
    /// Targets counted.
    pub count: usize,
}

/// The histogram of the PIT values `pits` (each in [0, 1]; 1 falls in the last bin) over
/// `bins ≥ 1` equal bins.
pub fn pit_histogram(pits: &[f64], bins: usize) -> PitHistogram {
    let bins = bins.max(1);
    let mut counts = vec![0usize; bins];
    for &u in pits {
        let b = ((u.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let n = pits.len();
    let expected = n as f64 / bins as f64;
    let chi2 = if n == 0 {
        0.0
    } else {
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    };
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect();
    let max_rel_dev = fractions
        .iter()
        .map(|f| (f * bins as f64 - 1.0).abs())
        .fold(0.0, f64::max);
    PitHistogram {
        fractions,
        chi2,
        max_rel_dev,
        count: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::mixture::HostMixtures;
    use crate::eval::testing::Rng;

    fn pits(sigma_scale: f64, seed: u64) -> PitHistogram {
        // Targets drawn from a 2-component mixture whose parameters vary per target; the
        // forecast is the same mixture with σ scaled by `sigma_scale`.
        let mut rng = Rng::new(seed);
        let n = 20_000;
        let mut truth = HostMixtures {
            k: 2,
            pi: vec![],
            mu: vec![],
            sigma: vec![],
        };
        let mut ys = Vec::with_capacity(n);
        for i in 0..n {
            let w = 0.2 + 0.6 * (i % 7) as f64 / 6.0;
            let (pi, mu, sigma) = (
                [w, 1.0 - w],
                [0.6, 1.3 + 0.01 * (i % 5) as f64],
                [0.15, 0.35],
            );
            ys.push(rng.mixture(&pi, &mu, &sigma));
            truth.pi.extend(pi);
            truth.mu.extend(mu);
            truth.sigma.extend(sigma.map(|s| s * sigma_scale));
        }
        let u: Vec<f64> = ys
            .iter()
            .enumerate()
            .map(|(i, &y)| truth.cdf(i, y))
            .collect();
        pit_histogram(&u, 10)
    }

    #[test]
    fn a_well_specified_model_has_a_flat_pit() {
        let h = pits(1.0, 7);
        assert_eq!(h.count, 20_000);
        assert!((h.fractions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // χ²(9): mean 9, P(χ² > 30) ≈ 4e-4.
        assert!(h.chi2 < 30.0, "{h:?}");
        // Each bin holds 2000 ± 42 (binomial sd): 4 sd is 8.5 % relative.
        assert!(h.max_rel_dev < 0.085, "{h:?}");
    }

    #[test]
    fn over_and_under_dispersion_show_as_hump_and_u() {
        let wide = pits(2.0, 8);
        assert!(wide.chi2 > 1000.0, "{wide:?}");
        assert!(
            wide.fractions[5] > 2.0 * wide.fractions[0],
            "hump: {wide:?}"
        );
        let narrow = pits(0.5, 9);
        assert!(narrow.chi2 > 1000.0, "{narrow:?}");
        assert!(
            narrow.fractions[0] > 1.5 * narrow.fractions[5],
            "U: {narrow:?}"
        );
    }

    #[test]
    fn histogram_edges() {
        let h = pit_histogram(&[0.0, 0.05, 0.1, 0.95, 1.0], 10);
        assert_eq!(h.fractions[0], 0.4);
        assert_eq!(h.fractions[1], 0.2);
        assert_eq!(h.fractions[9], 0.4);
        // Expected 0.5 per bin: (1.5² + 0.5² + 1.5²)/0.5 + 7·0.5 = 9.5 + 3.5.
        assert!((h.chi2 - 13.0).abs() < 1e-12, "{}", h.chi2);
        assert_eq!(pit_histogram(&[], 4).chi2, 0.0);
    }
}
