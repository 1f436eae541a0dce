//! Double-double arithmetic: a value is the unevaluated sum `hi + lo` of two f64 with
//! `|lo| ≤ ulp(hi)/2`, about 106 bits of precision.
//!
//! Used where f64 loses digits by cancellation: the phases `θ(t)` and `t·ln n` of the
//! Riemann–Siegel sum are of size `t·ln t` (≈ 2·10⁷ at `t = 10⁶`) but are needed modulo 2π
//! to ~1e-15 absolute. Products of an f64 by a double-double use the fused multiply-add to
//! get the exact rounding error of `a·b` ("two-product").

/// `2π` as a double-double (hi = nearest f64, lo = the rest).
pub const TWO_PI: DoubleDouble = DoubleDouble {
    hi: std::f64::consts::TAU,
    lo: 2.449_293_598_294_706_4e-16,
};

/// `ln 2` as a double-double.
pub const LN_2: DoubleDouble = DoubleDouble {
    hi: std::f64::consts::LN_2,
    lo: 2.319_046_813_846_299_6e-17,
};

/// `ln 2π` as a double-double.
pub const LN_TWO_PI: DoubleDouble = DoubleDouble {
    hi: 1.837_877_066_409_345_6,
    lo: -7.756_588_316_134_483e-17,
};

/// A double-double number `hi + lo`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DoubleDouble {
    pub hi: f64,
    pub lo: f64,
}

/// Exact sum: `a + b = s + e` with `s = fl(a + b)` (Knuth's two-sum, no ordering needed).
#[inline(always)]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// Exact product: `a·b = p + e` with `p = fl(a·b)`, via the fused multiply-add.
#[inline(always)]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

impl DoubleDouble {
    pub const fn new(hi: f64, lo: f64) -> Self {
        Self { hi, lo }
    }

    pub const fn from_f64(x: f64) -> Self {
        Self { hi: x, lo: 0.0 }
    }

    fn renormalized(hi: f64, lo: f64) -> Self {
        let (hi, lo) = two_sum(hi, lo);
        Self { hi, lo }
    }

    pub fn mul_f64(self, x: f64) -> Self {
        let (p, e) = two_prod(self.hi, x);
        Self::renormalized(p, e + self.lo * x)
    }

    pub fn to_f64(self) -> f64 {
        self.hi + self.lo
    }

    /// `self mod 2π` in `[−π, π]`, keeping the double-double precision of the input, so
    /// a phase of size 10⁸ reduces with ~1e-23 absolute error.
    pub fn rem_two_pi(self) -> Self {
        let k = (self.hi / TWO_PI.hi).round();
        self - TWO_PI.mul_f64(k)
    }

    /// `e^x` for `|x| ≲ 700`, relative error ~1e-30: `x = k·ln2 + r`, then
    /// `e^r = (e^{r/1024})^1024` with a Taylor series for the small argument.
    pub fn exp(self) -> Self {
        let k = (self.hi / LN_2.hi).round();
        let r = self - LN_2.mul_f64(k);
        let small = Self::new(r.hi / 1024.0, r.lo / 1024.0);
        // Taylor series of e^s − 1 for |s| ≤ 3.4e-4: 9 terms reach 1e-32.
        let mut term = small;
        let mut sum = small;
        for n in 2..=9 {
            term = term * small / Self::from_f64(n as f64);
            sum = sum + term;
        }
        let mut e = sum + Self::from_f64(1.0);
        for _ in 0..10 {
            e = e * e;
        }
        let scale = 2f64.powi(k as i32);
        Self::new(e.hi * scale, e.lo * scale)
    }

    /// `ln x` for `x > 0`, relative error ~1e-30: the f64 logarithm corrected by one
    /// Newton step `y ← y + x·e^{−y} − 1` in double-double.
    pub fn ln(self) -> Self {
        let y = Self::from_f64(self.hi.ln());
        let correction = self * (-y).exp() - Self::from_f64(1.0);
        y + correction
    }
}

impl std::ops::Add for DoubleDouble {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        let (s, e) = two_sum(self.hi, other.hi);
        Self::renormalized(s, e + self.lo + other.lo)
    }
}

impl std::ops::Neg for DoubleDouble {
    type Output = Self;
    fn neg(self) -> Self {
        Self::new(-self.hi, -self.lo)
    }
}

impl std::ops::Sub for DoubleDouble {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        self + -other
    }
}

impl std::ops::Mul for DoubleDouble {
    type Output = Self;
    fn mul(self, other: Self) -> Self {
        let (p, e) = two_prod(self.hi, other.hi);
        Self::renormalized(p, e + self.hi * other.lo + self.lo * other.hi)
    }
}

impl std::ops::Div for DoubleDouble {
    type Output = Self;
    fn div(self, other: Self) -> Self {
        // One Newton correction of the f64 quotient: q + (a − q·b)/b.
        let q = self.hi / other.hi;
        let r = self - other.mul_f64(q);
        Self::renormalized(q, r.hi / other.hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_consistent() {
        // 2π = e^{ln 2π}, to double-double precision.
        let two_pi = LN_TWO_PI.exp();
        let error = (two_pi - TWO_PI).to_f64().abs();
        // exp squares ten times, doubling the ~1e-32 relative error each time.
        assert!(error < 1e-28, "e^(ln 2π) − 2π = {error:e}");
        // ln 2 of the double-double 2 equals LN_2.
        let ln2 = DoubleDouble::from_f64(2.0).ln();
        assert!((ln2 - LN_2).to_f64().abs() < 1e-30);
    }

    #[test]
    fn ln_matches_integer_identities() {
        // ln(ab) = ln a + ln b for exactly representable integers, far beyond f64 precision.
        for (a, b) in [(3.0, 7.0), (1009.0, 997.0), (65_537.0, 12_345.0)] {
            let lhs = DoubleDouble::from_f64(a * b).ln();
            let rhs = DoubleDouble::from_f64(a).ln() + DoubleDouble::from_f64(b).ln();
            assert!((lhs - rhs).to_f64().abs() < 1e-29, "{a} {b}");
        }
    }

    #[test]
    fn rem_two_pi_keeps_digits() {
        // 10⁶·2π + 1 reduces to 1 with double-double accuracy.
        let x = TWO_PI.mul_f64(1.0e6) + DoubleDouble::from_f64(1.0);
        assert!((x.rem_two_pi().to_f64() - 1.0).abs() < 1e-20);
    }
}
