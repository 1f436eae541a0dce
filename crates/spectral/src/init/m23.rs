//! M23-Spectrum initialization: weights whose singular values are the moduli of an algebraic
//! spectrum attached to the Mathieu group M₂₃.
//!
//! **The spectrum.** The four roots `g` of Elkies' quartic `g⁴ + g³ + 9g² − 10g + 8 = 0` (two
//! conjugate pairs) and, for each `g`, the roots of
//!
//! ```text
//! P2(z) = z² − g z + g²            multiplicity 2
//! P3(z) = z³ + g z − 1             multiplicity 1
//! P4(z) = z⁴ + g z³ − g² z² + z − g  multiplicity 4
//! ```
//!
//! give `4 · (2·2 + 3·1 + 4·4) = 92` eigenvalues. The quartic has real coefficients, so the
//! set is closed under conjugation; none of the 92 is real, so they form 46 conjugate pairs.
//! Their moduli run from 0.300751 to 5.290190: `max|λ| / min|λ| = 17.58996109362433`
//! (mpmath at 50 digits; the notes' "17.6"). Roots are the eigenvalues of the companion matrix
//! (faer, complex Hessenberg QR), polished by Newton's method in f64.
//!
//! **The matrix.** A pair `a ± bi` becomes the real block `[[a, −b], [b, a]]`, whose two
//! singular values both equal `|λ| = √(a² + b²)`. For a `[d_in, d_out]` weight (burn's layout;
//! PyTorch's `[fan_out, fan_in]` transposed) with `r = min(d_in, d_out)`:
//!
//! ```text
//! W = Q₁ · B · Q₂ᵀ,   Q₁: [d_in, r], Q₂: [d_out, r] Haar with orthonormal columns,
//!                     B: [r, r] block-diagonal, ⌊r/2⌋ 2×2 blocks (+ one 1×1 block |λ| if r is odd)
//! ```
//!
//! so `W`'s `r` singular values are exactly the (scaled) moduli of the tiled spectrum. The
//! tiling ([`tile_pairs`]) walks the 46 pairs in order of modulus, cyclically when there are
//! at least 46 blocks, and at evenly spaced positions (first and last included) when there
//! are fewer, so every layer with `r ≥ 4` has `cond(W) = 17.58996…` exactly.
//!
//! **Scales** ([`M23Scale`]): `Seed`, the notes' `λ · √(2/fan_in) / max|λ|` (spectral radius
//! `√(2/fan_in)`, every singular value below He's typical one: signals shrink layer by
//! layer), and `Preserving`, the same shape scaled so that `‖W‖_F² = 2·d_out`, He's expected
//! value (`d_in·d_out` entries of variance `2/fan_in`), i.e. variance-preserving like He.
//! `spectral bench init` compares them (see `docs/init.md`).
//!
//! **Which scale.** On a 24-layer, 64-wide char-GPT (`spectral bench init`, README table,
//! 3 seeds) `Seed` trains fastest and reaches the lowest loss (2.507 vs He's 2.681 after 300
//! AdamW steps), most likely because its small branches start the residual stack near the
//! identity; `Preserving` is no better than He. `Seed` has the noisier gradient norm.
//!
//! **Cost.** Two thin QRs and two products, `O(d_in·d_out·r)` flops. Square layers
//! (`spectral bench init --qr-cost`): 1k 0.22 s, 4k 9.9 s on the 2-core CI box; 1k 0.28 s,
//! 4k 6.0 s, 16k 176 s on a 16-core host.

use std::sync::OnceLock;

use faer::{Mat, c64};

use super::orthogonal::haar_orthonormal;
use super::split_seed;

/// A complex number in f64 (`num_complex::Complex<f64>`, as faer uses it).
pub type Complex64 = c64;

/// Elkies' quartic for M₂₃, coefficients from the leading one down: `g⁴ + g³ + 9g² − 10g + 8`.
pub const ELKIES_QUARTIC: [f64; 5] = [1.0, 1.0, 9.0, -10.0, 8.0];

