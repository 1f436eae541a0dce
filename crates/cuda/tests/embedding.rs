//! Token and position embeddings, forward and backward, against f64 on the host in both
//! activation types, with skewed ids (one id on half the rows, as spaces are in text) and ids
//! out of range; the oracle against a hand-worked case.

mod common;

use common::*;
use spectral_cuda::ops::embedding::{Backward, Embedding, Shape};
use spectral_cuda::{DType, Layout};

const U: f64 = F32_ROUNDOFF;

/// `out[n, :] = wte[idx[n], :] + wpe[n mod t, :]`, zeros for ids outside `[0, v)`.
fn embedding_f64(idx: &[i32], wte: &[f32], wpe: Option<&[f32]>, s: Shape) -> Vec<f64> {
    let mut out = vec![0.0; s.n * s.c];
    for (n, &id) in idx.iter().enumerate() {
        for k in 0..s.c {
            let token = if (0..s.v as i32).contains(&id) {
                wte[id as usize * s.c + k] as f64
            } else {
                0.0
            };
            let position = wpe.map_or(0.0, |p| p[(n % s.t) * s.c + k] as f64);
            out[n * s.c + k] = token + position;
        }
    }
    out
}

/// (Σ of dout's rows by id `[v, c]`, Σ of dout's rows by position `[t, c]`).
fn embedding_backward_f64(idx: &[i32], dout: &[f32], s: Shape) -> (Vec<f64>, Vec<f64>) {
    let (mut dwte, mut dwpe) = (vec![0.0; s.v * s.c], vec![0.0; s.t * s.c]);
    for (n, &id) in idx.iter().enumerate() {
        for k in 0..s.c {
            let d = dout[n * s.c + k] as f64;
            if (0..s.v as i32).contains(&id) {
                dwte[id as usize * s.c + k] += d;
            }
            dwpe[(n % s.t) * s.c + k] += d;
        }
    }
    (dwte, dwpe)
}

#[test]
fn the_oracle_matches_a_hand_worked_case() {
    // Two sequences of two positions, ids [1, 0, 1, 7]: 7 is out of range for V = 2.
    let s = Shape {
        n: 4,
        t: 2,
        v: 2,
        c: 1,
    };
    let idx = [1, 0, 1, 7];
    let out = embedding_f64(&idx, &[10.0, 20.0], Some(&[1.0, 2.0]), s);
    assert_eq!(out, vec![21.0, 12.0, 21.0, 2.0]);
    let (dwte, dwpe) = embedding_backward_f64(&idx, &[1.0, 2.0, 4.0, 8.0], s);
    assert_eq!(dwte, vec![2.0, 5.0]);
    assert_eq!(dwpe, vec![5.0, 10.0]);
}

