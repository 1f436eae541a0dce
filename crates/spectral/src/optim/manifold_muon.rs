//! Manifold Muon: steepest descent on the Stiefel manifold under the spectral norm
//! (Bernstein, "Modular Manifolds", Thinking Machines 2025).
//!
//! Work on the tall orientation `W [m, n]`, m ≥ n, with `WᵀW = I` (canonicalised once:
//! a wide burn weight is transposed in, the result transposed out). The update direction
//! `A` solves `min ⟨G, A⟩` s.t. `‖A‖₂ ≤ 1` and `WᵀA + AᵀW = 0` (tangent). Its dual is solved by
//! ascent on a symmetric `Λ [n, n]`:
//!
//! ```text
//! Λ₀ = −¼(WᵀG + GᵀW)          (or the previous step's Λ: warm start)
//! repeat: A = msign(G + 2WΛ),  H = WᵀA + AᵀW,  stop if ‖H‖_F/√(n²) < tol,
//!         Λ ← Λ − α(1 − j/J)·H
//! W ← retract(W − η·A)        (retract = msign to f32 precision)
//! ```
//!
//! G is normalized to unit Frobenius norm first (msign is invariant to a joint scale of G and
//! Λ), so α and the warm-started Λ do not depend on the gradient's size.

use super::method::{Batch, BatchShape, MatrixMethod, Shaped};
use super::teon::{split_mode1, stack_mode1};
use crate::linalg::{MsignMethod, msign};
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};

/// Manifold Muon's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManifoldMuonConfig {
    /// Momentum coefficient μ applied to G before the dual problem (0 = the plain method).
    pub momentum: f64,
    /// Nesterov momentum, as in Muon.
    pub nesterov: bool,
    /// Dual ascent step α (on the unit-Frobenius-normalized gradient).
    pub dual_lr: f64,
    /// Cap J on dual-ascent iterations per step (each costs one msign).
    pub max_dual_steps: usize,
    /// Stop when the tangent-space violation ‖H‖_F/n falls below this.
    pub tolerance: f64,
    /// msign used inside the dual ascent.
    pub msign: MsignMethod,
}

impl Default for ManifoldMuonConfig {
    fn default() -> Self {
        Self {
            momentum: 0.95,
            nesterov: true,
            dual_lr: 0.1,
            max_dual_steps: 20,
            tolerance: 1e-3,
            msign: MsignMethod::PolarExpress { steps: 8 },
        }
    }
}

/// One Manifold Muon step on a weight of any orientation.
pub struct ManifoldStep<B: Backend> {
    /// The retracted weight, same shape as the input.
    pub weight: Tensor<B, 2>,
    /// The final dual variable `[n, n]` (tall orientation), for the warm start.
    pub lambda: Tensor<B, 2>,
    /// Dual-ascent iterations run.
    pub dual_steps: usize,
    /// Final ‖H‖_F/n.
    pub residual: f64,
}

/// `W ← retract(W − lr·A)` with `A` from the dual ascent; `weight` and `direction` `[d_in, d_out]`.
pub fn manifold_muon_step<B: Backend>(
    weight: Tensor<B, 2>,
    direction: Tensor<B, 2>,
    lambda: Option<Tensor<B, 2>>,
    lr: f64,
    config: &ManifoldMuonConfig,
) -> ManifoldStep<B> {
    let [rows, cols] = weight.dims();
    let wide = rows < cols;
    let (w, g) = if wide {
        (weight.transpose(), direction.transpose())
    } else {
        (weight, direction)
    };
    let n = w.dims()[1];
    let g_norm = g.clone().powf_scalar(2.0).sum().sqrt().add_scalar(1e-30);
    let g = g.div(g_norm.reshape([1, 1]));
    let wt = w.clone().transpose();
    let mut lambda = match lambda {
        Some(lambda) if lambda.dims() == [n, n] => lambda,
        _ => {
            let wtg = wt.clone().matmul(g.clone());
            (wtg.clone() + wtg.transpose()).mul_scalar(-0.25)
        }
    };
    let mut a = msign(
        g.clone() + w.clone().matmul(lambda.clone()).mul_scalar(2.0),
        config.msign,
    );
    let mut dual_steps = 0;
    let mut residual = f64::INFINITY;
    for j in 0..config.max_dual_steps {
        let wta = wt.clone().matmul(a.clone());
        let h = wta.clone() + wta.transpose();
        residual = h
            .clone()
            .powf_scalar(2.0)
            .sum()
            .sqrt()
            .into_scalar()
            .elem::<f64>()
            / n as f64;
        if residual < config.tolerance {
            break;
        }
        let step = config.dual_lr * (1.0 - j as f64 / config.max_dual_steps as f64);
        lambda = lambda - h.mul_scalar(step);
        a = msign(
            g.clone() + w.clone().matmul(lambda.clone()).mul_scalar(2.0),
            config.msign,
        );
        dual_steps = j + 1;
    }
    let updated = retract(w - a.mul_scalar(lr));
    ManifoldStep {
        weight: if wide { updated.transpose() } else { updated },
        lambda,
        dual_steps,
        residual,
    }
}

