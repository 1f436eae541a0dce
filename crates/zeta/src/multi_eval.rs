//! Odlyzko–Schönhage multi-evaluation of the Riemann–Siegel main sum: the sum
//!
//! ```text
//! F(t) = Σ_{n=1}^{N} n^{-1/2}·e^{−i·t·ln n}
//! ```
//!
//! on an equally spaced grid by one FFT, then at any height of the block by band-limited
//! interpolation, instead of `N` terms per height. After A. M. Odlyzko and A. Schönhage, "Fast
//! algorithms for multiple evaluations of the Riemann zeta function", Trans. AMS 309 (1988),
//! with the grid computed as a type-1 non-uniform FFT (Gaussian spreading, L. Greengard and
//! J.-Y. Lee, "Accelerating the nonuniform fast Fourier transform", SIAM Rev. 46 (2004)).
//!
//! # The method
//!
//! A [`Block`] has a centre `t_c` (double-double), the term count `N`, and `M` grid points
//! `τ_j = j·h`, `j ∈ [−M/2, M/2)`. With `λ_n = ln n`, the shift `c = ln(N)/2` and
//! `ν_n = λ_n − c ∈ [−c, c]`,
//!
//! ```text
//! F(t_c + τ) = e^{−iτc}·H(τ),   H(τ) = Σ_n b_n·e^{−iτν_n},   b_n = n^{-1/2}·e^{−i·t_c·λ_n},
//! ```
//!
//! so `H` is band-limited to `[−c, c]`. Steps:
//! 1. `b_n`: `t_c·λ_n` reduced modulo 2π exactly (two-product by FMA, `2π` in double-double),
//!    as the direct kernel ([`crate::phase_sum`]) does: ~3e-16 absolute per phase;
//! 2. `H_j = H(τ_j) = Σ_n b_n·e^{−2πi·j·y_n/M_f}` with `y_n = s·ν_n`, `s = h·M_f/2π`: a type-1
//!    NUFFT on a fine grid of `M_f = 2M` points. Each `b_n` is spread onto the `2w + 1` fine
//!    points nearest `y_n` with the Gaussian `e^{−d²/4a}`, `a = w/3π` (`d` in fine-grid
//!    units; `y_n` and `d` carried in double-double, so a phase `j·y_n` keeps ~1e-16·w
//!    absolute error at any `j`); one FFT of `M_f` points; each mode divided by the Gaussian's
//!    transform `2√(πa)·e^{−a(2πj/M_f)²}`;
//! 3. at any `τ` of the block, `u = τ/h = j₀ + f` (double-double, `|f| ≤ 1/2`):
//!    `H(τ) ≈ Σ_{|k|≤m} H_{j₀+k}·sinc(π(f − k))·e^{−(f−k)²/2r²}` (Gaussian-regularised Shannon
//!    sampling), `H'(τ)` from the kernel's derivative;
//! 4. with `ψ = θ(t) − τc` (mod 2π, exact as in 1.), `Σ a_n cos φ_n = Re e^{iψ}H`,
//!    `Σ a_n sin φ_n = Im e^{iψ}H`, `Σ a_n ln n sin φ_n = Re e^{iψ}(H' − icH)`: the
//!    [`PhaseSums`] of the direct kernel, finished by [`MainSum::finish`] (the same
//!    Riemann–Siegel corrections `C_0 … C_4`). Where `N(t) = ⌊√(t/2π)⌋` differs from the
//!    block's `N`, the few terms between are added or removed directly.
//!
//! # Error budget (defaults of [`Params`])
//!
//! Errors are relative to `‖b‖₁ = Σ n^{-1/2} ≈ 2√N` (175 at `t = 3.7·10⁸`, 910 at `2.7·10¹¹`)
//! in the worst case; in practice they add up like `‖b‖₂ = (Σ 1/n)^{1/2} ≈ 4`.
//! - grid spacing `h = π/(βc)` with oversampling `β = 3`: the band `[−c, c]` fills a third of
//!   the sampling band `[−π/h, π/h]`;
//! - spreading (`w = 16`, fine grid 2× oversampled): aliasing and truncation of the
//!   Gaussian each leave `e^{−2πw/3} ≈ 3e-15` relative (Greengard–Lee's balance), after the
//!   largest deconvolution factor `e^{πw/12} ≈ 66` at the block's edges;
//! - interpolation (`m = 30`, `r² = m/(π(1 − 1/β))`): the Gaussian window's leakage out of
//!   the band and the truncation at `|k| > m` are each `≈ e^{−πm(1−1/β)/2} ≈ 2e-14` of
//!   `max |H|` over the kernel's reach (the kernel's `Σ|K| ≈ 3` multiplies it);
//! - rounding: the FFT's `~1e-16·√(log₂ M_f)·‖u‖₂` per mode, times the deconvolution factor.
//!
//! Together: below 1e-12 in `Z` for `t` to 2.7·10¹¹ (`‖b‖₁·3e-15 ≈ 3e-12` in the worst
//! case), against the direct sum's own rounding of ~1e-13; measured below 2e-13 at
//! `t ≈ 10⁶, 10⁸, 10¹⁰` (`matches_the_direct_sum_at_three_heights`). `Z'` carries the
//! interpolation error times the band edge `π/h` and `c`: measured below 1e-12 there.
//!
//! # Example
//!
//! ```
//! use spectral_zeta::multi_eval::{Block, Params};
//! use spectral_zeta::DoubleDouble;
//!
//! let t = DoubleDouble::from_f64(1.0e6);
//! let params = Params { modes: 1 << 12, ..Params::default() };
//! let block = Block::new(t, Block::terms_at(t), &params)?;
//! for offset in [0.0, 0.37, -120.5] {
//!     let height = t + offset;
//!     let (z, _) = block.z_and_derivative(height)?;
//!     let direct = spectral_zeta::hardy_z::z(height);
//!     assert!((z - direct).abs() < 1e-12, "t = 10⁶ + {offset}: {z} vs {direct}");
//! }
//! # Ok::<(), spectral_zeta::ZetaError>(())
//! ```

