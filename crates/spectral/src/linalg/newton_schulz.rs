//! The orthogonal polar factor `msign(X) = U Vᵀ` of `X = U Σ Vᵀ` by odd matrix polynomials,
//! matmuls only.
//!
//! Every method here applies, per step, an odd quintic `p(x) = a x + b x³ + c x⁵` to the
//! singular values without touching the singular vectors:
//!
//! ```text
//! A = X Xᵀ,   B = b A + c A²,   X ← a X + B X        (= U p(Σ) Vᵀ)
//! ```
//!
//! on the wide orientation (rows ≤ cols, transposing a tall input first and back at the end),
//! so that `A` is the smaller Gram matrix. The input is first scaled so its singular values lie
//! in `(0, 1]` (by the Frobenius norm, an upper bound on the spectral norm). The result is
//! `U p_T(… p_1(Σ / ‖X‖_F) …) Vᵀ`: exactly the singular vectors of `X`, with singular values
//! given by the scalar composition, which the tests check against faer's SVD.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Keller Jordan's quintic `(a, b, c)`, the same at every step ([muon.py]).
///
/// [muon.py]: https://github.com/KellerJordan/Muon/blob/master/muon.py
pub const JORDAN_QUINTIC: (f64, f64, f64) = (3.4445, -4.7750, 2.0315);

/// Polar Express degree-5 coefficients for `ℓ = 1e-3, u = 1` (Amsel, Persson, Musco, Gower,
/// *The Polar Express*, 2025, [arXiv:2505.16932], Algorithm 1; reference code at
/// <https://github.com/NoahAmsel/PolarExpress>), before the safety factor. Step `t` uses row
/// `t`; steps past the table repeat the last row, which is the fixed point of the schedule
/// (the degree-5 Padé / Newton–Schulz polynomial `(15x − 10x³ + 3x⁵)/8`).
///
/// [arXiv:2505.16932]: https://arxiv.org/abs/2505.16932
pub const POLAR_EXPRESS_COEFFICIENTS: [(f64, f64, f64); 8] = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
];

/// The paper's safety factor: every polynomial but the last row is applied as
/// `x ↦ p(x / 1.01)`, i.e. `(a / 1.01, b / 1.01³, c / 1.01⁵)`, and the input is divided by
/// `1.01 ‖X‖_F + 1e-7`, so round-off that pushes a singular value slightly above the current
/// upper bound cannot grow over the steps (paper §4.4).
pub const POLAR_EXPRESS_SAFETY: f64 = 1.01;

/// Added to the Frobenius norm before dividing, as in muon.py and Algorithm 1: a zero matrix
/// maps to zero instead of NaN.
pub const NORM_EPS: f64 = 1e-7;

/// Which polynomial iteration computes `msign`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MsignMethod {
    /// Keller Jordan's quintic [`JORDAN_QUINTIC`] repeated `steps` times after `X / (‖X‖_F + 1e-7)`.
    ///
    /// Why the singular values come out in roughly `[0.68, 1.13]` and not at 1: the coefficients
    /// maximise the slope at zero (`p'(0) = a = 3.4445`), so small singular values grow by
    /// ~3.4× per step and reach order one within 5 steps even from `σ/‖X‖_F ~ 1e-2`. The price
    /// is that `p` has no attracting fixed point at 1: `p(1) = 0.701`, its fixed point
    /// `x* = 0.868` (from `c x⁴ + b x² + (a − 1) = 0`) is repelling (`p'(x*) ≈ −1.6`), and the
    /// iterates bounce around it. Scalar composition in f64 (what the tests check matrices
    /// against): for every start `x₀ = σ/‖X‖_F ∈ [1e-2, 1]`, `p⁵(x₀) ∈ [0.6818, 1.1344]`;
    /// starts in `[1.5e-3, 1e-2)` can land up to `max p = p(0.5545) = 1.2024`; starts below
    /// `1.5e-3` (a condition number above ~1e3 relative to `‖X‖_F`) end below 0.68 after 5
    /// steps (`p⁵(1e-3) = 0.47`). Muon only needs `U S' Vᵀ` with `S'` near 1, and this buys
    /// it in 5 steps.
    NewtonSchulz5 { steps: usize },
    /// Polar Express: per-step optimal coefficients [`POLAR_EXPRESS_COEFFICIENTS`] with the
    /// safety factor [`POLAR_EXPRESS_SAFETY`], after `X / (1.01 ‖X‖_F + 1e-7)`. Converges to
    /// 1 for singular values above `ℓ = 1e-3` after normalization. Scalar composition: after
    /// 5 steps `[0.840, 1.124]`, 6 steps `[0.9935, 1.0012]`, 7 steps `[0.99999, 1]`.
    PolarExpress { steps: usize },
}

