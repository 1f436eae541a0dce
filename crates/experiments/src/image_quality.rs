//! Image-quality metrics for images with values in `[0, 1]` (data range `L = 1`), laid out
//! channel-major `[C, H, W]`.
//!
//! **PSNR** `= 10 · log₁₀(L² / MSE)` dB, MSE over all `C·H·W` values (∞ for identical
//! images).
//!
//! **SSIM** (Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
//! visibility to structural similarity", IEEE TIP 2004), as in their reference `ssim_index.m`:
//! at every position where the whole window fits (`'valid'`), with the 11×11 Gaussian window
//! `w` of σ = 1.5 normalised to sum 1,
//!
//! ```text
//! μx = Σ w·x,   σx² = Σ w·x² − μx²,   σxy = Σ w·x·y − μx·μy     (likewise μy, σy²)
//! SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),
//! C1 = (K1·L)², C2 = (K2·L)², K1 = 0.01, K2 = 0.03
//! ```
//!
//! and the mean over positions, then over channels (each channel on its own, as scikit-image
//! does for colour images). The Gaussian is separable, so the five local sums are two 1-D
//! passes each. All arithmetic in f64.

/// Side of the SSIM window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the SSIM window, pixels.
pub const SSIM_SIGMA: f64 = 1.5;
/// SSIM's luminance constant, `C1 = (K1·L)²`.
pub const SSIM_K1: f64 = 0.01;
/// SSIM's contrast constant, `C2 = (K2·L)²`.
pub const SSIM_K2: f64 = 0.03;

/// Mean squared difference over all values.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "mse: images of different sizes");
    assert!(!a.is_empty(), "mse: empty images");
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

/// `10·log₁₀(1 / mse)` dB (data range 1); `+∞` when `mse = 0`.
pub fn psnr_from_mse(mse: f64) -> f64 {
    -10.0 * mse.log10()
}

/// PSNR of `a` against `b` (data range 1), dB.
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    psnr_from_mse(mse(a, b))
}

