//! What the GPU tests share: the device, seeded inputs, bf16 rounding on the host, and the
//! relative error the tolerances are stated in.
#![allow(dead_code)]

use rand::{Rng, SeedableRng, rngs::StdRng};
use spectral_cuda::{Gpu, KernelCache};

/// Device 0 with the default kernel cache.
pub fn gpu() -> Gpu {
    Gpu::open(0, KernelCache::default_dir())
        .expect("an NVIDIA GPU (these tests run with --ignored on the GPU host)")
}

/// `n` values uniform in [-scale, scale), seeded.
pub fn uniform(n: usize, scale: f64, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (rng.random::<f64>() * 2.0 - 1.0) as f32 * scale as f32)
        .collect()
}

/// `x` rounded to bf16 and back (round to nearest even), as the device's `to_bf16` does.
pub fn round_bf16(x: f32) -> f32 {
    half::bf16::from_f32(x).to_f32()
}

/// bf16 bits of `x` (round to nearest even).
pub fn bf16_bits(x: &[f32]) -> Vec<u16> {
    x.iter()
        .map(|&v| half::bf16::from_f32(v).to_bits())
        .collect()
}

/// f32 values of bf16 bits.
pub fn from_bf16_bits(x: &[u16]) -> Vec<f32> {
    x.iter()
        .map(|&b| half::bf16::from_bits(b).to_f32())
        .collect()
}

/// ‖got − want‖ / ‖want‖ (Frobenius), in f64.
pub fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths");
    let diff: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).powi(2))
        .sum();
    let norm: f64 = want.iter().map(|w| w * w).sum();
    (diff / norm.max(f64::MIN_POSITIVE)).sqrt()
}
