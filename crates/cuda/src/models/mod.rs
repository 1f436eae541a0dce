//! The toolkit's models on the engine: their parameter tables (names and shapes of
//! `crates/models`), activation plans, and forward and backward passes.

pub mod gpt;
pub mod gpt_engine;
