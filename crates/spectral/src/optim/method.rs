//! The interface of a matrix method ([`MatrixMethod`]) and the names of the methods
//! ([`Method`]); [`registry`](super::registry) builds a method from its name and settings.
//!
//! [`SpectralOptimizer`](super::SpectralOptimizer) steps the matrix parameters in batches: the
//! method partitions the matrices into groups (one matrix, or a TEON stack of `k`), the groups
//! of one shape (and one owner device, when sharded) form a batch of `n` groups, and for each
//! batch the router
//!
//! 1. stacks the members' gradients `[n·k·d_in, d_out]` (burn's layout, one above the other)
//!    and updates their heavy-ball momentum with the method's [`momentum`](MatrixMethod::momentum);
//! 2. on the batch's owner only, calls [`shape`](MatrixMethod::shape) on the Nesterov direction;
//! 3. sends its result and the groups' new state to every device;
//! 4. on every device, calls [`apply`](MatrixMethod::apply) to get the new weights.
//!
//! Momentum, stacking and apply are elementwise, so a batch computes what its groups would
//! one at a time, bit for bit; only the shaping of a batch is the method's own business.

use super::groups::ParamSlot;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// The optimizer of the matrix parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[serde(rename = "adamw")]
    AdamW,
    Muon,
    Teon,
    Spectra,
    SpectraTeon,
    ManifoldMuon,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::AdamW,
        Method::Muon,
        Method::Teon,
        Method::Spectra,
        Method::SpectraTeon,
        Method::ManifoldMuon,
    ];

    /// The name in configs, on the command line and in checkpoints (the serde name).
    pub fn name(self) -> &'static str {
        match self {
            Method::AdamW => "adamw",
            Method::Muon => "muon",
            Method::Teon => "teon",
            Method::Spectra => "spectra",
            Method::SpectraTeon => "spectra_teon",
            Method::ManifoldMuon => "manifold_muon",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown optimizer {text:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The shape of a batch: `n` groups of `k` matrices of burn shape `[d_in, d_out]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchShape {
    pub n: usize,
    pub k: usize,
    pub d_in: usize,
    pub d_out: usize,
}

impl BatchShape {
    /// `[n·k·d_in, d_out]`: the stack of the batch's matrices.
    pub fn stacked(self) -> [usize; 2] {
        [self.n * self.k * self.d_in, self.d_out]
    }
}

/// What the owner of a batch shapes.
pub struct Batch<'a, B: Backend> {
    pub shape: BatchShape,
    /// The Nesterov momentum directions, `[n·k·d_in, d_out]`: group by group, each group's
    /// `k` members one above the other (TEON's mode-1 stack in burn's layout).
    pub direction: Tensor<B, 2>,
    /// The current weights, stacked the same way.
    pub weight: &'a Tensor<B, 2>,
    /// Each group's state from the previous step (`None` on the first), `n` of them.
    pub state: Vec<Option<Tensor<B, 2>>>,
    /// Learning rate of this step (the schedule's factor applied).
    pub lr: f64,
}

/// The owner's result for a batch, which every device receives.
pub struct Shaped<B: Backend> {
    /// `[n·k·d_in, d_out]`, read by [`MatrixMethod::apply`].
    pub result: Tensor<B, 2>,
    /// Each group's new state, `n` of them; empty for a method without state.
    pub state: Vec<Tensor<B, 2>>,
}

/// A way to step the matrix parameters (module doc for the order of the calls).
pub trait MatrixMethod<B: Backend> {
    /// Momentum coefficient μ and Nesterov flag of the per-matrix heavy-ball buffers
    /// ([`momentum_direction`](super::momentum::momentum_direction)).
    fn momentum(&self) -> (f64, bool);

    /// The groups stepped together, as indices into `slots` (the matrices with a gradient):
    /// every slot in exactly one group, the members of a group of one shape. Default: each
    /// matrix alone.
    fn groups(&self, slots: &[ParamSlot]) -> Vec<Vec<usize>> {
        (0..slots.len()).map(|i| vec![i]).collect()
    }

    /// Whether groups of one shape are stepped as one batch (fewer, larger operations: what a
    /// GPU step waits on) rather than one group at a time. Same arithmetic either way.
    fn stack_by_shape(&self) -> bool {
        true
    }

    /// Name of the per-group state in a checkpoint (`{name}/{member paths joined by +}`), for a
    /// method that keeps one.
    fn state_name(&self) -> Option<&'static str> {
        None
    }

    /// The owner's work on a batch: its result and, for a method with state, each group's new
    /// state.
    fn shape(&self, batch: Batch<'_, B>) -> Shaped<B>;

    /// The batch's new weights `[n·k·d_in, d_out]` from its current ones and the shared
    /// result, on every device.
    fn apply(
        &self,
        weight: Tensor<B, 2>,
        result: Tensor<B, 2>,
        shape: BatchShape,
        lr: f64,
    ) -> Tensor<B, 2>;
}

/// The weight after one step: `W·(1 − lr·λ) − lr·scale·update`.
pub fn apply_update<B: Backend>(
    weight: Tensor<B, 2>,
    update: Tensor<B, 2>,
    lr: f64,
    scale: f64,
    weight_decay: f64,
) -> Tensor<B, 2> {
    let decayed = if weight_decay == 0.0 {
        weight
    } else {
        weight.mul_scalar(1.0 - lr * weight_decay)
    };
    decayed - update.mul_scalar(lr * scale)
}

/// The indices of `keys` grouped by equal key, groups in order of first appearance and
/// indices ascending within each: how same-shape matrices are batched.
pub(crate) fn group_indices<K: PartialEq>(
    keys: impl IntoIterator<Item = K>,
) -> Vec<(K, Vec<usize>)> {
    let mut groups: Vec<(K, Vec<usize>)> = Vec::new();
    for (index, key) in keys.into_iter().enumerate() {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(index),
            None => groups.push((key, vec![index])),
        }
    }
    groups
}