use crate::double_double::{DoubleDouble, TWO_PI, two_prod, two_sum};
use crate::error::ZetaError;
use crate::hardy_z::RIEMANN_SIEGEL_MIN_HEIGHT;
use crate::phase_sum::{MAX_TERMS, PhaseSums, PhaseTable};
use crate::riemann_siegel::MainSum;
use std::f64::consts::PI;

mod evaluator;
pub use evaluator::MultiEvaluator;

/// Parameters of a block: grid, spreading and interpolation (see the module's error budget).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// `β`: grid points per Nyquist spacing `π/c` of `H`. Larger costs grid points and buys
    /// a shorter interpolation kernel for the same error; 3 balances them at the heights
    /// measured (docs/zeta.md).
    pub oversampling: f64,
    /// `m`: the interpolation uses the `2m + 1` grid points nearest a height. 30 gives
    /// `e^{−πm(1−1/β)/2} ≈ 2e-14` relative to `max |H|`.
    pub kernel_half_width: usize,
    /// `M`: grid points per block, a power of two. A block covers `(M − 2m − 4)·h` in height
    /// (1.5·10⁴ at `t ≈ 3.7·10⁸` with the default 2¹⁶); its FFT has `2M` points.
    pub modes: usize,
    /// `w`: each term is spread onto `2w + 1` fine-grid points. 16 leaves `e^{−2πw/3} ≈ 3e-15`.
    pub spread: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            oversampling: 3.0,
            kernel_half_width: 30,
            modes: 1 << 16,
            spread: 16,
        }
    }
}

impl Params {
    fn check(&self) -> Result<(), ZetaError> {
        let m = self.kernel_half_width;
        let fits = self.modes.is_power_of_two() && self.modes >= 8 * (m + 2).max(self.spread);
        if !(self.oversampling.is_finite() && self.oversampling >= 1.5 && fits && m > 0) {
            return Err(ZetaError::InvalidRange(format!(
                "multi-evaluation parameters {self:?}: need oversampling ≥ 1.5, a kernel half-width \
                 ≥ 1 and modes a power of two ≥ 8·max(half-width + 2, spread)"
            )));
        }
        Ok(())
    }
}

