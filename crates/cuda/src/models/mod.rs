//! The toolkit's models on the engine: their parameter tables (names and shapes of
//! `crates/models`), the activation plan they share, and the training step.

pub mod engine;
pub mod gpt;
pub mod spacing_mdn;
pub mod trunk;
