//! The inner loop of every ζ evaluation here: sums of `n^{-1/2}·e^{iφ_n}` with
//! `φ_n = θ − t·ln n`, for n = 1..=N.
//!
//! Two traps are handled in one place:
//! - **phase accuracy**: `t·ln n` reaches 10¹⁴ at the heights computed (t to 7.6·10¹²); with
//!   the height `t = t_hi + t_lo` and `ln n = ln_hi + ln_lo` in double-double, it is formed as
//!   `t_hi·ln_hi` exactly (two-product by FMA) plus `t_hi·ln_lo + t_lo·ln_hi` (each below 0.02,
//!   rounded to ~1e-18), and reduced modulo 2π exactly (`k·2π_hi` by FMA, `k·2π_lo`), so each
//!   phase keeps ~3e-16 absolute accuracy at any height; the `t_lo` term is skipped, by a
//!   separate instance of the kernel, when the height is an f64 (`t_lo = 0`);
//! - **speed**: the loop is written over fixed lanes with a branch-free sin/cos, so the
//!   compiler vectorizes it (AVX-512 or AVX2+FMA when the CPU has them, chosen at run time;
//!   AVX-512 made the zeros at index 10⁹ about 1.9× faster than AVX2 on the 2-core AMD EPYC
//!   of CI, 2026-12-03: docs/zeta.md).
//!
//! The table stores, for each n, `ln n` as `(hi, lo)`, `a_n = n^{-1/2}` and `a_n·ln n`.

// Coefficients keep the digits they were tabulated or derived with.
#![allow(clippy::excessive_precision)]

use crate::double_double::{DoubleDouble, TWO_PI};
use std::sync::OnceLock;

const LANES: usize = 8;

/// Terms of the table every evaluation uses: enough for Riemann–Siegel up to
/// `t = 2π·N² ≈ 2.7·10¹⁰`, and for the logarithms of [`crate::theta::ln_double_double`].
pub const SMALL_TABLE_TERMS: usize = 1 << 16;

/// Largest n any table holds: enough for Riemann–Siegel up to `t = 2π·N² ≈ 7.6·10¹²`, above
/// the zero of index 3·10¹³ (γ ≈ 7.05·10¹²). Built on first use above `SMALL_TABLE_TERMS`.
pub const MAX_TERMS: usize = 1_100_000;

/// Per-term constants of the sum; index `i` holds `n = i + 1`.
pub struct PhaseTable {
    pub(crate) ln_hi: Vec<f64>,
    pub(crate) ln_lo: Vec<f64>,
    pub(crate) amplitude: Vec<f64>,
    pub(crate) amplitude_ln: Vec<f64>,
}

impl PhaseTable {
    fn new(terms: usize, ln: impl Fn(f64) -> DoubleDouble) -> Self {
        let mut table = Self {
            ln_hi: vec![0.0; terms],
            ln_lo: vec![0.0; terms],
            amplitude: vec![0.0; terms],
            amplitude_ln: vec![0.0; terms],
        };
        for i in 0..terms {
            let n = (i + 1) as f64;
            let ln = ln(n);
            table.ln_hi[i] = ln.hi;
            table.ln_lo[i] = ln.lo;
            table.amplitude[i] = 1.0 / n.sqrt();
            table.amplitude_ln[i] = ln.hi / n.sqrt();
        }
        table
    }

    /// The process-wide table of `SMALL_TABLE_TERMS` terms (built once, ~10 ms, 2 MiB), with
    /// the Newton-corrected double-double logarithm ([`DoubleDouble::ln`]).
    pub fn global() -> &'static PhaseTable {
        static TABLE: OnceLock<PhaseTable> = OnceLock::new();
        TABLE.get_or_init(|| PhaseTable::new(SMALL_TABLE_TERMS, |n| DoubleDouble::from_f64(n).ln()))
    }

    /// The process-wide table of `MAX_TERMS` terms (built on first use, ~40 ms, 35 MiB), its
    /// logarithms from the small table ([`crate::theta::ln_double_double`], error ≲ 1e-30).
    pub fn large() -> &'static PhaseTable {
        static TABLE: OnceLock<PhaseTable> = OnceLock::new();
        TABLE.get_or_init(|| PhaseTable::new(MAX_TERMS, crate::theta::ln_double_double))
    }

    /// The smallest process-wide table that holds `terms` terms.
    pub fn holding(terms: usize) -> &'static PhaseTable {
        if terms <= SMALL_TABLE_TERMS {
            Self::global()
        } else {
            Self::large()
        }
    }

    /// `ln n` in double-double, for `1 ≤ n ≤` the table's length.
    pub fn ln(&self, n: usize) -> DoubleDouble {
        DoubleDouble::new(self.ln_hi[n - 1], self.ln_lo[n - 1])
    }
}