/// The main sum of Riemann–Siegel on a grid of heights around a centre, ready to be
/// interpolated anywhere within [`Block::reach`] of it.
pub struct Block {
    centre: DoubleDouble,
    terms: usize,
    /// `c = ln(N)/2`: the frequencies `ν_n = ln n − c` of `H` lie in `[−c, c]`.
    shift: f64,
    /// `h`, in units of height, in double-double.
    spacing: DoubleDouble,
    /// `1/h`, per unit of height, in double-double.
    inv_spacing: DoubleDouble,
    /// `M/2`.
    half: i64,
    kernel: Kernel,
    /// `H_j`, `j ∈ [−M/2, M/2)`, at index `j + M/2`.
    values: Vec<[f64; 2]>,
}

impl Block {
    /// `N = ⌊√(t/2π)⌋`, the term count of Riemann–Siegel at `t`.
    pub fn terms_at(t: DoubleDouble) -> usize {
        MainSum::at(t).terms
    }

    /// The grid of `H` around `centre` with `terms` terms (`2 ≤ terms ≤ MAX_TERMS`): `N` terms
    /// with exact phases, spread onto `2M` fine points, one FFT. Cost `~N·(2w + 1)` plus an
    /// FFT of `2M` points.
    pub fn new(centre: DoubleDouble, terms: usize, params: &Params) -> Result<Self, ZetaError> {
        params.check()?;
        if !(centre.hi.is_finite() && centre.lo.is_finite() && (2..=MAX_TERMS).contains(&terms)) {
            return Err(ZetaError::InvalidRange(format!(
                "multi-evaluation block at t = {} with {terms} terms: need a finite centre and \
                 2 ≤ terms ≤ {MAX_TERMS}",
                centre.hi
            )));
        }
        let table = PhaseTable::holding(terms);
        let modes = params.modes;
        let fine = 2 * modes;
        let shift = 0.5 * table.ln_hi[terms - 1];
        // s = h·M_f/2π, an f64; the spacing h = 2π·s/M_f follows from it exactly.
        let s = 0.5 * fine as f64 / (params.oversampling * shift);
        let spacing = TWO_PI.mul_f64(s).mul_f64(1.0 / fine as f64);
        let inv_spacing = DoubleDouble::from_f64(1.0) / spacing;

        // Spread b_n onto the fine grid: e^{−d²/4a} at the 2w + 1 points l₀ + k nearest y_n,
        // as e^{−d₀²/4a}·(e^{d₀/2a})^k·e^{−k²/4a} with d = k − d₀.
        let w = params.spread;
        let a = w as f64 / (3.0 * PI);
        let square_weights: Vec<f64> = (0..=w)
            .map(|k| (-((k * k) as f64) / (4.0 * a)).exp())
            .collect();
        let mut grid = vec![[0.0; 2]; fine];
        let mask = fine as i64 - 1;
        for i in 0..terms {
            let (hi, lo) = (table.ln_hi[i], table.ln_lo[i]);
            let (sin, cos) = reduce_product(centre, hi, lo).sin_cos();
            let amplitude = table.amplitude[i];
            let b = [amplitude * cos, -amplitude * sin];
            let (nu, nu_lo) = two_sum(hi, -shift);
            let (y, y_lo) = two_prod(s, nu);
            let y_lo = y_lo + s * (nu_lo + lo);
            let l0 = y.round();
            let d0 = (y - l0) + y_lo;
            let base = (-d0 * d0 / (4.0 * a)).exp();
            let ratio = (d0 / (2.0 * a)).exp();
            let l0 = l0 as i64;
            let (mut up, mut down) = (base, base);
            grid[(l0 & mask) as usize][0] += base * b[0];
            grid[(l0 & mask) as usize][1] += base * b[1];
            for (k, &square) in square_weights.iter().enumerate().skip(1) {
                up *= ratio;
                down /= ratio;
                let (p, q) = (up * square, down * square);
                let plus = &mut grid[((l0 + k as i64) & mask) as usize];
                plus[0] += p * b[0];
                plus[1] += p * b[1];
                let minus = &mut grid[((l0 - k as i64) & mask) as usize];
                minus[0] += q * b[0];
                minus[1] += q * b[1];
            }
        }
        fft(&mut grid);

        // H_j = U_j·e^{a(2πj/M_f)²}/(2√(πa)).
        let half = (modes / 2) as i64;
        let norm = 1.0 / (2.0 * (PI * a).sqrt());
        let values = (-half..half)
            .map(|j| {
                let x = 2.0 * PI * j as f64 / fine as f64;
                let scale = (a * x * x).exp() * norm;
                let u = grid[(j & mask) as usize];
                [u[0] * scale, u[1] * scale]
            })
            .collect();
        Ok(Self {
            centre,
            terms,
            shift,
            spacing,
            inv_spacing,
            half,
            kernel: Kernel::new(params),
            values,
        })
    }

