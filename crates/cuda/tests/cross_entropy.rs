//! The cross-entropy kernel against an f64 softmax on the host, in both activation types; the
//! oracle against closed forms and finite differences.

mod common;

use common::*;
use spectral_cuda::ops::cross_entropy::CrossEntropy;
use spectral_cuda::{DType, Layout};

/// One row's loss `logsumexp(x) − x[target]` and softmax, in f64.
fn cross_entropy_f64(logits: &[f32], target: usize) -> (f64, Vec<f64>) {
    let top = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let exps: Vec<f64> = logits.iter().map(|&x| (x as f64 - top).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let loss = top + sum.ln() - logits[target] as f64;
    (loss, exps.iter().map(|e| e / sum).collect())
}

#[test]
fn the_oracle_matches_closed_forms() {
    // Equal logits: ln V and a uniform softmax, wherever the target is.
    let (loss, p) = cross_entropy_f64(&[0.7; 256], 3);
    assert!((loss - 256f64.ln()).abs() < 1e-12);
    assert!(p.iter().all(|&q| (q - 1.0 / 256.0).abs() < 1e-15));
    // Logits [0, ln 3]: softmax [1/4, 3/4].
    let (loss, p) = cross_entropy_f64(&[0.0, 3f64.ln() as f32], 1);
    let want = -(3f64.ln() as f32 as f64 - (1.0 + (3f64.ln() as f32 as f64).exp()).ln());
    assert!(
        (loss - want).abs() < 1e-12 && (p[1] - 0.75).abs() < 1e-7,
        "{loss} {p:?}"
    );
}

/// d loss / d x_v = softmax_v − [v = target], by central differences.
#[test]
fn the_oracle_gradient_matches_finite_differences() {
    let x: Vec<f32> = uniform(37, 3.0, 4);
    let target = 11;
    let (_, p) = cross_entropy_f64(&x, target);
    // Perturb in f64 through an f64 copy of the row (the oracle takes f32, so write it out).
    let loss_at = |v: usize, h: f64| {
        let xs: Vec<f64> = x.iter().map(|&a| a as f64).collect();
        let mut y = xs.clone();
        y[v] += h;
        let top = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        top + y.iter().map(|a| (a - top).exp()).sum::<f64>().ln() - y[target]
    };
    let h = 1e-5;
    for (v, &p_v) in p.iter().enumerate() {
        let fd = (loss_at(v, h) - loss_at(v, -h)) / (2.0 * h);
        let want = p_v - if v == target { 1.0 } else { 0.0 };
        // Central differences err by O(h²) and by rounding ~1e-16/h.
        assert!((fd - want).abs() < 1e-8, "v {v}: {fd} vs {want}");
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cross_entropy_matches_the_host() {
    let u = F32_ROUNDOFF;
    // V = 256 (a chunk per lane), 1000 (four chunks, the last partly past the end), 77 (not a
    // multiple of 8: element by element), 1024 (the largest), 1.
    for act in ACTS {
        let mut gpu = gpu();
        let ce = CrossEntropy::new(&mut gpu, act).unwrap();
        for (n, v) in [(1037, 256), (301, 1000), (257, 77), (64, 1024), (5, 1)] {
            // Rows shifted by 0, 30, 60: the kernel must subtract the maximum.
            let raw: Vec<f32> = uniform(n * v, 4.0, 5)
                .iter()
                .enumerate()
                .map(|(i, x)| x + 30.0 * ((i / v) % 3) as f32)
                .collect();
            let logits = as_act(&raw, act);
            let targets = uniform_ints(n, v as i32, 6);
            let scale = 1.0 / n as f32;
            let mut layout = Layout::new();
            let xs = layout.push("logits", n * v, act);
            let ts = layout.push("targets", n, DType::I32);
            let loss = layout.push("loss", n, DType::F32);
            let grads = layout.push("dlogits", n * v, act);
            let arena = gpu.arena(&layout).unwrap();
            gpu.upload(arena.ptr(ts), &targets).unwrap();
            let mut want_loss = vec![0.0; n];
            let mut want_grad = vec![0.0; n * v];
            let mut loss_bound = vec![0.0; n];
            let mut grad_bound = vec![0.0; n * v];
            for r in 0..n {
                let row = &logits[r * v..(r + 1) * v];
                let t = targets[r] as usize;
                let (l, p) = cross_entropy_f64(row, t);
                let (lo, hi) = row
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                        (lo.min(x as f64), hi.max(x as f64))
                    });
                let span = hi - lo;
                // Each exp(x − max) errs by u·span (the subtraction) + 2u (expf); their sum of
                // at most 37 terms (8 per chunk, then the warp) by 37u more; the log turns the
                // sum's relative error into an absolute one; two more roundings of |loss|.
                loss_bound[r] = u * (2.0 * span + 64.0 + 2.0 * l.abs());
                want_loss[r] = l;
                for c in 0..v {
                    let onehot = if c == t { 1.0 } else { 0.0 };
                    let g = scale as f64 * (p[c] - onehot);
                    want_grad[r * v + c] = g;
                    // softmax_c carries the sum's error and that of its own exp, plus the
                    // reciprocal and the product; then the subtraction and the scale round.
                    let f32_err = scale as f64
                        * ((2.0 * span + 64.0) * u * p[c] + 2.0 * u * (p[c] - onehot).abs());
                    grad_bound[r * v + c] = match act {
                        // One more rounding to bf16, of a value that may be off by f32_err.
                        DType::BF16 => BF16_ROUNDOFF * g.abs() + 2.0 * f32_err,
                        _ => f32_err,
                    };
                }
            }
            for in_place in [false, true] {
                upload_act(&gpu, arena.ptr(xs), &logits, act);
                gpu.zero(arena.ptr(grads), n * v * act.size()).unwrap();
                let out = if in_place {
                    arena.ptr(xs)
                } else {
                    arena.ptr(grads)
                };
                ce.forward_backward(
                    &gpu,
                    arena.ptr(xs),
                    arena.ptr(ts),
                    arena.ptr(loss),
                    out,
                    n,
                    v,
                    scale,
                )
                .unwrap();
                let what = |name: &str| format!("{act:?} [{n}, {v}] in place {in_place}: {name}");
                let got_loss = download_f32(&gpu, arena.ptr(loss), n);
                assert_within(&what("loss"), &got_loss, &want_loss, &loss_bound);
                let got_grad = download_act(&gpu, out, n * v, act);
                assert_within(&what("dlogits"), &got_grad, &want_grad, &grad_bound);
            }
            // Loss only: the logits stay as they were.
            upload_act(&gpu, arena.ptr(xs), &logits, act);
            ce.forward_backward(
                &gpu,
                arena.ptr(xs),
                arena.ptr(ts),
                arena.ptr(loss),
                0,
                n,
                v,
                scale,
            )
            .unwrap();
            let got_loss = download_f32(&gpu, arena.ptr(loss), n);
            assert_within(
                &format!("{act:?} [{n}, {v}] loss only"),
                &got_loss,
                &want_loss,
                &loss_bound,
            );
            assert_eq!(
                download_act(&gpu, arena.ptr(xs), n * v, act),
                logits,
                "logits untouched"
            );
        }
    }
}