/// The three sums over n = 1..=terms of `a_n = n^{-1/2}` with `φ_n = θ − t·ln n`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PhaseSums {
    /// `Σ a_n cos φ_n`
    pub cos: f64,
    /// `Σ a_n sin φ_n`
    pub sin: f64,
    /// `Σ a_n ln n · sin φ_n`
    pub sin_ln: f64,
}

/// Computes [`PhaseSums`] for `φ_n = theta − t·ln n` at the height `t` (double-double),
/// `theta` already reduced modulo 2π. `terms ≤ MAX_TERMS`.
pub fn phase_sums(t: DoubleDouble, theta: f64, terms: usize) -> PhaseSums {
    assert!(
        terms <= MAX_TERMS,
        "{terms} terms exceed the table ({MAX_TERMS})"
    );
    let table = PhaseTable::holding(terms);
    if t.lo == 0.0 {
        dispatch::<false>(t, theta, table, terms)
    } else {
        dispatch::<true>(t, theta, table, terms)
    }
}

/// The kernel for the CPU's features; `WITH_LO`: whether `t_lo·ln n` is added.
fn dispatch<const WITH_LO: bool>(
    t: DoubleDouble,
    theta: f64,
    table: &PhaseTable,
    terms: usize,
) -> PhaseSums {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { phase_sums_avx512::<WITH_LO>(t, theta, table, terms) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { phase_sums_avx2::<WITH_LO>(t, theta, table, terms) };
        }
    }
    phase_sums_kernel::<WITH_LO>(t, theta, table, terms)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn phase_sums_avx2<const WITH_LO: bool>(
    t: DoubleDouble,
    theta: f64,
    table: &PhaseTable,
    terms: usize,
) -> PhaseSums {
    phase_sums_kernel::<WITH_LO>(t, theta, table, terms)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn phase_sums_avx512<const WITH_LO: bool>(
    t: DoubleDouble,
    theta: f64,
    table: &PhaseTable,
    terms: usize,
) -> PhaseSums {
    phase_sums_kernel::<WITH_LO>(t, theta, table, terms)
}

/// Rounds to the nearest integer (ties to even) for |x| < 2⁵¹ without a branch.
#[inline(always)]
fn round_fast(x: f64) -> f64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    (x + MAGIC) - MAGIC
}

/// `(sin x, cos x)` for `|x| ≤ 3.9`, absolute error ≲ 2e-16: quadrant reduction by π/2, then
/// Taylor polynomials on `[−π/4, π/4]` (the first omitted terms are below 5e-17).
#[inline(always)]
pub(crate) fn sin_cos_small(x: f64) -> (f64, f64) {
    const FRAC_2_PI: f64 = std::f64::consts::FRAC_2_PI;
    const PI_2_HI: f64 = std::f64::consts::FRAC_PI_2;
    const PI_2_LO: f64 = 6.123_233_995_736_766e-17;
    let q = round_fast(x * FRAC_2_PI);
    let y = q.mul_add(-PI_2_LO, q.mul_add(-PI_2_HI, x));
    let y2 = y * y;
    // sin y = y·(1 − y²/3! + y⁴/5! − …), through y¹⁵/15!.
    let s = y2.mul_add(-7.647_163_731_819_816e-13, 1.605_904_383_682_161_3e-10);
    let s = y2.mul_add(s, -2.505_210_838_544_172e-8);
    let s = y2.mul_add(s, 2.755_731_922_398_589e-6);
    let s = y2.mul_add(s, -1.984_126_984_126_984e-4);
    let s = y2.mul_add(s, 8.333_333_333_333_333e-3);
    let s = y2.mul_add(s, -0.166_666_666_666_666_66);
    let sin = y.mul_add(y2 * s, y);
    // cos y = 1 − y²/2! + …, through y¹⁶/16!.
    let c = y2.mul_add(4.779_477_332_387_385e-14, -1.147_074_559_772_972_5e-11);
    let c = y2.mul_add(c, 2.087_675_698_786_81e-9);
    let c = y2.mul_add(c, -2.755_731_922_398_589_4e-7);
    let c = y2.mul_add(c, 2.480_158_730_158_730_2e-5);
    let c = y2.mul_add(c, -1.388_888_888_888_889e-3);
    let c = y2.mul_add(c, 4.166_666_666_666_666_4e-2);
    let c = y2.mul_add(c, -0.5);
    let cos = y2.mul_add(c, 1.0);
    // Rotate back by q quarter turns, q ∈ {−2, …, 2}.
    let odd = q == 1.0 || q == -1.0;
    let (s1, c1) = if odd { (cos, sin) } else { (sin, cos) };
    let cos_negative = !(-1.5..=0.5).contains(&q);
    let sin_negative = !(-0.5..=1.5).contains(&q);
    (
        if sin_negative { -s1 } else { s1 },
        if cos_negative { -c1 } else { c1 },
    )
}