    /// The block whose reach starts at `first` (to within one grid spacing): see [`place`].
    pub fn starting_at(first: DoubleDouble, params: &Params) -> Result<Self, ZetaError> {
        params.check()?;
        let (centre, _) = place(first, params);
        Self::new(centre, Self::terms_at(centre).max(2), params)
    }

    /// The block's centre `t_c`.
    pub fn centre(&self) -> DoubleDouble {
        self.centre
    }

    /// The block's term count `N`.
    pub fn terms(&self) -> usize {
        self.terms
    }

    /// Grid spacing `h`, in units of height.
    pub fn spacing(&self) -> f64 {
        self.spacing.hi
    }

    /// The grid point `t_c + j·h` (double-double).
    pub fn grid_point(&self, j: i64) -> DoubleDouble {
        self.centre + self.spacing.mul_f64(j as f64)
    }

    /// How far from the centre, in height, the block can be interpolated: `(M/2 − m − 2)·h`.
    pub fn reach(&self) -> f64 {
        (self.half - self.kernel.half_width as i64 - 2) as f64 * self.spacing()
    }

    /// Whether `t` lies within [`Block::reach`] of the centre.
    pub fn covers(&self, t: DoubleDouble) -> bool {
        let u = ((t - self.centre) * self.inv_spacing).hi;
        u.abs() <= (self.half - self.kernel.half_width as i64 - 2) as f64
    }

    /// `H_j` (complex, `[re, im]`) at the grid point `τ_j = j·h`, `|j| < M/2`.
    pub fn grid_value(&self, j: i64) -> [f64; 2] {
        self.values[(j + self.half) as usize]
    }

    /// The [`PhaseSums`] of Riemann–Siegel at `t` for `N(t)` terms and `θ(t)` = `theta`
    /// (reduced modulo 2π), from the grid; `t` within [`Block::reach`].
    pub fn phase_sums(&self, t: DoubleDouble, theta: f64, terms: usize) -> PhaseSums {
        let tau = t - self.centre;
        let u = tau * self.inv_spacing;
        let (h, h_u) = self.kernel.interpolate(&self.values, self.half, u);
        // dH/dτ = dH/du / h.
        let inv_h = self.inv_spacing.hi;
        let h_tau = [h_u[0] * inv_h, h_u[1] * inv_h];
        let psi = theta - reduce_product(tau, self.shift, 0.0);
        let (sin, cos) = psi.sin_cos();
        let rotate = |z: [f64; 2]| [cos * z[0] - sin * z[1], sin * z[0] + cos * z[1]];
        let value = rotate(h);
        // H' − icH
        let c = self.shift;
        let derivative = rotate([h_tau[0] + c * h[1], h_tau[1] - c * h[0]]);
        let mut sums = PhaseSums {
            cos: value[0],
            sin: value[1],
            sin_ln: derivative[0],
        };
        // Terms between the block's N and N(t), directly.
        let (from, to, sign) = if terms >= self.terms {
            (self.terms, terms, 1.0)
        } else {
            (terms, self.terms, -1.0)
        };
        if from < to {
            let table = PhaseTable::holding(to);
            for i in from..to {
                let (hi, lo) = (table.ln_hi[i], table.ln_lo[i]);
                let (s, c) = (theta - reduce_product(t, hi, lo)).sin_cos();
                sums.cos += sign * table.amplitude[i] * c;
                sums.sin += sign * table.amplitude[i] * s;
                sums.sin_ln += sign * table.amplitude_ln[i] * s;
            }
        }
        sums
    }

