//! What a configured run starts from: the model drawn from the config's seed, or the state
//! of `last.safetensors` when it resumes.

use crate::checkpoint::{self, Checkpoint};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::task::Task;
use crate::train_loop::Plan;
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use spectral::device::{materialized, seeded};
use spectral::optim::state::StateDict;
use std::path::{Path, PathBuf};

/// The model a run begins with, and where it stands.
pub struct RunStart<M> {
    pub model: M,
    pub state: StartState,
}

/// Where a run begins: step, best loss, optimizer state.
pub struct StartState {
    /// Steps already done (0 for a fresh run).
    pub step: u64,
    /// Lowest validation loss so far (∞ for a fresh run).
    pub best_val: f64,
    /// Optimizer state of the checkpoint resumed from.
    pub optimizer: Option<StateDict>,
    pub resumed: bool,
}

impl StartState {
    /// The loop's plan of the steps left: `step..config.steps`, with the config's
    /// evaluation cadence, clipping and schedule.
    pub fn plan(&self, config: &TrainConfig) -> Plan {
        Plan {
            steps: self.step..config.steps,
            eval_interval: config.eval_interval,
            grad_clip: config.grad_clip,
            schedule: config.schedule,
        }
    }
}

/// Where a run's last checkpoint lives.
pub fn last_path(config: &TrainConfig) -> PathBuf {
    config.out.join("last.safetensors")
}

impl<M> RunStart<M> {
    /// The task's model drawn from `config.seed` (and `config.init`); with `resume`, its
    /// weights, step, best loss and optimizer state then taken from `config.out/last.safetensors`.
    pub fn open<B: AutodiffBackend, T: Task<B, Model = M>>(
        config: &TrainConfig,
        task: &T,
        resume: bool,
        device: &B::Device,
    ) -> Result<Self, TrainError>
    where
        M: AutodiffModule<B>,
    {
        let model = build_seeded::<B, T>(config, task, device)?;
        if !resume {
            let state = StartState {
                step: 0,
                best_val: f64::INFINITY,
                optimizer: None,
                resumed: false,
            };
            return Ok(Self { model, state });
        }
        let (model_dict, saved) = resume_checkpoint(config, &last_path(config))?;
        let model =
            checkpoint::load_module_state(model, &model_dict).map_err(TrainError::Resume)?;
        let state = StartState {
            step: saved.step,
            best_val: saved.best_val_loss.unwrap_or(f64::INFINITY),
            optimizer: Some(saved.optimizer),
            resumed: true,
        };
        Ok(Self { model, state })
    }
}

/// The checkpoint `last_path` a resumed run continues from, refused when another trajectory
/// (model, data, optimizer, schedule, batch, seed) wrote it or when it already holds
/// `config.steps` steps.
fn resume_checkpoint(
    config: &TrainConfig,
    last_path: &Path,
) -> Result<(StateDict, Checkpoint), TrainError> {
    let (model_dict, saved) = checkpoint::load(last_path)?;
    let saved_config =
        TrainConfig::from_toml(&saved.config_toml, &last_path.display().to_string())?;
    if saved_config.trajectory_key() != config.trajectory_key() {
        let mut same_but_schedule = config.clone();
        same_but_schedule.schedule = saved_config.schedule;
        if same_but_schedule.trajectory_key() == saved_config.trajectory_key() {
            return Err(TrainError::Resume(format!(
                "{} was written by a run whose schedule decays over {} steps (warmup {}); this \
                 one's over {} (warmup {}): `--steps` fits the schedule to the run, so resume \
                 with the checkpoint's steps, or lengthen `steps` in the config and keep its \
                 [schedule]",
                last_path.display(),
                saved_config.schedule.total_steps,
                saved_config.schedule.warmup_steps,
                config.schedule.total_steps,
                config.schedule.warmup_steps,
            )));
        }
        return Err(TrainError::Resume(format!(
            "{} was written by a run with another model, data, optimizer, schedule, batch or seed",
            last_path.display()
        )));
    }
    if saved.step >= config.steps {
        return Err(TrainError::Resume(format!(
            "the checkpoint is at step {}, the run asks for {} steps",
            saved.step, config.steps
        )));
    }
    Ok((model_dict, saved))
}

/// The task's model drawn from `config.seed` (and `config.init`), every parameter drawn under
/// [`seeded`]'s lock, so concurrent runs in one process draw equal models from equal seeds.
fn build_seeded<B: AutodiffBackend, T: Task<B>>(
    config: &TrainConfig,
    task: &T,
    device: &B::Device,
) -> Result<T::Model, TrainError> {
    seeded::<B, _>(device, config.seed, || {
        let model = config.init.apply(task.build(device)?, config.seed);
        Ok(materialized(model))
    })
}