/// Manifold Muon as a [`MatrixMethod`]: each matrix alone; Λ is its state, `lambda/{path}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ManifoldMuon {
    pub config: ManifoldMuonConfig,
}

impl ManifoldMuon {
    pub fn new(config: ManifoldMuonConfig) -> Self {
        Self { config }
    }
}

impl<B: Backend> MatrixMethod<B> for ManifoldMuon {
    fn momentum(&self) -> (f64, bool) {
        (self.config.momentum, self.config.nesterov)
    }

    fn state_name(&self) -> Option<&'static str> {
        Some("lambda")
    }

    /// [`manifold_muon_step`] of each matrix: the result is the retracted weights.
    fn shape(&self, batch: Batch<'_, B>) -> Shaped<B> {
        let n = batch.shape.n;
        let (weights, directions) = if n == 1 {
            (vec![batch.weight.clone()], vec![batch.direction])
        } else {
            (
                split_mode1(batch.weight.clone(), n),
                split_mode1(batch.direction, n),
            )
        };
        let (weights, state): (Vec<_>, Vec<_>) = weights
            .into_iter()
            .zip(directions)
            .zip(batch.state)
            .map(|((weight, direction), lambda)| {
                let step = manifold_muon_step(weight, direction, lambda, batch.lr, &self.config);
                (step.weight, step.lambda)
            })
            .unzip();
        Shaped {
            result: stack_mode1(weights),
            state,
        }
    }

    /// The owner's retracted weights, as they are.
    fn apply(
        &self,
        _weight: Tensor<B, 2>,
        result: Tensor<B, 2>,
        _shape: BatchShape,
        _lr: f64,
    ) -> Tensor<B, 2> {
        result
    }
}

/// The nearest semi-orthogonal matrix (all singular values 1) to f32 precision: Polar Express
/// when far from the manifold, then the cubic Newton–Schulz map `X ← 1.5X − 0.5·X·XᵀX`, which
/// converges quadratically once the singular values are near 1. Any orientation.
pub fn retract<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [rows, cols] = x.dims();
    if rows < cols {
        return retract(x.transpose()).transpose();
    }
    let device = x.device();
    let eye = Tensor::<B, 2>::eye(cols, &device);
    let deviation = |x: &Tensor<B, 2>| -> f64 {
        let gram = x.clone().transpose().matmul(x.clone());
        (gram - eye.clone()).abs().max().into_scalar().elem::<f64>()
    };
    let mut x = x;
    let mut error = deviation(&x);
    if error > 0.25 {
        x = msign(x, MsignMethod::PolarExpress { steps: 10 });
        error = deviation(&x);
    }
    // Each pass squares the error; f32 rounding floors it near 1e-7·√n.
    for _ in 0..8 {
        if error < 2e-7 * (cols as f64).sqrt() {
            break;
        }
        let gram = x.clone().transpose().matmul(x.clone()); // [n, n]
        let next = x.clone().mul_scalar(1.5) - x.clone().matmul(gram).mul_scalar(0.5);
        let next_error = deviation(&next);
        if next_error >= error {
            break;
        }
        x = next;
        error = next_error;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::CpuBackend;
    use burn::tensor::Distribution;

    fn stiefel_error(w: &Tensor<CpuBackend, 2>) -> f32 {
        let [r, c] = w.dims();
        let w = if r < c {
            w.clone().transpose()
        } else {
            w.clone()
        };
        let n = w.dims()[1];
        let gram = w.clone().transpose().matmul(w);
        (gram - Tensor::eye(n, &Default::default()))
            .abs()
            .max()
            .into_scalar()
    }

    #[test]
    fn retraction_lands_on_the_manifold_in_both_orientations() {
        let device = Default::default();
        for shape in [[40, 24], [24, 40], [32, 32]] {
            let x = Tensor::<CpuBackend, 2>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let w = retract(x);
            assert_eq!(w.dims(), shape);
            assert!(stiefel_error(&w) < 1e-5, "{shape:?}: {}", stiefel_error(&w));
        }
    }

    #[test]
    fn the_direction_is_nearly_tangent_and_descends() {
        let device = Default::default();
        let w = retract(Tensor::<CpuBackend, 2>::random(
            [48, 16],
            Distribution::Normal(0.0, 1.0),
            &device,
        ));
        let g = Tensor::<CpuBackend, 2>::random([48, 16], Distribution::Normal(0.0, 1.0), &device);
        let config = ManifoldMuonConfig {
            max_dual_steps: 200,
            tolerance: 1e-3,
            ..Default::default()
        };
        let step = manifold_muon_step(w.clone(), g.clone(), None, 0.05, &config);
        assert!(
            step.residual < 1e-3,
            "residual {} after {}",
            step.residual,
            step.dual_steps
        );
        assert!(stiefel_error(&step.weight) < 1e-5);
        // First-order decrease of ⟨G, W⟩ along the step.
        let before: f32 = (g.clone() * w).sum().into_scalar();
        let after: f32 = (g * step.weight).sum().into_scalar();
        assert!(after < before, "{after} !< {before}");
    }
}
