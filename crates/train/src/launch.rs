//! A configured run on the devices its config names: the CUDA engine on a GPU where it runs
//! the config ([`crate::engine`]); otherwise burn on one device ([`crate::trainer`]) or, when
//! `devices` lists any, data-parallel on them ([`crate::data_parallel`]).

use crate::config::{EngineChoice, TrainConfig};
use crate::data_parallel::train_parallel;
use crate::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};
use crate::engine::{Choice, choose, train_on_engine};
use crate::error::TrainError;
use crate::memory_check;
use crate::run_dir::{self, Start};
use crate::run_log::TrainSummary;
use crate::task::TaskError;
use crate::trainer::train;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;

/// The run of `config` on the device it names (`cpu`, `cuda`, `cuda:N`), or data-parallel on
/// its `devices` when it lists any: on the CUDA engine where [`choose`] picks it, on burn
/// otherwise (after checking every device, and that the batch divides among them). The
/// run's `config.toml` records which trained it. The run directory is claimed first
/// ([`run_dir::claim`]: one process per directory, and `start` says what happens to a run
/// it already holds).
pub fn train_on_device(config: &TrainConfig, start: Start) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    let resume = start.resumes();
    let mut config = config.clone();
    crate::data::identity::pin(&mut config.data).map_err(TaskError::Data)?;
    match choose(&config)? {
        Choice::Engine { plan, ordinal } => {
            config.engine = EngineChoice::Engine;
            let _claim = run_dir::claim(&config.out, start)?;
            return train_on_engine(&config, &plan, ordinal, resume);
        }
        Choice::Burn { why } => {
            if let Some(why) = why {
                eprintln!("{why}: training on burn's backend");
            }
            config.engine = EngineChoice::Burn;
        }
    }
    let config = &config;
    let devices = if config.devices.is_empty() {
        DeviceSet::one(config.device.parse()?)?
    } else {
        DeviceSet::parse(&config.devices)?
    };
    if devices.is_cpu() {
        memory_check::check(config, memory_check::available_bytes())?;
    }
    let _claim = run_dir::claim(&config.out, start)?;
    on_devices(&devices, Run { config, resume })
}

/// The run of a config, on the backend [`on_devices`] picks.
struct Run<'a> {
    config: &'a TrainConfig,
    resume: bool,
}

impl DeviceJob for Run<'_> {
    type Output = Result<TrainSummary, TrainError>;

    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Self::Output {
        if self.config.devices.is_empty() {
            train::<Autodiff<B>>(self.config, self.resume, &devices.devices[0])
        } else {
            train_parallel::<Autodiff<B>>(self.config, self.resume, &devices.devices)
        }
    }
}
