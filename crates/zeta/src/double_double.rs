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

/// `π` as a double-double.
pub const PI: DoubleDouble = DoubleDouble {
    hi: std::f64::consts::PI,
    lo: 1.224_646_799_147_353_2e-16,
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

/// A double-double number `hi + lo`. Ordered lexicographically by `(hi, lo)`, which is the
/// order of the values for normalized numbers (`hi = fl(hi + lo)`), as every operation here
/// returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
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

    /// `(a + b)/2`, exact up to the final renormalization.
    pub fn midpoint(a: Self, b: Self) -> Self {
        let sum = a + b;
        Self::new(0.5 * sum.hi, 0.5 * sum.lo)
    }

    /// `self = integer + fraction` with `integer = ⌊self⌋` (an integer-valued f64, exact below
    /// 2⁵³) and `fraction ∈ [0, 1)` rounded to f64 (absolute error ≤ 1.1e-16).
    pub fn split_integer(self) -> (f64, f64) {
        let mut integer = self.hi.floor();
        let mut fraction = (self - Self::from_f64(integer)).to_f64();
        if fraction < 0.0 {
            integer -= 1.0;
            fraction += 1.0;
        } else if fraction >= 1.0 {
            integer += 1.0;
            fraction -= 1.0;
        }
        (integer, fraction)
    }

    /// Parses a decimal `[-]digits[.digits]` into a double-double with absolute error
    /// ≤ 1.1e-16 (the integer part is exact below 2⁵³, the fraction is rounded once); a number
    /// with an exponent (`2.5e11`) is read as the nearest f64. `None` if it is not a number.
    pub fn parse_decimal(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.contains(['e', 'E']) || !text.contains('.') {
            return text.parse::<f64>().ok().map(Self::from_f64);
        }
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = body.split_once('.')?;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits(integer) || !digits(fraction) || integer.len() + fraction.len() == 0 {
            return None;
        }
        let integer: f64 = if integer.is_empty() {
            0.0
        } else {
            integer.parse().ok()?
        };
        let fraction: f64 = format!("0.{fraction}0").parse().ok()?;
        let value = Self::from_f64(integer) + Self::from_f64(fraction);
        Some(if negative { -value } else { value })
    }

    /// The value in decimal with `decimals` digits after the point, correctly rounded from
    /// `⌊self⌋ + fraction` (so exact for an f64 input; ≤ 1.1e-16 off the double-double).
    pub fn to_decimal(self, decimals: usize) -> String {
        if self.hi < 0.0 {
            return format!("-{}", (-self).to_decimal(decimals));
        }
        let (integer, fraction) = self.split_integer();
        let fraction = format!("{fraction:.decimals$}");
        // Rounding may carry into the integer part ("1.000…").
        let (carry, digits) = fraction.split_once('.').unwrap_or((&fraction, ""));
        let integer = integer as u64 + carry.parse::<u64>().expect("0 or 1");
        if decimals == 0 {
            integer.to_string()
        } else {
            format!("{integer}.{digits}")
        }
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

impl From<f64> for DoubleDouble {
    fn from(x: f64) -> Self {
        Self::from_f64(x)
    }
}

impl std::ops::Add<f64> for DoubleDouble {
    type Output = Self;
    fn add(self, other: f64) -> Self {
        let (s, e) = two_sum(self.hi, other);
        Self::renormalized(s, e + self.lo)
    }
}

impl std::ops::Sub<f64> for DoubleDouble {
    type Output = Self;
    fn sub(self, other: f64) -> Self {
        self + -other
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
    fn decimals_parse_and_print_beyond_f64() {
        // 267653395648.625948242142649409 (γ near index 10¹²): f64 keeps it to 3e-5 only.
        let x = DoubleDouble::parse_decimal("267653395648.625948242142649409").unwrap();
        let (integer, fraction) = x.split_integer();
        assert_eq!(integer, 267_653_395_648.0);
        assert!((fraction - 0.625_948_242_142_649_4).abs() < 2e-16);
        assert_eq!(x.to_decimal(12), "267653395648.625948242143");
        assert_eq!((-x).to_decimal(3), "-267653395648.626");
        // f64 inputs print exactly as Rust prints them; a carry reaches the integer part.
        assert_eq!(
            DoubleDouble::from_f64(14.134_725_141_734_693).to_decimal(15),
            "14.134725141734693"
        );
        assert_eq!(DoubleDouble::from_f64(0.999_999_9).to_decimal(3), "1.000");
        assert_eq!(
            DoubleDouble::parse_decimal("1e12"),
            Some(DoubleDouble::from_f64(1e12))
        );
        assert_eq!(
            DoubleDouble::parse_decimal("-.5"),
            Some(DoubleDouble::from_f64(-0.5))
        );
        for bad in ["", ".", "1.2.3", "12a.5", "x", "1.-5"] {
            assert_eq!(DoubleDouble::parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn order_is_the_order_of_values() {
        let a = DoubleDouble::from_f64(1e12) + 1e-9;
        let b = DoubleDouble::from_f64(1e12) + 2e-9;
        assert!(a < b && a > DoubleDouble::from_f64(1e12));
        assert_eq!(b.partial_cmp(&a), Some(std::cmp::Ordering::Greater));
        let middle = DoubleDouble::midpoint(a, b) - DoubleDouble::from_f64(1e12);
        assert!((middle.to_f64() - 1.5e-9).abs() < 1e-24);
    }

    #[test]
    fn rem_two_pi_keeps_digits() {
        // 10⁶·2π + 1 reduces to 1 with double-double accuracy.
        let x = TWO_PI.mul_f64(1.0e6) + DoubleDouble::from_f64(1.0);
        assert!((x.rem_two_pi().to_f64() - 1.0).abs() < 1e-20);
    }
}