/// `(sin φ, cos φ)` of one term's phase `φ = θ − t·ln n`, with `t = t_hi + t_lo` and
/// `ln n = hi + lo` (`t_lo` taken as 0 unless `WITH_LO`).
#[inline(always)]
fn term_sin_cos<const WITH_LO: bool>(t: DoubleDouble, theta: f64, hi: f64, lo: f64) -> (f64, f64) {
    const INV_TWO_PI: f64 = 1.0 / (2.0 * std::f64::consts::PI);
    // t_hi·hi = p + e exactly (two-product); p − k·2π_hi is rounded once, to a value below
    // 3.2, so the reduced phase keeps the absolute accuracy of its small parts.
    let p = t.hi * hi;
    let e = t.hi.mul_add(hi, -p);
    let k = round_fast(p * INV_TWO_PI);
    let r = k.mul_add(-TWO_PI.hi, p);
    let small = t.hi.mul_add(lo, e);
    let small = if WITH_LO {
        t.lo.mul_add(hi, small)
    } else {
        small
    };
    let r = k.mul_add(-TWO_PI.lo, r) + small;
    let phi = theta - r;
    let phi = round_fast(phi * INV_TWO_PI).mul_add(-TWO_PI.hi, phi);
    sin_cos_small(phi)
}

#[inline(always)]
fn phase_sums_kernel<const WITH_LO: bool>(
    t: DoubleDouble,
    theta: f64,
    table: &PhaseTable,
    terms: usize,
) -> PhaseSums {
    let full = terms / LANES * LANES;
    let mut cos_acc = [0.0; LANES];
    let mut sin_acc = [0.0; LANES];
    let mut sin_ln_acc = [0.0; LANES];
    let ln_hi = table.ln_hi[..full].chunks_exact(LANES);
    let ln_lo = table.ln_lo[..full].chunks_exact(LANES);
    let amp = table.amplitude[..full].chunks_exact(LANES);
    let amp_ln = table.amplitude_ln[..full].chunks_exact(LANES);
    for (((hi, lo), a), al) in ln_hi.zip(ln_lo).zip(amp).zip(amp_ln) {
        for l in 0..LANES {
            let (s, c) = term_sin_cos::<WITH_LO>(t, theta, hi[l], lo[l]);
            cos_acc[l] = a[l].mul_add(c, cos_acc[l]);
            sin_acc[l] = a[l].mul_add(s, sin_acc[l]);
            sin_ln_acc[l] = al[l].mul_add(s, sin_ln_acc[l]);
        }
    }
    let mut sums = PhaseSums {
        cos: cos_acc.iter().sum(),
        sin: sin_acc.iter().sum(),
        sin_ln: sin_ln_acc.iter().sum(),
    };
    for i in full..terms {
        let (s, c) = term_sin_cos::<WITH_LO>(t, theta, table.ln_hi[i], table.ln_lo[i]);
        sums.cos = table.amplitude[i].mul_add(c, sums.cos);
        sums.sin = table.amplitude[i].mul_add(s, sums.sin);
        sums.sin_ln = table.amplitude_ln[i].mul_add(s, sums.sin_ln);
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_cos_matches_std_over_its_range() {
        let mut worst: f64 = 0.0;
        for i in -3900..=3900 {
            let x = i as f64 * 1e-3 + 1.234_567e-7;
            let (s, c) = sin_cos_small(x);
            worst = worst.max((s - x.sin()).abs()).max((c - x.cos()).abs());
        }
        assert!(worst < 3e-16, "worst error {worst:e}");
    }

    #[test]
    fn plain_f64_phases_would_lose_digits_at_large_heights() {
        // The trap the double-double phases avoid: near the 3,000,000-th zero, t·ln n in
        // plain f64 is off by ~1e-9 per term, so the sum is off by far more than 1e-12.
        let (t, terms, theta) = (1_642_800.3, 511, 0.123);
        let ours = phase_sums(t.into(), theta, terms);
        let table = PhaseTable::global();
        let (mut naive, mut exact) = (0.0, 0.0);
        for n in 1..=terms {
            let a = 1.0 / (n as f64).sqrt();
            naive += a * (theta - t * (n as f64).ln()).cos();
            let phase = (DoubleDouble::from_f64(theta) - table.ln(n).mul_f64(t))
                .rem_two_pi()
                .to_f64();
            exact += a * phase.cos();
        }
        assert!(
            (naive - exact).abs() > 1e-11,
            "naive error {:e}",
            (naive - exact).abs()
        );
        assert!((ours.cos - exact).abs() < 1e-13);
    }

    #[test]
    fn phases_match_mpmath_at_heights_f64_cannot_hold() {
        // sin and cos of t·ln n for t to 7·10¹² (in double-double) and n to 10⁶ (the large
        // table): 40-digit values from tests/data/make_height_reference.py. t·ln n reaches
        // 9.7·10¹³; what is left is the f64 rounding of the reduced phase (~3e-16).
        let table = PhaseTable::large();
        let data = include_str!("../tests/data/height_phase_reference.txt");
        for row in crate::test_util::precise_table(data) {
            let (t, n) = (row[0], row[1].to_f64() as usize);
            let (sin, cos) = term_sin_cos::<true>(t, 0.0, table.ln_hi[n - 1], table.ln_lo[n - 1]);
            // φ = 0 − t·ln n: sin φ = −sin(t·ln n).
            let (want_sin, want_cos) = (-row[2].to_f64(), row[3].to_f64());
            let error = (sin - want_sin).abs().max((cos - want_cos).abs());
            assert!(
                error < 1e-15,
                "t = {}, n = {n}: error {error:e}",
                t.to_decimal(9)
            );
        }
    }

    #[test]
    fn every_kernel_gives_the_portable_kernels_bits() {
        // AVX-512 or AVX2 (whichever this CPU has) against the plain loop: the same
        // operations, correctly rounded FMAs included, so the same bits.
        let table = PhaseTable::large();
        for (t, terms) in [
            (DoubleDouble::from_f64(1_642_800.3), 511),
            (DoubleDouble::new(2.7e11, 1.1e-6), 207_000),
        ] {
            let fast = dispatch::<true>(t, 0.5, table, terms);
            let plain = phase_sums_kernel::<true>(t, 0.5, table, terms);
            assert_eq!(fast, plain, "t = {}", t.to_decimal(3));
        }
    }

    #[test]
    fn the_large_table_extends_the_small_one() {
        let (small, large) = (PhaseTable::global(), PhaseTable::large());
        for n in [1, 2, 1000, SMALL_TABLE_TERMS] {
            assert!((small.ln(n) - large.ln(n)).to_f64().abs() < 1e-29, "ln {n}");
        }
        assert_eq!(large.amplitude.len(), MAX_TERMS);
    }

    #[test]
    fn sums_match_a_direct_double_double_evaluation() {
        // Reference: each phase from double-double t·ln n, then std sin/cos.
        let table = PhaseTable::global();
        for (t, terms) in [(1_642_800.3, 511), (1000.0, 13), (77.7, 1)] {
            let theta = 0.123;
            let got = phase_sums(t.into(), theta, terms);
            let mut want = PhaseSums::default();
            for n in 1..=terms {
                let phase = (DoubleDouble::from_f64(theta) - table.ln(n).mul_f64(t))
                    .rem_two_pi()
                    .to_f64();
                let a = 1.0 / (n as f64).sqrt();
                want.cos += a * phase.cos();
                want.sin += a * phase.sin();
                want.sin_ln += a * (n as f64).ln() * phase.sin();
            }
            assert!((got.cos - want.cos).abs() < 1e-13, "t = {t}");
            assert!((got.sin - want.sin).abs() < 1e-13, "t = {t}");
            assert!((got.sin_ln - want.sin_ln).abs() < 1e-12, "t = {t}");
        }
    }
}
