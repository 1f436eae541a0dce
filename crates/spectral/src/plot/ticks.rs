//! Tick labels a reader takes in at a glance: one rule per axis, chosen from the axis' ticks.
//!
//! - Plain numbers get the fewest decimals that write every tick of the axis exactly (ticks
//!   0, 0.25, 0.5 → two decimals), then lose their trailing zeros: `20000`, not `20000.0`;
//!   `0.5` and `1`, not `0.50` and `1.00`. Negative zero is written `0`.
//! - When the largest tick is at least 10⁵, or below 10⁻³, each tick is written `m×10ᵉ` with
//!   `1 ≤ |m| < 10` and at most three decimals of `m` (`3.7×10⁸`, `1×10⁶`); zero stays `0`.
//! - On a log axis the ticks are exponents `k` (the plot is of log₁₀ y) and read `10ᵏ`.

/// How one axis writes its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TickFormat {
    /// Plain numbers with at most this many decimals (trailing zeros dropped).
    Plain(usize),
    /// `m×10ᵉ`.
    Scientific,
    /// The tick is an exponent `k`, written `10ᵏ`.
    PowerOfTen,
}

/// The format for an axis with these `ticks` (linear axis).
pub fn tick_format(ticks: &[f64]) -> TickFormat {
    let largest = ticks.iter().map(|t| t.abs()).fold(0.0, f64::max);
    if largest >= 1e5 || (largest > 0.0 && largest < 1e-3) {
        return TickFormat::Scientific;
    }
    // The spacing of the ticks sets what "exact" means: plotters' ticks carry float noise
    // (0.30000000000000004) far below it.
    let step = ticks
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let tolerance = if step.is_finite() { 1e-6 * step } else { 1e-9 };
    let decimals = (0..=10)
        .find(|&d| {
            let scale = 10f64.powi(d as i32);
            ticks
                .iter()
                .all(|t| ((t * scale).round() / scale - t).abs() <= tolerance)
        })
        .unwrap_or(10);
    TickFormat::Plain(decimals)
}

/// `value` written by `format`.
pub fn tick_label(value: f64, format: TickFormat) -> String {
    match format {
        TickFormat::Plain(decimals) => plain(value, decimals),
        TickFormat::Scientific => scientific(value),
        TickFormat::PowerOfTen => {
            let k = value.round();
            if (value - k).abs() > 1e-9 {
                // Not a whole decade: the value itself, to two significant digits.
                let y = 10f64.powf(value);
                return plain(y, (1 - y.log10().floor() as i64).max(0) as usize);
            }
            match k as i64 {
                0 => "1".into(),
                1 => "10".into(),
                k => format!("10{}", superscript(k)),
            }
        }
    }
}

fn plain(value: f64, decimals: usize) -> String {
    let mut text = format!("{value:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if text.trim_start_matches('-').chars().all(|c| c == '0') {
        return "0".into();
    }
    text
}

fn scientific(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return if value.is_finite() {
            "0".into()
        } else {
            value.to_string()
        };
    }
    let mut exponent = value.abs().log10().floor() as i64;
    let mut mantissa = value / 10f64.powi(exponent as i32);
    // Rounding to three decimals can carry the mantissa to 10 (9.9996 → 10.000).
    if (mantissa.abs() * 1000.0).round() >= 10_000.0 {
        exponent += 1;
        mantissa /= 10.0;
    }
    format!("{}×10{}", plain(mantissa, 3), superscript(exponent))
}

fn superscript(k: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits = k.unsigned_abs().to_string();
    let sign = if k < 0 { "⁻" } else { "" };
    sign.chars()
        .chain(digits.bytes().map(|b| DIGITS[usize::from(b - b'0')]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[f64]) -> Vec<String> {
        let format = tick_format(ticks);
        ticks.iter().map(|&t| tick_label(t, format)).collect()
    }

    #[test]
    fn integers_have_no_decimals_and_zero_has_no_sign() {
        assert_eq!(
            labels(&[-0.0, 10000.0, 20000.0, 30000.0]),
            ["0", "10000", "20000", "30000"]
        );
        // Float noise from a step of 0.1 is not read as decimals to write.
        assert_eq!(
            labels(&[-0.2, -0.1, 0.0, 0.1, 0.2, 0.30000000000000004]),
            ["-0.2", "-0.1", "0", "0.1", "0.2", "0.3"]
        );
        // A tick that rounds to zero at the axis' precision is zero, without a sign.
        assert_eq!(labels(&[-1e-17, 0.5, 1.0]), ["0", "0.5", "1"]);
    }

    #[test]
    fn decimals_are_those_of_the_finest_tick() {
        assert_eq!(
            labels(&[0.0, 0.25, 0.5, 0.75, 1.0]),
            ["0", "0.25", "0.5", "0.75", "1"]
        );
        assert_eq!(labels(&[0.162, 0.164, 0.166]), ["0.162", "0.164", "0.166"]);
    }

    #[test]
    fn large_and_small_axes_are_scientific() {
        assert_eq!(
            labels(&[0.0, 2e5, 4e5, 1e6, 371_880_000.0]),
            ["0", "2×10⁵", "4×10⁵", "1×10⁶", "3.719×10⁸"]
        );
        assert_eq!(labels(&[0.0, 2.5e-4, 5e-4]), ["0", "2.5×10⁻⁴", "5×10⁻⁴"]);
        assert_eq!(tick_label(-9.99996e7, TickFormat::Scientific), "-1×10⁸");
    }

    #[test]
    fn log_axes_write_decades() {
        let decades: Vec<String> = [-8.0, -1.0, 0.0, 1.0, 12.0]
            .iter()
            .map(|&k| tick_label(k, TickFormat::PowerOfTen))
            .collect();
        assert_eq!(decades, ["10⁻⁸", "10⁻¹", "1", "10", "10¹²"]);
        assert_eq!(tick_label(0.5f64.log10(), TickFormat::PowerOfTen), "0.5");
        assert_eq!(tick_label(-0.5, TickFormat::PowerOfTen), "0.32");
    }
}
