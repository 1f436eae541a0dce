//! Hardy's `Z(t) = e^{iθ(t)}·ζ(1/2 + it)` by the Riemann–Siegel formula
//!
//! ```text
//! Z(t) = 2·Σ_{n=1}^{N} n^{-1/2}·cos(θ(t) − t·ln n)
//!        + (−1)^{N−1}·(2π/t)^{1/4}·Σ_{k=0}^{4} C_k(z)·(2π/t)^{k/2} + O(t^{−11/4}),
//! N = ⌊√(t/2π)⌋,  p = √(t/2π) − N,  z = 2p − 1,
//! ```
//!
//! with the correction functions `C_k` as Taylor series in `z` (Haselgrove's coefficients,
//! as tabulated by Gabcke). `C_0(p) = cos(2π(p² − p − 1/16))/cos(2πp)` in closed form is
//! tested against the series. The truncation error is ~1e-13 at `t = 5000` and falls as
//! `t^{−11/4}`; below [`crate::hardy_z::RIEMANN_SIEGEL_MIN_HEIGHT`] Euler–Maclaurin is used
//! instead (the series in `(2π/t)^{1/2}` is asymptotic and cannot reach 1e-10 at small t).

// Coefficients keep the digits they were tabulated or derived with.
#![allow(clippy::excessive_precision)]

use crate::double_double::DoubleDouble;
use crate::phase_sum::{PhaseSums, phase_sums};
use crate::theta::{theta_derivative, theta_mod_two_pi};
use std::f64::consts::PI;

/// Taylor coefficients of `C_0 … C_4` in `z`: even functions list the coefficients of
/// `z⁰, z², z⁴, …`, odd ones (C_1, C_3) those of `z¹, z³, z⁵, …`.
const C0: [f64; 22] = [
    0.382_683_432_365_089_77,
    0.437_240_468_077_520_45,
    0.132_376_575_480_343_52,
    -0.013_605_026_047_674_189,
    -0.013_567_621_970_103_581,
    -0.001_623_725_323_144_465_3,
    0.000_297_053_537_333_796_9,
    0.000_079_433_008_795_214_7,
    0.000_000_465_561_246_145_05,
    -0.000_001_432_725_163_095_51,
    -0.000_000_103_548_471_123_13,
    0.000_000_012_357_927_083_86,
    0.000_000_001_788_108_385_8,
    -0.000_000_000_033_914_143_9,
    -0.000_000_000_016_326_633_9,
    -0.000_000_000_000_378_510_93,
    0.000_000_000_000_093_274_23,
    0.000_000_000_000_005_221_84,
    -0.000_000_000_000_000_335_07,
    -0.000_000_000_000_000_034_12,
    0.000_000_000_000_000_000_58,
    0.000_000_000_000_000_000_15,
];
const C1: [f64; 23] = [
    -0.026_825_102_628_375_347,
    0.013_784_773_426_351_853,
    0.038_491_250_482_235_082,
    0.009_871_066_299_062_076,
    -0.003_310_759_760_858_404_3,
    -0.001_464_780_857_795_415,
    -0.000_013_207_940_624_876_96,
    0.000_059_227_487_018_471_41,
    0.000_005_980_242_585_373_45,
    -0.000_000_964_132_245_616_98,
    -0.000_000_183_347_337_227_14,
    0.000_000_004_467_087_562_72,
    0.000_000_002_709_635_082_18,
    0.000_000_000_077_852_886_54,
    -0.000_000_000_023_437_626_01,
    -0.000_000_000_001_583_017_28,
    0.000_000_000_000_121_199_42,
    0.000_000_000_000_014_583_78,
    -0.000_000_000_000_000_287_86,
    -0.000_000_000_000_000_086_63,
    -0.000_000_000_000_000_000_84,
    0.000_000_000_000_000_000_36,
    0.000_000_000_000_000_000_01,
];
const C2: [f64; 24] = [
    0.005_188_542_830_293_168_5,
    0.000_309_465_838_806_347_46,
    -0.011_335_941_078_229_373,
    0.002_233_045_741_958_144_8,
    0.005_196_637_408_862_330_2,
    0.000_343_991_440_762_083_37,
    -0.000_591_064_842_747_058_28,
    -0.000_102_299_725_479_358_57,
    0.000_020_888_392_216_992_76,
    0.000_005_927_665_493_096_54,
    -0.000_000_164_238_383_624_36,
    -0.000_000_151_611_997_009_41,
    -0.000_000_005_907_803_698_21,
    0.000_000_002_091_151_485_95,
    0.000_000_000_178_156_495_83,
    -0.000_000_000_016_164_072_46,
    -0.000_000_000_002_380_696_25,
    0.000_000_000_000_053_982_65,
    0.000_000_000_000_019_750_14,
    0.000_000_000_000_000_233_33,
    -0.000_000_000_000_000_111_88,
    -0.000_000_000_000_000_004_16,
    0.000_000_000_000_000_000_44,
    0.000_000_000_000_000_000_03,
];
const C3: [f64; 24] = [
    -0.001_339_716_090_719_456_9,
    0.003_744_215_136_379_393_7,
    -0.001_330_317_891_932_146_8,
    -0.002_265_466_076_547_178_7,
    0.000_954_849_999_850_673_04,
    0.000_601_003_845_896_360_39,
    -0.000_101_288_582_867_766_22,
    -0.000_068_657_334_492_998_26,
    0.000_000_598_536_679_153_86,
    0.000_003_331_659_851_239_95,
    0.000_000_219_192_891_024_35,
    -0.000_000_078_908_842_456_81,
    -0.000_000_009_414_685_081_3,
    0.000_000_000_957_011_621_09,
    0.000_000_000_187_631_374_53,
    -0.000_000_000_004_437_837_68,
    -0.000_000_000_002_242_673_85,
    -0.000_000_000_000_036_276_87,
    0.000_000_000_000_017_639_81,
    0.000_000_000_000_000_796_08,
    -0.000_000_000_000_000_094_2,
    -0.000_000_000_000_000_007_13,
    0.000_000_000_000_000_000_33,
    0.000_000_000_000_000_000_04,
];
const C4: [f64; 25] = [
    0.000_464_833_893_617_633_82,
    -0.001_005_660_736_534_047_08,
    0.000_240_448_565_737_257_93,
    0.001_028_308_614_970_232_19,
    -0.000_765_786_107_175_564_42,
    -0.000_203_652_868_030_848_18,
    0.000_232_122_904_910_687_28,
    0.000_032_602_144_243_865_2,
    -0.000_025_579_062_517_949_53,
    -0.000_004_107_464_438_915_74,
    0.000_001_178_111_364_037_13,
    0.000_000_244_565_614_224_85,
    -0.000_000_023_915_824_767_34,
    -0.000_000_007_505_214_207_04,
    0.000_000_000_133_122_794_16,
    0.000_000_000_134_406_267_54,
    0.000_000_000_003_513_770_04,
    -0.000_000_000_001_519_154_45,
    -0.000_000_000_000_089_154_18,
    0.000_000_000_000_011_195_89,
    0.000_000_000_000_001_051_6,
    -0.000_000_000_000_000_051_79,
    -0.000_000_000_000_000_008_07,
    0.000_000_000_000_000_000_11,
    0.000_000_000_000_000_000_04,
];