/// The 1-D Gaussian taps `exp(−k²/2σ²)`, `k = −5..=5`, normalised to sum 1 (their outer
/// product is the normalised 2-D window).
fn gaussian_taps() -> [f64; SSIM_WINDOW] {
    let half = (SSIM_WINDOW / 2) as f64;
    let mut taps = [0.0; SSIM_WINDOW];
    for (k, tap) in taps.iter_mut().enumerate() {
        let d = k as f64 - half;
        *tap = (-d * d / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let sum: f64 = taps.iter().sum();
    taps.map(|t| t / sum)
}

/// The window-weighted sum at every valid position of an `h × w` plane (row-major):
/// `[(h − 10)·(w − 10)]`.
fn filter_valid(plane: &[f64], h: usize, w: usize) -> Vec<f64> {
    let taps = gaussian_taps();
    let (oh, ow) = (h + 1 - SSIM_WINDOW, w + 1 - SSIM_WINDOW);
    // Rows first: [h, ow].
    let mut rows = vec![0.0; h * ow];
    for y in 0..h {
        for x in 0..ow {
            rows[y * ow + x] = (0..SSIM_WINDOW)
                .map(|k| taps[k] * plane[y * w + x + k])
                .sum();
        }
    }
    // Then columns: [oh, ow].
    let mut out = vec![0.0; oh * ow];
    for y in 0..oh {
        for x in 0..ow {
            out[y * ow + x] = (0..SSIM_WINDOW)
                .map(|k| taps[k] * rows[(y + k) * ow + x])
                .sum();
        }
    }
    out
}

/// Mean SSIM of `a` against `b`, both `[channels, height, width]` with `height, width ≥ 11`
/// (module doc). Symmetric in `a` and `b`; 1 exactly when they are equal.
pub fn ssim(a: &[f32], b: &[f32], channels: usize, height: usize, width: usize) -> f64 {
    assert_eq!(
        a.len(),
        channels * height * width,
        "ssim: a is not [C, H, W]"
    );
    assert_eq!(b.len(), a.len(), "ssim: b is not [C, H, W]");
    assert!(
        height >= SSIM_WINDOW && width >= SSIM_WINDOW,
        "ssim: {height}×{width} is smaller than the {SSIM_WINDOW}×{SSIM_WINDOW} window"
    );
    let c1 = SSIM_K1 * SSIM_K1;
    let c2 = SSIM_K2 * SSIM_K2;
    let plane = height * width;
    let mut total = 0.0;
    for c in 0..channels {
        let x: Vec<f64> = a[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| v.into())
            .collect();
        let y: Vec<f64> = b[c * plane..(c + 1) * plane]
            .iter()
            .map(|&v| v.into())
            .collect();
        let product =
            |p: &[f64], q: &[f64]| -> Vec<f64> { p.iter().zip(q).map(|(u, v)| u * v).collect() };
        let mu_x = filter_valid(&x, height, width);
        let mu_y = filter_valid(&y, height, width);
        let xx = filter_valid(&product(&x, &x), height, width);
        let yy = filter_valid(&product(&y, &y), height, width);
        let xy = filter_valid(&product(&x, &y), height, width);
        let n = mu_x.len();
        let mut sum = 0.0;
        for i in 0..n {
            let (mx, my) = (mu_x[i], mu_y[i]);
            let (vx, vy, cxy) = (xx[i] - mx * mx, yy[i] - my * my, xy[i] - mx * my);
            sum += (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
        total += sum / n as f64;
    }
    total / channels as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible textured image `[C, H, W]` in `[0.1, 0.9]` (sines, no RNG needed).
    fn texture(channels: usize, h: usize, w: usize, phase: f64) -> Vec<f32> {
        let mut out = Vec::with_capacity(channels * h * w);
        for c in 0..channels {
            for y in 0..h {
                for x in 0..w {
                    let (xf, yf, cf) = (x as f64, y as f64, c as f64);
                    let v = 0.5
                        + 0.25 * (0.7 * xf + 0.3 * yf + phase + cf).sin()
                        + 0.15 * (0.23 * xf * yf / 7.0 - 1.1 * yf + 2.0 * cf).cos();
                    out.push(v as f32);
                }
            }
        }
        out
    }

    /// Deterministic noise in `[−1, 1]` (SplitMix64 words).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        (0..len as u64)
            .map(|i| {
                let z =
                    spectral_train::data::sampling::splitmix64(seed.wrapping_mul(1_000_003) ^ i);
                (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// The oracle: SSIM's local statistics by brute force, one 11×11 window at a time, with
    /// the 2-D Gaussian normalised on its own (no separability used), returned per position as
    /// (μx, σx², and, for a second image, μy, σy², σxy).
    fn brute_stats(x: &[f64], y: &[f64], h: usize, w: usize) -> Vec<[f64; 5]> {
        let half = (SSIM_WINDOW / 2) as f64;
        let mut window = [[0.0; SSIM_WINDOW]; SSIM_WINDOW];
        let mut total = 0.0;
        for (i, row) in window.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let (di, dj) = (i as f64 - half, j as f64 - half);
                *v = (-(di * di + dj * dj) / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
                total += *v;
            }
        }
        let mut out = Vec::new();
        for y0 in 0..=h - SSIM_WINDOW {
            for x0 in 0..=w - SSIM_WINDOW {
                let mut s = [0.0; 5]; // Σwx, Σwy, Σwx², Σwy², Σwxy
                for (i, row) in window.iter().enumerate() {
                    for (j, weight) in row.iter().enumerate() {
                        let k = (y0 + i) * w + x0 + j;
                        let g = weight / total;
                        s[0] += g * x[k];
                        s[1] += g * y[k];
                        s[2] += g * x[k] * x[k];
                        s[3] += g * y[k] * y[k];
                        s[4] += g * x[k] * y[k];
                    }
                }
                out.push([
                    s[0],
                    s[2] - s[0] * s[0],
                    s[1],
                    s[3] - s[1] * s[1],
                    s[4] - s[0] * s[1],
                ]);
            }
        }
        out
    }

    #[test]
    fn psnr_of_a_known_mse() {
        let a = texture(3, 16, 16, 0.0);
        // A uniform offset of 0.05: MSE = 0.0025, PSNR = 10·log₁₀(400) = 26.0206 dB.
        let b: Vec<f32> = a.iter().map(|v| v + 0.05).collect();
        // The offset is added in f32, so each difference is 0.05 to ~1e-8: MSE to ~4e-7 rel.
        assert!((mse(&a, &b) / 0.0025 - 1.0).abs() < 1e-6);
        assert!((psnr(&a, &b) - 10.0 * 400f64.log10()).abs() < 1e-5);
        assert!((psnr_from_mse(1e-3) - 30.0).abs() < 1e-12);
        assert_eq!(psnr(&a, &a), f64::INFINITY);
    }

    #[test]
    fn ssim_of_an_image_with_itself_is_one_and_ssim_is_symmetric() {
        let a = texture(3, 20, 17, 0.0);
        let b = texture(3, 20, 17, 0.9);
        assert!((ssim(&a, &a, 3, 20, 17) - 1.0).abs() < 1e-12);
        let (ab, ba) = (ssim(&a, &b, 3, 20, 17), ssim(&b, &a, 3, 20, 17));
        assert!(ab < 0.99, "{ab}");
        // Same terms, multiplied in another order: equal to rounding.
        assert!((ab - ba).abs() < 1e-14, "{ab} vs {ba}");
    }

    /// `y = s·x + o`: locally μy = s μx + o, σy² = s² σx², σxy = s σx², so SSIM at each
    /// position follows from x's own μx and σx² (brute-force windows) by the formula.
    #[test]
    fn ssim_of_an_affine_copy_matches_the_formula() {
        let (h, w) = (18, 15);
        let x = texture(1, h, w, 0.3);
        let xf: Vec<f64> = x.iter().map(|&v| v.into()).collect();
        let (c1, c2) = (SSIM_K1 * SSIM_K1, SSIM_K2 * SSIM_K2);
        for (scale, offset) in [(1.0, 0.1), (1.0, -0.05), (0.6, 0.0), (0.8, 0.15)] {
            let y: Vec<f32> = x
                .iter()
                .map(|&v| (scale * f64::from(v) + offset) as f32)
                .collect();
            let stats = brute_stats(&xf, &xf, h, w);
            let want = stats
                .iter()
                .map(|s| {
                    let (mx, vx) = (s[0], s[1]);
                    let my = scale * mx + offset;
                    (2.0 * mx * my + c1) * (2.0 * scale * vx + c2)
                        / ((mx * mx + my * my + c1) * (vx + scale * scale * vx + c2))
                })
                .sum::<f64>()
                / stats.len() as f64;
            let got = ssim(&x, &y, 1, h, w);
            // y is rounded to f32 (~3e-8 per value): SSIM moves by ~1e-7 at most.
            assert!(
                (got - want).abs() < 1e-6,
                "s {scale}, o {offset}: {got} vs {want}"
            );
            assert!(got < 1.0);
        }
        // Constant images c and c + o: σ = 0, so SSIM = (2c(c+o) + C1) / (c² + (c+o)² + C1).
        let (c, o) = (0.4f64, 0.2f64);
        let flat = vec![c as f32; 3 * 12 * 12];
        let lifted = vec![(c + o) as f32; 3 * 12 * 12];
        let want = (2.0 * c * (c + o) + c1) / (c * c + (c + o) * (c + o) + c1);
        let got = ssim(&flat, &lifted, 3, 12, 12);
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    /// The separable implementation against the brute-force oracle on two unrelated images.
    #[test]
    fn ssim_matches_brute_force_windows() {
        let (h, w) = (14, 13);
        let x: Vec<f64> = noise(h * w, 1).iter().map(|v| 0.5 + 0.4 * v).collect();
        let y: Vec<f64> = noise(h * w, 2).iter().map(|v| 0.5 + 0.3 * v).collect();
        let (c1, c2) = (SSIM_K1 * SSIM_K1, SSIM_K2 * SSIM_K2);
        let stats = brute_stats(&x, &y, h, w);
        let want = stats
            .iter()
            .map(|s| {
                let [mx, vx, my, vy, cxy] = *s;
                (2.0 * mx * my + c1) * (2.0 * cxy + c2)
                    / ((mx * mx + my * my + c1) * (vx + vy + c2))
            })
            .sum::<f64>()
            / stats.len() as f64;
        let (xs, ys): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|&v| v as f32).collect(),
            y.iter().map(|&v| v as f32).collect(),
        );
        // Oracle in f64 on the unrounded values; the metric sees them rounded to f32.
        assert!((ssim(&xs, &ys, 1, h, w) - want).abs() < 1e-6);
    }

    #[test]
    fn noise_lowers_ssim_and_more_noise_lowers_it_more() {
        let (h, w) = (32, 32);
        let x = texture(3, h, w, 0.0);
        let noisy = |amplitude: f64| -> Vec<f32> {
            x.iter()
                .zip(noise(x.len(), 5))
                .map(|(&v, n)| (f64::from(v) + amplitude * n) as f32)
                .collect()
        };
        let small = ssim(&x, &noisy(0.02), 3, h, w);
        let large = ssim(&x, &noisy(0.2), 3, h, w);
        assert!(small < 1.0 - 1e-4, "{small}");
        assert!(large < small, "{large} vs {small}");
        // Noise of variance 0.2²/3 ≈ 0.013 against a local texture variance of a few 1e-2:
        // the structure term (≈ 2σx² / (2σx² + σn²)) alone is well below 0.9.
        assert!(large < 0.9, "{large}");
    }
}
