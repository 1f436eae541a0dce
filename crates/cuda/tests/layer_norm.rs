//! LayerNorm (residual add in front) and its backward pass against f64 on the host, in both
//! activation types; the oracle against a closed form and finite differences.
//!
//! Bounds are first-order error bounds of the kernel's f32 arithmetic, doubled: u = 2⁻²⁴ per
//! rounding, sums of k terms erring by k·u of the magnitudes summed, and the backward pass
//! charged for the forward pass's μ and ρ errors as measured.

mod common;

use common::*;
use spectral_cuda::ops::layer_norm::{Backward, Forward, LayerNorm};
use spectral_cuda::{DType, Layout};

const EPS: f64 = 1e-5;
const U: f64 = F32_ROUNDOFF;

/// One row's LayerNorm: (out, μ, ρ) with ρ = 1/√(var + ε), var biased.
fn layer_norm_f64(r: &[f64], w: &[f64], b: &[f64]) -> (Vec<f64>, f64, f64) {
    let c = r.len() as f64;
    let mean = r.iter().sum::<f64>() / c;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / c;
    let rstd = 1.0 / (var + EPS).sqrt();
    let out = (0..r.len())
        .map(|i| (r[i] - mean) * rstd * w[i] + b[i])
        .collect();
    (out, mean, rstd)
}

/// One row's backward pass: (dL/dr, x̂) for L = Σ dout·out; dL/dw = dout·x̂, dL/db = dout.
fn layer_norm_backward_f64(dout: &[f64], r: &[f64], w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let c = r.len() as f64;
    let zeros = vec![0.0; r.len()];
    let (_, mean, rstd) = layer_norm_f64(r, w, &zeros);
    let xhat: Vec<f64> = r.iter().map(|x| (x - mean) * rstd).collect();
    let g: Vec<f64> = (0..r.len()).map(|i| dout[i] * w[i]).collect();
    let mean_g = g.iter().sum::<f64>() / c;
    let mean_gx = (0..r.len()).map(|i| g[i] * xhat[i]).sum::<f64>() / c;
    let dr = (0..r.len())
        .map(|i| rstd * (g[i] - mean_g - xhat[i] * mean_gx))
        .collect();
    (dr, xhat)
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

#[test]
fn the_oracle_matches_a_closed_form() {
    // r = [1, 2, 3, 4]: μ = 2.5, var = 1.25.
    let (out, mean, rstd) = layer_norm_f64(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.5; 4]);
    let want_rstd = 1.0 / (1.25f64 + EPS).sqrt();
    assert_eq!(mean, 2.5);
    assert!((rstd - want_rstd).abs() < 1e-15);
    for (i, o) in out.iter().enumerate() {
        assert!((o - ((i as f64 - 1.5) * want_rstd + 0.5)).abs() < 1e-14);
    }
}

#[test]
fn the_oracle_backward_matches_finite_differences() {
    let c = 13;
    let r = f64s(&uniform(c, 2.0, 1));
    let w: Vec<f64> = f64s(&uniform(c, 0.5, 2)).iter().map(|v| v + 1.0).collect();
    let b = f64s(&uniform(c, 0.5, 3));
    let dout = f64s(&uniform(c, 1.0, 4));
    let loss = |r: &[f64], w: &[f64], b: &[f64]| {
        let (out, _, _) = layer_norm_f64(r, w, b);
        out.iter().zip(&dout).map(|(o, d)| o * d).sum::<f64>()
    };
    let (dr, xhat) = layer_norm_backward_f64(&dout, &r, &w);
    let h = 1e-6;
    let bump = |x: &[f64], i: usize, by: f64| {
        let mut y = x.to_vec();
        y[i] += by;
        y
    };
    for i in 0..c {
        let fd_r = (loss(&bump(&r, i, h), &w, &b) - loss(&bump(&r, i, -h), &w, &b)) / (2.0 * h);
        let fd_w = (loss(&r, &bump(&w, i, h), &b) - loss(&r, &bump(&w, i, -h), &b)) / (2.0 * h);
        let fd_b = (loss(&r, &w, &bump(&b, i, h)) - loss(&r, &w, &bump(&b, i, -h))) / (2.0 * h);
        // Central differences: O(h²) truncation, ~1e-16/h rounding.
        assert!((fd_r - dr[i]).abs() < 1e-8, "dr[{i}]: {fd_r} vs {}", dr[i]);
        assert!((fd_w - dout[i] * xhat[i]).abs() < 1e-8, "dw[{i}]");
        assert!((fd_b - dout[i]).abs() < 1e-8, "db[{i}]");
    }
}

