//! Spectral methods for deep learning on burn: the device and backend choice today; the
//! linear algebra (`linalg`), optimizers (`optim`), initializations (`init`), compression
//! (`compress`) and analysis (`analyze`) of `DESIGN.md` arrive with their issues.

pub mod analyze;
pub mod compress;
pub mod device;
pub mod init;
pub mod linalg;
pub mod optim;
pub mod plot;

pub use device::{CpuBackend, DeviceError, DeviceKind};
