//! The GPU evaluator against the CPU: the phase sums, Z and Z' at heights from 2·10³ to
//! 7·10¹², and windows of zeros (one across the first failure of Rosser's rule). Needs an
//! NVIDIA GPU: `cargo test --release -p spectral-zeta --features cuda --test gpu -- --ignored`.
#![cfg(feature = "cuda")]

use spectral_zeta::batch::{Cpu, Evaluator};
use spectral_zeta::gpu::Cuda;
use spectral_zeta::phase_sum::phase_sums;
use spectral_zeta::riemann_siegel::MainSum;
use spectral_zeta::{DoubleDouble, compute_zeros_with};

/// Heights from the crossover to the top of the table, with a low part where it matters.
fn heights() -> Vec<DoubleDouble> {
    let mut heights = Vec::new();
    for (i, base) in [2.1e3, 1.0e6, 1.3e9, 2.7e11, 4.0e12, 7.0e12]
        .into_iter()
        .enumerate()
    {
        for k in 0..37 {
            let t = DoubleDouble::from_f64(base) + (k as f64 * 0.137 + i as f64 * 1e-3);
            heights.push(t + DoubleDouble::new(0.0, t.hi * 1.3e-17));
        }
    }
    heights
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn phase_sums_match_the_cpu_kernel() {
    let gpu = Cuda::open(0).unwrap();
    let inputs: Vec<MainSum> = heights().into_iter().map(MainSum::at).collect();
    let sums = gpu.phase_sums(&inputs).unwrap();
    for (input, got) in inputs.iter().zip(sums) {
        let want = phase_sums(input.t, input.theta, input.terms);
        // Each term's phase is the CPU's to the bit; only the order of the sum differs, so
        // the two agree to rounding: ~1e-16·√N for sums of size ~1 (a bound with room).
        let tolerance = 1e-13 * (input.terms as f64).sqrt();
        let t = input.t.to_decimal(6);
        assert!(
            (got.cos - want.cos).abs() <= tolerance,
            "cos at {t}: {got:?} {want:?}"
        );
        assert!(
            (got.sin - want.sin).abs() <= tolerance,
            "sin at {t}: {got:?} {want:?}"
        );
        let ln = (input.terms as f64).ln().max(1.0);
        assert!(
            (got.sin_ln - want.sin_ln).abs() <= tolerance * ln,
            "sin_ln at {t}: {got:?} {want:?}"
        );
    }
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn z_and_its_derivative_match_the_cpu() {
    let mut gpu = Cuda::open(0).unwrap();
    // The heights, and below the crossover (Euler–Maclaurin, kept on the CPU).
    let mut heights = heights();
    heights.extend([20.0, 1999.5].map(DoubleDouble::from_f64));
    let got = gpu.evaluate(&heights).unwrap();
    let want = Cpu::default().evaluate(&heights).unwrap();
    for ((t, (z, dz)), (want_z, want_dz)) in heights.iter().zip(got).zip(want) {
        // Z = 2·Σ cos + corrections; Z' carries θ' ≈ ln(t/2π)/2 times the sin sum.
        let terms = (t.hi / (2.0 * std::f64::consts::PI)).sqrt();
        let tolerance = 3e-13 * terms.sqrt();
        let ln = t.hi.ln();
        let t = t.to_decimal(6);
        assert!((z - want_z).abs() <= tolerance, "Z({t}): {z} {want_z}");
        assert!(
            (dz - want_dz).abs() <= tolerance * ln,
            "Z'({t}): {dz} {want_dz}"
        );
    }
}

fn zeros(first: u64, count: u64, evaluator: &mut dyn Evaluator) -> Vec<DoubleDouble> {
    let mut zeros = Vec::new();
    let verification = compute_zeros_with(first, count, evaluator, |_, batch| {
        zeros.extend_from_slice(batch);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("zeros {first} + {count}: {e}"));
    println!("γ_{first} + {count}: {}", verification.summary());
    zeros
}

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn windows_of_zeros_match_the_cpu() {
    let mut gpu = Cuda::open(0).unwrap();
    // Low (the crossover inside the window), across Rosser's first failure, at 10⁹ and 10¹².
    for (first, count) in [
        (1, 3000),
        (13_999_000, 1000),
        (1_000_000_000, 2000),
        (1_000_000_000_000, 500),
    ] {
        let on_gpu = zeros(first, count, &mut gpu);
        let on_cpu = zeros(first, count, &mut Cpu::default());
        assert_eq!(on_gpu.len(), on_cpu.len());
        for (i, (a, b)) in on_gpu.iter().zip(&on_cpu).enumerate() {
            let difference = (*a - *b).to_f64().abs();
            assert!(
                difference < 1e-11,
                "γ_{}: {} against {} on the CPU",
                first + i as u64,
                a.to_decimal(12),
                b.to_decimal(12)
            );
        }
    }
}