/// Where the forward pass stores r.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Store {
    Separate,
    InPlace,
    /// Nothing is added (no y, no y_bias): r is x, not stored.
    Nowhere,
}

#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c: usize,
    y: bool,
    y_bias: bool,
    b: bool,
    store: Store,
}

const fn case(n: usize, c: usize, y: bool, y_bias: bool, b: bool, store: Store) -> Case {
    Case {
        n,
        c,
        y,
        y_bias,
        b,
        store,
    }
}

/// Widths 768 (three chunks a lane), 100 (not a multiple of 8: element by element), 1024 (the
/// widest), 36 and 1000 (lanes past the row's end); 20 011 rows fill a full backward grid.
const CASES: [Case; 6] = [
    case(1031, 768, true, true, true, Store::Separate),
    case(517, 100, true, false, false, Store::InPlace),
    case(300, 1024, false, false, true, Store::Nowhere),
    case(64, 36, true, true, true, Store::InPlace),
    case(20_011, 768, true, true, true, Store::Separate),
    case(33, 1000, true, false, true, Store::Separate),
];

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn layer_norm_matches_the_host() {
    for act in ACTS {
        let mut gpu = gpu();
        let ln = LayerNorm::new(&mut gpu, act).unwrap();
        for case in CASES {
            check(&gpu, &ln, act, case);
        }
    }
}