/// Number of eigenvalues in the M23 spectrum: 4 roots g × (2·2 + 3·1 + 4·4).
pub const M23_LEN: usize = 92;

/// `max|λ| / min|λ|` of the spectrum, computed independently with mpmath (50 digits) from the
/// same polynomials; the condition number of every M23 layer with `min(d_in, d_out) ≥ 4`.
pub const M23_CONDITION: f64 = 17.589_961_093_624_33;

/// How the unit spectrum (`max|λ| = 1`) is scaled for a `[d_in, d_out]` layer, `fan_in = d_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum M23Scale {
    /// The notes' scale: largest singular value `√(2 / fan_in)`.
    Seed,
    /// Variance-preserving like He: `‖W‖_F² = 2·d_out`, so the RMS singular value is
    /// `√(2·d_out / r)` (`√2` for a square layer).
    Preserving,
}

/// The value and derivative of the monic polynomial with `coeffs` (leading first) at `z`
/// (Horner).
fn eval_with_derivative(coeffs: &[c64], z: c64) -> (c64, c64) {
    let mut p = c64::new(0.0, 0.0);
    let mut dp = c64::new(0.0, 0.0);
    for &c in coeffs {
        dp = dp * z + p;
        p = p * z + c;
    }
    (p, dp)
}

/// `|P(z)| / Σ|c_k|·|z|^k`: the residual relative to the size of the terms being summed,
/// which is what f64 evaluation can resolve (≈ 1e-16 · degree at a root).
pub fn relative_residual(coeffs: &[c64], z: c64) -> f64 {
    let (p, _) = eval_with_derivative(coeffs, z);
    let mut scale = 0.0;
    for &c in coeffs {
        scale = scale * z.norm() + c.norm();
    }
    p.norm() / scale
}

/// The roots of the polynomial with complex `coeffs` (leading first, leading coefficient
/// non-zero): eigenvalues of its companion matrix through faer, each then polished by up to
/// eight Newton steps in f64 (a step is kept only if it lowers `|P|`).
pub fn polynomial_roots(coeffs: &[c64]) -> Vec<c64> {
    assert!(coeffs.len() >= 2, "polynomial_roots: degree ≥ 1 needed");
    assert!(
        coeffs[0].norm() > 0.0,
        "polynomial_roots: leading coefficient is 0"
    );
    let lead = coeffs[0];
    let monic: Vec<c64> = coeffs.iter().map(|&c| c / lead).collect();
    let n = monic.len() - 1;
    // Companion matrix: ones on the subdiagonal, −c_{k} in the last column.
    let companion = Mat::from_fn(n, n, |i, j| {
        if j == n - 1 {
            -monic[n - i]
        } else if i == j + 1 {
            c64::new(1.0, 0.0)
        } else {
            c64::new(0.0, 0.0)
        }
    });
    let roots = companion
        .eigenvalues()
        .expect("the Hessenberg QR of a small finite companion matrix converges");
    roots
        .into_iter()
        .map(|mut z| {
            for _ in 0..8 {
                let (p, dp) = eval_with_derivative(&monic, z);
                if p.norm() == 0.0 || dp.norm() == 0.0 {
                    break;
                }
                let next = z - p / dp;
                if eval_with_derivative(&monic, next).0.norm() >= p.norm() {
                    break;
                }
                z = next;
            }
            z
        })
        .collect()
}

/// The three families for one root `g`: `(P2, 2)`, `(P3, 1)`, `(P4, 4)` as (coefficients,
/// multiplicity).
pub fn families(g: c64) -> [(Vec<c64>, usize); 3] {
    let one = c64::new(1.0, 0.0);
    let zero = c64::new(0.0, 0.0);
    [
        (vec![one, -g, g * g], 2),
        (vec![one, zero, g, -one], 1),
        (vec![one, g, -(g * g), one, -g], 4),
    ]
}

/// The 4 roots of [`ELKIES_QUARTIC`].
pub fn elkies_roots() -> Vec<c64> {
    let coeffs: Vec<c64> = ELKIES_QUARTIC.iter().map(|&c| c64::new(c, 0.0)).collect();
    polynomial_roots(&coeffs)
}