    /// `(Z(t), Z'(t))` by Riemann–Siegel with the main sum from the grid, for `t` within
    /// [`Block::reach`] and at least [`RIEMANN_SIEGEL_MIN_HEIGHT`].
    pub fn z_and_derivative(&self, t: DoubleDouble) -> Result<(f64, f64), ZetaError> {
        if !(t.hi >= RIEMANN_SIEGEL_MIN_HEIGHT && self.covers(t)) {
            return Err(ZetaError::InvalidRange(format!(
                "t = {} is outside the block at {} ± {} (or below {RIEMANN_SIEGEL_MIN_HEIGHT})",
                t.hi,
                self.centre.hi,
                self.reach()
            )));
        }
        let input = MainSum::at(t);
        Ok(input.finish(self.phase_sums(t, input.theta, input.terms)))
    }
}

/// `(Z, Z')` at each of `heights`, in increasing order, each at least
/// [`RIEMANN_SIEGEL_MIN_HEIGHT`] and within [`crate::zeros::max_height`]: blocks are laid
/// from the lowest height up, each starting at the first height the previous one left out.
pub fn z_and_derivative_sorted(
    heights: &[DoubleDouble],
    params: &Params,
) -> Result<Vec<(f64, f64)>, ZetaError> {
    if let Some(pair) = heights.windows(2).find(|pair| {
        use std::cmp::Ordering::{Equal, Less};
        !matches!(pair[0].partial_cmp(&pair[1]), Some(Less | Equal))
    }) {
        return Err(ZetaError::InvalidRange(format!(
            "heights must not decrease: {} then {}",
            pair[0].hi, pair[1].hi
        )));
    }
    let mut out = Vec::with_capacity(heights.len());
    let mut rest = heights;
    while let Some(&first) = rest.first() {
        if !(first.hi >= RIEMANN_SIEGEL_MIN_HEIGHT && first.hi <= crate::zeros::max_height()) {
            return Err(ZetaError::InvalidRange(format!(
                "t = {} is outside [{RIEMANN_SIEGEL_MIN_HEIGHT}, {}]",
                first.hi,
                crate::zeros::max_height()
            )));
        }
        let block = Block::starting_at(first, params)?;
        let centre = block.centre();
        let covered = rest.partition_point(|&t| block.covers(t));
        if covered == 0 {
            return Err(ZetaError::Internal(format!(
                "the block at {} ± {} does not cover t = {}",
                centre.hi,
                block.reach(),
                first.hi
            )));
        }
        for &t in &rest[..covered] {
            out.push(block.z_and_derivative(t)?);
        }
        rest = &rest[covered..];
    }
    Ok(out)
}

/// Where a block that starts at `first` goes: its centre `first + R` and `R`, a lower bound
/// on its [`Block::reach`]. `R = (M/2 − m − 3)·h₊` with `h₊ = π/(βc₊)` the spacing for the
/// `N` at `first + M·h(first)`, beyond the centre, so `h₊` is no larger than the block's own
/// spacing and the block covers `[first, first + 2R]`.
pub fn place(first: DoubleDouble, params: &Params) -> (DoubleDouble, f64) {
    let spacing = |terms: usize| PI / (params.oversampling * 0.5 * (terms.max(2) as f64).ln());
    let far = first + params.modes as f64 * spacing(Block::terms_at(first));
    let reach = (params.modes as f64 / 2.0 - params.kernel_half_width as f64 - 3.0)
        * spacing(Block::terms_at(far));
    (first + reach, reach)
}

/// `x·(y_hi + y_lo)` reduced modulo 2π to about `[−π, π]`, for `x` in double-double: the
/// two-product `x_hi·y_hi` exact, `k·2π` exact (FMA, 2π in double-double), the small parts
/// rounded once, so the result keeps ~3e-16 absolute error for products to ~10¹⁵.
#[inline(always)]
fn reduce_product(x: DoubleDouble, y_hi: f64, y_lo: f64) -> f64 {
    const INV_TWO_PI: f64 = 1.0 / (2.0 * PI);
    let (p, e) = two_prod(x.hi, y_hi);
    let k = (p * INV_TWO_PI).round();
    let r = k.mul_add(-TWO_PI.hi, p);
    let small = x.lo.mul_add(y_hi, x.hi.mul_add(y_lo, e));
    k.mul_add(-TWO_PI.lo, r) + small
}

