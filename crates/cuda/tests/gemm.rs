//! Row-major cuBLAS products against an f64 product on the host, in every transpose
//! combination, batched and shared, f32 and bf16; f32 operands on TF32 tensor cores; and a
//! captured CUDA graph replaying them.

mod common;

use common::*;
use spectral_cuda::gemm::{Dims, F32Products, Operand, gemm};
use spectral_cuda::{DType, Layout};

/// `op(A) op(B)` in f64, row-major, one batch item.
fn product(a: &[f32], b: &[f32], d: Dims, ta: bool, tb: bool) -> Vec<f64> {
    let (m, n, k) = (d.m, d.n, d.k);
    let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] } as f64;
    let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] } as f64;
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
        }
    }
    c
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn products_match_the_host_in_every_layout() {
    let gpu = gpu();
    let dims = Dims {
        m: 37,
        n: 19,
        k: 53,
        batch: 3,
    };
    for dtype in [DType::F32, DType::BF16] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for shared_b in [false, true] {
                let (m, n, k, batch) = (dims.m, dims.n, dims.k, dims.batch);
                let a_host = uniform(batch * m * k, 1.0, 10);
                let b_host = uniform(if shared_b { k * n } else { batch * k * n }, 1.0, 11);
                // bf16 operands: compare against the product of the rounded values.
                let round = |x: &[f32]| -> Vec<f32> {
                    if dtype == DType::BF16 {
                        x.iter().map(|&v| round_bf16(v)).collect()
                    } else {
                        x.to_vec()
                    }
                };
                let (a_r, b_r) = (round(&a_host), round(&b_host));
                let mut layout = Layout::new();
                let a = layout.push("a", a_host.len(), dtype);
                let b = layout.push("b", b_host.len(), dtype);
                let c = layout.push("c", batch * m * n, DType::F32);
                let arena = gpu.arena(&layout).unwrap();
                if dtype == DType::BF16 {
                    gpu.upload(arena.ptr(a), &bf16_bits(&a_host)).unwrap();
                    gpu.upload(arena.ptr(b), &bf16_bits(&b_host)).unwrap();
                } else {
                    gpu.upload(arena.ptr(a), &a_host).unwrap();
                    gpu.upload(arena.ptr(b), &b_host).unwrap();
                }
                let mut a_op = Operand::new(arena.ptr(a), dtype).strided(m * k);
                let mut b_op =
                    Operand::new(arena.ptr(b), dtype).strided(if shared_b { 0 } else { k * n });
                if ta {
                    a_op = a_op.t();
                }
                if tb {
                    b_op = b_op.t();
                }
                let c_op = Operand::new(arena.ptr(c), DType::F32).strided(m * n);
                gemm(&gpu, dims, a_op, b_op, c_op, 1.0, 0.0).unwrap();
                let mut got = vec![0f32; batch * m * n];
                gpu.download(arena.ptr(c), &mut got).unwrap();
                for item in 0..batch {
                    let bi = if shared_b {
                        &b_r[..]
                    } else {
                        &b_r[item * k * n..(item + 1) * k * n]
                    };
                    let want = product(&a_r[item * m * k..(item + 1) * m * k], bi, dims, ta, tb);
                    let err = relative_error(&got[item * m * n..(item + 1) * m * n], &want);
                    // f32: true f32 products (no TF32), k = 53 terms; bf16: exact operands,
                    // f32 accumulation.
                    assert!(
                        err < 1e-6,
                        "{dtype:?} ta={ta} tb={tb} shared={shared_b} item {item}: {err:.2e}"
                    );
                }
            }
        }
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn tf32_products_round_the_operands_and_only_when_asked() {
    let mut gpu = gpu();
    let dims = Dims {
        m: 64,
        n: 80,
        k: 256,
        batch: 1,
    };
    let a_host = uniform(dims.m * dims.k, 1.0, 30);
    let b_host = uniform(dims.k * dims.n, 1.0, 31);
    let want = product(&a_host, &b_host, dims, false, false);
    let mut layout = Layout::new();
    let a = layout.push("a", a_host.len(), DType::F32);
    let b = layout.push("b", b_host.len(), DType::F32);
    let c = layout.push("c", dims.m * dims.n, DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    gpu.upload(arena.ptr(a), &a_host).unwrap();
    gpu.upload(arena.ptr(b), &b_host).unwrap();
    let mut error = |products| {
        gpu.set_f32_products(products);
        let ops = [a, b, c].map(|slot| Operand::new(arena.ptr(slot), DType::F32));
        gemm(&gpu, dims, ops[0], ops[1], ops[2], 1.0, 0.0).unwrap();
        let mut got = vec![0f32; dims.m * dims.n];
        gpu.download(arena.ptr(c), &mut got).unwrap();
        relative_error(&got, &want)
    };
    let exact = error(F32Products::Exact);
    let tf32 = error(F32Products::Tf32);
    // True f32: accumulation error only. TF32: each operand keeps 10 significand bits (2⁻¹¹
    // relative), well above f32's roundoff and within a few times 2⁻¹¹ of the exact product.
    assert!(exact < 1e-6, "exact f32 products: {exact:.2e}");
    assert!(
        tf32 > 1e-5 && tf32 < 4.0 / 2048.0,
        "TF32 products: {tf32:.2e} (exact: {exact:.2e})"
    );
    assert!(error(F32Products::Exact) < 1e-6, "back to exact products");
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn a_captured_graph_replays_the_product_on_new_inputs() {
    let gpu = gpu();
    let dims = Dims {
        m: 64,
        n: 48,
        k: 32,
        batch: 1,
    };
    let mut layout = Layout::new();
    let a = layout.push("a", 64 * 32, DType::F32);
    let b = layout.push("b", 32 * 48, DType::F32);
    let c = layout.push("c", 64 * 48, DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    let b_host = uniform(32 * 48, 1.0, 3);
    gpu.upload(arena.ptr(b), &b_host).unwrap();
    let ops = (
        Operand::new(arena.ptr(a), DType::F32),
        Operand::new(arena.ptr(b), DType::F32),
        Operand::new(arena.ptr(c), DType::F32),
    );
    let graph = gpu
        .capture(|gpu| gemm(gpu, dims, ops.0, ops.1, ops.2, 1.0, 0.0))
        .unwrap();
    for seed in [20, 21] {
        let a_host = uniform(64 * 32, 1.0, seed);
        gpu.upload(arena.ptr(a), &a_host).unwrap();
        graph.launch().unwrap();
        let mut got = vec![0f32; 64 * 48];
        gpu.download(arena.ptr(c), &mut got).unwrap();
        let want = product(&a_host, &b_host, dims, false, false);
        assert!(
            relative_error(&got, &want) < 1e-6,
            "replay with inputs {seed}"
        );
    }
}
