//! Training loop, checkpoints, metrics and evaluations (`DESIGN.md`, crates/train).
//! Empty until the SpacingMDN/training issue lands.

pub mod data;
