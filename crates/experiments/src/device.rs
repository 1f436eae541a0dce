//! Running generic work on the backend a [`DeviceKind`] names: burn's NdArray for `cpu`,
//! burn's CUDA backend for `cuda[:N]` (a build with the `cuda` feature; otherwise
//! [`DeviceKind::check_built`] refuses it before any work).

use burn::tensor::backend::Backend;
use spectral::{CpuBackend, DeviceError, DeviceKind};

/// Work generic over the backend [`on_device`] picks. `B` is the plain backend; work that
/// needs gradients wraps it in `Autodiff` itself.
pub trait Job {
    type Output;
    /// The work's own error; a device that cannot be used becomes one too.
    type Error: From<DeviceError>;
    fn run<B: Backend>(self, device: &B::Device) -> Result<Self::Output, Self::Error>;
}

/// Runs `job` on `device`'s backend.
pub fn on_device<J: Job>(device: DeviceKind, job: J) -> Result<J::Output, J::Error> {
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

/// A device or a precision in a config as its name (`cpu`, `cuda:0`, `bf16`: its `Display`
/// and `FromStr`), for `#[serde(with = ...)]`.
pub mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err: Display>,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `cpu`: the device of a config that names none.
pub fn cpu() -> DeviceKind {
    DeviceKind::Cpu
}
