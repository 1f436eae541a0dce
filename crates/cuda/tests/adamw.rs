//! The AdamW kernel against an f64 transcription of burn 0.21's AdamW, and that transcription
//! against burn's own AdamW; the cast kernel against host rounding.

mod common;

use common::*;
use spectral_cuda::ops::adamw::{AdamW, Flat, Hyper, StepScalars};
use spectral_cuda::ops::cast::Cast;
use spectral_cuda::{DType, Layout};

/// One AdamW step in f64, transcribed from burn-optim 0.21's `adamw.rs` (`AdamW::step` and
/// `AdaptiveMomentumW::transform`): m and v start at zero, `t` is 1-based.
#[allow(clippy::too_many_arguments)]
fn adamw_f64(
    w: &mut [f64],
    g: &[f64],
    m: &mut [f64],
    v: &mut [f64],
    t: i32,
    lr: f64,
    clip: f64,
    hyper: &Hyper,
) {
    let (b1, b2) = (hyper.beta1 as f64, hyper.beta2 as f64);
    let (eps, wd) = (hyper.eps as f64, hyper.weight_decay as f64);
    for i in 0..w.len() {
        let g = clip * g[i];
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        let m_hat = m[i] / (1.0 - b1.powi(t));
        let v_hat = v[i] / (1.0 - b2.powi(t));
        w[i] = w[i] * (1.0 - lr * wd) - lr * m_hat / (v_hat.sqrt() + eps);
    }
}

fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

const HYPER: Hyper = Hyper {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weight_decay: 0.1,
};

/// Three steps of burn's AdamW (ndarray backend, f32) against the f64 transcription.
#[test]
fn the_transcription_matches_burns_adamw() {
    use burn::backend::NdArray;
    use burn::optim::{AdamWConfig, SimpleOptimizer};
    use burn::tensor::{Tensor, TensorData};
    type B = NdArray<f32>;
    let device = Default::default();
    let n = 64;
    let adamw = AdamWConfig::new()
        .with_beta_1(HYPER.beta1)
        .with_beta_2(HYPER.beta2)
        .with_epsilon(HYPER.eps)
        .with_weight_decay(HYPER.weight_decay)
        .build();
    let w0 = uniform(n, 1.0, 1);
    let tensor = |x: &[f32]| Tensor::<B, 1>::from_data(TensorData::new(x.to_vec(), [n]), &device);
    let values = |t: Tensor<B, 1>| t.into_data().to_vec::<f32>().unwrap();
    let (mut w, mut m, mut v) = (to_f64(&w0), vec![0.0; n], vec![0.0; n]);
    let mut burn_w = tensor(&w0);
    let mut state = None;
    for (step, (lr, clip)) in [(1e-2, 1.0), (2e-2, 0.5), (3e-2, 0.25)]
        .into_iter()
        .enumerate()
    {
        let g = uniform(n, 0.1, 10 + step as u64);
        // The training loop scales the gradients by the clip factor before burn's step; the
        // factors are powers of two, so the f32 product is exact.
        let clipped: Vec<f32> = g.iter().map(|&x| x * clip as f32).collect();
        let (next, next_state) = adamw.step(lr, burn_w, tensor(&clipped), state);
        adamw_f64(
            &mut w,
            &to_f64(&g),
            &mut m,
            &mut v,
            step as i32 + 1,
            lr,
            clip,
            &HYPER,
        );
        let momentum = &next_state.as_ref().unwrap().momentum;
        // burn runs in f32: its weights (|w| ≤ 1) are within a few f32 ulps of the f64
        // values, its moments within a few ulps of their own size.
        assert_close("burn's w", &values(next.clone()), &w, 0.0, 1e-6);
        assert_close(
            "burn's m",
            &values(momentum.moment_1.clone()),
            &m,
            1e-6,
            1e-9,
        );
        assert_close(
            "burn's v",
            &values(momentum.moment_2.clone()),
            &v,
            1e-6,
            0.0,
        );
        burn_w = next;
        state = next_state;
    }
}

