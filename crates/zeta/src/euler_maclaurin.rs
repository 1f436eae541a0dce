//! `ζ(1/2 + it)` by Euler–Maclaurin summation, for low heights where Riemann–Siegel's
//! asymptotic series cannot reach double precision (at `t ≈ 14` its terms stop shrinking
//! near 1e-3 whatever their number).
//!
//! ```text
//! ζ(s) = Σ_{n<N} n^{−s} + N^{1−s}/(s−1) + N^{−s}/2
//!        + Σ_{k=1}^{M} B_{2k}/(2k)! · s(s+1)…(s+2k−2) · N^{−s−2k+1} + R_M,
//! |R_M| ≤ |T_{M+1}|·|s+2M+1|/(σ+2M+1),
//! ```
//!
//! with `N ≈ t/2` so that successive terms shrink by about `(|s|/2πN)² ≈ 1/10` and
//! `B_{2k}/(2k)! = (−1)^{k+1}·2ζ(2k)/(2π)^{2k}`. Cost: `O(t)` per evaluation, so this is
//! only used below [`crate::hardy_z::RIEMANN_SIEGEL_MIN_HEIGHT`].

use crate::phase_sum::{PhaseTable, SMALL_TABLE_TERMS, phase_sums};
use crate::theta::theta_mod_two_pi;
use std::f64::consts::PI;
use std::sync::OnceLock;

/// Most correction terms ever used; terms fall below 1e-17 long before.
const MAX_CORRECTIONS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }
    fn mul(self, o: Self) -> Self {
        Self::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    fn div(self, o: Self) -> Self {
        let d = o.re * o.re + o.im * o.im;
        Self::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }
    fn scale(self, x: f64) -> Self {
        Self::new(self.re * x, self.im * x)
    }
    fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
}

/// `B_{2k}/(2k)!` for k = 1..=MAX_CORRECTIONS, from `2ζ(2k)/(2π)^{2k}`.
fn bernoulli_over_factorial() -> &'static [f64; MAX_CORRECTIONS] {
    static TABLE: OnceLock<[f64; MAX_CORRECTIONS]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0.0; MAX_CORRECTIONS];
        for (i, entry) in table.iter_mut().enumerate() {
            let k = i + 1;
            let zeta_2k = if k == 1 {
                PI * PI / 6.0
            } else {
                // Direct sum with an Euler–Maclaurin tail; the tail error is below 1e-30.
                let m = 1000.0_f64;
                let head: f64 = (1..1000)
                    .rev()
                    .map(|n| (n as f64).powi(-2 * k as i32))
                    .sum();
                let s = 2.0 * k as f64;
                head + m.powf(1.0 - s) / (s - 1.0) + 0.5 * m.powf(-s)
            };
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            *entry = sign * 2.0 * zeta_2k / (2.0 * PI).powi(2 * k as i32);
        }
        table
    })
}

/// `n^{−s}` for `s = 1/2 + it`, with the phase `t·ln n` reduced in double-double.
fn power_minus_s(table: &PhaseTable, n: usize, t: f64) -> Complex {
    let phase = table.ln(n).mul_f64(t).rem_two_pi().to_f64();
    Complex::new(phase.cos(), -phase.sin()).scale(1.0 / (n as f64).sqrt())
}

/// `ζ(1/2 + it)` for `0 < t ≤ 2·SMALL_TABLE_TERMS − 40`, absolute error ~1e-15·√t.
fn zeta_half_line(t: f64) -> Complex {
    let table = PhaseTable::global();
    let n = (0.5 * t).ceil() as usize + 20;
    assert!(
        n <= SMALL_TABLE_TERMS,
        "Euler–Maclaurin at t = {t} needs more than {SMALL_TABLE_TERMS} terms"
    );
    let s = Complex::new(0.5, t);
    // Σ_{m<N} m^{−s}: φ_m = −t·ln m, m^{−s} = m^{−1/2}(cos φ_m + i sin φ_m).
    let head = phase_sums(t.into(), 0.0, n - 1);
    let mut zeta = Complex::new(head.cos, head.sin);
    let n_minus_s = power_minus_s(table, n, t);
    let n_f = n as f64;
    // N^{1−s}/(s−1) + N^{−s}/2
    zeta = zeta.add(n_minus_s.scale(n_f).div(Complex::new(-0.5, t)));
    zeta = zeta.add(n_minus_s.scale(0.5));
    // T_k = B_{2k}/(2k)!·s(s+1)…(s+2k−2)·N^{−s−2k+1}
    let mut rising = s; // s(s+1)…(s+2k−2)
    let mut power = n_minus_s.scale(1.0 / n_f); // N^{−s−2k+1}
    for (k, &b) in bernoulli_over_factorial().iter().enumerate() {
        let term = rising.mul(power).scale(b);
        zeta = zeta.add(term);
        if term.abs() < 1e-18 {
            return zeta;
        }
        let j = 2.0 * (k + 1) as f64; // next factors s+2k−1, s+2k
        rising = rising
            .mul(Complex::new(0.5 + j - 1.0, t))
            .mul(Complex::new(0.5 + j, t));
        power = power.scale(1.0 / (n_f * n_f));
    }
    panic!("Euler–Maclaurin did not converge at t = {t}")
}

/// `Z(t) = Re(e^{iθ(t)}·ζ(1/2 + it))` by Euler–Maclaurin, for `9 ≤ t ≤ 10⁵`.
pub fn z(t: f64) -> f64 {
    let zeta = zeta_half_line(t);
    let theta = theta_mod_two_pi(t.into());
    theta.cos() * zeta.re - theta.sin() * zeta.im
}

/// `Z(t)` and `Z'(t)`; the derivative by a central difference with step 1e-5 (relative
/// error ~1e-9, ample for Newton's method, which only uses it to choose its next step).
pub fn z_and_derivative(t: f64) -> (f64, f64) {
    const H: f64 = 1e-5;
    (z(t), (z(t + H) - z(t - H)) / (2.0 * H))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bernoulli_ratios_match_exact_values() {
        let table = bernoulli_over_factorial();
        // B2/2! = 1/12, B4/4! = −1/720, B6/6! = 1/30240, B8/8! = −1/1209600
        for (k, want) in [
            (1, 1.0 / 12.0),
            (2, -1.0 / 720.0),
            (3, 1.0 / 30240.0),
            (4, -1.0 / 1_209_600.0),
        ] {
            assert!((table[k - 1] - want).abs() < 4e-16 * want.abs(), "k = {k}");
        }
    }

    #[test]
    fn zeta_at_first_zero_vanishes() {
        // γ₁ from Arb (tests/data/zeta_zeros_reference.txt).
        let value = zeta_half_line(14.134_725_141_734_693);
        assert!(value.abs() < 1e-14, "|ζ(1/2 + iγ₁)| = {:e}", value.abs());
    }
}