/// Value and z-derivative of `Σ_j c_j·z^{2j + parity}`.
fn series_and_derivative(coefficients: &[f64], parity: i32, z: f64) -> (f64, f64) {
    let z2 = z * z;
    // Even part P(z²) and its derivative with respect to z², by Horner.
    let (mut p, mut dp) = (0.0, 0.0);
    for &c in coefficients.iter().rev() {
        dp = dp * z2 + p;
        p = p * z2 + c;
    }
    if parity == 0 {
        (p, 2.0 * z * dp)
    } else {
        (z * p, p + 2.0 * z2 * dp)
    }
}

/// `Z(t)` and `Z'(t)` by Riemann–Siegel with corrections `C_0 … C_4`, at the height `t`
/// (the imaginary part of `s = 1/2 + it`) given in double-double.
///
/// `Z'` is exact for the main sum and includes the derivative of the correction terms.
/// Valid (error ≤ 1e-11 at 2000, falling as `t^{−11/4}`) for `t ≥ RIEMANN_SIEGEL_MIN_HEIGHT`.
///
/// Precision by part: the phases `θ(t)` and `t·ln n` are exact to ~3e-16 absolute at every
/// height ([`theta_mod_two_pi`], [`phase_sums`]), so the main sum's rounding, ~1e-16·√N in
/// practice and at most 1e-16·2√N (≈ 2e-13 at `t = 7·10¹²`, N ≈ 10⁶), bounds the error at
/// height. The rest uses `t_hi` only: `√(t/2π)`, `z` and the correction series are smooth,
/// and enter multiplied by `(2π/t)^{1/4}`. Of the corrections, `C_k·(2π/t)^{(2k+1)/4}` is
/// ~1e-11 for k = 1 and below 1e-16 for k ≥ 2 from `t = 10¹⁰` on; keeping all five costs
/// nothing next to the main sum.
pub fn z_and_derivative(t: DoubleDouble) -> (f64, f64) {
    let input = MainSum::at(t);
    input.finish(phase_sums(t, input.theta, input.terms))
}

