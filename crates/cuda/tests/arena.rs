//! The arena's allocation: a plan larger than the device's free memory is refused before any
//! allocation, with both sizes named.

mod common;

use common::*;
use spectral_cuda::{DType, EngineError, Layout};

#[test]
#[ignore = "needs an NVIDIA GPU"]
fn an_arena_larger_than_the_free_memory_is_refused_with_both_sizes() {
    let gpu = gpu();
    let (free, total) = gpu.memory().unwrap();
    let mut layout = Layout::new();
    layout.push("too_much", total / 4 + 1, DType::F32); // total + 4 bytes
    match gpu.arena(&layout) {
        Err(EngineError::OutOfMemory {
            needed,
            free: said_free,
            total: said_total,
            ..
        }) => {
            assert_eq!(needed, layout.bytes());
            assert_eq!(said_total, total);
            assert!(said_free <= total && said_free.abs_diff(free) < total / 10);
        }
        Err(other) => panic!("expected OutOfMemory, got {other}"),
        Ok(_) => panic!("an arena of {} bytes was allocated", layout.bytes()),
    }
    let mut small = Layout::new();
    small.push("fits", 1 << 20, DType::F32);
    assert!(gpu.arena(&small).is_ok());
}
