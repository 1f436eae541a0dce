//! [`OptimizerConfig`]: the `[optimizer]` table of a training config, with one sub-table per
//! method (`[optimizer.muon]`, `[optimizer.teon]`, …) and per-role AdamW overrides.

use super::adamw::AdamWSettings;
use super::groups::{GroupRule, Role, transformer_rules};
use super::manifold_muon::ManifoldMuonConfig;
use super::method::Method;
use super::muon::MuonConfig;
use super::spectra::SpectraConfig;
use super::teon::TeonConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A role's own learning rate and weight decay, overriding [`AdamWSettings`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleOverride {
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
}

/// Everything the optimizer needs; a TOML table (`[optimizer]`) in the training configs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Optimizer of the matrix parameters.
    pub method: Method,
    /// Peak learning rate per step of the matrix parameters. Scale by method: Muon, TEON
    /// (Keller Jordan scaling) and ManifoldMuon ~0.02; Spectra, SpectraTeon, AdamW and
    /// Moonlight-scaled Muon ~1e-3 (their updates have AdamW's RMS).
    pub lr: f64,
    pub adamw: AdamWSettings,
    pub muon: MuonConfig,
    pub teon: TeonConfig,
    pub spectra: SpectraConfig,
    pub manifold_muon: ManifoldMuonConfig,
    /// Per-role learning rate and weight decay for the AdamW roles.
    pub roles: BTreeMap<Role, RoleOverride>,
    /// Ordered routing rules; the default fits this workspace's transformers.
    pub rules: Vec<GroupRule>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            method: Method::Muon,
            lr: 0.02,
            adamw: AdamWSettings::default(),
            muon: MuonConfig::default(),
            teon: TeonConfig::default(),
            spectra: SpectraConfig::default(),
            manifold_muon: ManifoldMuonConfig::default(),
            roles: BTreeMap::new(),
            rules: transformer_rules(),
        }
    }
}

impl OptimizerConfig {
    /// Learning rate and weight decay of an AdamW-trained parameter of rank `rank`.
    pub(crate) fn adamw_hyper(&self, role: Role, rank: usize) -> (f64, f64) {
        let over = self.roles.get(&role).copied().unwrap_or_default();
        let default_lr = if role == Role::Matrix {
            self.lr
        } else {
            self.adamw.lr
        };
        let default_decay = if rank >= 2 {
            self.adamw.weight_decay
        } else {
            0.0
        };
        (
            over.lr.unwrap_or(default_lr),
            over.weight_decay.unwrap_or(default_decay),
        )
    }
}
