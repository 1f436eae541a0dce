//! The verdicts on the notes' claims from a [`KindShootout`]: `A vs B` on final validation
//! loss, d = mean_A − mean_B, σ_d = √(s_A²/n_A + s_B²/n_B); |d|/σ_d ≥ 3 is read as a
//! difference, below that as "not shown" (the module doc of [`super`] gives the rules).

use super::KindShootout;
use crate::mean_std::MeanStd;
use spectral::optim::Method;

/// `A vs B` on final validation loss: d = mean_A − mean_B and d / σ_d (module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub a: MeanStd,
    pub b: MeanStd,
    pub difference: f64,
    /// |d| / σ_d; `None` when σ_d = 0 (one seed each, or identical runs).
    pub sigmas: Option<f64>,
}

pub fn compare(a: MeanStd, b: MeanStd) -> Comparison {
    let sigma = (a.std.powi(2) / a.n as f64 + b.std.powi(2) / b.n as f64).sqrt();
    let difference = a.mean - b.mean;
    Comparison {
        a,
        b,
        difference,
        sigmas: (sigma > 0.0).then(|| difference.abs() / sigma),
    }
}

/// One claim of the notes and what the runs say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub claim: &'static str,
    pub finding: String,
}

fn equal_steps(
    shootout: &KindShootout,
    a: Method,
    b: Method,
    claim: &'static str,
) -> Option<Verdict> {
    let (ra, rb) = (shootout.method(a)?, shootout.method(b)?);
    let (va, vb) = (ra.final_val?, rb.final_val?);
    let c = compare(va, vb);
    let (lower, by) = if c.difference < 0.0 {
        (a.name(), -c.difference)
    } else {
        (b.name(), c.difference)
    };
    let reading = match c.sigmas {
        Some(z) if z >= 3.0 => format!("{lower} lower by {by:.4} = {z:.1} σ: a difference"),
        Some(z) => format!("{lower} lower by {by:.4} = {z:.1} σ: not shown (< 3 σ)"),
        None => format!("{lower} lower by {by:.4}; no spread to judge it (one seed)"),
    };
    Some(Verdict {
        claim,
        finding: format!(
            "{} {} vs {} {} (n = {} / {} seeds, {} steps): {reading}",
            a.name(),
            va.pm(4),
            b.name(),
            vb.pm(4),
            va.n,
            vb.n,
            ra.steps.max(rb.steps)
        ),
    })
}

fn sooner(shootout: &KindShootout) -> Option<Verdict> {
    let (spectra, adamw) = (
        shootout.method(Method::Spectra)?,
        shootout.method(Method::AdamW)?,
    );
    let goal = adamw.final_val?.mean;
    let (adamw_steps, _) = adamw.to_target(goal)?;
    let finding = match spectra.to_target(goal) {
        Some((steps, _)) => format!(
            "AdamW's final mean loss {goal:.4}: spectra's mean curve reaches it at step {steps}, adamw's at {adamw_steps} → {:.0} % {} (evaluation steps bound the resolution)",
            100.0 * (1.0 - steps as f64 / adamw_steps as f64).abs(),
            if steps <= adamw_steps {
                "sooner"
            } else {
                "later"
            }
        ),
        None => format!(
            "AdamW's final mean loss {goal:.4}: spectra's mean curve does not reach it in {} steps",
            spectra.steps
        ),
    };
    Some(Verdict {
        claim: "Spectra reaches AdamW's loss about 30 % sooner",
        finding,
    })
}

/// The notes' four claims, each where both of its methods ran.
pub fn verdicts(shootout: &KindShootout) -> Vec<Verdict> {
    [
        equal_steps(
            shootout,
            Method::Muon,
            Method::AdamW,
            "Muon beats AdamW at equal steps",
        ),
        equal_steps(shootout, Method::Teon, Method::Muon, "TEON beats Muon"),
        sooner(shootout),
        equal_steps(
            shootout,
            Method::SpectraTeon,
            Method::Teon,
            "Spectra-TEON beats TEON",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}
