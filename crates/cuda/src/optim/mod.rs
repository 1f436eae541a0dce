//! Optimizers on the device, inside the captured step: each reads the clipped gradients and
//! the step's learning rate from device memory and refreshes the compute copy of the weights.

pub mod muon;
