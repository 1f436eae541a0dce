//! Choosing where tensors live at run time: `cpu` (burn's NdArray backend, always built) or
//! `cuda[:N]` (burn's CUDA backend, only in binaries built with `--features cuda`).

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// The CPU backend: burn's NdArray, f32.
pub type CpuBackend = burn::backend::NdArray<f32>;

/// The GPU backend: burn's CUDA (kernels compiled at run time by the driver's NVRTC), f32.
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda<f32, i32>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown device {0:?}: expected `cpu`, `cuda` or `cuda:N`")]
    Unknown(String),
    #[error(
        "device {0} asked for, but this binary was built without CUDA; rebuild with \
         `cargo build --release --features cuda`"
    )]
    CudaNotBuilt(String),
    #[error("device {device} cannot be used: {reason}")]
    CudaUnavailable { device: String, reason: String },
    #[error("unknown precision {0:?}: expected `f32` or `bf16`")]
    UnknownPrecision(String),
    #[error("precision {precision} cannot be set on {device}: {reason}")]
    Precision {
        device: String,
        precision: Precision,
        reason: String,
    },
}

/// The float type of every tensor a run creates on its device.
///
/// `Bf16` uses burn 0.21's per-device default dtype: the backend type stays `Cuda<f32>`, but
/// weights, activations, gradients and optimizer state are all stored and computed in bf16
/// (burn has no autocast, so there are no f32 master weights). CUDA only: NdArray computes in
/// f32/f64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    F32,
    Bf16,
}

impl FromStr for Precision {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, DeviceError> {
        match text.trim() {
            "f32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            other => Err(DeviceError::UnknownPrecision(other.to_string())),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        })
    }
}

/// burn's RNG is one per backend and global to the process: the draws of concurrent runs
/// (tests, parallel benchmarks) must not interleave, or equal seeds would not give equal models.
static SEED_LOCK: Mutex<()> = Mutex::new(());

/// `draw()`, run with `B`'s RNG seeded by `seed` and no other `seeded` draw in between. burn
/// draws a parameter lazily, on its first read: a module built inside `draw` takes its values
/// from this seed only if it is read there too ([`materialized`]).
pub fn seeded<B: Backend, R>(device: &B::Device, seed: u64, draw: impl FnOnce() -> R) -> R {
    let _guard = SEED_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    B::seed(device, seed);
    draw()
}

/// `module` with every lazily initialized parameter drawn now.
pub fn materialized<B: Backend, M: Module<B>>(module: M) -> M {
    struct Read;
    impl<B: Backend> ModuleVisitor<B> for Read {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Read);
    module
}

/// A device named on the command line or in a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    /// CUDA device by ordinal.
    Cuda(usize),
}

impl FromStr for DeviceKind {
    type Err = DeviceError;

