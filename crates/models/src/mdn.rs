//! The mixture-density head (Bishop 1994, "Mixture Density Networks") and its pure
//! loss functions.
//!
//! The head maps a hidden state `h` `[B, T, C]` to a K-component Gaussian mixture over the
//! next spacing `s`:
//!
//! ```text
//! [a | m | r] = h W + b                       W [C, 3K]: columns 0..K, K..2K, 2K..3K
//! log π = log_softmax(a)                       [B, T, K], Σ_k π_k = 1
//! μ     = m                                    [B, T, K]
//! σ     = softplus(r) + σ_floor                [B, T, K], σ ≥ σ_floor
//! p(s)  = Σ_k π_k N(s; μ_k, σ_k²)
//! ```
//!
//! Units: spacings are unfolded, so the mean spacing is 1 and μ, σ, σ_floor are in units of
//! the mean spacing. The floor (default 10⁻³, a thousandth of a mean spacing) keeps a
//! component from collapsing onto one training value, where the likelihood is unbounded.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use spectral::linalg::linear;

use crate::error::{ModelError, nonzero};
use crate::gpt2_init;

/// Default `σ_floor`, in mean-spacing units.
pub const DEFAULT_SIGMA_FLOOR: f64 = 1e-3;

/// ln √(2π), the Gaussian's normalizing constant in log form.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// The mixture parameters for every position: each `[B, T, K]`.
#[derive(Debug, Clone)]
pub struct Mixture<B: Backend> {
    /// Log mixture weights, `log π` (log-softmax over K).
    pub log_pi: Tensor<B, 3>,
    /// Component means μ, in mean-spacing units.
    pub mu: Tensor<B, 3>,
    /// Component standard deviations σ ≥ σ_floor, in mean-spacing units.
    pub sigma: Tensor<B, 3>,
}

/// The head: one `Linear` `linear` `[C, 3K]`, so its parameters are `mdn_head.linear.weight`
/// and `mdn_head.linear.bias` inside a model.
#[derive(Module, Debug)]
pub struct MixtureHead<B: Backend> {
    /// `[C, 3K]`: logits, means and raw scales of the K components, in that column order.
    pub linear: Linear<B>,
    n_components: usize,
    sigma_floor: f64,
}

impl<B: Backend> MixtureHead<B> {
    /// A head from width `n_embd` to `n_components` Gaussians with scale floor `sigma_floor`
    /// (mean-spacing units, finite and > 0). Weights N(0, 0.02²), bias 0: at init every
    /// component has π = 1/K, μ ≈ 0 and σ ≈ ln 2 + σ_floor.
    pub fn new(
        n_embd: usize,
        n_components: usize,
        sigma_floor: f64,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        nonzero("n_embd", n_embd)?;
        nonzero("n_components", n_components)?;
        if !(sigma_floor.is_finite() && sigma_floor > 0.0) {
            return Err(ModelError::OutOfRange {
                name: "sigma_floor",
                value: sigma_floor,
                range: "(0, ∞)",
            });
        }
        Ok(Self {
            linear: gpt2_init::linear(n_embd, 3 * n_components, true, gpt2_init::INIT_STD, device),
            n_components,
            sigma_floor,
        })
    }

    /// Number of components K.
    pub fn n_components(&self) -> usize {
        self.n_components
    }

    /// The scale floor σ_floor, in mean-spacing units.
    pub fn sigma_floor(&self) -> f64 {
        self.sigma_floor
    }

    /// `h` `[B, T, C]` → the mixture at every position, each part `[B, T, K]`.
    pub fn forward(&self, h: Tensor<B, 3>) -> Mixture<B> {
        let raw = linear(&self.linear, h); // [B, T, 3K]
        let mut parts = raw.chunk(3, 2).into_iter(); // 3 × [B, T, K]
        let (logits, mu, r) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(m), Some(r)) => (a, m, r),
            _ => unreachable!("chunk of 3K columns into 3 always gives 3 parts"),
        };
        Mixture {
            log_pi: log_softmax(logits, 2),
            mu,
            sigma: softplus(r).add_scalar(self.sigma_floor),
        }
    }
}

/// softplus(x) = ln(1 + eˣ), written as max(x, 0) + ln(1 + e^{−|x|}) so that it neither
/// overflows for large x (burn's `activation::softplus` computes eˣ directly) nor loses the
/// small values for very negative x.
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let tail = x.clone().abs().neg().exp().log1p();
    x.clamp_min(0.0) + tail
}

