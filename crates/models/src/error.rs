//! The one error type of this crate: bad configurations and bad inputs, each naming the
//! offending value.

/// Why a model could not be built or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A size that must be at least 1 was 0.
    #[error("{name} must be at least 1, got 0")]
    ZeroSize { name: &'static str },
    /// The embedding width does not split evenly into heads.
    #[error("n_embd = {n_embd} is not divisible by n_head = {n_head}")]
    HeadsDontDivide { n_embd: usize, n_head: usize },
    /// RoPE rotates pairs of channels, so each head needs an even width.
    #[error("RoPE needs an even head dimension, got n_embd / n_head = {head_dim}")]
    OddHeadDim { head_dim: usize },
    /// A real-valued setting outside its allowed range.
    #[error("{name} = {value} is outside {range}")]
    OutOfRange {
        name: &'static str,
        value: f64,
        range: &'static str,
    },
    /// An input longer than the model's context (block_size).
    #[error("sequence of length {len} is longer than block_size = {block_size}")]
    SequenceTooLong { len: usize, block_size: usize },
    /// An input of the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    Shape {
        what: &'static str,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A memory edit was asked of a model built without a memory bank.
    #[error("memory edit asked for, but this model has no memory bank (config.memory is None)")]
    NoMemory,
    /// A memory edit names a slot the bank does not have.
    #[error("slot {slot} does not exist: the memory bank has {n_slots} slots")]
    SlotOutOfRange { slot: usize, n_slots: usize },
}

/// `Err(ZeroSize)` when `value` is 0.
pub(crate) fn nonzero(name: &'static str, value: usize) -> Result<(), ModelError> {
    if value == 0 {
        Err(ModelError::ZeroSize { name })
    } else {
        Ok(())
    }
}

/// `Err(OutOfRange)` unless `0 <= p < 1` (a dropout probability).
pub(crate) fn probability(name: &'static str, value: f64) -> Result<(), ModelError> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(ModelError::OutOfRange {
            name,
            value,
            range: "[0, 1)",
        })
    }
}
