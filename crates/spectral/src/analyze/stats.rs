//! Spectral statistics of one weight matrix, from its exact singular values (faer, f64).

use crate::compress::energy_rank;
use crate::linalg::LinalgError;
use crate::linalg::exact::singular_values;
use faer::Mat;
use serde::Serialize;

/// The statistics of one matrix `W: [d_in, d_out]` (burn's layout) with singular values
/// `σ_1 ≥ … ≥ σ_r`, `r = min(d_in, d_out)`.
#[derive(Clone, Debug, Serialize)]
pub struct MatrixStats {
    /// Parameter path in burn's naming, e.g. `blocks.0.mlp.fc.weight`.
    pub name: String,
    pub d_in: usize,
    pub d_out: usize,
    /// `σ_1 … σ_r`, non-increasing.
    pub singular_values: Vec<f64>,
    /// `‖W‖_2 = σ_1`.
    pub spectral_norm: f64,
    /// `‖W‖_F = √Σσ_i²`.
    pub frobenius_norm: f64,
    /// `σ_1 / σ_r` (infinite when `σ_r = 0`).
    pub condition_number: f64,
    /// `‖W‖_F² / ‖W‖_2²`, in `[1, r]`.
    pub stable_rank: f64,
    /// Roy & Vetterli's effective rank `exp(−Σ p_i ln p_i)`, `p_i = σ_i / Σσ_j`, in `[1, r]`.
    pub effective_rank: f64,
    /// Least `k` with `Σ_{i≤k} σ_i² ≥ 0.90 / 0.95 / 0.99 Σσ²`.
    pub rank_90: usize,
    pub rank_95: usize,
    pub rank_99: usize,
}

impl MatrixStats {
    /// Computes the statistics of `w` `[d_in, d_out]`.
    pub fn of(name: impl Into<String>, w: &Mat<f64>) -> Result<Self, LinalgError> {
        let s = singular_values(w)?;
        Ok(Self::from_singular_values(name, w.nrows(), w.ncols(), s))
    }

    /// The statistics from known singular values (non-increasing).
    pub fn from_singular_values(
        name: impl Into<String>,
        d_in: usize,
        d_out: usize,
        s: Vec<f64>,
    ) -> Self {
        let top = s.first().copied().unwrap_or(0.0);
        let last = s.last().copied().unwrap_or(0.0);
        let energy: f64 = s.iter().map(|x| x * x).sum();
        let mass: f64 = s.iter().sum();
        let entropy: f64 = s
            .iter()
            .filter(|&&x| x > 0.0)
            .map(|&x| {
                let p = x / mass;
                -p * p.ln()
            })
            .sum();
        Self {
            name: name.into(),
            d_in,
            d_out,
            spectral_norm: top,
            frobenius_norm: energy.sqrt(),
            condition_number: if last > 0.0 {
                top / last
            } else {
                f64::INFINITY
            },
            stable_rank: if top > 0.0 { energy / (top * top) } else { 0.0 },
            effective_rank: if mass > 0.0 { entropy.exp() } else { 0.0 },
            rank_90: energy_rank(&s, 0.90),
            rank_95: energy_rank(&s, 0.95),
            rank_99: energy_rank(&s, 0.99),
            singular_values: s,
        }
    }

    /// Cumulative energy fractions `Σ_{i≤k} σ_i² / Σσ²` for `k = 1..=r`.
    pub fn energy_curve(&self) -> Vec<f64> {
        let total: f64 = self.singular_values.iter().map(|x| x * x).sum();
        let mut acc = 0.0;
        self.singular_values
            .iter()
            .map(|x| {
                acc += x * x;
                if total > 0.0 { acc / total } else { 1.0 }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_of_a_diagonal_matrix() {
        // diag(4, 2, 1, 1) padded to 4 x 6: σ = (4, 2, 1, 1).
        let w = Mat::from_fn(
            4,
            6,
            |i, j| if i == j { [4.0, 2.0, 1.0, 1.0][i] } else { 0.0 },
        );
        let st = MatrixStats::of("d", &w).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(st.spectral_norm, 4.0));
        assert!(close(st.frobenius_norm, 22f64.sqrt()));
        assert!(close(st.condition_number, 4.0));
        assert!(close(st.stable_rank, 22.0 / 16.0));
        // p = (4, 2, 1, 1) / 8
        let h = -(0.5f64 * 0.5f64.ln() + 0.25 * 0.25f64.ln() + 2.0 * 0.125 * 0.125f64.ln());
        assert!(close(st.effective_rank, h.exp()));
        // energies 16, 4, 1, 1 of 22: 72.7 %, 90.9 %, 95.5 %, 100 %
        assert_eq!((st.rank_90, st.rank_95, st.rank_99), (2, 3, 4));
        let curve = st.energy_curve();
        assert!(close(curve[1], 20.0 / 22.0) && close(curve[3], 1.0));
    }

    #[test]
    fn rank_one_and_identity_extremes() {
        let u = Mat::from_fn(5, 3, |i, j| (i + 1) as f64 * (j as f64 - 1.5));
        let st = MatrixStats::of("r1", &u).unwrap();
        assert!(st.condition_number > 1e12, "{}", st.condition_number);
        assert!((st.stable_rank - 1.0).abs() < 1e-12);
        assert_eq!(st.rank_99, 1);
        let id = MatrixStats::of("i", &Mat::<f64>::identity(7, 7)).unwrap();
        assert!((id.effective_rank - 7.0).abs() < 1e-12 && (id.stable_rank - 7.0).abs() < 1e-12);
        assert_eq!((id.rank_90, id.rank_99), (7, 7));
    }
}