impl Default for MsignMethod {
    /// Muon's default: the quintic, 5 steps.
    fn default() -> Self {
        Self::NewtonSchulz5 { steps: 5 }
    }
}

impl MsignMethod {
    /// The `(a, b, c)` of every step, in order.
    pub fn coefficients(self) -> Vec<(f64, f64, f64)> {
        match self {
            Self::NewtonSchulz5 { steps } => vec![JORDAN_QUINTIC; steps],
            Self::PolarExpress { steps } => {
                let last = POLAR_EXPRESS_COEFFICIENTS.len() - 1;
                let s = POLAR_EXPRESS_SAFETY;
                (0..steps)
                    .map(|t| {
                        let (a, b, c) = POLAR_EXPRESS_COEFFICIENTS[t.min(last)];
                        if t < last {
                            (a / s, b / s.powi(3), c / s.powi(5))
                        } else {
                            (a, b, c)
                        }
                    })
                    .collect()
            }
        }
    }

    /// The factor `f` of the normalization `X / (f ‖X‖_F + 1e-7)`.
    pub fn norm_factor(self) -> f64 {
        match self {
            Self::NewtonSchulz5 { .. } => 1.0,
            Self::PolarExpress { .. } => POLAR_EXPRESS_SAFETY,
        }
    }

    /// What the method does to one singular value `σ` of `X` with `‖X‖_F = frobenius`: the
    /// scalar composition, in f64. `msign(X)` has singular values
    /// `apply_scalar(σ_i, ‖X‖_F)` with the singular vectors of `X`.
    pub fn apply_scalar(self, sigma: f64, frobenius: f64) -> f64 {
        let x0 = sigma / (self.norm_factor() * frobenius + NORM_EPS);
        self.coefficients()
            .into_iter()
            .fold(x0, |x, (a, b, c)| a * x + b * x.powi(3) + c * x.powi(5))
    }
}

/// `msign(X) = U Vᵀ` (approximately, see [`MsignMethod`]) of `X: [m, n]`, `[m, n]` out, any
/// orientation: `msign(Xᵀ) = msign(X)ᵀ`.
pub fn msign<B: Backend>(x: Tensor<B, 2>, method: MsignMethod) -> Tensor<B, 2> {
    let [m, n] = x.dims();
    msign_batched(x.reshape([1, m, n]), method).reshape([m, n])
}

/// `msign` of each matrix of `X: [batch, m, n]`, `[batch, m, n]` out: the matrices are
/// normalised by their own Frobenius norms and iterated together (one batched matmul per
/// product per step), so the result equals [`msign`] of each slice. On burn's CUDA backend the
/// products run on cuBLAS instead when [`set_msign_gemm`](super::set_msign_gemm) asks for it (`cublas_msign`).
pub fn msign_batched<B: Backend>(x: Tensor<B, 3>, method: MsignMethod) -> Tensor<B, 3> {
    #[cfg(feature = "cuda")]
    let x = match super::cublas_msign::dispatch(x, method) {
        Ok(done) => return done,
        Err(x) => x,
    };
    let [_, m, n] = x.dims();
    // Canonicalise to wide (rows ≤ cols): A = X Xᵀ is then the smaller Gram matrix.
    let tall = m > n;
    let x = if tall { x.swap_dims(1, 2) } else { x };
    let mut x = normalize(x, method);
    for (a, b, c) in method.coefficients() {
        let gram = x.clone().matmul(x.clone().swap_dims(1, 2)); // [batch, r, r], r = min(m, n)
        let poly = gram.clone().mul_scalar(b) + gram.clone().matmul(gram).mul_scalar(c);
        x = x.clone().mul_scalar(a) + poly.matmul(x);
    }
    if tall { x.swap_dims(1, 2) } else { x }
}

