//! The deterministic sums (mean loss, gradient norm and clip factor, column sums) against f64
//! sums on the host.

mod common;

use common::*;
use spectral_cuda::ops::reduce::Reduce;
use spectral_cuda::{DType, Layout};

fn sum_f64(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64).sum()
}

fn norm_f64(x: &[f32]) -> f64 {
    x.iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt()
}

/// The clip factor of `clip_gradients`: min(1, max_norm / (norm + 1e-6)), 1 without clipping.
fn clip_f64(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 {
        (max_norm / (norm + 1e-6)).min(1.0)
    } else {
        1.0
    }
}

/// `x` `[rows, cols]` → Σ over rows `[cols]`.
fn column_sums_f64(x: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c] += x[r * cols + c] as f64;
        }
    }
    out
}

#[test]
fn oracles_match_closed_forms() {
    let ones: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
    assert_eq!(sum_f64(&ones), 500_500.0);
    assert_eq!(norm_f64(&[3.0, 4.0]), 5.0);
    assert_eq!(clip_f64(5.0, 1.0), 1.0 / (5.0 + 1e-6));
    assert_eq!(clip_f64(5.0, 10.0), 1.0);
    assert_eq!(clip_f64(5.0, 0.0), 1.0);
    // [[1, 2, 3], [4, 5, 6]] summed over rows.
    let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_eq!(column_sums_f64(&m, 2, 3), vec![5.0, 7.0, 9.0]);
}

/// Sums of positive terms in f32 along a tree of depth d err by at most d·u of the sum (u the
/// unit roundoff). Here d is below 40 (16 strided terms per thread, a 256-thread tree, 1024
/// partials on 1024 threads, a 32-warp tree), so 40u ≈ 2.4e-6: the tolerance is 1e-5.
const POSITIVE_SUM_REL: f64 = 1e-5;

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn grad_norm_and_clip_match_the_host() {
    let mut gpu = gpu();
    let reduce = Reduce::new(&mut gpu).unwrap();
    let n = 1_000_003;
    let grads = uniform(n + 1, 1e-2, 7);
    let mut layout = Layout::new();
    let g = layout.push("grads", n + 1, DType::F32);
    let partials = layout.push("partials", Reduce::PARTIALS, DType::F32);
    let norm = layout.push("norm", 1, DType::F32);
    let clip = layout.push("clip", 1, DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    gpu.upload(arena.ptr(g), &grads).unwrap();
    // From element 0 (aligned: float4 loads and a tail of 3) and from element 1 (unaligned:
    // element by element).
    for (start, len) in [(0, n), (1, n), (5, 4096), (0, 1)] {
        let part = &grads[start..start + len];
        let want_norm = norm_f64(part);
        for max_norm in [0.0f32, 0.5, 1e9] {
            let mut runs = Vec::new();
            for _ in 0..2 {
                reduce
                    .grad_norm(
                        &gpu,
                        arena.ptr(g) + 4 * start as u64,
                        len,
                        max_norm,
                        arena.ptr(partials),
                        arena.ptr(norm),
                        arena.ptr(clip),
                    )
                    .unwrap();
                let got_norm = download_f32(&gpu, arena.ptr(norm), 1);
                let got_clip = download_f32(&gpu, arena.ptr(clip), 1);
                runs.push((got_norm[0].to_bits(), got_clip[0].to_bits()));
                let what = format!("norm of [{start}, {})", start + len);
                // The square root halves the sum's relative error.
                assert_close(&what, &got_norm, &[want_norm], POSITIVE_SUM_REL, 0.0);
                let want_clip = clip_f64(want_norm, max_norm as f64);
                // The clip factor inherits the norm's relative error (plus two roundings).
                assert_close(
                    &format!("clip, max_norm {max_norm}, {what}"),
                    &got_clip,
                    &[want_clip],
                    POSITIVE_SUM_REL,
                    0.0,
                );
            }
            assert_eq!(runs[0], runs[1], "two runs agree bit for bit");
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn the_mean_loss_matches_the_host() {
    let mut gpu = gpu();
    let reduce = Reduce::new(&mut gpu).unwrap();
    // Losses are positive: ln 256 ≈ 5.5 at the start of training.
    let losses: Vec<f32> = uniform(130_001, 3.0, 8).iter().map(|v| v + 3.0).collect();
    let mut layout = Layout::new();
    let x = layout.push("losses", losses.len(), DType::F32);
    let partials = layout.push("partials", Reduce::PARTIALS, DType::F32);
    let out = layout.push("out", 1, DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    gpu.upload(arena.ptr(x), &losses).unwrap();
    for n in [losses.len(), 1000, 7, 1] {
        let factor = 1.0 / n as f32;
        let want = sum_f64(&losses[..n]) * factor as f64;
        let mut bits = Vec::new();
        for _ in 0..2 {
            reduce
                .sum(
                    &gpu,
                    arena.ptr(x),
                    n,
                    factor,
                    arena.ptr(partials),
                    arena.ptr(out),
                )
                .unwrap();
            let got = download_f32(&gpu, arena.ptr(out), 1);
            assert_close(
                &format!("mean of {n}"),
                &got,
                &[want],
                POSITIVE_SUM_REL,
                0.0,
            );
            bits.push(got[0].to_bits());
        }
        assert_eq!(bits[0], bits[1], "two runs agree bit for bit");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn column_sums_match_the_host() {
    let mut gpu = gpu();
    let reduce = Reduce::new(&mut gpu).unwrap();
    for (rows, cols) in [(37, 1001), (1, 33), (100, 7), (1000, 768)] {
        let x = uniform(rows * cols, 1.0, 9);
        let old = uniform(cols, 1.0, 10);
        let mut layout = Layout::new();
        let xs = layout.push("x", rows * cols, DType::F32);
        let out = layout.push("out", cols, DType::F32);
        let arena = gpu.arena(&layout).unwrap();
        gpu.upload(arena.ptr(xs), &x).unwrap();
        let sums = column_sums_f64(&x, rows, cols);
        // Column c is summed along a path of at most ⌈rows/32⌉ + 33 additions (its slice's
        // rows, the 32 slices, the old value), each erring by at most u of the magnitudes
        // summed so far: a bound of (⌈rows/32⌉ + 33)·u·(Σ|x| + |old|).
        let depth = (rows.div_ceil(32) + 33) as f64;
        let magnitude = |c: usize, old: f64| {
            (0..rows)
                .map(|r| (x[r * cols + c] as f64).abs())
                .sum::<f64>()
                + old.abs()
        };
        for accumulate in [false, true] {
            gpu.upload(arena.ptr(out), &old).unwrap();
            reduce
                .sum_rows(&gpu, arena.ptr(xs), rows, cols, arena.ptr(out), accumulate)
                .unwrap();
            let got = download_f32(&gpu, arena.ptr(out), cols);
            let base = |c: usize| if accumulate { old[c] as f64 } else { 0.0 };
            let want: Vec<f64> = (0..cols).map(|c| sums[c] + base(c)).collect();
            let bound: Vec<f64> = (0..cols)
                .map(|c| depth * F32_ROUNDOFF * magnitude(c, base(c)))
                .collect();
            assert_within(
                &format!("column sums of [{rows}, {cols}], accumulate {accumulate}"),
                &got,
                &want,
                &bound,
            );
        }
    }
}