    fn from_str(text: &str) -> Result<Self, DeviceError> {
        match text.trim() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| DeviceError::Unknown(text.to_string())),
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceKind {
    /// Fails with a clear message when the device cannot be used: CUDA in a binary built
    /// without the `cuda` feature, or (in a CUDA build) no NVIDIA driver or no GPU of that
    /// ordinal on this host. Call it before any work starts.
    pub fn check_built(self) -> Result<Self, DeviceError> {
        match self {
            Self::Cpu => Ok(self),
            #[cfg(feature = "cuda")]
            Self::Cuda(index) => probe_cuda(index).map(|()| self),
            #[cfg(not(feature = "cuda"))]
            Self::Cuda(_) => Err(DeviceError::CudaNotBuilt(self.to_string())),
        }
    }
}

impl DeviceKind {
    /// Makes `precision` the float type of every tensor created on this device from now on.
    /// Call it before anything touches the device ([`DeviceKind::check_built`] does: call this
    /// first); burn fixes a device's default dtypes at its first tensor.
    pub fn set_precision(self, precision: Precision) -> Result<(), DeviceError> {
        let refuse = |reason: &str| DeviceError::Precision {
            device: self.to_string(),
            precision,
            reason: reason.to_string(),
        };
        match (self, precision) {
            (_, Precision::F32) => Ok(()),
            (Self::Cpu, Precision::Bf16) => Err(refuse(
                "burn's NdArray backend computes in f32/f64; bf16 runs on cuda",
            )),
            #[cfg(feature = "cuda")]
            (Self::Cuda(index), Precision::Bf16) => {
                burn::tensor::set_default_dtypes::<CudaBackend>(
                    &burn::backend::cuda::CudaDevice::new(index),
                    burn::tensor::FloatDType::BF16,
                    burn::tensor::IntDType::I32,
                )
                .map_err(|error| refuse(&error.to_string()))
            }
            #[cfg(not(feature = "cuda"))]
            (Self::Cuda(_), Precision::Bf16) => Err(DeviceError::CudaNotBuilt(self.to_string())),
        }
    }
}

/// Opens CUDA device `index` and round-trips one value through it. burn's CUDA runtime panics
/// when the driver library is missing or the ordinal does not exist; the panic is caught here
/// (its default report silenced) and returned as [`DeviceError::CudaUnavailable`].
#[cfg(feature = "cuda")]
fn probe_cuda(index: usize) -> Result<(), DeviceError> {
    use burn::tensor::Tensor;
    let device = burn::backend::cuda::CudaDevice::new(index);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| {
        Tensor::<CudaBackend, 1>::ones([1], &device)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
    });
    std::panic::set_hook(quiet);
    let reason = match outcome {
        Ok(Ok(values)) if values == [1.0] => return Ok(()),
        Ok(Ok(values)) => format!("a test value came back as {values:?}"),
        Ok(Err(error)) => format!("{error:?}"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the CUDA runtime panicked".into()),
    };
    Err(DeviceError::CudaUnavailable {
        device: DeviceKind::Cuda(index).to_string(),
        reason: format!("{reason} (is the NVIDIA driver installed, and is there a GPU {index}?)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Tensor, TensorData};

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse(), Ok(DeviceKind::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceKind::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceKind::Cuda(3)));
        assert!(matches!(
            "gpu".parse::<DeviceKind>(),
            Err(DeviceError::Unknown(_))
        ));
        assert!(matches!(
            "cuda:x".parse::<DeviceKind>(),
            Err(DeviceError::Unknown(_))
        ));
    }

    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let result = DeviceKind::Cuda(0).check_built();
        if cfg!(feature = "cuda") {
            // A CUDA build: usable on a GPU host, one clear error line elsewhere.
            if let Err(error) = result {
                assert!(error.to_string().contains("cannot be used"), "{error}");
            }
            let absent = DeviceKind::Cuda(999).check_built().unwrap_err();
            assert!(
                absent.to_string().contains("cuda:999 cannot be used"),
                "{absent}"
            );
        } else {
            assert!(result.unwrap_err().to_string().contains("--features cuda"));
        }
    }

    #[test]
    fn precisions_parse_and_bf16_is_refused_on_the_cpu() {
        assert_eq!("f32".parse(), Ok(Precision::F32));
        assert_eq!("bf16".parse(), Ok(Precision::Bf16));
        assert!(matches!(
            "fp8".parse::<Precision>(),
            Err(DeviceError::UnknownPrecision(_))
        ));
        assert_eq!(DeviceKind::Cpu.set_precision(Precision::F32), Ok(()));
        let error = DeviceKind::Cpu.set_precision(Precision::Bf16).unwrap_err();
        assert!(error.to_string().contains("bf16 runs on cuda"), "{error}");
    }

    #[test]
    fn cpu_backend_multiplies_like_an_f64_reference() {
        let (m, k, n) = (7, 13, 5);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 53 % 7) as f32 - 3.0) / 2.0)
            .collect();
        let device = Default::default();
        let ta = Tensor::<CpuBackend, 2>::from_data(TensorData::new(a.clone(), [m, k]), &device);
        let tb = Tensor::<CpuBackend, 2>::from_data(TensorData::new(b.clone(), [k, n]), &device);
        let product: Vec<f32> = ta.matmul(tb).into_data().to_vec().unwrap();
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k)
                    .map(|l| a[i * k + l] as f64 * b[l * n + j] as f64)
                    .sum();
                // f32 accumulation over 13 terms of size ≤ 4: error ≤ 13·4·6e-8.
                assert!(
                    (product[i * n + j] as f64 - want).abs() < 4e-6,
                    "({i}, {j})"
                );
            }
        }
    }
}
