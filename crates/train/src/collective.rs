//! The device threads of a data-parallel run as peers of burn's collective
//! (`burn::collective`, the `burn-collective` crate): registration, the gradient all-reduce
//! (burn-optim's `GradientsParams::all_reduce`), a small all-reduce of the step's loss and
//! failure flag, and the broadcast of shaped matrices for the sharded optimizer step.
//!
//! burn's collective keeps one local server per backend type in the process; its peers are
//! threads, named by [`PeerId`], and need not sit on distinct devices (NdArray has a single
//! device, so `cpu:0,cpu:1` are two peers on it). A process runs one collective at a time:
//! [`Collective::join`] holds a lock for the whole run.

use burn::collective::{
    self, CollectiveConfig, CollectiveError, PeerId, ReduceOperation, finish_collective,
    reset_collective,
};
use burn::optim::GradientsParams;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};
use spectral::optim::{MatrixExchange, OptimError, Shard};
use std::sync::{Mutex, MutexGuard};

/// What the collective can report.
#[derive(Debug, thiserror::Error)]
pub enum CollectiveFailure {
    #[error("burn collective, {operation}: {error:?}")]
    Burn {
        operation: &'static str,
        error: CollectiveError,
    },
    #[error("another device stopped the run (its error is reported by that device)")]
    PeerFailed,
}

fn burn_error(operation: &'static str) -> impl FnOnce(CollectiveError) -> CollectiveFailure {
    move |error| CollectiveFailure::Burn { operation, error }
}

/// burn's local collective server is one per process and backend: two runs must not
/// register peers at the same time.
static RUN_LOCK: Mutex<()> = Mutex::new(());

/// Held by the thread that starts a data-parallel run, for the whole run.
pub struct Collective {
    _run: MutexGuard<'static, ()>,
}

impl Collective {
    /// Waits for any other data-parallel run of this process to end, then clears what a
    /// failed run may have left registered on backend `B`'s server.
    pub fn join<B: Backend>() -> Self {
        let run = RUN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        reset_collective::<B>();
        Self { _run: run }
    }
}

/// One device thread of a data-parallel run, on backend `B` (the inner, non-autodiff
/// backend: burn's collective works on plain tensors).
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub shard: Shard,
}

impl Peer {
    fn id(&self) -> PeerId {
        PeerId::from(self.shard.rank)
    }

    /// Registers this peer with its device; returns once all `world` peers have.
    pub fn register<B: Backend>(&self, device: &B::Device) -> Result<(), CollectiveFailure> {
        let config = CollectiveConfig::default().with_num_devices(self.shard.world);
        collective::register::<B>(self.id(), device.clone(), config).map_err(burn_error("register"))
    }

    /// Leaves the collective at the end of the run.
    pub fn finish<B: Backend>(&self) -> Result<(), CollectiveFailure> {
        finish_collective::<B>(self.id()).map_err(burn_error("finish"))
    }

    /// The mean over peers of every gradient (burn-optim's all-reduce, in `ParamId` order,
    /// which is the same on every peer because the replicas are clones).
    pub fn mean_gradients<B: Backend>(
        &self,
        grads: GradientsParams,
    ) -> Result<GradientsParams, CollectiveFailure> {
        grads
            .all_reduce::<B>(self.id(), ReduceOperation::Mean)
            .map_err(burn_error("gradient all-reduce"))
    }

    /// Every peer's `value` averaged, and whether any peer `failed`: the step's global loss
    /// and the signal that stops all peers together (a peer that stopped alone would leave
    /// the others waiting in the next all-reduce).
    pub fn agree<B: Backend>(
        &self,
        value: f64,
        failed: bool,
        device: &B::Device,
    ) -> Result<(f64, bool), CollectiveFailure> {
        let local =
            Tensor::<B, 1>::from_floats([value as f32, f32::from(u8::from(failed))], device);
        let summed = collective::all_reduce::<B>(
            self.id(),
            local.into_primitive().tensor(),
            ReduceOperation::Sum,
        )
        .map_err(burn_error("loss all-reduce"))?;
        let summed = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(summed))
            .into_data()
            .to_vec::<f32>()
            .expect("f32 tensor");
        Ok((
            f64::from(summed[0]) / self.shard.world as f64,
            summed[1] > 0.0,
        ))
    }
}

/// The sharded optimizer step's exchange: the owner of a shaped matrix broadcasts it to the
/// other peers through burn's collective broadcast.
pub struct BroadcastExchange {
    pub peer: Peer,
}

impl<B: Backend> MatrixExchange<B> for BroadcastExchange {
    fn share(
        &mut self,
        owner: usize,
        tensor: Option<Tensor<B, 2>>,
    ) -> Result<Tensor<B, 2>, OptimError> {
        let sent = tensor.map(|t| t.into_primitive().tensor());
        let received = collective::broadcast::<B>(self.peer.id(), sent)
            .map_err(|e| OptimError::Exchange(format!("broadcast from device {owner}: {e:?}")))?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(received)))
    }
}