/// Log-likelihood of each `target` `[B, T]` under the mixture at its position:
/// `ln Σ_k π_k N(y; μ_k, σ_k²)`, `[B, T]`, in nats.
///
/// Computed as a log-sum-exp over k of `log π_k − ½((y − μ_k)/σ_k)² − ln σ_k − ln √(2π)`,
/// shifted by the (gradient-free) maximum term, so a target far in every component's tail
/// gives a large finite loss instead of `ln 0`.
///
/// # Panics
/// When the shapes disagree (`log_pi`, `mu`, `sigma` `[B, T, K]`, `target` `[B, T]`).
pub fn mixture_log_prob<B: Backend>(
    log_pi: Tensor<B, 3>,
    mu: Tensor<B, 3>,
    sigma: Tensor<B, 3>,
    target: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let [b, t, k] = log_pi.dims();
    assert!(
        mu.dims() == [b, t, k] && sigma.dims() == [b, t, k] && target.dims() == [b, t],
        "mixture shapes: log_pi {:?}, mu {:?}, sigma {:?}, target {:?}",
        log_pi.dims(),
        mu.dims(),
        sigma.dims(),
        target.dims()
    );
    let y = target.unsqueeze_dim::<3>(2); // [B, T, 1]
    let z = (y - mu) / sigma.clone(); // [B, T, K]
    let log_normal = z.powi_scalar(2).mul_scalar(-0.5) - sigma.log() - LN_SQRT_2PI; // [B, T, K]
    let terms = log_pi + log_normal; // [B, T, K]
    let shift = terms.clone().detach().max_dim(2); // [B, T, 1]
    let lse = (terms - shift.clone()).exp().sum_dim(2).log() + shift; // [B, T, 1]
    lse.squeeze_dim::<2>(2) // [B, T]
}

/// Mean negative log-likelihood over all `B·T` positions, in nats: the training loss.
/// Shapes as in [`mixture_log_prob`].
pub fn mixture_nll<B: Backend>(
    log_pi: Tensor<B, 3>,
    mu: Tensor<B, 3>,
    sigma: Tensor<B, 3>,
    target: Tensor<B, 2>,
) -> Tensor<B, 1> {
    mixture_log_prob(log_pi, mu, sigma, target).mean().neg()
}