/// Each matrix of `x: [batch, m, n]` divided by `f ‖X‖_F + 1e-7` (`f` the method's
/// [`norm_factor`](MsignMethod::norm_factor)): the start of every iteration here, its singular
/// values in `(0, 1]`.
pub(crate) fn normalize<B: Backend>(x: Tensor<B, 3>, method: MsignMethod) -> Tensor<B, 3> {
    let norm = x.clone().square().sum_dim(2).sum_dim(1).sqrt(); // [batch, 1, 1]
    x.div(norm.mul_scalar(method.norm_factor()).add_scalar(NORM_EPS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::exact::{svd, to_faer};
    use crate::linalg::test_util::*;
    use faer::Mat;
    use proptest::prelude::*;

    /// Shapes: square, tall, wide, and 768 × 3072 / 12 (a GPT MLP matrix, scaled down).
    const SHAPES: [(usize, usize); 5] = [(48, 48), (96, 40), (40, 96), (64, 256), (256, 64)];

    /// Spectrum of a spike (5 values 50..10) over a tail from 1 down to `floor`.
    fn spiked_sigma(r: usize, floor: f64) -> Vec<f64> {
        (0..r)
            .map(|i| match i {
                0..5 => 50.0 - 10.0 * i as f64,
                _ => 1.0 * (floor / 1.0).powf((i - 5) as f64 / (r - 6) as f64),
            })
            .collect()
    }

    struct Report {
        /// Smallest `σ/‖X‖_F` of the input.
        x0_min: f64,
        /// Range of the output singular values.
        lo: f64,
        hi: f64,
        /// Largest gap between the output singular values and the scalar map of the input's.
        scalar_err: f64,
        /// `max |msign(X) − U p(Σ) Vᵀ|`, entrywise, relative to `max |U p(Σ) Vᵀ|`.
        vector_err: f64,
    }

    /// Checks `msign(X) = U p(Σ) Vᵀ` against faer's SVD of `X`.
    fn check(x: T2, method: MsignMethod) -> Report {
        let [m, n] = x.dims();
        let exact = svd(&to_faer(x.clone())).unwrap();
        let fro = frobenius(&x);
        let out = msign(x, method);
        assert_eq!(out.dims(), [m, n]);
        let mapped: Vec<f64> = exact
            .s
            .iter()
            .map(|&s| method.apply_scalar(s, fro))
            .collect();
        let p_sigma = Mat::from_fn(mapped.len(), mapped.len(), |i, j| {
            if i == j { mapped[i] } else { 0.0 }
        });
        let predicted = &exact.u * p_sigma * exact.v.transpose();
        let out_sv = sv(out.clone());
        let mut sorted = mapped.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let scalar_err = out_sv
            .iter()
            .zip(&sorted)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        Report {
            x0_min: exact.s.last().unwrap() / fro,
            lo: *out_sv.last().unwrap(),
            hi: out_sv[0],
            scalar_err,
            vector_err: max_abs_diff(&to_faer(out), &predicted) / max_abs(&predicted),
        }
    }

    #[test]
    fn quintic_maps_singular_values_by_the_scalar_polynomial_into_the_band() {
        let method = MsignMethod::default();
        let (mut lo, mut hi, mut worst_scalar, mut worst_vector) = (1.0_f64, 0.0_f64, 0.0, 0.0);
        let mut cases: Vec<T2> = SHAPES
            .iter()
            .enumerate()
            .map(|(i, &(m, n))| gaussian(m, n, 100 + i as u64))
            .collect();
        // Spiked: 5 large values over a tail, condition number 50 / 0.15 ≈ 330 (σ_min/‖X‖_F ≈ 1.8e-3).
        for (i, &(m, n)) in SHAPES.iter().enumerate() {
            cases.push(with_spectrum(m, n, &spiked_sigma(m.min(n), 0.15), 200 + i as u64).0);
        }
        for x in cases {
            let dims = x.dims();
            let r = check(x, method);
            // The f32 iteration reproduces the f64 scalar map to ~1e-5: every step's products
            // round at 2⁻²⁴ times ‖X‖ ~ 1, five steps, slopes |p'| ≤ 3.4.
            assert!(
                r.scalar_err < 1e-5,
                "{dims:?}: scalar map off by {}",
                r.scalar_err
            );
            assert!(
                r.vector_err < 2e-5,
                "{dims:?}: singular vectors off by {}",
                r.vector_err
            );
            // The band: [0.6818, 1.1344] for starts ≥ 1e-2, up to 1.2024 for starts ≥ 1.5e-3.
            let band_hi = if r.x0_min >= 1e-2 { 1.135 } else { 1.203 };
            assert!(
                r.x0_min >= 1.5e-3,
                "{dims:?}: start {} below the band's reach",
                r.x0_min
            );
            assert!(
                r.lo >= 0.68 && r.hi <= band_hi,
                "{dims:?}: [{}, {}]",
                r.lo,
                r.hi
            );
            lo = lo.min(r.lo);
            hi = hi.max(r.hi);
            worst_scalar = f64::max(worst_scalar, r.scalar_err);
            worst_vector = f64::max(worst_vector, r.vector_err);
        }
        eprintln!(
            "NS5: σ(msign) ∈ [{lo:.4}, {hi:.4}], scalar {worst_scalar:.2e}, vectors {worst_vector:.2e}"
        );
    }

    #[test]
    fn quintic_leaves_the_band_below_the_reach_of_five_steps() {
        // Condition number 1e3 with a spike: σ_min/‖X‖_F ≈ 4e-4, and p⁵(4e-4) ≈ 0.2: five quintic
        // steps do not lift the tail to 0.68. The scalar map still predicts the result exactly.
        let (x, _, _) = with_spectrum(64, 256, &spiked_sigma(64, 0.05), 300);
        let r = check(x, MsignMethod::default());
        assert!(r.x0_min < 1e-3, "start {}", r.x0_min);
        assert!(r.scalar_err < 1e-5 && r.vector_err < 2e-5);
        assert!(r.lo < 0.5, "smallest {}", r.lo);
        eprintln!(
            "NS5 at cond 1e3: smallest σ(msign) = {:.4} from start {:.2e}",
            r.lo, r.x0_min
        );
    }

    #[test]
    fn polar_express_converges_to_one_above_the_papers_lower_bound() {
        let mut worst = [0.0_f64; 3];
        let mut cases: Vec<T2> = SHAPES
            .iter()
            .enumerate()
            .map(|(i, &(m, n))| gaussian(m, n, 100 + i as u64))
            .collect();
        for (i, &(m, n)) in SHAPES.iter().enumerate() {
            cases.push(with_spectrum(m, n, &spiked_sigma(m.min(n), 0.15), 200 + i as u64).0);
        }
        for x in cases {
            let dims = x.dims();
            for (slot, steps) in [5, 6, 8].into_iter().enumerate() {
                let r = check(x.clone(), MsignMethod::PolarExpress { steps });
                // The paper's ℓ = 1e-3 applies to σ/(1.01 ‖X‖_F); all inputs here sit above it.
                assert!(
                    r.x0_min / POLAR_EXPRESS_SAFETY >= 1e-3,
                    "{dims:?}: {}",
                    r.x0_min
                );
                assert!(
                    r.scalar_err < 1e-5 && r.vector_err < 2e-5,
                    "{dims:?} {steps}"
                );
                let dev = (1.0 - r.lo).max(r.hi - 1.0);
                // Scalar composition: 5 steps [0.840, 1.124], 6 steps [0.9935, 1.0012],
                // 8 steps 1 to 1e-6 (here f32 round-off, a few 1e-7, dominates).
                let bound = [0.17, 1e-2, 2e-6][slot];
                assert!(dev < bound, "{dims:?}, {steps} steps: [{}, {}]", r.lo, r.hi);
                worst[slot] = worst[slot].max(dev);
            }
        }
        eprintln!(
            "Polar Express max |σ − 1|: 5 steps {:.2e}, 6 steps {:.2e}, 8 steps {:.2e}",
            worst[0], worst[1], worst[2]
        );
    }

    #[test]
    fn msign_commutes_with_transpose_and_batches() {
        for (i, &(m, n)) in SHAPES.iter().enumerate() {
            let x = gaussian(m, n, 400 + i as u64);
            for method in [
                MsignMethod::default(),
                MsignMethod::PolarExpress { steps: 6 },
            ] {
                let a = to_faer(msign(x.clone().transpose(), method));
                let b = to_faer(msign(x.clone(), method)).transpose().to_owned();
                // Both orientations run the same wide iteration (square ones on X Xᵀ vs XᵀX);
                // they differ only in the memory layout the matmuls read, i.e. in f32
                // summation order.
                let diff = max_abs_diff(&a, &b);
                assert!(diff < 2e-6, "{m}x{n}: {diff:e}");
            }
        }
        // Batched: same-shape matrices of very different scales, each normalized by its own norm.
        let xs: Vec<T2> = (0..3)
            .map(|i| gaussian(40, 96, 500 + i).mul_scalar(10f64.powi(i as i32 * 2 - 2)))
            .collect();
        let stacked = Tensor::stack::<3>(xs.clone(), 0);
        for method in [
            MsignMethod::default(),
            MsignMethod::PolarExpress { steps: 8 },
        ] {
            let batched = msign_batched(stacked.clone(), method);
            for (i, x) in xs.iter().enumerate() {
                let one = to_faer(msign(x.clone(), method));
                let slice = to_faer(batched.clone().narrow(0, i, 1).reshape([40, 96]));
                assert!(max_abs_diff(&one, &slice) < 1e-6, "batch {i}");
            }
        }
    }

    #[test]
    fn zero_matrix_maps_to_zero_and_method_round_trips_through_serde() {
        let out = msign(gaussian(8, 12, 1).mul_scalar(0.0), MsignMethod::default());
        assert_eq!(max_abs(&to_faer(out)), 0.0);
        let m = MsignMethod::PolarExpress { steps: 7 };
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"kind":"polar_express","steps":7}"#);
        assert_eq!(serde_json::from_str::<MsignMethod>(&json).unwrap(), m);
        assert_eq!(
            MsignMethod::default(),
            MsignMethod::NewtonSchulz5 { steps: 5 }
        );
        // The last Polar Express row is used unscaled and repeats.
        let c = MsignMethod::PolarExpress { steps: 10 }.coefficients();
        assert_eq!(c[7], (1.875, -1.25, 0.375));
        assert_eq!(c[9], c[7]);
        assert!((c[0].0 - 8.28721201814563 / 1.01).abs() < 1e-15);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// For any shape, the quintic output has the input's singular vectors and the band's
        /// singular values whenever the input's σ_min/‖X‖_F ≥ 1e-2 (here: aspect ratio ≥ 2).
        #[test]
        fn quintic_output_is_in_the_band(m in 4usize..40, extra in 0usize..40, wide: bool, seed: u64) {
            let n = 2 * m + extra;
            let (rows, cols) = if wide { (m, n) } else { (n, m) };
            let r = check(gaussian(rows, cols, seed), MsignMethod::default());
            prop_assume!(r.x0_min >= 1e-2);
            prop_assert!(r.lo >= 0.68 && r.hi <= 1.135, "[{}, {}]", r.lo, r.hi);
            prop_assert!(r.scalar_err < 1e-5 && r.vector_err < 2e-5);
        }
    }
}
