//! Two Muon steps on the device against an f64 transcription of `spectral::optim::muon`
//! (momentum, Newton–Schulz quintic, update), for wide and tall matrices in one table.

mod common;

use common::*;
use spectral_cuda::optim::muon::{FlatBuffers, Muon, MuonPlan, MuonSettings};
use spectral_cuda::params::{Group, ParamTable};
use spectral_cuda::{DType, Layout};

/// Row-major `[m, k] · [k, n]` in f64.
fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            for j in 0..n {
                c[i * n + j] += a[i * k + p] * b[p * n + j];
            }
        }
    }
    c
}

fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    (0..n * m).map(|idx| a[(idx % m) * n + idx / m]).collect()
}

/// msign by the quintic on the wide orientation, as `spectral::linalg::msign_batched`.
fn msign(d: &[f64], m: usize, n: usize, settings: &MuonSettings) -> Vec<f64> {
    let tall = m > n;
    let (mut x, r, c) = if tall {
        (transpose(d, m, n), n, m)
    } else {
        (d.to_vec(), m, n)
    };
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    x.iter_mut().for_each(|v| *v /= norm + 1e-7);
    for &(a, b, cc) in &settings.coefficients {
        let gram = matmul(&x, &transpose(&x, r, c), r, c, r);
        let gram2 = matmul(&gram, &gram, r, r, r);
        let poly: Vec<f64> = gram
            .iter()
            .zip(&gram2)
            .map(|(g, g2)| b as f64 * g + cc as f64 * g2)
            .collect();
        let px = matmul(&poly, &x, r, r, c);
        x = x.iter().zip(&px).map(|(x, p)| a as f64 * x + p).collect();
    }
    if tall { transpose(&x, r, c) } else { x }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn two_muon_steps_match_the_f64_transcription() {
    for (act, tolerance) in [(DType::F32, 1e-4), (DType::BF16, 8e-2)] {
        let mut gpu = gpu();
        let shapes = [("w0", 48usize, 80usize), ("w1", 48, 80), ("t0", 80, 48)];
        let mut list: Vec<(String, Vec<usize>, Group)> = shapes
            .iter()
            .map(|&(n, r, c)| (n.to_string(), vec![r, c], Group::Matrix))
            .collect();
        list.push(("bias".into(), vec![7], Group::Undecayed));
        let table = ParamTable::new(list, &[]);
        let p = table.len();
        let mut layout = Layout::new();
        let params = layout.push("params", p, DType::F32);
        let compute = layout.push("compute", p, act);
        let grads = layout.push("grads", p, DType::F32);
        let momentum = layout.push("momentum", p, DType::F32);
        let clip = layout.push("clip", 1, DType::F32);
        let lr = layout.push("lr", 1, DType::F32);
        let plan = MuonPlan::new(&table, act, &mut layout);
        let arena = gpu.arena(&layout).unwrap();
        let settings = MuonSettings {
            weight_decay: 0.1,
            ..MuonSettings::default()
        };
        let muon = Muon::new(&mut gpu, plan, settings.clone(), &arena).unwrap();

        let mut w: Vec<f32> = uniform(p, 0.1, 5);
        gpu.upload(arena.ptr(params), &w).unwrap();
        gpu.upload(arena.ptr(clip), &[0.5f32]).unwrap();
        gpu.upload(arena.ptr(lr), &[0.02f32]).unwrap();
        let flat = FlatBuffers {
            params: arena.ptr(params),
            params_compute: arena.ptr(compute),
            grads: arena.ptr(grads),
            momentum: arena.ptr(momentum),
            clip: arena.ptr(clip),
            lr: arena.ptr(lr),
        };
        let mut want: Vec<f64> = w.iter().map(|&v| v as f64).collect();
        let mut buffers = vec![0f64; p];
        for step in 0..2u64 {
            let g = uniform(p, 1.0, 100 + step);
            gpu.upload(arena.ptr(grads), &g).unwrap();
            muon.step(&gpu, &arena, flat).unwrap();
            let before = want.clone();
            for param in table.params().iter().filter(|q| q.group == Group::Matrix) {
                let (m, n) = (param.shape[0], param.shape[1]);
                let range = param.offset..param.offset + m * n;
                let mut d = vec![0.0; m * n];
                for (j, i) in range.clone().enumerate() {
                    let gi = 0.5 * g[i] as f64;
                    buffers[i] = 0.95 * buffers[i] + gi;
                    d[j] = gi + 0.95 * buffers[i];
                }
                let o = msign(&d, m, n, &settings);
                let scale = (n as f64 / m as f64).max(1.0).sqrt();
                for (j, i) in range.enumerate() {
                    want[i] = want[i] * (1.0 - 0.02 * 0.1) - 0.02 * scale * o[j];
                }
            }
            gpu.download(arena.ptr(params), &mut w).unwrap();
            // The error relative to the size of the update (the weights themselves barely move).
            let got_update: Vec<f32> = w
                .iter()
                .zip(&before)
                .map(|(&g, &b)| (g as f64 - b) as f32)
                .collect();
            let want_update: Vec<f64> = want.iter().zip(&before).map(|(w, b)| w - b).collect();
            let err = relative_error(&got_update, &want_update);
            assert!(
                err < tolerance,
                "{act:?} step {step}: update error {err:.2e}"
            );
            // The bias is not Muon's: untouched.
            let bias = table.get("bias").offset;
            assert_eq!(w[bias], before[bias] as f32);
            want = w.iter().map(|&v| v as f64).collect();
        }
    }
}
