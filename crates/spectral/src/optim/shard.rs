//! Sharding the orthogonalization of a data-parallel optimizer step across devices.
//!
//! In data-parallel training every device holds the same weights and, after the gradient
//! all-reduce, the same gradients. Repeating `msign` (or Spectra's shaping) on every device
//! wastes all but one of them, so — as in the distributed Muon implementations (Moonlight,
//! arXiv 2502.16982; the modded-nanogpt speedrun) — each device shapes only the groups it
//! owns and then sends each result to the others. A group (one matrix, or one TEON stack,
//! which stays whole) is owned by exactly one device; [`assign_owners`] picks the owner from
//! the groups' costs so that every device gets about the same amount of work, and every
//! device computes the same assignment without talking to the others.
//!
//! How results travel is a [`MatrixExchange`]: burn's collective broadcast between device
//! threads in `train`, [`SingleDevice`] (nothing travels) when there is one device.

use super::OptimError;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// This device's place among the devices that share an optimizer step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Index of this device, `0..world`.
    pub rank: usize,
    /// Number of devices.
    pub world: usize,
}

impl Shard {
    /// One device doing all the work.
    pub const SINGLE: Shard = Shard { rank: 0, world: 1 };
}

/// Moves a shaped matrix from the device that computed it to every device.
///
/// Every device calls [`share`](Self::share) for the same results in the same order; the
/// owner passes `Some(result)`, the others `None`, and every caller gets the result back on
/// its own device.
pub trait MatrixExchange<B: Backend> {
    fn share(
        &mut self,
        owner: usize,
        tensor: Option<Tensor<B, 2>>,
    ) -> Result<Tensor<B, 2>, OptimError>;
}

/// The exchange of a single device: it owns everything, so the result is already here.
pub struct SingleDevice;

impl<B: Backend> MatrixExchange<B> for SingleDevice {
    fn share(
        &mut self,
        owner: usize,
        tensor: Option<Tensor<B, 2>>,
    ) -> Result<Tensor<B, 2>, OptimError> {
        tensor.ok_or_else(|| {
            OptimError::State(format!(
                "device {owner} owns a result, but there is only one device"
            ))
        })
    }
}

/// Relative cost of shaping a `[rows, cols]` matrix (a TEON stack counts as one matrix):
/// `rows·cols·min(rows, cols)`, the flop count of one Newton–Schulz iteration up to a
/// constant. Only ratios matter.
pub fn shaping_cost(rows: usize, cols: usize) -> f64 {
    rows as f64 * cols as f64 * rows.min(cols) as f64
}

/// The device that shapes each group: greedy longest-processing-time scheduling — groups by
/// decreasing cost (ties: lower index first), each to the least-loaded device so far (ties:
/// lower rank). Deterministic, so every device computes the same answer; the largest load
/// is at most `4/3` of the best possible (Graham 1969) and at most the mean load plus the
/// largest single cost. Returns one rank in `0..world` per entry of `costs`.
pub fn assign_owners(costs: &[f64], world: usize) -> Vec<usize> {
    assert!(world > 0, "assign_owners needs at least one device");
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0_f64; world];
    let mut owners = vec![0; costs.len()];
    for group in order {
        let rank = (0..world)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .expect("world > 0");
        owners[group] = rank;
        load[rank] += costs[group];
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_costs_are_dealt_round_robin() {
        assert_eq!(assign_owners(&[1.0; 5], 2), vec![0, 1, 0, 1, 0]);
        assert_eq!(assign_owners(&[1.0; 3], 1), vec![0, 0, 0]);
    }

    #[test]
    fn one_large_group_gets_a_device_to_itself() {
        // 8 against 1+1+1+1+1+1: the big one alone on device 0, the small ones on device 1.
        let costs = [1.0, 1.0, 8.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(assign_owners(&costs, 2), vec![1, 1, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn cost_of_a_tall_and_a_wide_matrix_agree() {
        assert_eq!(shaping_cost(64, 256), shaping_cost(256, 64));
        assert_eq!(shaping_cost(64, 256), 64.0 * 256.0 * 64.0);
    }

    proptest! {
        #[test]
        fn every_group_is_owned_once_and_loads_are_balanced(
            costs in proptest::collection::vec(0.0f64..100.0, 0..40),
            world in 1usize..6,
        ) {
            let owners = assign_owners(&costs, world);
            prop_assert_eq!(owners.len(), costs.len());
            prop_assert!(owners.iter().all(|&r| r < world));
            prop_assert_eq!(&owners, &assign_owners(&costs, world));
            let mut load = vec![0.0; world];
            for (&c, &r) in costs.iter().zip(&owners) {
                load[r] += c;
            }
            let total: f64 = costs.iter().sum();
            let largest = costs.iter().cloned().fold(0.0, f64::max);
            let max_load = load.iter().cloned().fold(0.0, f64::max);
            // List scheduling bound: the last group placed on the fullest device found it
            // the least loaded, so the fullest load is below mean + that group's cost.
            prop_assert!(max_load <= total / world as f64 + largest + 1e-9);
        }
    }
}
