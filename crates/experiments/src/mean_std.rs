//! Mean and sample standard deviation of a summary over seeds or runs: `mean ± std` with
//! `std² = Σ (x − mean)² / (n − 1)` (0 for one value).

/// Mean and sample standard deviation of `n` values.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

/// Mean and sample std (n − 1; 0 for one value) of `values`; `None` when empty.
pub fn mean_std(values: &[f64]) -> Option<MeanStd> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Some(MeanStd {
        mean,
        std: var.sqrt(),
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_is_the_sample_std() {
        let v = mean_std(&[1.0, 2.0, 4.0]).unwrap();
        // mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9; / 2 = 7/3.
        assert!((v.mean - 7.0 / 3.0).abs() < 1e-15);
        assert!((v.std - (7.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_std(&[5.0]).unwrap().std, 0.0);
        assert!(mean_std(&[]).is_none());
    }
}
