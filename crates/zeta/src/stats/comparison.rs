//! The comparison table of a [`StatsReport`]: each statistic of the zeros beside the GUE
//! control sample and, where it is known in closed form, GUE theory. `spectral stats` prints
//! it as text and `spectral report` writes it as Markdown; both take their rows from
//! [`StatsReport::comparison_rows`].

use super::gaudin::gaudin_variance;
use super::report::StatsReport;

/// The lengths L at which Σ²(L) and Δ₃(L) enter the table (mean-spacing units).
pub const TABLE_LENGTHS: [f64; 3] = [1.0, 5.0, 20.0];

/// One statistic: its name, the zeros' value, the GUE control's, GUE theory's (`None`: no
/// closed form in the table).
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonRow {
    pub label: String,
    pub zeros: f64,
    pub control: f64,
    pub theory: Option<f64>,
}

impl StatsReport {
    /// The rows, in table order: variance of the spacings δ (GUE: Gaudin's 0.17999), the
    /// Kolmogorov–Smirnov distance to Gaudin's law, the Wigner surmise and Poisson, the L1
    /// distance to Gaudin's law, Σ²(L) and Δ₃(L) at [`TABLE_LENGTHS`], and the lag-1
    /// autocorrelation of consecutive spacings.
    pub fn comparison_rows(&self) -> Vec<ComparisonRow> {
        let (z, g) = (&self.zeros, &self.gue_control);
        let row = |label: &str, zeros: f64, control: f64, theory: Option<f64>| ComparisonRow {
            label: label.to_string(),
            zeros,
            control,
            theory,
        };
        let mut rows = vec![
            row(
                "variance of δ",
                z.variance,
                g.variance,
                Some(gaudin_variance()),
            ),
            row("KS to Gaudin", z.ks.gaudin, g.ks.gaudin, Some(0.0)),
            row("KS to Wigner surmise", z.ks.wigner, g.ks.wigner, None),
            row("KS to Poisson", z.ks.poisson, g.ks.poisson, None),
            row("L1 to Gaudin", z.l1.gaudin, g.l1.gaudin, Some(0.0)),
        ];
        for (name, zs, gs) in [
            ("Σ²", &z.number_variance, &g.number_variance),
            ("Δ₃", &z.rigidity, &g.rigidity),
        ] {
            for (p, q) in zs
                .iter()
                .zip(gs)
                .filter(|(p, _)| TABLE_LENGTHS.contains(&p.x))
            {
                rows.push(row(
                    &format!("{name}(L = {})", p.x),
                    p.measured,
                    q.measured,
                    Some(p.gue),
                ));
            }
        }
        if let (Some(a), Some(b)) = (z.autocorrelation.first(), g.autocorrelation.first()) {
            rows.push(row("autocorrelation, lag 1", *a, *b, None));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::super::gue_sample::gue_blocks;
    use super::super::report::analyze_blocks;
    use super::*;

    #[test]
    fn rows_name_and_carry_the_report_s_numbers() {
        let zeros = analyze_blocks(&gue_blocks(3000, 1));
        let gue_control = analyze_blocks(&gue_blocks(3000, 2));
        let report = StatsReport {
            source: "s.f64".into(),
            first_index: 1,
            zeros: zeros.clone(),
            gue_control: gue_control.clone(),
            height_drift: Vec::new(),
            seconds: 0.0,
        };
        let rows = report.comparison_rows();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "variance of δ",
                "KS to Gaudin",
                "KS to Wigner surmise",
                "KS to Poisson",
                "L1 to Gaudin",
                "Σ²(L = 1)",
                "Σ²(L = 5)",
                "Σ²(L = 20)",
                "Δ₃(L = 1)",
                "Δ₃(L = 5)",
                "Δ₃(L = 20)",
                "autocorrelation, lag 1",
            ]
        );
        assert_eq!(
            rows[0],
            ComparisonRow {
                label: "variance of δ".into(),
                zeros: zeros.variance,
                control: gue_control.variance,
                theory: Some(gaudin_variance()),
            }
        );
        let sigma2_20 = zeros.number_variance.iter().find(|p| p.x == 20.0).unwrap();
        assert_eq!(
            (rows[7].zeros, rows[7].theory),
            (sigma2_20.measured, Some(sigma2_20.gue))
        );
        assert_eq!(rows[11].control, gue_control.autocorrelation[0]);
    }
}
