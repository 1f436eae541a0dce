//! Two-point statistics of an unfolded level sequence (mean spacing 1), measured.
//!
//! All are O(N) or O(N·r_max) with two pointers over the sorted levels: no all-pairs loops.

/// Level positions from spacings: `x_0 = 0`, `x_{i+1} = x_i + δ_i`.
pub fn positions(spacings: &[f64]) -> Vec<f64> {
    let mut x = Vec::with_capacity(spacings.len() + 1);
    let mut acc = 0.0;
    x.push(acc);
    for &d in spacings {
        acc += d;
        x.push(acc);
    }
    x
}

/// Pair correlation `R₂(r)` on `bins` bins over `(0, r_max)`: the density of level pairs at
/// distance r per level, by a sliding window. Returns `(bin centre, R₂)`.
///
/// Every statistic here takes the levels as independent blocks (one for the zeros, one per
/// matrix for a random-matrix sample): windows never straddle two blocks.
pub fn pair_correlation(blocks: &[Vec<f64>], r_max: f64, bins: usize) -> Vec<(f64, f64)> {
    let width = r_max / bins as f64;
    let mut counts = vec![0u64; bins];
    let mut origins = 0u64;
    for levels in blocks {
        let last = *levels.last().unwrap_or(&0.0);
        for (i, &x) in levels.iter().enumerate() {
            // Only origins with a full window ahead, so every distance up to r_max is seen.
            if x + r_max > last {
                break;
            }
            origins += 1;
            for &y in &levels[i + 1..] {
                let r = y - x;
                if r >= r_max {
                    break;
                }
                counts[(r / width) as usize] += 1;
            }
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(b, &c)| {
            (
                (b as f64 + 0.5) * width,
                c as f64 / (origins.max(1) as f64 * width),
            )
        })
        .collect()
}

/// Window starts: an irrational stride (the golden ratio's fractional part), so starts are
/// equidistributed relative to any lattice.
const STRIDE: f64 = 0.618_033_988_749_894_9;

/// Most windows per level of a block: unfolded levels (mean spacing 1) need about 1.6 per
/// level at [`STRIDE`]; the cap only binds on a span far beyond the level count (a spacing of
/// 1e300 in a corrupt file), where it widens the stride so that the work stays bounded.
const MAX_WINDOWS_PER_LEVEL: f64 = 4.0;

/// The starts `s` of windows `[s, s + l]` inside `[first, last]`, `stride` apart (wider when
/// [`MAX_WINDOWS_PER_LEVEL`] binds); each start is `first + k·stride`, so no start repeats
/// where adding the stride would no longer change `s`.
fn window_starts(levels: &[f64], l: f64, stride: f64) -> impl Iterator<Item = f64> {
    let (first, last) = (levels[0], levels[levels.len() - 1]);
    let span = last - l - first;
    let cap = MAX_WINDOWS_PER_LEVEL * levels.len() as f64 + 16.0;
    let (count, stride) = if span.is_nan() || span < 0.0 {
        (0, stride)
    } else if span / stride + 1.0 <= cap {
        ((span / stride).floor() as u64 + 1, stride)
    } else {
        (cap as u64, span / (cap - 1.0))
    };
    (0..count).map(move |k| first + k as f64 * stride)
}

/// Number variance `Σ²(L)`: variance of the count of levels in `[s, s + L)` over window
/// starts s spread across the sequence.
pub fn number_variance(blocks: &[Vec<f64>], l: f64) -> f64 {
    let (mut n, mut sum, mut sum2) = (0.0, 0.0, 0.0);
    for levels in blocks.iter().filter(|b| !b.is_empty()) {
        let (mut lo, mut hi) = (0usize, 0usize);
        for s in window_starts(levels, l, STRIDE) {
            while lo < levels.len() && levels[lo] < s {
                lo += 1;
            }
            while hi < levels.len() && levels[hi] < s + l {
                hi += 1;
            }
            let count = (hi - lo) as f64;
            n += 1.0;
            sum += count;
            sum2 += count * count;
        }
    }
    let mean = sum / n;
    sum2 / n - mean * mean
}

/// Spectral rigidity `Δ₃(L)`: the mean over windows `[s, s + L]` (starts 0.618·L apart) of
/// `min_{A,B} (1/L)∫(N(y) − A − By)² dy`, with the integrals of the staircase taken exactly.
pub fn rigidity(blocks: &[Vec<f64>], l: f64) -> f64 {
    let (mut windows, mut total) = (0.0, 0.0);
    for levels in blocks.iter().filter(|b| !b.is_empty()) {
        let (t, w) = rigidity_sums(levels, l);
        total += t;
        windows += w;
    }
    total / windows
}

/// Sum of the window values of Δ₃ over one block, and the number of windows.
fn rigidity_sums(levels: &[f64], l: f64) -> (f64, f64) {
    let (m0, m1, m2) = (l, l * l / 2.0, l * l * l / 3.0);
    let det = m0 * m2 - m1 * m1;
    let mut lo = 0usize;
    let (mut windows, mut total) = (0.0, 0.0);
    for s in window_starts(levels, l, STRIDE * l) {
        while lo < levels.len() && levels[lo] < s {
            lo += 1;
        }
        // Staircase N(u) = j on [u_j, u_{j+1}), u in [0, L].
        let (mut i0, mut i1, mut i2) = (0.0, 0.0, 0.0);
        let mut u_prev = 0.0;
        let mut j = 0.0;
        for &x in levels[lo..].iter().take_while(|&&x| x < s + l) {
            let u = x - s;
            i0 += j * (u - u_prev);
            i1 += j * (u * u - u_prev * u_prev) / 2.0;
            i2 += j * j * (u - u_prev);
            u_prev = u;
            j += 1.0;
        }
        i0 += j * (l - u_prev);
        i1 += j * (l * l - u_prev * u_prev) / 2.0;
        i2 += j * j * (l - u_prev);
        let a = (m2 * i0 - m1 * i1) / det;
        let b = (m0 * i1 - m1 * i0) / det;
        total += (i2 - a * i0 - b * i1) / l;
        windows += 1.0;
    }
    (total, windows)
}

/// Pearson correlation of `δ_n` and `δ_{n+lag}` over pairs inside each block of spacings.
pub fn autocorrelation(blocks: &[Vec<f64>], lag: usize) -> f64 {
    let pairs = || blocks.iter().flat_map(|b| b.iter().zip(b.iter().skip(lag)));
    let n = pairs().count() as f64;
    assert!(n >= 2.0, "need more than {lag} + 1 spacings");
    let mean_a = pairs().map(|(x, _)| x).sum::<f64>() / n;
    let mean_b = pairs().map(|(_, y)| y).sum::<f64>() / n;
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (x, y) in pairs() {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a).powi(2);
        var_b += (y - mean_b).powi(2);
    }
    cov / (var_a * var_b).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Poisson levels: i.i.d. Exp(1) spacings from a fixed-seed xorshift generator.
    fn poisson_levels(n: usize) -> Vec<f64> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let spacings: Vec<f64> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                -u.ln()
            })
            .collect();
        positions(&spacings)
    }

    #[test]
    fn picket_fence_statistics() {
        let levels = vec![(0..20_000).map(|i| i as f64).collect::<Vec<f64>>()];
        for l in [0.3, 2.5, 7.75] {
            let frac = l - f64::floor(l);
            assert!(
                (number_variance(&levels, l) - frac * (1.0 - frac)).abs() < 2e-3,
                "Σ²({l})"
            );
        }
        for l in [3.0, 10.0] {
            assert!(
                (rigidity(&levels, l) - 1.0 / 12.0).abs() < 2e-3,
                "Δ₃({l}) = {}",
                rigidity(&levels, l)
            );
        }
        // Pairs sit only at integer distances 1 and 2: exactly the bins [lo, lo + w) that
        // hold one are non-empty, each with density 1/w.
        let w = 0.1;
        for (centre, density) in pair_correlation(&levels, 3.0, 30) {
            let lo = centre - w / 2.0;
            let k = (lo - 1e-9).ceil();
            let holds_integer = k >= 1.0 && k < lo + w - 1e-9;
            let want = if holds_integer { 1.0 / w } else { 0.0 };
            assert!((density - want).abs() < 1e-9, "bin at {centre}: {density}");
        }
    }

    #[test]
    fn poisson_statistics() {
        let levels = vec![poisson_levels(400_000)];
        for l in [1.0, 5.0, 15.0] {
            let sigma2 = number_variance(&levels, l);
            assert!((sigma2 / l - 1.0).abs() < 0.03, "Σ²({l}) = {sigma2}");
            let delta3 = rigidity(&levels, l);
            assert!(
                (delta3 / (l / 15.0) - 1.0).abs() < 0.05,
                "Δ₃({l}) = {delta3}"
            );
        }
        let r2 = pair_correlation(&levels, 3.0, 15);
        assert!(r2.iter().all(|(_, d)| (d - 1.0).abs() < 0.02), "{r2:?}");
        let spacings: Vec<f64> = levels[0].windows(2).map(|w| w[1] - w[0]).collect();
        for lag in 1..=3 {
            assert!(autocorrelation(std::slice::from_ref(&spacings), lag).abs() < 0.01);
        }
    }

    /// A corrupt sample (one spacing of 1e300, or one so large that adding the stride no
    /// longer moves a window) ends, with finite statistics, in a bounded number of windows.
    #[test]
    fn a_huge_spacing_cannot_make_the_windows_endless() {
        for huge in [1e300, 3e19] {
            let mut levels: Vec<f64> = (0..1000).map(f64::from).collect();
            levels.push(999.0 + huge);
            let blocks = vec![levels.clone()];
            assert!(window_starts(&levels, 2.0, STRIDE).count() <= 4 * 1001 + 16);
            assert!(number_variance(&blocks, 2.0).is_finite());
            assert!(rigidity(&blocks, 2.0).is_finite());
        }
        // Where the cap does not bind, the starts are the stride's multiples.
        let levels: Vec<f64> = (0..100).map(f64::from).collect();
        let starts: Vec<f64> = window_starts(&levels, 10.0, STRIDE).collect();
        assert_eq!(starts.len(), (89.0 / STRIDE) as usize + 1);
        assert_eq!(starts[3], 3.0 * STRIDE);
    }
}
