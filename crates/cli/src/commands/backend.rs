//! Running a command's work on the backend its `--device` names: burn's NdArray for `cpu`,
//! burn's CUDA backend for `cuda[:N]` (a build with `--features cuda`; otherwise the device
//! check refuses it before any work).

use anyhow::Result;
use burn::tensor::backend::Backend;
use spectral::{CpuBackend, DeviceKind};

/// A command's work, generic over the backend [`on_device`] picks. `B` is the plain backend;
/// work that needs gradients wraps it in `Autodiff` itself.
pub trait Job {
    type Output;
    fn run<B: Backend>(self, device: &B::Device) -> Result<Self::Output>;
}

/// Runs `job` on `device`'s backend.
pub fn on_device<J: Job>(device: DeviceKind, job: J) -> Result<J::Output> {
    match device.check_built()? {
        DeviceKind::Cpu => job.run::<CpuBackend>(&Default::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(index) => {
            job.run::<spectral::device::CudaBackend>(&burn::backend::cuda::CudaDevice::new(index))
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => unreachable!("check_built refuses cuda without the feature"),
    }
}
