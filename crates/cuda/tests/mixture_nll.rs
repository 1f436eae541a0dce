//! The mixture-density loss and its gradient against f64 on the host in both activation
//! types; the f64 oracle against the direct density sum and its gradient against finite
//! differences.
//!
//! Bounds are first-order f32 error bounds, doubled: u = 2⁻²⁴ per rounding, expf and logf
//! within 2 ulp; the log-sum-exps' errors are charged by weight (first order, an error δt_k of
//! a term moves the log-sum-exp by Σ_k w_k δt_k). bf16 outputs add one rounding (2⁻⁸).

mod common;

use common::*;
use spectral_cuda::ops::mixture_nll::MixtureNll;
use spectral_cuda::{DType, Layout};

const U: f64 = F32_ROUNDOFF;
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// log Σ exp(x), shifted by the maximum.
fn logsumexp(x: &[f64]) -> f64 {
    let top = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    top + x.iter().map(|v| (v - top).exp()).sum::<f64>().ln()
}

/// Everything about one row: `raw` = [a | m | r] of K components, target `y`.
struct Row {
    log_pi: Vec<f64>,
    sigma: Vec<f64>,
    z: Vec<f64>,
    /// t_k = log π_k − ½ z_k² − ln σ_k − ln √(2π).
    t: Vec<f64>,
    nll: f64,
}

fn row_f64(raw: &[f64], y: f64, floor: f64) -> Row {
    let k = raw.len() / 3;
    let (a, m, r) = (&raw[..k], &raw[k..2 * k], &raw[2 * k..]);
    let lse_a = logsumexp(a);
    let log_pi: Vec<f64> = a.iter().map(|x| x - lse_a).collect();
    let sigma: Vec<f64> = r.iter().map(|&x| softplus(x) + floor).collect();
    let z: Vec<f64> = (0..k).map(|j| (y - m[j]) / sigma[j]).collect();
    let t: Vec<f64> = (0..k)
        .map(|j| log_pi[j] - 0.5 * z[j] * z[j] - sigma[j].ln() - LN_SQRT_2PI)
        .collect();
    let nll = -logsumexp(&t);
    Row {
        log_pi,
        sigma,
        z,
        t,
        nll,
    }
}

/// ∂nll/∂raw of one row: π − w, −w z/σ, −w (z² − 1)/σ · sigmoid(r), w_k = exp(t_k + nll).
fn grad_f64(raw: &[f64], y: f64, floor: f64) -> Vec<f64> {
    let k = raw.len() / 3;
    let row = row_f64(raw, y, floor);
    let mut g = vec![0.0; 3 * k];
    for j in 0..k {
        let w = (row.t[j] + row.nll).exp();
        let (z, s) = (row.z[j], row.sigma[j]);
        g[j] = row.log_pi[j].exp() - w;
        g[k + j] = -w * z / s;
        g[2 * k + j] = -w * (z * z - 1.0) / s * sigmoid(raw[2 * k + j]);
    }
    g
}

#[test]
fn the_oracle_matches_the_direct_density() {
    let (k, floor) = (4, 1e-3);
    let raw = [
        0.1, -0.5, 0.7, 0.0, 0.4, 1.0, 1.3, 2.0, -1.0, 0.2, 0.5, -2.0,
    ];
    let y = 1.1;
    let row = row_f64(&raw, y, floor);
    let weights: Vec<f64> = raw[..k].iter().map(|a| a.exp()).collect();
    let total: f64 = weights.iter().sum();
    let density: f64 = (0..k)
        .map(|j| {
            let sigma = (1.0 + raw[2 * k + j].exp()).ln() + floor;
            let z = (y - raw[k + j]) / sigma;
            weights[j] / total * (-0.5 * z * z).exp()
                / (sigma * (2.0 * std::f64::consts::PI).sqrt())
        })
        .sum();
    assert!(
        (row.nll + density.ln()).abs() < 1e-13,
        "{} vs {}",
        row.nll,
        -density.ln()
    );
}

