//! The CPU backend's arithmetic, where a training's reproducibility depends on it: the
//! reciprocal (behind every division's and logarithm's gradient) is exact and does not depend
//! on where the tensor's buffer lies in memory (vendor/README.md, burn-ndarray).

use burn::backend::Autodiff;
use burn::tensor::{Tensor, TensorData};
use spectral::CpuBackend;

type Ad = Autodiff<CpuBackend>;

/// 1000 values over several decades, both signs.
fn values() -> Vec<f32> {
    (0..1000)
        .map(|i| {
            let x = 0.37 + (i as f32 * 0.731).sin() * 3.0;
            if i % 3 == 0 { -x * 100.0 } else { x }
        })
        .collect()
}

#[test]
fn the_reciprocal_is_exact_at_every_offset_of_its_buffer() {
    let device = Default::default();
    let all = values();
    // A tensor that owns its buffer is inverted in place: shifting its start by one element at
    // a time moves where a vector-aligned run would begin.
    for offset in 0..16 {
        let part = all[offset..].to_vec();
        let x = Tensor::<CpuBackend, 1>::from_data(
            TensorData::new(part.clone(), [part.len()]),
            &device,
        );
        let got: Vec<f32> = x.recip().into_data().to_vec().unwrap();
        for (i, (g, v)) in got.iter().zip(&part).enumerate() {
            assert_eq!(
                g.to_bits(),
                (1.0 / v).to_bits(),
                "offset {offset}, element {i}: 1/{v}"
            );
        }
    }
}

#[test]
fn the_gradient_of_a_logarithm_is_exact_and_repeats() {
    let device = Default::default();
    let values: Vec<f32> = values().iter().map(|v| v.abs() + 0.5).collect();
    let mut first: Option<Vec<u32>> = None;
    for _ in 0..4 {
        let x =
            Tensor::<Ad, 1>::from_data(TensorData::new(values.clone(), [values.len()]), &device)
                .require_grad();
        // d/dx (ln x)² = 2 ln x / x
        let loss = x.clone().log().powf_scalar(2.0).sum();
        let grads = loss.backward();
        let grad: Vec<f32> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        for (g, v) in grad.iter().zip(&values) {
            let exact = 2.0 * (*v as f64).ln() / *v as f64;
            assert!(
                (*g as f64 - exact).abs() <= 4.0 * f32::EPSILON as f64 * exact.abs(),
                "d/dx (ln x)² at {v}: {g} vs {exact}"
            );
        }
        let bits: Vec<u32> = grad.iter().map(|g| g.to_bits()).collect();
        match &first {
            None => first = Some(bits),
            Some(first) => assert_eq!(first, &bits, "a repeat of the same backward pass differs"),
        }
    }
}
