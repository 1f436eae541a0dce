//! Gauss–Legendre quadrature and Chebyshev interpolation on an interval.

use std::f64::consts::PI;

/// Nodes and weights of the m-point Gauss–Legendre rule on `[a, b]`, exact for polynomials
/// of degree `2m − 1`. Nodes by Newton's method on `P_m` from Tricomi's initial guesses.
pub fn gauss_legendre(m: usize, a: f64, b: f64) -> (Vec<f64>, Vec<f64>) {
    assert!(
        m >= 1 && b > a,
        "need m ≥ 1 and a < b, got m = {m}, [{a}, {b}]"
    );
    let mut nodes = vec![0.0; m];
    let mut weights = vec![0.0; m];
    let (half, mid) = (0.5 * (b - a), 0.5 * (a + b));
    for i in 0..m.div_ceil(2) {
        let mut x = (PI * (i as f64 + 0.75) / (m as f64 + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            // P_m(x) and P_m'(x) by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=m {
                let k = k as f64;
                (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
            }
            let p = if m == 1 { x } else { p1 };
            let p_prev = if m == 1 { 1.0 } else { p0 };
            derivative = m as f64 * (x * p - p_prev) / (x * x - 1.0);
            let step = p / derivative;
            x -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
        nodes[i] = mid - half * x;
        nodes[m - 1 - i] = mid + half * x;
        weights[i] = half * w;
        weights[m - 1 - i] = half * w;
    }
    (nodes, weights)
}

/// A function on `[a, b]` interpolated at `n` Chebyshev points of the second kind (the
/// extrema), stored as Chebyshev coefficients; differentiable term by term.
#[derive(Clone, Debug)]
pub struct Chebyshev {
    a: f64,
    b: f64,
    coefficients: Vec<f64>,
}

impl Chebyshev {
    /// Interpolates `f` at `n ≥ 2` points.
    pub fn fit(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> Self {
        assert!(n >= 2 && b > a);
        let degree = n - 1;
        let values: Vec<f64> = (0..n)
            .map(|j| f(0.5 * (a + b) + 0.5 * (b - a) * (PI * j as f64 / degree as f64).cos()))
            .collect();
        // c_k = (2/N)·Σ'' f_j cos(πjk/N), halving the first and last terms (and c_0, c_N).
        let coefficients = (0..n)
            .map(|k| {
                let sum: f64 = (0..n)
                    .map(|j| {
                        let weight = if j == 0 || j == degree { 0.5 } else { 1.0 };
                        weight * values[j] * (PI * (j * k) as f64 / degree as f64).cos()
                    })
                    .sum();
                let scale = if k == 0 || k == degree { 1.0 } else { 2.0 };
                scale * sum / degree as f64
            })
            .collect();
        Self { a, b, coefficients }
    }

    /// Value at `x ∈ [a, b]` by Clenshaw's recurrence.
    pub fn eval(&self, x: f64) -> f64 {
        let u = (2.0 * x - self.a - self.b) / (self.b - self.a);
        let (mut b1, mut b2) = (0.0, 0.0);
        for &c in self.coefficients.iter().skip(1).rev() {
            (b1, b2) = (2.0 * u * b1 - b2 + c, b1);
        }
        u * b1 - b2 + self.coefficients[0]
    }

    /// The derivative, as a Chebyshev series of one degree less.
    pub fn derivative(&self) -> Self {
        let n = self.coefficients.len();
        let mut d = vec![0.0; n.max(2) - 1];
        // c'_{k−1} = c'_{k+1} + 2k·c_k, scaled by 2/(b − a) for the interval.
        for k in (1..n).rev() {
            let next = if k + 1 < d.len() { d[k + 1] } else { 0.0 };
            d[k - 1] = next + 2.0 * k as f64 * self.coefficients[k];
        }
        d[0] *= 0.5;
        let scale = 2.0 / (self.b - self.a);
        d.iter_mut().for_each(|c| *c *= scale);
        Self {
            a: self.a,
            b: self.b,
            coefficients: d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let (x, w) = gauss_legendre(7, -1.0, 3.0);
        // ∫_{−1}^{3} t^13 dt = (3^14 − 1)/14
        let got: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(13)).sum();
        let want = (3f64.powi(14) - 1.0) / 14.0;
        assert!((got - want).abs() < 1e-13 * want);
        assert!((w.iter().sum::<f64>() - 4.0).abs() < 1e-14);
    }

    #[test]
    fn chebyshev_interpolates_and_differentiates_exp() {
        let cheb = Chebyshev::fit(f64::exp, 0.0, 2.0, 24);
        let d2 = cheb.derivative().derivative();
        for x in [0.0, 0.3, 1.7, 2.0] {
            assert!((cheb.eval(x) - x.exp()).abs() < 1e-14 * x.exp());
            // Differentiating twice amplifies rounding by ~n⁴ at the ends of the interval.
            assert!((d2.eval(x) - x.exp()).abs() < 2e-10 * x.exp());
        }
    }
}
