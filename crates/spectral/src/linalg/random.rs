//! Seeded Gaussian matrices, drawn on the host so that a seed gives the same matrix on every
//! backend and in every thread (burn's own `Tensor::random` draws from a per-backend global
//! generator).

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// A `[rows, cols]` matrix of independent standard normal entries, filled row by row from
/// `StdRng::seed_from_u64(seed)`: the same seed gives the same matrix.
pub fn gaussian_matrix<B: Backend>(
    rows: usize,
    cols: usize,
    seed: u64,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    #[test]
    fn gaussian_matrix_is_deterministic_and_standard() {
        let device = Default::default();
        let a = gaussian_matrix::<CpuBackend>(64, 64, 7, &device).into_data();
        let b = gaussian_matrix::<CpuBackend>(64, 64, 7, &device).into_data();
        let c = gaussian_matrix::<CpuBackend>(64, 64, 8, &device).into_data();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let v: Vec<f64> = a.iter::<f64>().collect();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        // 4096 samples: the standard errors of the mean and variance are 1/64 and ~0.022.
        assert!(mean.abs() < 0.06, "mean {mean}");
        assert!((var - 1.0).abs() < 0.09, "variance {var}");
    }
}
