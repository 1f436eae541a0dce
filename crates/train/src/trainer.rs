//! Training on one device: a configured task through [`fit`], with its books kept by
//! [`RunLog`] and its start from [`RunStart`] (fresh or resumed).
//!
//! Outputs in `config.out`: `config.toml` (the resolved config), `metrics.jsonl`,
//! `last.safetensors` (every `checkpoint_interval` steps and at the end) and
//! `best.safetensors` (lowest validation loss). A NaN or infinite loss stops the run with an
//! error naming the step, before that step touches the weights or any checkpoint.

use crate::config::TrainConfig;
use crate::error::{TrainError, io_error};
use crate::run_log::{RunLog, TrainSummary, describe_groups, param_count};
use crate::run_start::RunStart;
use crate::task::{ConfiguredTask, Task};
use crate::train_loop::{Hooks, LossValue, StepLoss, StepReport, fit};
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use spectral::optim::SpectralOptimizer;

/// Trains the model the config names on `device`; `resume` continues from
/// `config.out/last.safetensors`.
pub fn train<B: AutodiffBackend>(
    config: &TrainConfig,
    resume: bool,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    match ConfiguredTask::from_config(config)? {
        ConfiguredTask::Spacing(task) => run::<B, _>(config, &task, resume, device),
        ConfiguredTask::Text(task) => run::<B, _>(config, &task, resume, device),
    }
}

fn run<B: AutodiffBackend, T: Task<B>>(
    config: &TrainConfig,
    task: &T,
    resume: bool,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    std::fs::create_dir_all(&config.out).map_err(io_error(&config.out))?;
    let mut optimizer = SpectralOptimizer::<B::InnerBackend>::new(config.optimizer.clone());
    let RunStart { model, state } = RunStart::open::<B, T>(config, task, resume, device)?;
    if let Some(saved) = &state.optimizer {
        optimizer.load_state_dict(saved, device)?;
    }
    let slots = optimizer.plan::<B, _>(&model)?;
    let params = param_count(&slots);
    let banner = format!(
        "{params} parameters ({}); optimizer {} on the matrices; {} from step {}",
        describe_groups(&slots),
        config.optimizer.method.name(),
        if state.resumed {
            "resuming"
        } else {
            "training"
        },
        state.step,
    );
    let log = RunLog::open(config, &state, params, task.targets_per_step(), &banner)?;
    let mut hooks = OneDevice {
        task,
        device,
        optimizer,
        read_loss: true,
        log: Some(log),
    };
    fit(&state.plan(config), model, &mut hooks)?;
    Ok(hooks
        .log
        .take()
        .map(RunLog::finish)
        .expect("the hooks were given the run's log above"))
}

/// The loop's hooks on one device: the task's loss, the optimizer's step, the task's
/// projection and, with a run log, the validation loss and the run's books. Training
/// ([`train`]) reads the loss and keeps a log; the train throughput benchmark
/// (`spectral_experiments::train_bench`) does neither, so nothing it times waits for the
/// device.
pub struct OneDevice<'a, B: AutodiffBackend, T> {
    pub task: &'a T,
    pub device: &'a B::Device,
    pub optimizer: SpectralOptimizer<B::InnerBackend>,
    /// `true`: the loop reads the step's loss once the step is queued and stops at a NaN
    /// ([`LossValue::AfterStep`]); `false`: never read nor checked ([`LossValue::Unread`]: a
    /// read waits for the device and would stall the queue being timed).
    pub read_loss: bool,
    /// The run's books; `None`: no validation, metrics, checkpoints or progress bar.
    pub log: Option<RunLog>,
}

impl<B: AutodiffBackend, T: Task<B>> Hooks<B, T::Model> for OneDevice<'_, B, T> {
    fn loss(&mut self, model: &T::Model, step: u64) -> Result<Option<StepLoss<B>>, TrainError> {
        Ok(Some(StepLoss {
            loss: self.task.train_loss(model, step, self.device)?,
            value: if self.read_loss {
                LossValue::AfterStep
            } else {
                LossValue::Unread
            },
        }))
    }

    fn update(
        &mut self,
        lr_factor: f64,
        model: T::Model,
        grads: GradientsParams,
    ) -> Result<T::Model, TrainError> {
        Ok(self.optimizer.step(lr_factor, model, grads)?)
    }

    fn after_update(&mut self, model: T::Model) -> T::Model {
        self.task.after_step(model)
    }

    fn on_eval(&mut self, model: &T::Model, _done: u64) -> Result<Option<f64>, TrainError> {
        if self.log.is_none() {
            return Ok(None);
        }
        Ok(Some(self.task.val_loss(&model.valid(), self.device)?))
    }

    fn on_step(
        &mut self,
        model: &T::Model,
        report: StepReport<B::InnerBackend>,
    ) -> Result<(), TrainError> {
        match &mut self.log {
            Some(log) => log.on_step::<B, _>(model, &self.optimizer, report),
            None => Ok(()),
        }
    }

    fn non_finite(&mut self, step: u64, what: String, value: f64) -> TrainError {
        let last_checkpoint = match &self.log {
            Some(log) => {
                log.abandon();
                log.last_checkpoint()
            }
            None => "none yet".into(),
        };
        TrainError::NonFinite {
            step,
            what,
            value,
            last_checkpoint,
        }
    }
}
