//! Before a run on the CPU: does its batch fit in memory? [`check`] compares a lower bound on
//! the activations one step keeps for its backward pass with the memory the machine has
//! available, and refuses a batch that cannot fit with both numbers, instead of the process
//! aborting on a failed allocation minutes later.

use crate::config::{ModelConfig, TrainConfig};
use crate::error::TrainError;

/// A lower bound on the bytes of activations one training step keeps (f32): per position and
/// block, the residual stream's normed inputs, q, k, v, the attention output and projection
/// (6 × C) and the MLP's hidden layer before and after GELU (2 × 4C), 14·C in all, plus one
/// attention probability per head and earlier position (H·T). Real use is higher (the
/// gradients, the optimizer state, the allocator), so a batch refused by this bound cannot
/// fit, while one that passes may still not.
pub fn activation_bytes(config: &TrainConfig) -> f64 {
    let (layers, width, heads) = match &config.model {
        ModelConfig::Gpt(m) => (m.n_layer, m.n_embd, m.n_head),
        ModelConfig::SpacingMdn(m) => (m.n_layer, m.n_embd, m.n_head),
    };
    let positions = config.batch_size as f64 * config.seq_len as f64;
    let per_position = layers as f64 * (14.0 * width as f64 + heads as f64 * config.seq_len as f64);
    positions * per_position * 4.0
}

/// Bytes of memory available to a new allocation (`MemAvailable` of `/proc/meminfo`); `None`
/// where that is not known.
pub fn available_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Refuses `config` when [`activation_bytes`] exceeds `available` bytes.
pub fn check(config: &TrainConfig, available: Option<f64>) -> Result<(), TrainError> {
    let (needed, Some(available)) = (activation_bytes(config), available) else {
        return Ok(());
    };
    if needed > available {
        return Err(TrainError::OutOfMemory {
            batch_size: config.batch_size,
            seq_len: config.seq_len,
            needed_gb: needed / 1e9,
            available_gb: available / 1e9,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_what_it_says_and_refuses_by_both_numbers() {
        let mut config = TrainConfig::default();
        let ModelConfig::SpacingMdn(m) = &config.model else {
            panic!("the default model is the SpacingMDN");
        };
        let (l, c, h) = (m.n_layer as f64, m.n_embd as f64, m.n_head as f64);
        let (b, t) = (config.batch_size as f64, config.seq_len as f64);
        assert_eq!(
            activation_bytes(&config),
            b * t * l * (14.0 * c + h * t) * 4.0
        );
        check(&config, Some(1e12)).unwrap();
        check(&config, None).unwrap();
        config.batch_size = 100_000_000;
        let error = check(&config, Some(16e9)).unwrap_err().to_string();
        assert!(
            error.contains("batch_size = 100000000") && error.contains("16.0 GB available"),
            "{error}"
        );
        assert!(available_bytes().is_some_and(|b| b > 0.0));
    }
}
