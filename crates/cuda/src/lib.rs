//! The CUDA training engine: the toolkit's own models (the char-GPT and the SpacingMDN) trained
//! on one GPU with static shapes, bf16 activations and f32 master weights, and the whole
//! training step replayed as one CUDA graph.
//!
//! burn stays the CPU path, the generic path for any module and the reference the engine is
//! tested against; checkpoints use `crates/models`' parameter names and shapes, so either side
//! reads the other's.
//!
//! - [`arena`]: the host-side plan of the one device allocation (every tensor at a fixed offset).
//! - [`gpu`]: a device, its stream, cuBLAS with an explicit workspace, compiled kernels.
//! - [`nvrtc`]: kernel sources, compiled at run time and cached on disk.
//! - [`gemm`]: row-major products on cuBLAS.
//! - [`kernels`]: the CUDA C sources; [`ops`]: their launchers, one struct per family.
//! - [`optim`]: optimizers on the device (Muon; AdamW is one kernel, in `ops`).
//! - [`params`]: the flat parameter buffers; [`models`]: the models' tables, plans and steps.
//!
//! The crate builds and its host-side code is tested on machines without CUDA; everything
//! that touches a GPU is in tests marked `#[ignore = "needs an NVIDIA GPU"]`, run on the GPU
//! host with `--ignored`.

pub mod arena;
pub mod error;
pub mod gemm;
pub mod gpu;
pub mod kernels;
pub mod models;
pub mod nvrtc;
pub mod ops;
pub mod optim;
pub mod params;

pub use arena::{DType, Layout, Slot};
pub use error::EngineError;
pub use gpu::{Arena, Arg, Gpu, Graph, Kernel};
pub use nvrtc::{KernelCache, Source};