/// Three steps over three groups of a flat buffer of 10 007 parameters: [0, 4005) from an
/// aligned start (16-byte loads, a tail of 5), [4008, 8001) aligned (a tail of 1) with no
/// decay, [8003, 10 007) from an unaligned start (element by element) without a clip factor;
/// the gaps between groups must stay untouched.
#[test]
#[ignore = "needs an NVIDIA GPU"]
fn adamw_matches_the_transcription() {
    let p = 10_007;
    let groups = [
        (0..4005, HYPER, true),
        (
            4008..8001,
            Hyper {
                weight_decay: 0.0,
                ..HYPER
            },
            true,
        ),
        (8003..p, HYPER, false),
    ];
    for act in ACTS {
        let mut gpu = gpu();
        let adamw = AdamW::new(&mut gpu, act).unwrap();
        let mut layout = Layout::new();
        let params = layout.push("params", p, DType::F32);
        let grads = layout.push("grads", p, DType::F32);
        let m = layout.push("m", p, DType::F32);
        let v = layout.push("v", p, DType::F32);
        let copy = layout.push("copy", p, act);
        let lr = layout.push("lr", 1, DType::F32);
        let step = layout.push("step", 1, DType::I32);
        let clip = layout.push("clip", 1, DType::F32);
        let arena = gpu.arena(&layout).unwrap();
        let flat = Flat {
            params: arena.ptr(params),
            grads: arena.ptr(grads),
            m: arena.ptr(m),
            v: arena.ptr(v),
            copy: arena.ptr(copy),
        };
        let w0 = uniform(p, 1.0, 2);
        gpu.upload(flat.params, &w0).unwrap();
        let (mut w_ref, mut m_ref, mut v_ref) = (to_f64(&w0), vec![0.0; p], vec![0.0; p]);
        for (t, (lr_t, clip_t)) in [(1e-3f32, 1.0f32), (2e-3, 0.5), (3e-3, 0.25)]
            .into_iter()
            .enumerate()
        {
            let t = t as i32 + 1;
            let g = uniform(p, 0.1, 20 + t as u64);
            gpu.upload(flat.grads, &g).unwrap();
            gpu.upload(arena.ptr(lr), &[lr_t]).unwrap();
            gpu.upload(arena.ptr(step), &[t]).unwrap();
            gpu.upload(arena.ptr(clip), &[clip_t]).unwrap();
            for (range, hyper, clipped) in &groups {
                let scalars = StepScalars {
                    lr: arena.ptr(lr),
                    step: arena.ptr(step),
                    clip: if *clipped { arena.ptr(clip) } else { 0 },
                };
                adamw
                    .step(&gpu, &flat, range.clone(), &scalars, hyper)
                    .unwrap();
                let r = range.clone();
                let c = if *clipped { clip_t as f64 } else { 1.0 };
                adamw_f64(
                    &mut w_ref[r.clone()],
                    &to_f64(&g[r.clone()]),
                    &mut m_ref[r.clone()],
                    &mut v_ref[r],
                    t,
                    lr_t as f64,
                    c,
                    hyper,
                );
            }
            let what = |name: &str| format!("{act:?} step {t}: {name}");
            let got_w = download_f32(&gpu, flat.params, p);
            // Error sources, per step: the decay product and the subtraction round |w| ≤ 1 by
            // u each, the update lr·m̂/(√v̂ + ε) (lr ≤ 3e-3, |m̂/√v̂| ≤ 3) carries a few u
            // of its own size; three steps stay below 6e-7.
            assert_close(&what("w"), &got_w, &w_ref, 0.0, 1e-6);
            // m: two products and a sum of terms below 0.1·|g| ≤ 0.01 per step, each rounded
            // by u ≈ 6e-8: below 3·3·0.01·u ≈ 6e-9 after three steps.
            assert_close(
                &what("m"),
                &download_f32(&gpu, flat.m, p),
                &m_ref,
                0.0,
                2e-8,
            );
            // v: a sum of positive terms, a few u relative per step.
            assert_close(
                &what("v"),
                &download_f32(&gpu, flat.v, p),
                &v_ref,
                2e-6,
                0.0,
            );
            // The copy is the device's own new w, rounded once (exactly, compared in bits).
            let got_copy = download_act(&gpu, flat.copy, p, act);
            let want_copy = as_act(&got_w, act);
            for (range, _, _) in &groups {
                for i in range.clone() {
                    assert_eq!(
                        got_copy[i].to_bits(),
                        want_copy[i].to_bits(),
                        "{}[{i}]",
                        what("copy")
                    );
                }
            }
        }
        // The gaps between groups: never written.
        let got_w = download_f32(&gpu, flat.params, p);
        let got_copy = download_act(&gpu, flat.copy, p, act);
        for i in (4005..4008).chain(8001..8003) {
            assert_eq!(got_w[i], w0[i], "{act:?}: w[{i}] outside every group");
            assert_eq!(got_copy[i], 0.0, "{act:?}: copy[{i}] outside every group");
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn cast_rounds_like_the_host() {
    for act in ACTS {
        let mut gpu = gpu();
        let cast = Cast::new(&mut gpu, act).unwrap();
        let n = 100_003;
        let x = uniform(n + 1, 10.0, 3);
        let mut layout = Layout::new();
        let xs = layout.push("x", n + 1, DType::F32);
        let ys = layout.push("y", n + 1, act);
        let arena = gpu.arena(&layout).unwrap();
        gpu.upload(arena.ptr(xs), &x).unwrap();
        // From element 0 (16-byte accesses, a tail of 3), then from element 1 (unaligned).
        for start in [0usize, 1] {
            let offset = |base: u64, size: usize| base + (start * size) as u64;
            cast.forward(
                &gpu,
                offset(arena.ptr(xs), 4),
                offset(arena.ptr(ys), act.size()),
                n,
            )
            .unwrap();
            let got = download_act(&gpu, arena.ptr(ys), n + 1, act);
            let want = as_act(&x, act);
            for i in start..start + n {
                assert_eq!(got[i].to_bits(), want[i].to_bits(), "{act:?} cast[{i}]");
            }
        }
    }
}