/// The 92 raw eigenvalues (with multiplicity), unscaled, in the order g → family → root.
pub fn m23_eigenvalues() -> &'static [c64] {
    static CELL: OnceLock<Vec<c64>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut out = Vec::with_capacity(M23_LEN);
        for g in elkies_roots() {
            for (coeffs, multiplicity) in families(g) {
                for z in polynomial_roots(&coeffs) {
                    out.extend(std::iter::repeat_n(z, multiplicity));
                }
            }
        }
        out
    })
}

/// The 46 conjugate pairs as their upper-half-plane members `a + bi` (`b > 0`), scaled to
/// `max|λ| = 1`, sorted by modulus (then by argument).
pub fn unit_pairs() -> &'static [c64] {
    static CELL: OnceLock<Vec<c64>> = OnceLock::new();
    CELL.get_or_init(|| {
        let all = m23_eigenvalues();
        let max = all.iter().map(|z| z.norm()).fold(0.0, f64::max);
        let mut upper: Vec<c64> = all
            .iter()
            .filter(|z| z.im > 0.0)
            .map(|&z| z / max)
            .collect();
        assert_eq!(
            2 * upper.len(),
            all.len(),
            "the M23 spectrum has no real member"
        );
        upper.sort_by(|a, b| {
            a.norm()
                .total_cmp(&b.norm())
                .then(a.arg().total_cmp(&b.arg()))
        });
        upper
    })
}

/// The pair indices (into [`unit_pairs`]) of `blocks` consecutive blocks: cyclic when
/// `blocks ≥ 46`, else evenly spaced from the smallest modulus to the largest.
pub fn tile_pairs(blocks: usize) -> Vec<usize> {
    let p = unit_pairs().len();
    match blocks {
        0 => vec![],
        1 => vec![p - 1],
        b if b >= p => (0..b).map(|j| j % p).collect(),
        b => (0..b)
            .map(|j| ((j * (p - 1)) as f64 / (b - 1) as f64).round() as usize)
            .collect(),
    }
}

/// The block eigenvalues of an `r × r` block-diagonal `B` at max modulus 1: `⌈r/2⌉` entries,
/// each a pair member `a + bi` (a 2×2 block), except that when `r` is odd the last one is
/// replaced by its modulus `|λ| + 0i` (a 1×1 block).
fn unit_blocks(r: usize) -> Vec<c64> {
    let pairs = unit_pairs();
    let mut blocks: Vec<c64> = tile_pairs(r.div_ceil(2))
        .into_iter()
        .map(|i| pairs[i])
        .collect();
    if r % 2 == 1 {
        let last = blocks.pop().expect("r odd ⇒ at least one block");
        blocks.push(c64::new(last.norm(), 0.0));
    }
    blocks
}

/// The M23 spectrum tiled to `fan_in` eigenvalues and scaled by `√(2/fan_in) / max|λ|` (the
/// notes' `generate_m23_stable_spectrum`): each 2×2 block contributes `λ, λ̄`, an odd
/// `fan_in` ends with one real eigenvalue. Closed under conjugation; spectral radius
/// `√(2/fan_in)`.
pub fn generate_m23_stable_spectrum(fan_in: usize) -> Vec<Complex64> {
    let scale = (2.0 / fan_in.max(1) as f64).sqrt();
    let mut out = Vec::with_capacity(fan_in);
    for z in unit_blocks(fan_in) {
        out.push(z * scale);
        if z.im != 0.0 {
            out.push(z.conj() * scale);
        }
    }
    out
}

/// The `r = min(d_in, d_out)` singular values an M23 `[d_in, d_out]` layer gets at `scale`,
/// in block order (not sorted).
pub fn m23_singular_values(d_in: usize, d_out: usize, scale: M23Scale) -> Vec<f64> {
    let r = d_in.min(d_out);
    let factor = scale_factor(d_in, d_out, scale);
    unit_moduli(r).into_iter().map(|s| s * factor).collect()
}

