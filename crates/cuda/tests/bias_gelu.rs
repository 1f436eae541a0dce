//! Bias + exact GELU, its backward pass with the bias gradient, the bias add and the column
//! sum, against f64 on the host in both activation types; the GELU oracle against known values
//! and finite differences.
//!
//! Bounds are first-order f32 error bounds, doubled (u = 2⁻²⁴ per rounding; erff, expf within
//! 2 ulp); in bf16 one output rounding (2⁻⁸ of the value) more.

mod common;

use common::*;
use spectral_cuda::ops::bias_gelu::BiasGelu;
use spectral_cuda::{DType, Layout};

const U: f64 = F32_ROUNDOFF;
const SQRT_2: f64 = std::f64::consts::SQRT_2;

/// Φ, the standard normal CDF.
fn cdf(u: f64) -> f64 {
    0.5 * (1.0 + libm::erf(u / SQRT_2))
}

/// φ, the standard normal density.
fn pdf(u: f64) -> f64 {
    (-0.5 * u * u).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn gelu_f64(u: f64) -> f64 {
    u * cdf(u)
}

fn gelu_grad_f64(u: f64) -> f64 {
    cdf(u) + u * pdf(u)
}

#[test]
fn the_gelu_oracle_matches_known_values_and_finite_differences() {
    // Φ(1) = 0.841344746068542948…, so gelu(1) = Φ(1) and gelu(−1) = Φ(1) − 1.
    assert!((gelu_f64(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
    assert!((gelu_f64(-1.0) + 0.158_655_253_931_457_05).abs() < 1e-15);
    assert_eq!(gelu_f64(0.0), 0.0);
    assert!((gelu_grad_f64(0.0) - 0.5).abs() < 1e-15);
    for i in -40..=40 {
        let u = i as f64 / 8.0;
        let h = 1e-5;
        let fd = (gelu_f64(u + h) - gelu_f64(u - h)) / (2.0 * h);
        // O(h²) truncation and ~1e-16/h rounding.
        assert!((fd - gelu_grad_f64(u)).abs() < 1e-9, "u {u}: {fd}");
    }
}

/// f32 error of the kernel's gelu(u), u itself rounded once: the sum's rounding through
/// gelu' ≤ 1.13, erff's 2 ulp and 1 + erf's rounding (3u of ½|u|), the argument's two
/// roundings (≤ u·|u| through erf'), and two products.
fn gelu_err(u: f64) -> f64 {
    2.0 * (U * 1.2 * u.abs() + 1.5 * U * u.abs() + U * u.abs() + 2.0 * U * gelu_f64(u).abs())
}

/// f32 error of the kernel's gelu'(u) for an exact u: Φ's 2.5u, u·φ(u) with expf's 2 ulp and
/// its argument −u²/2 rounded (u²·u relative), two products, the final sum.
fn gelu_grad_err(u: f64) -> f64 {
    2.0 * U * (2.5 + u.abs() * pdf(u) * (4.0 + u * u) + gelu_grad_f64(u).abs())
}

fn output_bound(act: DType, want: f64, f32_err: f64) -> f64 {
    match act {
        DType::BF16 => BF16_ROUNDOFF * want.abs() + 2.0 * f32_err,
        _ => f32_err,
    }
}

/// F = 3072 and 768 (the MLP and the width), 100 (not a multiple of 8: element by element),
/// 7 (one partial chunk), 256 over one row.
const SHAPES: [(usize, usize); 5] = [(1037, 3072), (333, 768), (129, 100), (64, 7), (1, 256)];

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn bias_gelu_matches_the_host() {
    for act in ACTS {
        let mut gpu = gpu();
        let ops = BiasGelu::new(&mut gpu, act).unwrap();
        for (n, f) in SHAPES {
            let a = as_act(&uniform(n * f, 4.0, 31), act);
            let bias = uniform(f, 1.0, 32);
            let dout = as_act(&uniform(n * f, 1.0, 33), act);
            let mut layout = Layout::new();
            let a_s = layout.push("a", n * f, act);
            let bias_s = layout.push("bias", f, DType::F32);
            let pre_s = layout.push("pre", n * f, act);
            let out_s = layout.push("out", n * f, act);
            let dout_s = layout.push("dout", n * f, act);
            let dpre_s = layout.push("dpre", n * f, act);
            let dbias_s = layout.push("dbias", f, DType::F32);
            let partials = layout.push("partials", BiasGelu::partials_len(n, f), DType::F32);
            let arena = gpu.arena(&layout).unwrap();
            let at = |slot| arena.ptr(slot);
            gpu.upload(at(bias_s), &bias).unwrap();
            // (bias, where pre goes): apart; in place over a; no bias and no pre.
            for (with_bias, pre_mode) in [(true, 0), (true, 1), (false, 2)] {
                let what = |name: &str| {
                    format!("{act:?} [{n}, {f}] bias {with_bias} pre mode {pre_mode}: {name}")
                };
                upload_act(&gpu, at(a_s), &a, act);
                let pre = match pre_mode {
                    0 => at(pre_s),
                    1 => at(a_s),
                    _ => 0,
                };
                let b = if with_bias { at(bias_s) } else { 0 };
                ops.forward(&gpu, at(a_s), b, pre, at(out_s), n, f).unwrap();
                let sums: Vec<f64> = (0..n * f)
                    .map(|i| a[i] as f64 + if with_bias { bias[i % f] as f64 } else { 0.0 })
                    .collect();
                if pre != 0 {
                    let got = download_act(&gpu, pre, n * f, act);
                    // One f32 addition: u of the sum, met exactly at worst, so 2u.
                    let bound: Vec<f64> = sums
                        .iter()
                        .map(|&s| output_bound(act, s, 2.0 * U * s.abs()))
                        .collect();
                    assert_within(&what("pre"), &got, &sums, &bound);
                }
                let want: Vec<f64> = sums.iter().map(|&s| gelu_f64(s)).collect();
                let bound: Vec<f64> = sums
                    .iter()
                    .zip(&want)
                    .map(|(&s, &w)| output_bound(act, w, gelu_err(s)))
                    .collect();
                let got = download_act(&gpu, at(out_s), n * f, act);
                assert_within(&what("out"), &got, &want, &bound);
            }

            // Backward from the stored pre (apart), into dpre apart and in place over dout.
            upload_act(&gpu, at(a_s), &a, act);
            ops.forward(&gpu, at(a_s), at(bias_s), at(pre_s), at(out_s), n, f)
                .unwrap();
            let pre = download_act(&gpu, at(pre_s), n * f, act);
            let mut want = vec![0.0; n * f];
            let mut bound = vec![0.0; n * f];
            let (mut want_dbias, mut dbias_bound) = (vec![0.0; f], vec![0.0; f]);
            // Per-thread sums over at most ⌈n/8⌉ rows, 8 row phases, then the column sums over
            // at most 1056 groups (⌈1056/32⌉ + 32 additions).
            let depth = (n.div_ceil(8) + 8 + 33 + 32) as f64;
            for i in 0..n * f {
                let (u, d) = (pre[i] as f64, dout[i] as f64);
                let g = d * gelu_grad_f64(u);
                let f32_err = 2.0 * (d.abs() * gelu_grad_err(u) + U * g.abs());
                want[i] = g;
                bound[i] = output_bound(act, g, f32_err);
                want_dbias[i % f] += g;
                dbias_bound[i % f] += f32_err + 2.0 * depth * U * g.abs();
            }
            for in_place in [false, true] {
                let what = |name: &str| format!("{act:?} [{n}, {f}] in place {in_place}: {name}");
                upload_act(&gpu, at(dout_s), &dout, act);
                let dpre = if in_place { at(dout_s) } else { at(dpre_s) };
                ops.backward(
                    &gpu,
                    at(dout_s),
                    at(pre_s),
                    dpre,
                    at(dbias_s),
                    at(partials),
                    n,
                    f,
                )
                .unwrap();
                let got = download_act(&gpu, dpre, n * f, act);
                assert_within(&what("dpre"), &got, &want, &bound);
                let got = download_f32(&gpu, at(dbias_s), f);
                assert_within(&what("dbias"), &got, &want_dbias, &dbias_bound);
            }

            // The bias add in place, and the column sum.
            upload_act(&gpu, at(a_s), &a, act);
            ops.bias_add(&gpu, at(a_s), at(bias_s), n, f).unwrap();
            let want: Vec<f64> = (0..n * f)
                .map(|i| a[i] as f64 + bias[i % f] as f64)
                .collect();
            let bound: Vec<f64> = want
                .iter()
                .map(|&w| output_bound(act, w, 2.0 * U * w.abs()))
                .collect();
            let got = download_act(&gpu, at(a_s), n * f, act);
            assert_within(
                &format!("{act:?} [{n}, {f}]: bias_add"),
                &got,
                &want,
                &bound,
            );
            upload_act(&gpu, at(dout_s), &dout, act);
            ops.column_sum(&gpu, at(dout_s), at(dbias_s), at(partials), n, f)
                .unwrap();
            let mut want = vec![0.0; f];
            let mut bound = vec![0.0; f];
            for i in 0..n * f {
                want[i % f] += dout[i] as f64;
                bound[i % f] += 2.0 * depth * U * (dout[i] as f64).abs();
            }
            let got = download_f32(&gpu, at(dbias_s), f);
            assert_within(
                &format!("{act:?} [{n}, {f}]: column_sum"),
                &got,
                &want,
                &bound,
            );
        }
    }
}