fn check(gpu: &spectral_cuda::Gpu, ln: &LayerNorm, act: DType, case: Case) {
    let Case { n, c, .. } = case;
    let what = |name: &str| format!("{act:?} {case:?}: {name}");
    // Rows shifted by 0, 2, 4: the variance must not lose them to cancellation.
    let x: Vec<f32> = uniform(n * c, 1.0, 11)
        .iter()
        .enumerate()
        .map(|(i, v)| v + 2.0 * ((i / c) % 3) as f32)
        .collect();
    let y = if case.y {
        as_act(&uniform(n * c, 1.0, 12), act)
    } else {
        vec![0.0; n * c]
    };
    let y_bias = if case.y_bias {
        uniform(c, 0.5, 13)
    } else {
        vec![0.0; c]
    };
    let w: Vec<f32> = uniform(c, 0.5, 14).iter().map(|v| v + 1.0).collect();
    let b = if case.b {
        uniform(c, 0.5, 15)
    } else {
        vec![0.0; c]
    };
    let dout = as_act(&uniform(n * c, 1.0, 16), act);
    let dres0 = uniform(n * c, 1.0, 17);

    let mut layout = Layout::new();
    let xs = layout.push("x", n * c, DType::F32);
    let ys = layout.push("y", n * c, act);
    let ybs = layout.push("y_bias", c, DType::F32);
    let rs = layout.push("r", n * c, DType::F32);
    let ws = layout.push("w", c, DType::F32);
    let bs = layout.push("b", c, DType::F32);
    let outs = layout.push("out", n * c, act);
    let means = layout.push("mean", n, DType::F32);
    let rstds = layout.push("rstd", n, DType::F32);
    let douts = layout.push("dout", n * c, act);
    let dres = layout.push("dres", n * c, DType::F32);
    let dres_act = layout.push("dres_act", n * c, act);
    let dws = layout.push("dw", c, DType::F32);
    let dbs = layout.push("db", c, DType::F32);
    let partials = layout.push("partials", LayerNorm::partials_len(n, c), DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    let at = |slot| arena.ptr(slot);
    let maybe = |present: bool, slot| if present { arena.ptr(slot) } else { 0 };
    gpu.upload(at(xs), &x).unwrap();
    upload_act(gpu, at(ys), &y, act);
    gpu.upload(at(ybs), &y_bias).unwrap();
    gpu.upload(at(ws), &w).unwrap();
    gpu.upload(at(bs), &b).unwrap();
    upload_act(gpu, at(douts), &dout, act);
    gpu.upload(at(dres), &dres0).unwrap();

    let r_at = match case.store {
        Store::Separate => at(rs),
        Store::InPlace | Store::Nowhere => at(xs),
    };
    let forward = Forward {
        x: at(xs),
        y: maybe(case.y, ys),
        y_bias: maybe(case.y_bias, ybs),
        r: match case.store {
            Store::Separate => at(rs),
            Store::InPlace => at(xs),
            Store::Nowhere => 0,
        },
        w: at(ws),
        b: maybe(case.b, bs),
        out: at(outs),
        mean: at(means),
        rstd: at(rstds),
    };
    ln.forward(gpu, &forward, n, c).unwrap();

    // Forward: r, then out, μ, ρ row by row.
    let mut want_r = vec![0.0; n * c];
    let mut r_bound = vec![0.0; n * c];
    for i in 0..n * c {
        let (xi, yi, bi) = (x[i] as f64, y[i] as f64, y_bias[i % c] as f64);
        want_r[i] = xi + (yi + bi);
        // Two additions, each rounding by u of at most |x| + |y| + |y_bias| (2u, met closely:
        // 3u leaves room for the u² terms).
        r_bound[i] = 3.0 * U * (xi.abs() + yi.abs() + bi.abs());
    }
    let got_r = download_f32(gpu, r_at, n * c);
    assert_within(&what("r"), &got_r, &want_r, &r_bound);
    let got_out = download_act(gpu, at(outs), n * c, act);
    let got_mean = download_f32(gpu, at(means), n);
    let got_rstd = download_f32(gpu, at(rstds), n);
    let (w64, b64) = (f64s(&w), f64s(&b));
    // Sums of a row take at most 8·4 chunk terms and 5 warp levels: 37 additions; 48 with the
    // division and margin.
    let depth = 48.0;
    let mut want_out = vec![0.0; n * c];
    let mut out_bound = vec![0.0; n * c];
    let (mut want_mean, mut mean_bound) = (vec![0.0; n], vec![0.0; n]);
    let (mut want_rstd, mut rstd_bound) = (vec![0.0; n], vec![0.0; n]);
    for row in 0..n {
        let cols = row * c..(row + 1) * c;
        let (out, mean, rstd) = layer_norm_f64(&want_r[cols.clone()], &w64, &b64);
        let magnitude = cols.clone().map(|i| r_bound[i] / (3.0 * U)).sum::<f64>() / c as f64;
        let sigma = 1.0 / rstd;
        want_mean[row] = mean;
        // The rounded r (2u of each magnitude) and the sum's own rounding.
        mean_bound[row] = 2.0 * (2.0 + depth) * U * magnitude;
        want_rstd[row] = rstd;
        // The variance's relative error: the sum's (depth·u) plus the r roundings, which move
        // Σ(r − μ)² by at most 2·Σ|r − μ|·2u·|terms| ≤ 4u·magnitude·σ relative to σ²; ρ
        // inherits half, plus four roundings (division, ε, root, reciprocal).
        let var_rel = depth * U + 4.0 * U * magnitude / sigma;
        rstd_bound[row] = 2.0 * (var_rel / 2.0 + 4.0 * U) * rstd;
        for (k, i) in cols.enumerate() {
            let xhat = (want_r[i] - mean) * rstd;
            want_out[i] = out[k];
            // x̂ errs through r (its bound), μ and ρ; then the product with w and the shift.
            let dxhat = rstd * (r_bound[i] + mean_bound[row]) + xhat.abs() * rstd_bound[row] / rstd;
            let f32_err =
                2.0 * (w64[k].abs() * dxhat + 3.0 * U * ((xhat * w64[k]).abs() + b64[k].abs()));
            out_bound[i] = match act {
                DType::BF16 => BF16_ROUNDOFF * out[k].abs() + 2.0 * f32_err,
                _ => f32_err,
            };
        }
    }
    assert_within(&what("mean"), &got_mean, &want_mean, &mean_bound);
    assert_within(&what("rstd"), &got_rstd, &want_rstd, &rstd_bound);
    assert_within(&what("out"), &got_out, &want_out, &out_bound);

    // Backward, from the device's r, μ, ρ.
    let backward = Backward {
        dout: at(douts),
        r: r_at,
        mean: at(means),
        rstd: at(rstds),
        w: at(ws),
        dres: at(dres),
        dres_act: at(dres_act),
        dw: at(dws),
        db: maybe(case.b, dbs),
        partials: at(partials),
    };
    ln.backward(gpu, &backward, n, c).unwrap();
    let got_dres = download_f32(gpu, at(dres), n * c);
    let got_dw = download_f32(gpu, at(dws), c);
    let got_db = download_f32(gpu, at(dbs), c);
    let r_dev = f64s(&got_r);
    let dout64 = f64s(&dout);
    let mut want_dres = vec![0.0; n * c];
    let mut dres_bound = vec![0.0; n * c];
    let (mut want_dw, mut dw_bound) = (vec![0.0; c], vec![0.0; c]);
    let (mut want_db, mut db_bound) = (vec![0.0; c], vec![0.0; c]);
    // dw and db: per-lane sums over ⌈rows per block / 4⌉ rows (rows per block ≤ ⌈n/396⌉
    // rounded up to 4), the 4 warps, then the column sums over at most 924 blocks
    // (⌈924/32⌉ + 33 additions).
    let sum_depth = (n.div_ceil(396).div_ceil(4) + 4 + 29 + 33 + 1) as f64;
    for row in 0..n {
        let cols = row * c..(row + 1) * c;
        let (dr, xhat) = layer_norm_backward_f64(&dout64[cols.clone()], &r_dev[cols.clone()], &w64);
        let (_, mean, rstd) = layer_norm_f64(&r_dev[cols.clone()], &w64, &b64);
        let d_mean = (got_mean[row] as f64 - mean).abs();
        let d_rstd = (got_rstd[row] as f64 - rstd).abs() / rstd;
        let g: Vec<f64> = (0..c).map(|k| dout64[row * c + k] * w64[k]).collect();
        let mean_abs_g = g.iter().map(|v| v.abs()).sum::<f64>() / c as f64;
        let mean_g = g.iter().sum::<f64>() / c as f64;
        let m = (0..c).map(|k| g[k] * xhat[k]).sum::<f64>() / c as f64;
        let mean_abs_gx = (0..c).map(|k| (g[k] * xhat[k]).abs()).sum::<f64>() / c as f64;
        let dxhat: Vec<f64> = (0..c)
            .map(|k| rstd * d_mean + xhat[k].abs() * d_rstd + 2.0 * U * xhat[k].abs())
            .collect();
        let d_m = (0..c).map(|k| g[k].abs() * dxhat[k]).sum::<f64>() / c as f64
            + depth * U * mean_abs_gx
            + U * m.abs();
        let d_mean_g = depth * U * mean_abs_g;
        for (k, i) in cols.enumerate() {
            want_dres[i] = dres0[i] as f64 + dr[k];
            let err = dr[k].abs() * d_rstd
                + rstd
                    * (U * g[k].abs()
                        + d_mean_g
                        + dxhat[k] * m.abs()
                        + xhat[k].abs() * d_m
                        + 3.0 * U * (g[k].abs() + mean_g.abs() + (xhat[k] * m).abs()))
                + U * want_dres[i].abs();
            dres_bound[i] = 2.0 * err;
            want_dw[k] += dout64[i] * xhat[k];
            dw_bound[k] += dout64[i].abs() * dxhat[k] + sum_depth * U * (dout64[i] * xhat[k]).abs();
            want_db[k] += dout64[i];
            db_bound[k] += sum_depth * U * dout64[i].abs();
        }
    }
    assert_within(&what("dres"), &got_dres, &want_dres, &dres_bound);
    let dw_bound: Vec<f64> = dw_bound.iter().map(|b| 2.0 * b).collect();
    assert_within(&what("dw"), &got_dw, &want_dw, &dw_bound);
    if case.b {
        let db_bound: Vec<f64> = db_bound.iter().map(|b| 2.0 * b).collect();
        assert_within(&what("db"), &got_db, &want_db, &db_bound);
    }
    // The ACT copy of the gradient is the device's own dres, rounded once.
    let got_dres_act = download_act(gpu, at(dres_act), n * c, act);
    let want_dres_act = as_act(&got_dres, act);
    for i in 0..n * c {
        assert_eq!(
            got_dres_act[i].to_bits(),
            want_dres_act[i].to_bits(),
            "{}[{i}]",
            what("dres_act")
        );
    }
}