/// The moduli of [`unit_blocks`]`(r)`, one per dimension (a 2×2 block gives two).
fn unit_moduli(r: usize) -> Vec<f64> {
    unit_blocks(r)
        .into_iter()
        .flat_map(|z| std::iter::repeat_n(z.norm(), if z.im != 0.0 { 2 } else { 1 }))
        .collect()
}

/// The factor that takes the unit spectrum (max modulus 1) of a `[d_in, d_out]` layer to
/// `scale`.
fn scale_factor(d_in: usize, d_out: usize, scale: M23Scale) -> f64 {
    match scale {
        M23Scale::Seed => (2.0 / d_in as f64).sqrt(),
        M23Scale::Preserving => {
            let sum_sq: f64 = unit_moduli(d_in.min(d_out)).iter().map(|s| s * s).sum();
            (2.0 * d_out as f64 / sum_sq).sqrt()
        }
    }
}

/// An M23-Spectrum weight in burn's `[d_in, d_out]` layout (`y = x W`), in f64 on the host:
/// `W = Q₁ B Q₂ᵀ` (module doc), deterministic for `seed` (`Q₁` and `Q₂` come from two seeds
/// split off it).
pub fn mgi_init_stable(d_in: usize, d_out: usize, scale: M23Scale, seed: u64) -> Mat<f64> {
    assert!(
        d_in > 0 && d_out > 0,
        "mgi_init_stable: empty {d_in} x {d_out}"
    );
    let r = d_in.min(d_out);
    let factor = scale_factor(d_in, d_out, scale);
    // B: [r, r] block-diagonal.
    let mut b = Mat::<f64>::zeros(r, r);
    let mut at = 0;
    for z in unit_blocks(r) {
        let (a, im) = (z.re * factor, z.im * factor);
        if z.im != 0.0 {
            b[(at, at)] = a;
            b[(at, at + 1)] = -im;
            b[(at + 1, at)] = im;
            b[(at + 1, at + 1)] = a;
            at += 2;
        } else {
            b[(at, at)] = a;
            at += 1;
        }
    }
    let q1 = haar_orthonormal(d_in, r, split_seed(seed, 1)); // [d_in, r]
    let q2 = haar_orthonormal(d_out, r, split_seed(seed, 2)); // [d_out, r]
    &q1 * (&b * q2.transpose()) // [d_in, d_out]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::exact;

    #[test]
    fn roots_solve_their_polynomials() {
        let quartic: Vec<c64> = ELKIES_QUARTIC.iter().map(|&c| c64::new(c, 0.0)).collect();
        let gs = elkies_roots();
        assert_eq!(gs.len(), 4);
        for &g in &gs {
            // |P(g)| itself, not only relative: the quartic's terms are O(100) at |g| ≈ 3.2.
            assert!(eval_with_derivative(&quartic, g).0.norm() <= 1e-12, "{g}");
            for (coeffs, _) in families(g) {
                for z in polynomial_roots(&coeffs) {
                    // f64 Horner at a simple root: a few ulps of the largest term.
                    assert!(relative_residual(&coeffs, z) <= 1e-15, "{g}: {z}");
                    assert!(
                        eval_with_derivative(&coeffs, z).0.norm() <= 1e-12,
                        "{g}: {z}"
                    );
                }
            }
        }
        // One pair of g from mpmath (50 digits): 0.549472304541888876 ± 0.675650335767895614i.
        let g = gs.iter().find(|g| g.im > 0.0 && g.re > 0.0).unwrap();
        assert!((g.re - 0.549_472_304_541_888_9).abs() < 1e-15);
        assert!((g.im - 0.675_650_335_767_895_6).abs() < 1e-15);
    }

    #[test]
    fn spectrum_has_92_members_closed_under_conjugation() {
        let all = m23_eigenvalues();
        assert_eq!(all.len(), M23_LEN);
        let mut unmatched: Vec<c64> = all.to_vec();
        while let Some(z) = unmatched.pop() {
            let k = unmatched
                .iter()
                .position(|w| (*w - z.conj()).norm() < 1e-12)
                .unwrap_or_else(|| panic!("no conjugate for {z}"));
            unmatched.swap_remove(k);
        }
        assert!(all.iter().all(|z| z.im.abs() > 1e-3), "no real members");
    }

    #[test]
    fn moduli_match_mpmath() {
        let mods: Vec<f64> = m23_eigenvalues().iter().map(|z| z.norm()).collect();
        let max = mods.iter().copied().fold(0.0, f64::max);
        let min = mods.iter().copied().fold(f64::INFINITY, f64::min);
        // mpmath.polyroots at 50 digits (python3 script in the commit message / README).
        assert!((max - 5.290_190_364_483_67).abs() < 1e-13, "{max}");
        assert!((min - 0.300_750_543_808_829_5).abs() < 1e-14, "{min}");
        assert!((max / min - M23_CONDITION).abs() < 1e-12, "{}", max / min);
    }

    #[test]
    fn stable_spectrum_is_scaled_and_closed() {
        for fan_in in [1, 2, 7, 64, 91, 92, 300] {
            let s = generate_m23_stable_spectrum(fan_in);
            assert_eq!(s.len(), fan_in);
            let radius = s.iter().map(|z| z.norm()).fold(0.0, f64::max);
            assert!((radius - (2.0 / fan_in as f64).sqrt()).abs() < 1e-15);
            for z in &s {
                assert!(s.iter().any(|w| (*w - z.conj()).norm() < 1e-15));
            }
        }
    }

    #[test]
    fn square_layers_have_the_m23_condition_number() {
        for n in [4, 5, 33, 64, 93, 128] {
            let w = mgi_init_stable(n, n, M23Scale::Seed, 1);
            let s = exact::singular_values(&w).unwrap();
            let cond = s[0] / s[n - 1];
            // Error from two f64 QRs and two products: ~1e-14 relative.
            assert!((cond - M23_CONDITION).abs() < 1e-10, "n = {n}: {cond}");
            assert!((s[0] - (2.0 / n as f64).sqrt()).abs() < 1e-13);
        }
    }

    #[test]
    fn deterministic_per_seed() {
        let a = mgi_init_stable(16, 24, M23Scale::Seed, 5);
        assert_eq!(a, mgi_init_stable(16, 24, M23Scale::Seed, 5));
        assert_ne!(a, mgi_init_stable(16, 24, M23Scale::Seed, 6));
    }

    #[test]
    fn preserving_scale_matches_he_frobenius_norm() {
        for (d_in, d_out) in [(32, 32), (32, 128), (128, 32), (31, 17)] {
            let w = mgi_init_stable(d_in, d_out, M23Scale::Preserving, 2);
            let fro2: f64 = (0..d_in)
                .flat_map(|i| (0..d_out).map(move |j| (i, j)))
                .map(|(i, j)| w[(i, j)] * w[(i, j)])
                .sum();
            assert!((fro2 / (2.0 * d_out as f64) - 1.0).abs() < 1e-12, "{fro2}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]
            /// burn layout `[d_in, d_out]`; singular values = the scaled moduli (faer's SVD as
            /// the oracle), for any shape, either scale.
            #[test]
            fn singular_values_are_the_scaled_moduli(
                d_in in 1usize..70, d_out in 1usize..70, seed in 0u64..1000, preserving: bool,
            ) {
                let scale = if preserving { M23Scale::Preserving } else { M23Scale::Seed };
                let w = mgi_init_stable(d_in, d_out, scale, seed);
                prop_assert_eq!((w.nrows(), w.ncols()), (d_in, d_out));
                let mut want = m23_singular_values(d_in, d_out, scale);
                want.sort_by(|a, b| b.total_cmp(a));
                let got = exact::singular_values(&w).unwrap();
                prop_assert_eq!(got.len(), want.len());
                let top = want[0];
                for (g, w) in got.iter().zip(&want) {
                    prop_assert!((g - w).abs() <= 1e-12 * top.max(1.0), "{} vs {}", g, w);
                }
            }
        }
    }
}
