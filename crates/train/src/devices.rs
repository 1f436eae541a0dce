//! The devices a run names, checked, and the one place that turns them into a backend:
//! burn's NdArray for `cpu`, burn's CUDA backend for `cuda[:N]` (a build with the `cuda`
//! feature; without it the check refuses CUDA before any work starts).
//!
//! A caller writes its work once, generic over the backend, as a [`DeviceJob`], and runs it
//! with [`on_devices`] on a [`DeviceSet`] of one device or several (data-parallel).

use crate::config::ConfigError;
use crate::error::TrainError;
use burn::tensor::backend::Backend;
use spectral::{DeviceError, DeviceKind};

/// Devices checked to exist in this build, all of one backend, at least one.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSet {
    kinds: Vec<DeviceKind>,
}

impl DeviceSet {
    /// One device (`cpu`, `cuda`, `cuda:N` parsed), checked.
    pub fn one(kind: DeviceKind) -> Result<Self, DeviceError> {
        Ok(Self {
            kinds: vec![kind.check_built()?],
        })
    }

    /// The devices of a `devices` list: `cpu[:N]` (NdArray has one device; each entry is one
    /// more peer on it) or `cuda[:N]`, not mixed. Each device is checked before any work
    /// starts (a CUDA ordinal that does not exist is an error naming it). A device listed
    /// twice is two peers on it.
    pub fn parse(names: &[String]) -> Result<Self, TrainError> {
        if names.is_empty() {
            return Err(ConfigError::Invalid("the devices list is empty".into()).into());
        }
        crate::config::check_device_names(names)?;
        let kinds = names
            .iter()
            .map(|name| {
                let name = name.trim();
                let kind = match name.strip_prefix("cpu:") {
                    Some(index) if index.parse::<usize>().is_ok() => DeviceKind::Cpu,
                    _ => name.parse()?,
                };
                Ok(kind.check_built()?)
            })
            .collect::<Result<Vec<DeviceKind>, TrainError>>()?;
        let cpu = kinds.iter().filter(|k| **k == DeviceKind::Cpu).count();
        if cpu != 0 && cpu != kinds.len() {
            return Err(ConfigError::Invalid(format!(
                "devices {names:?} mix cpu and cuda; a data-parallel run uses one backend"
            ))
            .into());
        }
        Ok(Self { kinds })
    }

    /// Number of devices (peers of a data-parallel run).
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Always false: a set holds at least one device.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Whether the devices are CPUs (host memory holds the activations).
    pub fn is_cpu(&self) -> bool {
        self.kinds.first() == Some(&DeviceKind::Cpu)
    }
}

/// The devices of a [`DeviceSet`] on their backend `B`.
pub struct BackendDevices<B: Backend> {
    /// One entry per device of the set, in its order (`cpu` lists repeat NdArray's device).
    pub devices: Vec<B::Device>,
    /// MiB reserved by the backend's memory pools on a device for the calling thread's stream
    /// (CUDA: cubecl keeps one pool set per stream); `None` on the CPU.
    pub memory_reserved_mib: fn(&B::Device) -> Option<f64>,
}

/// Work generic over the backend, run by [`on_devices`]. `B` is the plain backend; work that
/// needs gradients wraps it in `burn::backend::Autodiff` itself.
pub trait DeviceJob {
    type Output;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Self::Output;
}

/// Runs `job` on the backend of `set`'s devices.
pub fn on_devices<J: DeviceJob>(set: &DeviceSet, job: J) -> J::Output {
    match set.kinds[0] {
        DeviceKind::Cpu => job.run::<spectral::CpuBackend>(BackendDevices {
            devices: vec![Default::default(); set.len()],
            memory_reserved_mib: |_| None,
        }),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(_) => job.run::<spectral::device::CudaBackend>(BackendDevices {
            devices: set
                .kinds
                .iter()
                .map(|kind| match kind {
                    DeviceKind::Cuda(index) => burn::backend::cuda::CudaDevice::new(*index),
                    DeviceKind::Cpu => unreachable!("DeviceSet::parse refuses mixed lists"),
                })
                .collect(),
            memory_reserved_mib: cuda_memory_reserved_mib,
        }),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => unreachable!("check_built refuses cuda without the feature"),
    }
}

/// Bytes reserved by the CUDA runtime's memory pools of `device`, in MiB. `burn::cubecl` is
/// there because `spectral`'s `cuda` feature turns on burn's `cubecl` re-export; the client is
/// the one burn's CUDA backend allocates through (one per device).
#[cfg(feature = "cuda")]
fn cuda_memory_reserved_mib(device: &burn::backend::cuda::CudaDevice) -> Option<f64> {
    use burn::cubecl::Runtime;
    let client = burn::cubecl::cuda::CudaRuntime::client(device);
    let usage = client.memory_usage().ok()?;
    Some(usage.bytes_reserved as f64 / (1024.0 * 1024.0))
}