#[test]
fn the_oracle_gradient_matches_finite_differences() {
    let (k, floor) = (5, 1e-3);
    let mut raw: Vec<f64> = uniform(3 * k, 2.0, 51).iter().map(|&v| v as f64).collect();
    raw[2 * k] = -6.0; // a scale near the floor
    raw[2 * k + 1] = 4.0; // and a wide one
    let y = 0.3;
    let g = grad_f64(&raw, y, floor);
    let h = 1e-6;
    for i in 0..3 * k {
        let mut up = raw.clone();
        up[i] += h;
        let mut down = raw.clone();
        down[i] -= h;
        let fd = (row_f64(&up, y, floor).nll - row_f64(&down, y, floor).nll) / (2.0 * h);
        // O(h²) truncation (third derivatives up to ~1/σ³ ≈ 1e2 here) and ~1e-16/h rounding.
        assert!(
            (fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()),
            "raw[{i}]: {fd} vs {}",
            g[i]
        );
    }
}

/// (nll, ∂nll/∂raw) f32 error bounds of the kernel on one row, before scaling.
fn bounds(raw: &[f64], y: f64, floor: f64) -> (f64, Vec<f64>) {
    let k = raw.len() / 3;
    let row = row_f64(raw, y, floor);
    let a = &raw[..k];
    let a_max = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let t_max = row.t.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum_a: f64 = a.iter().map(|x| (x - a_max).exp()).sum();
    let sum_t: f64 = row.t.iter().map(|x| (x - t_max).exp()).sum();
    let pi: Vec<f64> = row.log_pi.iter().map(|l| l.exp()).collect();
    let w: Vec<f64> = row.t.iter().map(|t| (t + row.nll).exp()).collect();
    let span_a = a.iter().map(|x| a_max - x).fold(0.0, f64::max);
    // t_k's error: log π (the shift, exps, a 5-level sum, the log, the subtraction); σ within
    // 5u (expf, log1pf, two additions); z within 7u, so ½z² within 8u·z²; ln σ; three
    // subtractions.
    let e: Vec<f64> = (0..k)
        .map(|j| {
            let log_sigma = row.sigma[j].ln();
            let z2 = row.z[j] * row.z[j];
            U * (2.0 * span_a + 8.0 + sum_a.ln().abs() + row.log_pi[j].abs())
                + 8.0 * U * z2
                + 5.0 * U
                + U * log_sigma.abs()
                + 3.0 * U * (row.log_pi[j].abs() + 0.5 * z2 + log_sigma.abs() + LN_SQRT_2PI)
        })
        .collect();
    let nll_err = (0..k)
        .map(|j| w[j] * (e[j] + U * (row.t[j] - t_max).abs()))
        .sum::<f64>()
        + 8.0 * U
        + U * sum_t.ln().abs()
        + U * row.nll.abs();
    // Relative errors of exp(t_k − t_max) and of exp(a_k − a_max); t_max's own error cancels
    // between a weight and its normalizer.
    let d: Vec<f64> = (0..k)
        .map(|j| e[j] + U * (row.t[j] - t_max).abs() + 2.0 * U)
        .collect();
    let p: Vec<f64> = (0..k).map(|j| U * (a_max - a[j]) + 2.0 * U).collect();
    let d_mean: f64 = (0..k).map(|j| w[j] * d[j]).sum();
    let p_mean: f64 = (0..k).map(|j| pi[j] * p[j]).sum();
    let mut grad_err = vec![0.0; 3 * k];
    for j in 0..k {
        let w_rel = d[j] + d_mean + 6.0 * U;
        let pi_rel = p[j] + p_mean + 6.0 * U;
        let (z, s) = (row.z[j], row.sigma[j]);
        let sig = sigmoid(raw[2 * k + j]);
        // A weight below f32's smallest normal (a component hundreds of σ away) loses its
        // relative precision: up to 2⁻¹²⁶ absolute, times the factor it is multiplied by.
        let tiny = f32::MIN_POSITIVE as f64;
        grad_err[j] = pi[j] * pi_rel + w[j] * w_rel + 2.0 * U * (pi[j] - w[j]).abs() + 2.0 * tiny;
        grad_err[k + j] = (w[j] * z / s).abs() * (w_rel + 16.0 * U) + tiny * (z / s).abs();
        grad_err[2 * k + j] =
            w[j] / s * sig * ((15.0 * U * z * z + U) + (z * z - 1.0).abs() * (w_rel + 16.0 * U))
                + tiny * (z * z - 1.0).abs() / s * sig;
    }
    (2.0 * nll_err, grad_err.iter().map(|e| 2.0 * e).collect())
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn mixture_nll_matches_the_host() {
    let floor = 1e-3f32;
    // K = 8 (four rows a warp), 5 (three idle lanes a group), 32 (a row a warp), 1, 3, 17.
    let shapes = [(1037, 8), (501, 5), (300, 32), (77, 1), (129, 3), (64, 17)];
    for act in ACTS {
        let mut gpu = gpu();
        let op = MixtureNll::new(&mut gpu, act).unwrap();
        for (n, k) in shapes {
            let what = |name: &str| format!("{act:?} [{n}, {k}]: {name}");
            // Every 50th row has all scales deep negative: σ at the floor, targets hundreds of
            // σ away, a loss of ~10⁵.
            let raw: Vec<f32> = uniform(n * 3 * k, 3.0, 52)
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (row, col) = (i / (3 * k), i % (3 * k));
                    if row % 50 == 7 && col >= 2 * k {
                        v - 15.0
                    } else {
                        *v
                    }
                })
                .collect();
            let bias = uniform(3 * k, 0.5, 54);
            // The kernel's inputs, raw + bias, summed in f32 as on the device.
            let biased: Vec<f32> = raw
                .iter()
                .enumerate()
                .map(|(i, &v)| v + bias[i % (3 * k)])
                .collect();
            let y = uniform(n, 2.0, 53);
            let scale = 1.0 / n as f32;
            let (mut want_nll, mut nll_bound) = (vec![0.0; n], vec![0.0; n]);
            let (mut want_grad, mut grad_bound) = (vec![0.0; n * 3 * k], vec![0.0; n * 3 * k]);
            for r in 0..n {
                let cols = r * 3 * k..(r + 1) * 3 * k;
                let row: Vec<f64> = biased[cols.clone()].iter().map(|&v| v as f64).collect();
                let (yr, fl) = (y[r] as f64, floor as f64);
                want_nll[r] = row_f64(&row, yr, fl).nll;
                let (nll_err, grad_err) = bounds(&row, yr, fl);
                nll_bound[r] = nll_err;
                let g = grad_f64(&row, yr, fl);
                for (j, i) in cols.enumerate() {
                    let want = scale as f64 * g[j];
                    want_grad[i] = want;
                    // The scale's product: one more rounding.
                    let f32_err = scale as f64 * grad_err[j] + U * want.abs();
                    grad_bound[i] = match act {
                        DType::BF16 => BF16_ROUNDOFF * want.abs() + 2.0 * f32_err,
                        _ => f32_err,
                    };
                }
            }
            let mut layout = Layout::new();
            let raw_s = layout.push("raw", n * 3 * k, DType::F32);
            let bias_s = layout.push("bias", 3 * k, DType::F32);
            let y_s = layout.push("y", n, DType::F32);
            let nll_s = layout.push("nll", n, DType::F32);
            let draw_s = layout.push("draw", n * 3 * k, act);
            let arena = gpu.arena(&layout).unwrap();
            let at = |slot| arena.ptr(slot);
            gpu.upload(at(y_s), &y).unwrap();
            gpu.upload(at(bias_s), &bias).unwrap();
            // In place only where the gradient has raw's type.
            let cases: &[(bool, bool)] = match act {
                DType::F32 => &[(false, true), (true, true), (false, false)],
                _ => &[(false, true), (false, false)],
            };
            for &(in_place, with_grad) in cases {
                let what = |name: &str| {
                    what(&format!(
                        "in place {in_place}, gradient {with_grad}: {name}"
                    ))
                };
                gpu.upload(at(raw_s), &raw).unwrap();
                gpu.zero(at(nll_s), 4 * n).unwrap();
                let draw = match (in_place, with_grad) {
                    (_, false) => 0,
                    (true, true) => at(raw_s),
                    (false, true) => at(draw_s),
                };
                op.forward_backward(
                    &gpu,
                    at(raw_s),
                    at(bias_s),
                    at(y_s),
                    at(nll_s),
                    draw,
                    n,
                    k,
                    floor,
                    scale,
                )
                .unwrap();
                let got = download_f32(&gpu, at(nll_s), n);
                assert_within(&what("nll"), &got, &want_nll, &nll_bound);
                if with_grad {
                    let got = download_act(&gpu, draw, n * 3 * k, act);
                    assert_within(&what("draw"), &got, &want_grad, &grad_bound);
                } else {
                    let got = download_f32(&gpu, at(raw_s), n * 3 * k);
                    assert_eq!(got, raw, "{}", what("raw untouched"));
                }
            }
        }
    }
}
