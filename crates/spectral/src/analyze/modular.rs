//! The modular norm of a network (Bernstein et al., *Scalable Optimization in the Modular
//! Norm*, 2024, arXiv:2405.14813), in the simplest well-normed form.
//!
//! Atoms and their norms (burn's layout, RMS-normalized activations):
//! - Linear `W: [d_in, d_out]`: the RMS→RMS operator norm `√(d_in / d_out) · σ_1(W)` (a unit
//!   RMS input maps to an output of RMS at most this);
//! - Embedding `E: [num, dim]`: the ℓ1→RMS norm `max_i ‖E_i‖_2 / √dim` (a one-hot input reads
//!   one row).
//!
//! Composition: every atom gets mass 1, every bond (LayerNorm, GELU, softmax attention, the
//! residual sums) sensitivity 1. Under both rules of the paper, sequential
//! `‖(w_1, w_2)‖ = max(m/m_1 · μ_2 ‖w_1‖, m/m_2 · ‖w_2‖)` and parallel
//! `‖(w_1, w_2)‖ = max(m/m_1 · ‖w_1‖, m/m_2 · ‖w_2‖)`, unit sensitivities leave a max of
//! mass-weighted children; the ratios telescope down the module tree, so each atom's
//! coefficient is `M / m_l` (total mass over its own) whatever the tree's shape:
//!
//! `‖w‖_M = max_l (M / m_l) · ‖W_l‖_l = N · max_l ‖W_l‖_l` with `N` atoms of unit mass.
//!
//! The per-layer scale coefficient reported is `(M / m_l) · √(d_in/d_out)` for a Linear and
//! `(M / m_l) / √dim` for an embedding (times σ_1, resp. the largest row norm).

use super::source::Role;
use super::stats::MatrixStats;
use serde::Serialize;

/// One atom's part of the modular norm.
#[derive(Clone, Debug, Serialize)]
pub struct ModularTerm {
    pub name: String,
    /// Multiplies the atom's base quantity (σ_1 or the largest row norm).
    pub coefficient: f64,
    /// `coefficient × base`.
    pub value: f64,
}

/// The network's modular norm and its per-atom terms.
#[derive(Clone, Debug, Serialize)]
pub struct ModularNorm {
    pub norm: f64,
    /// The atom attaining the max.
    pub argmax: String,
    pub terms: Vec<ModularTerm>,
}

/// The modular norm of atoms `(stats, role, largest row norm)`, each of unit mass.
pub fn modular_norm(atoms: &[(&MatrixStats, Role, f64)]) -> ModularNorm {
    let total_mass = atoms.len() as f64;
    let terms: Vec<ModularTerm> = atoms
        .iter()
        .map(|(st, role, max_row)| {
            let (coefficient, base) = match role {
                Role::Linear => (
                    total_mass * (st.d_in as f64 / st.d_out as f64).sqrt(),
                    st.spectral_norm,
                ),
                Role::Embedding => (total_mass / (st.d_out as f64).sqrt(), *max_row),
            };
            ModularTerm {
                name: st.name.clone(),
                coefficient,
                value: coefficient * base,
            }
        })
        .collect();
    let best = terms
        .iter()
        .max_by(|a, b| a.value.total_cmp(&b.value))
        .map(|t| (t.value, t.name.clone()))
        .unwrap_or((0.0, String::new()));
    ModularNorm {
        norm: best.0,
        argmax: best.1,
        terms,
    }
}
