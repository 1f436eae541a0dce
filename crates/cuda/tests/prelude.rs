//! The prelude's bf16 conversions and block reductions on the device, against the host.

mod common;

use common::*;
use spectral_cuda::{Arg, DType, Layout, kernels};

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn bf16_rounding_and_block_reductions_match_the_host() {
    let mut gpu = gpu();
    let (n, threads) = (1000usize, 256u32);
    let blocks = n.div_ceil(threads as usize);
    let mut input = uniform(n, 3.0, 1);
    input[0] = 1.0 + f32::EPSILON * 64.0; // a tie-breaking case: rounds to even
    let mut layout = Layout::new();
    let x = layout.push("in", n, DType::F32);
    let out = layout.push("out", n, DType::F32);
    let packed = layout.push("packed", n / 2, DType::I32);
    let sums = layout.push("sums", blocks, DType::F32);
    let maxes = layout.push("maxes", blocks, DType::F32);
    let arena = gpu.arena(&layout).unwrap();
    gpu.upload(arena.ptr(x), &input).unwrap();
    let kernel = gpu
        .kernel(&kernels::PRELUDE_CHECK, &[], "round_trip")
        .unwrap();
    let args = [x, out, packed, sums, maxes].map(|s| Arg::Ptr(arena.ptr(s)));
    let mut args = args.to_vec();
    args.push(Arg::I32(n as i32));
    // SAFETY: the arguments are the kernel's, each slot sized as it reads or writes.
    unsafe { gpu.launch(&kernel, (blocks as u32, 1, 1), (threads, 1, 1), 0, &args) }.unwrap();

    let mut got = vec![0f32; n];
    gpu.download(arena.ptr(out), &mut got).unwrap();
    for (g, x) in got.iter().zip(&input) {
        assert_eq!(g.to_bits(), round_bf16(*x).to_bits(), "to_bf16({x})");
    }
    let mut got_packed = vec![0u32; n / 2];
    gpu.download(arena.ptr(packed), &mut got_packed).unwrap();
    let bits = bf16_bits(&input);
    for (i, p) in got_packed.iter().enumerate() {
        assert_eq!(
            *p,
            u32::from(bits[2 * i]) | (u32::from(bits[2 * i + 1]) << 16),
            "pair {i}"
        );
    }
    let (mut got_sums, mut got_maxes) = (vec![0f32; blocks], vec![0f32; blocks]);
    gpu.download(arena.ptr(sums), &mut got_sums).unwrap();
    gpu.download(arena.ptr(maxes), &mut got_maxes).unwrap();
    for b in 0..blocks {
        let part = &input[b * threads as usize..((b + 1) * threads as usize).min(n)];
        let sum: f64 = part.iter().map(|&v| v as f64).sum();
        let max = part.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert!((got_sums[b] as f64 - sum).abs() < 1e-4, "block {b} sum");
        assert_eq!(got_maxes[b], max, "block {b} max");
    }
}