/// The mixture's mean `Σ_k π_k μ_k` at each position: `log_pi`, `mu` `[B, T, K]` → `[B, T]`.
pub fn mixture_mean<B: Backend>(log_pi: Tensor<B, 3>, mu: Tensor<B, 3>) -> Tensor<B, 2> {
    (log_pi.exp() * mu).sum_dim(2).squeeze_dim::<2>(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::tensor::{Distribution, TensorData};
    use spectral::device::CpuBackend as B;

    fn t3(v: [[[f64; 3]; 2]; 1]) -> Tensor<B, 3> {
        Tensor::from_data(TensorData::from(v).convert::<f32>(), &Default::default())
    }

    /// Reference: −(1/N) Σ ln Σ_k π_k exp(−½((y−μ)/σ)²)/(σ√(2π)), directly in f64.
    fn nll_f64(pi: &[[f64; 3]; 2], mu: &[[f64; 3]; 2], sigma: &[[f64; 3]; 2], y: &[f64; 2]) -> f64 {
        let mut total = 0.0;
        for t in 0..2 {
            let p: f64 = (0..3)
                .map(|k| {
                    let z = (y[t] - mu[t][k]) / sigma[t][k];
                    pi[t][k] * (-0.5 * z * z).exp()
                        / (sigma[t][k] * (2.0 * std::f64::consts::PI).sqrt())
                })
                .sum();
            total -= p.ln();
        }
        total / 2.0
    }

    #[test]
    fn nll_matches_a_hand_computed_mixture() {
        let pi = [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]];
        let mu = [[0.5, 1.0, 2.0], [0.9, 1.1, 3.0]];
        let sigma = [[0.1, 0.4, 1.0], [0.2, 0.05, 0.7]];
        let y = [0.8, 1.3];
        let want = nll_f64(&pi, &mu, &sigma, &y);
        let log_pi = pi.map(|r| r.map(f64::ln));
        let got: f32 = mixture_nll(
            t3([log_pi]),
            t3([mu]),
            t3([sigma]),
            Tensor::from_data(TensorData::from([y]).convert::<f32>(), &Default::default()),
        )
        .into_scalar();
        // f32 arithmetic on O(1) terms: a few ulps of the O(1) result.
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }

    /// A target 300 σ from the nearest mean: each density underflows in f32 (and in f64's
    /// direct sum), but the log-sum-exp form stays finite and exact.
    #[test]
    fn nll_is_finite_far_in_the_tail() {
        let log_pi = [[0.5f64.ln(), 0.25f64.ln(), 0.25f64.ln()]; 2];
        let mu = [[0.0, 1.0, 2.0]; 2];
        let sigma = [[0.01; 3]; 2];
        let y = [5.0, -1.0];
        // By hand: the nearest component dominates completely.
        // y = 5: component 2, z = 300 → −ln π₂ + ½·300² + ln σ + ln √(2π).
        // y = −1: component 0, z = −100 → −ln π₀ + ½·100² + ln σ + ln √(2π).
        let c = 0.01f64.ln() + LN_SQRT_2PI;
        let want = ((-(0.25f64.ln()) + 45_000.0 + c) + (-(0.5f64.ln()) + 5_000.0 + c)) / 2.0;
        let got: f32 = mixture_nll(
            t3([log_pi]),
            t3([mu]),
            t3([sigma]),
            Tensor::from_data(TensorData::from([y]).convert::<f32>(), &Default::default()),
        )
        .into_scalar();
        // f32 relative precision on a value of 2.5e4.
        assert!((got as f64 - want).abs() / want < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn mean_is_the_weighted_mean() {
        let log_pi = [[0.2f64.ln(), 0.5f64.ln(), 0.3f64.ln()]; 2];
        let mu = [[0.5, 1.0, 2.0], [0.0, 1.0, -1.0]];
        let got = mixture_mean(t3([log_pi]), t3([mu]))
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let want = [0.1 + 0.5 + 0.6, 0.5 - 0.3];
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn softplus_is_stable_at_both_ends() {
        let x = Tensor::<B, 1>::from_floats([-200.0, -20.0, 0.0, 3.0, 200.0], &Default::default());
        let got = softplus(x).into_data().to_vec::<f32>().unwrap();
        let want = [
            0.0,
            (-20f64).exp(),
            2f64.ln(),
            3.0 + (-3f64).exp().ln_1p(),
            200.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!(
                (*g as f64 - w).abs() <= 1e-6 * w.abs().max(1e-3),
                "{g} vs {w}"
            );
        }
    }

    /// Heads fed extreme hidden states: π still sums to 1, σ never drops below the floor nor
    /// overflows, and the loss's gradients stay finite.
    #[test]
    fn head_outputs_are_valid_and_gradients_finite() {
        type A = Autodiff<B>;
        let device = Default::default();
        let floor = 1e-3;
        let head = MixtureHead::<A>::new(4, 3, floor, &device).unwrap();
        let h = Tensor::<A, 3>::random([2, 5, 4], Distribution::Normal(0.0, 1.0), &device)
            .mul_scalar(5_000.0);
        let m = head.forward(h);
        assert_eq!(m.log_pi.dims(), [2, 5, 3]);
        let pi_sum = m
            .log_pi
            .clone()
            .exp()
            .sum_dim(2)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert!(pi_sum.iter().all(|s| (s - 1.0).abs() < 1e-6), "{pi_sum:?}");
        let sigma = m.sigma.clone().into_data().to_vec::<f32>().unwrap();
        assert!(
            sigma.iter().all(|s| s.is_finite() && *s >= floor as f32),
            "{sigma:?}"
        );
        assert!(
            sigma.contains(&(floor as f32)),
            "some raw scale should be deep negative"
        );
        let y = Tensor::<A, 2>::ones([2, 5], &device);
        let loss = mixture_nll(m.log_pi, m.mu, m.sigma, y);
        assert!(loss.clone().into_scalar().is_finite());
        let grads = loss.backward();
        let g = head
            .linear
            .weight
            .grad(&grads)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(g.iter().any(|v| *v != 0.0));
    }

    #[test]
    fn bad_floor_is_an_error() {
        let device = Default::default();
        for floor in [0.0, -1.0, f64::NAN] {
            assert!(matches!(
                MixtureHead::<B>::new(4, 3, floor, &device),
                Err(ModelError::OutOfRange {
                    name: "sigma_floor",
                    ..
                })
            ));
        }
        assert_eq!(
            MixtureHead::<B>::new(4, 0, 1e-3, &device).unwrap_err(),
            ModelError::ZeroSize {
                name: "n_components"
            }
        );
    }
}
