//! What the GPU tests share: the device, seeded inputs, bf16 rounding on the host, and the
//! relative error the tolerances are stated in.
#![allow(dead_code)]

use rand::{Rng, SeedableRng, rngs::StdRng};
use spectral_cuda::{DType, Gpu, KernelCache};

/// The activation types every kernel is tested in: the f32 parity mode and bf16.
pub const ACTS: [DType; 2] = [DType::F32, DType::BF16];

/// bf16's unit roundoff: rounding to nearest moves a value by at most 2⁻⁸ of itself (half an
/// ulp of an 8-bit significand). The tolerance of an output the kernel stores as bf16.
pub const BF16_ROUNDOFF: f64 = 1.0 / 256.0;

/// f32's unit roundoff, 2⁻²⁴.
pub const F32_ROUNDOFF: f64 = 1.0 / 16_777_216.0;

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

/// `x` as the device holds it once stored as `act`: unchanged in f32, rounded in bf16. The
/// oracles take these values, so a test measures the kernel's arithmetic and output rounding,
/// not the rounding of its inputs.
pub fn as_act(x: &[f32], act: DType) -> Vec<f32> {
    match act {
        DType::BF16 => x.iter().map(|&v| round_bf16(v)).collect(),
        _ => x.to_vec(),
    }
}

/// The relative tolerance of a value the kernel stores as `act`, computed to relative
/// accuracy `arithmetic` in f32: that alone in f32, plus one rounding in bf16.
pub fn act_rel(act: DType, arithmetic: f64) -> f64 {
    match act {
        DType::BF16 => BF16_ROUNDOFF + arithmetic,
        _ => arithmetic,
    }
}

/// Uploads `x` to `ptr` stored as `act` (bf16 bits, rounded to nearest even, for bf16).
pub fn upload_act(gpu: &Gpu, ptr: u64, x: &[f32], act: DType) {
    match act {
        DType::BF16 => gpu.upload(ptr, &bf16_bits(x)).unwrap(),
        DType::F32 => gpu.upload(ptr, x).unwrap(),
        DType::I32 | DType::F64 => panic!("activations are f32 or bf16"),
    }
}

/// `n` elements of type `act` at `ptr`, as f32.
pub fn download_act(gpu: &Gpu, ptr: u64, n: usize, act: DType) -> Vec<f32> {
    match act {
        DType::BF16 => {
            let mut bits = vec![0u16; n];
            gpu.download(ptr, &mut bits).unwrap();
            from_bf16_bits(&bits)
        }
        DType::F32 => download_f32(gpu, ptr, n),
        DType::I32 | DType::F64 => panic!("activations are f32 or bf16"),
    }
}

/// `n` f32s at `ptr`.
pub fn download_f32(gpu: &Gpu, ptr: u64, n: usize) -> Vec<f32> {
    let mut host = vec![0f32; n];
    gpu.download(ptr, &mut host).unwrap();
    host
}

/// Asserts `|got[i] − want[i]| ≤ rel·|want[i]| + abs` for every i, naming the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], rel: f64, abs: f64) {
    let bound: Vec<f64> = want.iter().map(|w| rel * w.abs() + abs).collect();
    assert_within(what, got, want, &bound);
}

/// Asserts `|got[i] − want[i]| ≤ bound[i]` for every i (a NaN fails), naming the element
/// that exceeds its bound the most.
pub fn assert_within(what: &str, got: &[f32], want: &[f64], bound: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    assert_eq!(bound.len(), want.len(), "{what}: bound length");
    let mut worst: Option<(usize, f64)> = None;
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i]).abs();
        let excess = if err.is_nan() {
            f64::INFINITY
        } else {
            err - bound[i]
        };
        if excess > 0.0 && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}[{i}]: got {}, want {}, error {:e} over the bound {:e}",
            got[i],
            want[i],
            (got[i] as f64 - want[i]).abs(),
            bound[i]
        );
    }
}

/// Seeded integers uniform in `[0, bound)`.
pub fn uniform_ints(n: usize, bound: i32, seed: u64) -> Vec<i32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0..bound)).collect()
}
