//! The eight window statistics M0–M7 of the design notes ("Q3 invariants"), one per memory
//! slot: targets for the slots' auxiliary regression. Computed on the host in f64 from a
//! window of spacings `x` (mean-spacing units), no gradient needed.
//!
//! | | statistic |
//! |---|---|
//! | M0 | `mean(x) − 1` |
//! | M1 | entropy (nats) of the histogram of `x` over 16 equal bins on [0, 4) (values ≥ 4 in the last) |
//! | M2 | `max |Δx|` |
//! | M3 | the 1 % quantile of `x` (linear interpolation, as `torch.quantile`) |
//! | M4 | `mean |Δ²x|` |
//! | M5 | divergence of the two half-windows: `|mean₁ − mean₂| + |std₁ − std₂|` |
//! | M6 | fraction of the DFT power of `Δx` (mean removed) in the top quarter of frequencies |
//! | M7 | local rigidity: mean squared residual of `cumsum(x)` about its least-squares line |
//!
//! Where the notes leave a definition open (M1's bin range, M5's divergence, M6's
//! normalization, M7's scale) the table above is this implementation's choice.

/// Number of statistics (one per slot of the reference 8-slot memory).
pub const N_STATS: usize = 8;

/// M0–M7 of one window (at least 4 values).
pub fn window_stats(x: &[f64]) -> [f64; N_STATS] {
    let n = x.len();
    assert!(n >= 4, "window statistics need at least 4 values, got {n}");
    let mean = x.iter().sum::<f64>() / n as f64;
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let d2x: Vec<f64> = dx.windows(2).map(|w| w[1] - w[0]).collect();
    [
        mean - 1.0,
        histogram_entropy(x),
        dx.iter().fold(0.0, |m, d| m.max(d.abs())),
        quantile(x, 0.01),
        d2x.iter().map(|d| d.abs()).sum::<f64>() / d2x.len() as f64,
        half_window_divergence(x),
        high_frequency_fraction(&dx),
        rigidity(x),
    ]
}

fn histogram_entropy(x: &[f64]) -> f64 {
    const BINS: usize = 16;
    const TOP: f64 = 4.0;
    let mut counts = [0usize; BINS];
    for &v in x {
        let bin = ((v / TOP * BINS as f64).floor().max(0.0) as usize).min(BINS - 1);
        counts[bin] += 1;
    }
    let n = x.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// `q`-quantile with linear interpolation between order statistics (`torch.quantile`).
pub fn quantile(x: &[f64], q: f64) -> f64 {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q * (sorted.len() - 1) as f64;
    let (low, frac) = (position.floor() as usize, position.fract());
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + frac * (sorted[high] - sorted[low])
}

/// The mean and the population standard deviation (over n) of one half window: a feature of
/// the window the targets define, not a summary over runs or seeds (those use the sample std
/// of `spectral_experiments::mean_std`).
fn window_moments(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn half_window_divergence(x: &[f64]) -> f64 {
    let (first, second) = x.split_at(x.len() / 2);
    let (m1, s1) = window_moments(first);
    let (m2, s2) = window_moments(second);
    (m1 - m2).abs() + (s1 - s2).abs()
}

/// Power at DFT frequencies k with k/n in the top quarter of [0, 1/2] (k > 3n/8), over the
/// power at all k ≥ 1 (the mean removed); 0 for a constant sequence. Direct O(n²) DFT.
fn high_frequency_fraction(d: &[f64]) -> f64 {
    let n = d.len();
    let mean = d.iter().sum::<f64>() / n as f64;
    let (mut high, mut total) = (0.0, 0.0);
    for k in 1..=n / 2 {
        let (mut re, mut im) = (0.0, 0.0);
        for (t, v) in d.iter().enumerate() {
            let angle = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
            re += (v - mean) * angle.cos();
            im += (v - mean) * angle.sin();
        }
        let power = re * re + im * im;
        total += power;
        if 8 * k > 3 * n {
            high += power;
        }
    }
    if total <= 1e-300 { 0.0 } else { high / total }
}

fn rigidity(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let staircase: Vec<f64> = x
        .iter()
        .map(|v| {
            s += v;
            s
        })
        .collect();
    let n = staircase.len() as f64;
    let t_mean = (n - 1.0) / 2.0;
    let s_mean = staircase.iter().sum::<f64>() / n;
    let (mut sts, mut stt) = (0.0, 0.0);
    for (t, v) in staircase.iter().enumerate() {
        sts += (t as f64 - t_mean) * (v - s_mean);
        stt += (t as f64 - t_mean).powi(2);
    }
    let slope = sts / stt;
    staircase
        .iter()
        .enumerate()
        .map(|(t, v)| (v - s_mean - slope * (t as f64 - t_mean)).powi(2))
        .sum::<f64>()
        / n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn picket_fence_has_no_spread_and_no_rigidity_defect() {
        let m = window_stats(&[1.0; 32]);
        assert_eq!(m, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn alternating_window_has_known_statistics() {
        // 0.5, 1.5, 0.5, ...: mean 1, two equally full bins, |Δx| = 1, |Δ²x| = 2, all the
        // power of Δx at the Nyquist frequency, identical halves.
        let x: Vec<f64> = (0..32)
            .map(|i| if i % 2 == 0 { 0.5 } else { 1.5 })
            .collect();
        let m = window_stats(&x);
        assert!(close(m[0], 0.0));
        assert!(close(m[1], std::f64::consts::LN_2));
        assert!(close(m[2], 1.0));
        assert!(close(m[3], 0.5));
        assert!(close(m[4], 2.0));
        assert!(close(m[5], 0.0));
        // 31 differences alternate ±1 with a nonzero mean: not a pure tone, mostly high.
        assert!(m[6] > 0.9, "{}", m[6]);
        // 33 values give 32 differences, a pure Nyquist tone: all the power is high.
        let x33: Vec<f64> = (0..33)
            .map(|i| if i % 2 == 0 { 0.5 } else { 1.5 })
            .collect();
        assert!(close(window_stats(&x33)[6], 1.0));
        // cumsum = t + (0.5 or 0): a line plus a ±0.25 square wave, residual 1/16 (up to the
        // tiny slope correction of an even count).
        assert!((m[7] - 0.0625).abs() < 1e-3, "{}", m[7]);
    }

    #[test]
    fn quantile_interpolates_like_torch() {
        let x: Vec<f64> = (0..101).map(f64::from).collect();
        assert!(close(quantile(&x, 0.01), 1.0));
        assert!(close(quantile(&[0.0, 10.0], 0.01), 0.1));
    }

    #[test]
    fn a_step_between_halves_shows_in_m5_and_a_ramp_in_m7() {
        let mut x = vec![0.5; 16];
        x.extend(vec![1.5; 16]);
        let m = window_stats(&x);
        assert!(close(m[5], 1.0));
        // A staircase with a kink: a positive rigidity defect, unlike the picket fence.
        assert!(m[7] > 0.1);
        // A slow sinusoid of Δx puts its power at low frequency.
        let smooth: Vec<f64> = (0..64)
            .map(|t| 1.0 + 0.3 * (t as f64 / 10.0).sin())
            .collect();
        assert!(window_stats(&smooth)[6] < 0.05);
    }
}