/// What the main sum at a height needs: `θ(t)` modulo 2π and `N = ⌊√(t/2π)⌋`. The sums
/// themselves ([`PhaseSums`]) come from [`phase_sums`] on the CPU, or from a GPU for many
/// heights at once; [`MainSum::finish`] turns them into `(Z, Z')`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MainSum {
    pub t: DoubleDouble,
    /// `θ(t)` reduced to `[−π, π]`.
    pub theta: f64,
    pub terms: usize,
}

impl MainSum {
    pub fn at(t: DoubleDouble) -> Self {
        Self {
            t,
            theta: theta_mod_two_pi(t),
            terms: (t.hi / (2.0 * PI)).sqrt().floor() as usize,
        }
    }

    /// `(Z, Z')` from the main sum's [`PhaseSums`] and the correction terms.
    pub fn finish(&self, sums: PhaseSums) -> (f64, f64) {
        let t = self.t.hi;
        let a = (t / (2.0 * PI)).sqrt();
        let n = self.terms as f64;
        let terms = self.terms;
        let main = 2.0 * sums.cos;
        let main_derivative = -2.0 * (theta_derivative(t) * sums.sin - sums.sin_ln);

        // Remainder: (−1)^{N−1}·u^{1/2}·Σ_k C_k(z)·u^k with u = (2π/t)^{1/2} = 1/a.
        let u = 1.0 / a;
        let z = 2.0 * (a - n) - 1.0;
        let dz_dt = 1.0 / (2.0 * PI * a); // d(2a)/dt with a = √(t/2π)
        let du_dt = -u / (2.0 * t);
        let mut sum = 0.0;
        let mut d_sum = 0.0;
        let mut u_k = 1.0;
        for (k, (coefficients, parity)) in [
            (&C0[..], 0),
            (&C1[..], 1),
            (&C2[..], 0),
            (&C3[..], 1),
            (&C4[..], 0),
        ]
        .into_iter()
        .enumerate()
        {
            let (c, dc) = series_and_derivative(coefficients, parity, z);
            sum += c * u_k;
            // d/dt [C_k(z)·u^k] = C_k'(z)·z'·u^k + k·C_k·u^{k−1}·u'
            d_sum += dc * dz_dt * u_k
                + if k > 0 {
                    k as f64 * c * u_k / u * du_dt
                } else {
                    0.0
                };
            u_k *= u;
        }
        let sign = if terms % 2 == 1 { 1.0 } else { -1.0 };
        let sqrt_u = u.sqrt();
        let remainder = sign * sqrt_u * sum;
        // d/dt √u = u'/(2√u)
        let remainder_derivative = sign * (sqrt_u * d_sum + du_dt / (2.0 * sqrt_u) * sum);
        (main + remainder, main_derivative + remainder_derivative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c0_series_matches_its_closed_form() {
        for i in 0..=100 {
            let p = 0.001 + 0.998 * i as f64 / 100.0;
            let closed = (2.0 * PI * (p * p - p - 1.0 / 16.0)).cos() / (2.0 * PI * p).cos();
            let (series, _) = series_and_derivative(&C0, 0, 2.0 * p - 1.0);
            // cos(2πp) → 0 at p = 1/4, 3/4 makes the closed form lose digits there.
            let tolerance = 1e-15 / (2.0 * PI * p).cos().abs().max(1e-3);
            assert!((closed - series).abs() < tolerance.max(1e-15), "p = {p}");
        }
    }

    #[test]
    fn series_derivative_matches_finite_difference() {
        for (coefficients, parity) in [(&C1[..], 1), (&C4[..], 0)] {
            for z in [-0.9, -0.2, 0.0, 0.5, 0.99] {
                let h = 1e-6;
                let (_, d) = series_and_derivative(coefficients, parity, z);
                let fd = (series_and_derivative(coefficients, parity, z + h).0
                    - series_and_derivative(coefficients, parity, z - h).0)
                    / (2.0 * h);
                assert!((d - fd).abs() < 1e-8);
            }
        }
    }
}
