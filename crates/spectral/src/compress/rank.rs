//! How many singular values each compressed layer keeps.

use super::CompressError;

/// The rank rule of a compression run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RankRule {
    /// The same rank `k` for every layer (clamped to `min(d_in, d_out)`).
    Fixed(usize),
    /// Per layer, the least `k` with `Σ_{i≤k} σ_i² ≥ p Σ σ_i²`, `0 < p ≤ 1` (σ of `W`, or of
    /// the whitened `Lᵀ W`, whose energy is output energy on the calibration data).
    Energy(f64),
    /// One budget over all compressed layers: their factored weights keep at most this fraction
    /// of those layers' dense weight parameters, `0 < f < 1`. Singular values are taken greedily,
    /// across layers, by relative energy `σ_i² / Σσ²` per parameter it costs (`d_in + d_out`), so
    /// the layers' relative errors are balanced rather than their absolute ones.
    Params(f64),
}

impl RankRule {
    /// Checks the rule's number at the door.
    pub fn validate(&self) -> Result<(), CompressError> {
        let ok = match *self {
            RankRule::Fixed(k) => k >= 1,
            RankRule::Energy(p) => p > 0.0 && p <= 1.0,
            RankRule::Params(f) => f > 0.0 && f < 1.0,
        };
        if ok {
            Ok(())
        } else {
            Err(CompressError::Rule(format!(
                "{self:?}: need rank ≥ 1, energy in (0, 1], params fraction in (0, 1)"
            )))
        }
    }
}

/// What the rank choice sees of one layer.
#[derive(Clone, Debug)]
pub struct LayerSpectrum<'a> {
    /// Singular values, non-increasing.
    pub s: &'a [f64],
    pub d_in: usize,
    pub d_out: usize,
}

impl LayerSpectrum<'_> {
    /// Largest rank whose factors are smaller than the dense weight:
    /// `k (d_in + d_out) < d_in d_out`, and at most `min(d_in, d_out)`.
    pub fn max_useful_rank(&self) -> usize {
        let (m, n) = (self.d_in, self.d_out);
        ((m * n).saturating_sub(1) / (m + n)).min(m.min(n))
    }
}

/// The rank of each layer under `rule`; `None` = leave it dense (its factors would not be
/// smaller than `d_in × d_out`).
pub fn choose_ranks(
    layers: &[LayerSpectrum<'_>],
    rule: RankRule,
) -> Result<Vec<Option<usize>>, CompressError> {
    rule.validate()?;
    let useful =
        |layer: &LayerSpectrum<'_>, k: usize| (k >= 1 && k <= layer.max_useful_rank()).then_some(k);
    Ok(match rule {
        RankRule::Fixed(k) => layers.iter().map(|l| useful(l, k)).collect(),
        RankRule::Energy(p) => layers
            .iter()
            .map(|l| useful(l, energy_rank(l.s, p)))
            .collect(),
        RankRule::Params(fraction) => budget_ranks(layers, fraction)
            .into_iter()
            .map(Some)
            .collect(),
    })
}

/// Least `k ≥ 1` with `Σ_{i≤k} σ_i² ≥ p Σσ²`.
pub fn energy_rank(s: &[f64], p: f64) -> usize {
    let total: f64 = s.iter().map(|x| x * x).sum();
    let mut acc = 0.0;
    for (i, x) in s.iter().enumerate() {
        acc += x * x;
        // A relative slack of 1e-12 so that p = 1 does not run past the last nonzero σ.
        if acc >= p * total * (1.0 - 1e-12) {
            return i + 1;
        }
    }
    s.len().max(1)
}

/// Greedy global allocation: every layer starts at rank 1; then the singular value with the
/// largest `(σ² / Σσ²) / (d_in + d_out)` is added while the budget allows and the layer is
/// below its useful maximum.
fn budget_ranks(layers: &[LayerSpectrum<'_>], fraction: f64) -> Vec<usize> {
    let dense: usize = layers.iter().map(|l| l.d_in * l.d_out).sum();
    let budget = fraction * dense as f64;
    let mut ranks = vec![1usize; layers.len()];
    let mut used: usize = layers.iter().map(|l| l.d_in + l.d_out).sum();
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new(); // (score, layer, index)
    for (li, l) in layers.iter().enumerate() {
        let total: f64 =
            l.s.iter()
                .map(|x| x * x)
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
        let cost = (l.d_in + l.d_out) as f64;
        for (i, x) in l.s.iter().enumerate().take(l.max_useful_rank()).skip(1) {
            candidates.push((x * x / total / cost, li, i));
        }
    }
    // Within a layer scores do not increase with the index, so the stable sort by score keeps
    // each layer's singular values in order.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, li, i) in candidates {
        let cost = layers[li].d_in + layers[li].d_out;
        if ranks[li] == i && (used + cost) as f64 <= budget {
            ranks[li] += 1;
            used += cost;
        }
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_rank_is_the_least_rank_reaching_p() {
        let s = [3.0, 2.0, 1.0, 0.0]; // energies 9, 4, 1 of 14
        assert_eq!(energy_rank(&s, 9.0 / 14.0), 1);
        assert_eq!(energy_rank(&s, 0.65), 2);
        assert_eq!(energy_rank(&s, 13.0 / 14.0), 2);
        assert_eq!(energy_rank(&s, 0.95), 3);
        assert_eq!(energy_rank(&s, 1.0), 3);
    }

    #[test]
    fn fixed_rank_leaves_layers_dense_when_factors_would_be_larger() {
        let s = vec![1.0; 8];
        let square = LayerSpectrum {
            s: &s,
            d_in: 8,
            d_out: 8,
        }; // useful k < 64/16 = 4
        assert_eq!(square.max_useful_rank(), 3);
        let ranks = choose_ranks(std::slice::from_ref(&square), RankRule::Fixed(3)).unwrap();
        assert_eq!(ranks, vec![Some(3)]);
        assert_eq!(
            choose_ranks(&[square], RankRule::Fixed(4)).unwrap(),
            vec![None]
        );
        assert!(choose_ranks(&[], RankRule::Energy(1.5)).is_err());
    }

    #[test]
    fn budget_is_respected_and_spent_on_the_steepest_spectra() {
        // Layer 0: one dominant direction; layer 1: flat. Same shapes, 32 x 32.
        let steep: Vec<f64> = (0..32).map(|i| 0.5f64.powi(i)).collect();
        let flat = vec![1.0; 32];
        let layers = [
            LayerSpectrum {
                s: &steep,
                d_in: 32,
                d_out: 32,
            },
            LayerSpectrum {
                s: &flat,
                d_in: 32,
                d_out: 32,
            },
        ];
        let ranks = choose_ranks(&layers, RankRule::Params(0.25)).unwrap();
        let [Some(a), Some(b)] = ranks[..] else {
            panic!("{ranks:?}")
        };
        let used = (a + b) * 64;
        assert!(used as f64 <= 0.25 * 2048.0, "{used}");
        assert!(
            used as f64 > 0.25 * 2048.0 - 64.0,
            "budget left unspent: {used}"
        );
        // The steep layer's tail carries almost no energy: nearly all rank goes to the flat one.
        assert!(a < 8 && b > a, "{a} {b}");
    }
}