/// Ids: half the rows `heavy`, the rest uniform, and every 97th row out of range (−1 or V).
fn skewed_ids(n: usize, v: usize, seed: u64) -> Vec<i32> {
    let uniform_ids = uniform_ints(n, v as i32, seed);
    let coins = uniform_ints(n, 2, seed + 1);
    let heavy = (v / 8) as i32;
    (0..n)
        .map(|i| match (i % 97, coins[i]) {
            (0, _) => -1,
            (48, _) => v as i32,
            (_, 0) => heavy,
            _ => uniform_ids[i],
        })
        .collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn embedding_matches_the_host() {
    // (B, T, V, C, position table): the char-GPT's width; a width not a multiple of 8 (element
    // by element) with no position table; a full batch of 131 072 rows (the heavy id's 65k
    // rows in 256 segments); one row.
    let cases = [
        (37, 61, 256, 768, true),
        (3, 700, 77, 100, false),
        (64, 2048, 256, 768, true),
        (1, 1, 1, 8, true),
    ];
    for act in ACTS {
        let mut gpu = gpu();
        let emb = Embedding::new(&mut gpu, act).unwrap();
        for (b, t, v, c, with_wpe) in cases {
            let s = Shape { n: b * t, t, v, c };
            let n = s.n;
            let what = |name: &str| format!("{act:?} {s:?}: {name}");
            let idx = skewed_ids(n, v, 41);
            let wte = as_act(&uniform(v * c, 1.0, 42), act);
            let wpe = as_act(&uniform(t * c, 1.0, 43), act);
            let dout = uniform(n * c, 1.0, 44);
            let dwte0 = uniform(v * c, 1.0, 45);
            let mut layout = Layout::new();
            let idx_s = layout.push("idx", n, DType::I32);
            let wte_s = layout.push("wte", v * c, act);
            let wpe_s = layout.push("wpe", t * c, act);
            let out_s = layout.push("out", n * c, DType::F32);
            let dout_s = layout.push("dout", n * c, DType::F32);
            let dwte_s = layout.push("dwte", v * c, DType::F32);
            let dwpe_s = layout.push("dwpe", t * c, DType::F32);
            let work = layout.push("workspace", Embedding::workspace_len(s), DType::F32);
            let arena = gpu.arena(&layout).unwrap();
            let at = |slot| arena.ptr(slot);
            gpu.upload(at(idx_s), &idx).unwrap();
            upload_act(&gpu, at(wte_s), &wte, act);
            upload_act(&gpu, at(wpe_s), &wpe, act);
            gpu.upload(at(dout_s), &dout).unwrap();

            let wpe_at = if with_wpe { at(wpe_s) } else { 0 };
            emb.forward(&gpu, at(idx_s), at(wte_s), wpe_at, at(out_s), s)
                .unwrap();
            let want = embedding_f64(&idx, &wte, with_wpe.then_some(&wpe[..]), s);
            // One f32 addition of exact inputs: u of the sum at most (2u for room).
            let bound: Vec<f64> = want.iter().map(|w| 2.0 * U * w.abs()).collect();
            assert_within(
                &what("out"),
                &download_f32(&gpu, at(out_s), n * c),
                &want,
                &bound,
            );

            let (sums, want_dwpe) = embedding_backward_f64(&idx, &dout, s);
            let mut runs = Vec::new();
            for _ in 0..2 {
                gpu.upload(at(dwte_s), &dwte0).unwrap();
                let backward = Backward {
                    idx: at(idx_s),
                    dout: at(dout_s),
                    dwte: at(dwte_s),
                    dwpe: if with_wpe { at(dwpe_s) } else { 0 },
                    workspace: at(work),
                };
                emb.backward(&gpu, &backward, s).unwrap();
                runs.push(download_f32(&gpu, at(dwte_s), v * c));
            }
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&runs[0]),
                bits(&runs[1]),
                "{}",
                what("two runs agree bit for bit")
            );
            // Id k's sum: ≤ 32 rows per thread, 8 row phases, its ⌈rows/256⌉ segments, the old
            // value: that many additions, each erring by u of the magnitudes summed.
            let mut rows_of = vec![0usize; v];
            let mut magnitude = vec![0.0; v * c];
            for (i, &id) in idx.iter().enumerate() {
                if (0..v as i32).contains(&id) {
                    rows_of[id as usize] += 1;
                    for k in 0..c {
                        magnitude[id as usize * c + k] += (dout[i * c + k] as f64).abs();
                    }
                }
            }
            let mut want = vec![0.0; v * c];
            let mut bound = vec![0.0; v * c];
            for i in 0..v * c {
                let depth = (32 + 8 + rows_of[i / c].div_ceil(256) + 1) as f64;
                want[i] = dwte0[i] as f64 + sums[i];
                bound[i] = 2.0 * depth * U * (magnitude[i] + (dwte0[i] as f64).abs());
            }
            assert_within(&what("dwte"), &runs[0], &want, &bound);
            if with_wpe {
                let got = download_f32(&gpu, at(dwpe_s), t * c);
                // Column sums over B rows: ⌈B/32⌉ + 32 additions.
                let depth = (b.div_ceil(32) + 32) as f64;
                let mut bound = vec![0.0; t * c];
                for (i, d) in dout.iter().enumerate() {
                    bound[i % (t * c)] += 2.0 * depth * U * (*d as f64).abs();
                }
                assert_within(&what("dwpe"), &got, &want_dwpe, &bound);
            }
        }
    }
}