/// The interpolation kernel `K(v) = sinc(πv)·e^{−v²/2r²}` on `|v| ≤ m + 1/2`.
struct Kernel {
    half_width: usize,
    /// `1/r²`.
    inv_r2: f64,
    /// `e^{−k²/2r²}`, `k = 0..=m`.
    square_weights: Vec<f64>,
}

impl Kernel {
    fn new(params: &Params) -> Self {
        let m = params.kernel_half_width;
        let inv_r2 = PI * (1.0 - 1.0 / params.oversampling) / m as f64;
        Self {
            half_width: m,
            inv_r2,
            square_weights: (0..=m)
                .map(|k| (-((k * k) as f64) * inv_r2 / 2.0).exp())
                .collect(),
        }
    }

    /// `(H(u), dH/du)` at `u` (grid units from the centre) from the grid `values` (index
    /// `j + half`), `|u| ≤ half − m − 2`.
    fn interpolate(&self, values: &[[f64; 2]], half: i64, u: DoubleDouble) -> ([f64; 2], [f64; 2]) {
        let j0 = u.hi.round();
        let f = (u.hi - j0) + u.lo;
        let centre = (j0 as i64 + half) as usize;
        let (sin_pf, cos_pf) = (PI * f).sin_cos();
        let base = (-f * f * self.inv_r2 / 2.0).exp();
        let ratio = (f * self.inv_r2).exp();
        let mut value = [0.0; 2];
        let mut slope = [0.0; 2];
        // One term: v = f − k, sign = (−1)^k, gaussian = e^{−v²/2r²}.
        let mut add = |index: usize, v: f64, sign: f64, gaussian: f64| {
            let (s, ds) = if v.abs() < 1e-3 {
                // sin(πv)/(πv) and its derivative by their series (the quotient
                // (cos πv − S)/v loses digits near 0); next terms below 1e-19.
                let x2 = (PI * v) * (PI * v);
                (
                    1.0 - x2 / 6.0 * (1.0 - x2 / 20.0),
                    PI * PI * v * (-1.0 / 3.0 + x2 / 30.0),
                )
            } else {
                let s = sign * sin_pf / (PI * v);
                (s, (sign * cos_pf - s) / v)
            };
            let k = s * gaussian;
            let dk = (ds - s * v * self.inv_r2) * gaussian;
            let h = values[index];
            value[0] += k * h[0];
            value[1] += k * h[1];
            slope[0] += dk * h[0];
            slope[1] += dk * h[1];
        };
        add(centre, f, 1.0, base);
        let (mut up, mut down) = (base, base);
        let mut sign = 1.0;
        for (k, &square) in self.square_weights.iter().enumerate().skip(1) {
            // e^{−(f∓k)²/2r²} = e^{−f²/2r²}·e^{±fk/r²}·e^{−k²/2r²}
            up *= ratio;
            down /= ratio;
            sign = -sign;
            add(centre + k, f - k as f64, sign, up * square);
            add(centre - k, f + k as f64, sign, down * square);
        }
        (value, slope)
    }
}

/// In-place forward DFT `X_j = Σ_l x_l·e^{−2πi·jl/n}` of `n` (a power of two) complex
/// values `[re, im]`: iterative radix-2, twiddles from `sin_cos` each (no recurrence), so
/// the rounding is ~1e-16·log₂ n relative to `‖x‖₂`.
fn fft(x: &mut [[f64; 2]]) {
    let n = x.len();
    assert!(n.is_power_of_two(), "FFT length {n} is not a power of two");
    if n < 2 {
        return;
    }
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            x.swap(i, j);
        }
    }
    let twiddles: Vec<[f64; 2]> = (0..n / 2)
        .map(|k| {
            let (s, c) = (-2.0 * PI * k as f64 / n as f64).sin_cos();
            [c, s]
        })
        .collect();
    let mut len = 2;
    while len <= n {
        let step = n / len;
        let half = len / 2;
        for block in x.chunks_exact_mut(len) {
            let (low, high) = block.split_at_mut(half);
            for (k, (a, b)) in low.iter_mut().zip(high.iter_mut()).enumerate() {
                let w = twiddles[k * step];
                let t = [b[0] * w[0] - b[1] * w[1], b[0] * w[1] + b[1] * w[0]];
                *b = [a[0] - t[0], a[1] - t[1]];
                *a = [a[0] + t[0], a[1] + t[1]];
            }
        }
        len *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardy_z;
    use proptest::prelude::*;

    /// Heights spread over a block's reach (a fixed irrational step, no grid alignment).
    fn heights(block: &Block, count: usize) -> Vec<DoubleDouble> {
        let reach = block.reach();
        (0..count)
            .map(|i| {
                let x = (i as f64 * 0.618_033_988_749_895).fract();
                block.centre() + (2.0 * x - 1.0) * reach
            })
            .collect()
    }

    #[test]
    fn fft_matches_the_naive_dft() {
        let n = 64;
        let x: Vec<[f64; 2]> = (0..n)
            .map(|i| [(i as f64 * 0.7).sin(), (i as f64 * 1.3).cos()])
            .collect();
        let mut y = x.clone();
        fft(&mut y);
        for (j, got) in y.iter().enumerate() {
            let mut want = [0.0; 2];
            for (l, v) in x.iter().enumerate() {
                let (s, c) = (-2.0 * PI * (j * l % n) as f64 / n as f64).sin_cos();
                want[0] += v[0] * c - v[1] * s;
                want[1] += v[0] * s + v[1] * c;
            }
            assert!((got[0] - want[0]).abs() < 1e-13 && (got[1] - want[1]).abs() < 1e-13);
        }
    }

    #[test]
    fn matches_the_direct_sum_at_three_heights() {
        // Oracle: the direct Riemann–Siegel evaluation (hardy_z::z_and_derivative), whose own
        // rounding is ~1e-13 at 10¹⁰. Budget (module doc): below 1e-12 in Z (measured
        // 3.6e-14, 1.9e-13, 1.2e-13); Z' measured 2.5e-13, 7.5e-13, 7.5e-13.
        let params = Params {
            modes: 1 << 12,
            ..Params::default()
        };
        for t in [1.0e6, 1.0e8, 1.0e10] {
            let centre = DoubleDouble::from_f64(t) + 0.123_456_789;
            let block = Block::new(centre, Block::terms_at(centre), &params).unwrap();
            let (mut worst, mut worst_derivative) = (0.0_f64, 0.0_f64);
            for height in heights(&block, 200) {
                let (z, dz) = block.z_and_derivative(height).unwrap();
                let (want, want_derivative) = hardy_z::z_and_derivative(height);
                worst = worst.max((z - want).abs());
                worst_derivative = worst_derivative.max((dz - want_derivative).abs());
            }
            println!("t ≈ {t:e}: max |ΔZ| = {worst:.2e}, max |ΔZ'| = {worst_derivative:.2e}");
            assert!(worst < 1e-12, "t ≈ {t:e}: max |ΔZ| = {worst:e}");
            assert!(
                worst_derivative < 2e-12,
                "t ≈ {t:e}: max |ΔZ'| = {worst_derivative:e}"
            );
        }
    }

    #[test]
    fn grid_values_are_the_direct_sum_at_grid_points() {
        // H_j = e^{iτ_j c}·F(t_c + τ_j): compare with the direct double-double sum. At a grid
        // point the interpolation returns H_j itself (sinc vanishes at the other points).
        let centre = DoubleDouble::from_f64(3.0e7) + 0.25;
        let params = Params {
            modes: 1 << 10,
            ..Params::default()
        };
        let block = Block::new(centre, Block::terms_at(centre), &params).unwrap();
        let table = PhaseTable::holding(block.terms());
        for j in [-500_i64, -77, 0, 1, 300, 511] {
            let tau = block.spacing.mul_f64(j as f64);
            let t = block.grid_point(j);
            let mut want = [0.0; 2];
            for n in 1..=block.terms() {
                // b_n·e^{−iτ_j ν_n} with ν_n = ln n − c: phase −(t_c + τ_j)·ln n + τ_j·c.
                let phase = (tau.mul_f64(block.shift) - table.ln(n) * t)
                    .rem_two_pi()
                    .to_f64();
                let a = table.amplitude[n - 1];
                want[0] += a * phase.cos();
                want[1] += a * phase.sin();
            }
            let got = block.grid_value(j);
            let error = (got[0] - want[0]).abs().max((got[1] - want[1]).abs());
            assert!(error < 1e-13, "j = {j}: {got:?} vs {want:?}");
        }
    }

    #[test]
    fn blocks_with_different_centres_agree() {
        // Shift in t₀: two grids whose points do not line up give the same Z where both
        // reach, to the budget's error.
        let params = Params {
            modes: 1 << 11,
            ..Params::default()
        };
        let a = DoubleDouble::from_f64(2.5e9);
        let b = a + 61.803_398_874_989;
        let first = Block::new(a, Block::terms_at(a), &params).unwrap();
        let second = Block::new(b, Block::terms_at(b), &params).unwrap();
        let mut worst = 0.0_f64;
        for i in 0..100 {
            let t = b + (i as f64 * 0.731 - 50.0);
            assert!(first.covers(t) && second.covers(t));
            let difference =
                first.z_and_derivative(t).unwrap().0 - second.z_and_derivative(t).unwrap().0;
            worst = worst.max(difference.abs());
        }
        assert!(worst < 1e-12, "max difference {worst:e}");
    }

    #[test]
    fn sorted_heights_across_blocks_and_a_change_of_n() {
        // t ≈ 10⁶ + 4300: N changes from 399 to 400 at 2π·400² ≈ 1,005,310; with 2¹⁰ points a
        // block reaches ~170, so these 2000 heights over 1200 need several blocks.
        let params = Params {
            modes: 1 << 10,
            ..Params::default()
        };
        let start = DoubleDouble::from_f64(1_004_800.0);
        let heights: Vec<DoubleDouble> = (0..2000).map(|i| start + i as f64 * 0.6).collect();
        let got = z_and_derivative_sorted(&heights, &params).unwrap();
        for (&t, (z, _)) in heights.iter().zip(got) {
            let want = hardy_z::z(t);
            assert!((z - want).abs() < 1e-12, "t = {}: {z} vs {want}", t.hi);
        }
        let mut reversed = heights.clone();
        reversed.reverse();
        assert!(z_and_derivative_sorted(&reversed, &params).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn any_height_of_any_block_matches_the_direct_sum(
            log_t in 3.5_f64..11.0,
            fraction in 0.0_f64..1.0,
            position in -1.0_f64..1.0,
        ) {
            // Centres from 3·10³ (N = 21) to 10¹¹ (N = 1.3·10⁵), at an arbitrary fraction; a
            // height anywhere in the block's reach, edges included.
            let params = Params { modes: 1 << 10, ..Params::default() };
            let centre = DoubleDouble::from_f64(10f64.powf(log_t).floor()) + fraction;
            let block = Block::new(centre, Block::terms_at(centre), &params).unwrap();
            let t = centre + position * block.reach();
            prop_assume!(t.hi >= RIEMANN_SIEGEL_MIN_HEIGHT);
            let (z, _) = block.z_and_derivative(t).unwrap();
            let want = hardy_z::z(t);
            prop_assert!((z - want).abs() < 1e-12, "t = {}: {} vs {}", t.hi, z, want);
        }
    }

    #[test]
    fn a_block_refuses_heights_out_of_reach() {
        let centre = DoubleDouble::from_f64(1.0e6);
        let params = Params {
            modes: 1 << 10,
            ..Params::default()
        };
        let block = Block::new(centre, Block::terms_at(centre), &params).unwrap();
        assert!(
            block
                .z_and_derivative(centre + 1.01 * block.reach())
                .is_err()
        );
        assert!(
            block
                .z_and_derivative(centre - 0.99 * block.reach())
                .is_ok()
        );
        assert!(
            Block::new(
                centre,
                400,
                &Params {
                    modes: 1000,
                    ..params
                }
            )
            .is_err()
        );
    }
}
