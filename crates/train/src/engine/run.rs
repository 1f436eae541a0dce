//! A configured run on the CUDA engine, step by step as `crate::train_loop::fit` runs burn's:
//!
//! ```text
//! start   the model drawn by burn on the CPU from the seed (or last.safetensors), uploaded
//! step s  batch of s (the burn path's windows) and lr·schedule(s) written; the captured graph
//!         replayed (forward, backward, clip, optimizer); loss and ‖g‖ read back
//! stop    a NaN or infinite loss or gradient norm ends the run before any checkpoint holds
//!         the step
//! books   evaluation on the cadence, best/last checkpoints, metrics.jsonl, progress bar
//!         ([`RunLog`]); checkpoints in burn's format ([`super::state`])
//! ```

use super::plan::EnginePlan;
use super::state;
use crate::checkpoint::module_state;
use crate::config::TrainConfig;
use crate::data::split::gather;
use crate::data::{SpacingDataset, TextDataset};
use crate::error::{TrainError, io_error};
use crate::run_log::{LoggedStep, RunLog, TrainSummary, describe_groups, param_count};
use crate::run_start::{RunStart, StartState};
use crate::task::{Batching, ConfiguredTask, Task};
use burn::backend::Autodiff;
use spectral::CpuBackend;
use spectral::optim::SpectralOptimizer;
use spectral::optim::state::StateDict;
use spectral_cuda::models::engine::{Batch, Engine, StepValues};
use spectral_cuda::{Gpu, KernelCache};
use std::time::Instant;

/// burn's backend for the start: the model is drawn (or read) on the CPU, then uploaded.
type Start = Autodiff<CpuBackend>;

/// Trains `config` (which chose the engine: `plan`) on CUDA device `ordinal`; `resume`
/// continues from `config.out/last.safetensors`, written by the engine or by burn.
pub fn train_on_engine(
    config: &TrainConfig,
    plan: &EnginePlan,
    ordinal: usize,
    resume: bool,
) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    std::fs::create_dir_all(&config.out).map_err(io_error(&config.out))?;
    let task = ConfiguredTask::from_config(config)?;
    let (start, state, groups) = match &task {
        ConfiguredTask::Spacing(task) => start(config, task, resume)?,
        ConfiguredTask::Text(task) => start(config, task, resume)?,
    };
    let windows = Windows::of(&task);

    let mut engine = open_engine(plan, ordinal, &start)?;
    if let Some(saved) = &state.optimizer {
        let moments = state::moments(saved, engine.table(), &plan.optimizer, state.step)
            .map_err(TrainError::Resume)?;
        engine.set_moments(&moments)?;
    }
    engine.capture()?;

    let banner = format!(
        "{groups}; optimizer {} on the matrices; on the CUDA engine (cuda:{ordinal}, {} \
         activations, f32 master weights, one CUDA graph per step); {} from step {}",
        config.optimizer.method.name(),
        config.engine_precision.name(),
        if state.resumed {
            "resuming"
        } else {
            "training"
        },
        state.step,
    );
    let params = engine.table().count();
    let mut log = RunLog::open(config, &state, params, windows.targets_per_step(), &banner)?;
    let steps = state.plan(config);
    for s in steps.steps.clone() {
        let lr_factor = steps.schedule.factor(s);
        let batch = windows.train(s)?;
        engine.set_step(
            batch.view(),
            StepValues {
                matrix_lr: (plan.matrix_lr * lr_factor) as f32,
                other_lr: (plan.other_lr * lr_factor) as f32,
                step: i32::try_from(s + 1).expect("fewer than 2³¹ steps"),
            },
        )?;
        let launched = Instant::now();
        engine.step()?;
        let optim_s = launched.elapsed().as_secs_f64();
        let (loss, grad_norm) = (engine.loss()? as f64, engine.grad_norm()? as f64);
        let done = s + 1;
        for (what, value) in [("loss", loss), ("gradient norm", grad_norm)] {
            if !value.is_finite() {
                log.abandon();
                return Err(TrainError::NonFinite {
                    step: done,
                    what: what.into(),
                    value,
                    last_checkpoint: log.last_checkpoint(),
                });
            }
        }
        let val_loss = if steps.evaluates(done) {
            Some(windows.val_loss(&engine)?)
        } else {
            None
        };
        let step = LoggedStep {
            done,
            loss,
            lr_factor,
            grad_norm,
            optim_s,
            val_loss,
        };
        log.record(step, || {
            let table = engine.table();
            Ok((
                state::model_dict(table, engine.params()?),
                state::optimizer_dict(table, &plan.optimizer, done, engine.moments()?),
            ))
        })?;
    }
    Ok(log.finish())
}

/// The engine of `plan` on CUDA device `ordinal` (kernels compiled or read from the cache,
/// everything allocated), its weights the `model/…` entries of `weights`; its optimizer state
/// zero and no step captured yet.
pub fn open_engine(
    plan: &EnginePlan,
    ordinal: usize,
    weights: &StateDict,
) -> Result<Engine, TrainError> {
    let mut gpu = Gpu::open(ordinal, KernelCache::default_dir())?;
    gpu.set_f32_products(plan.f32_products);
    let mut engine = Engine::new(
        gpu,
        plan.model,
        plan.act,
        plan.optimizer.clone(),
        plan.max_grad_norm,
    )?;
    engine.set_params(&state::model_values(weights))?;
    Ok(engine)
}

/// The run's start as the burn trainer makes it ([`RunStart`], on the CPU): the model's
/// `model/…` entries, where the run stands, and the parameter count by role for the banner.
fn start<T: Task<Start>>(
    config: &TrainConfig,
    task: &T,
    resume: bool,
) -> Result<(StateDict, StartState, String), TrainError> {
    let device = Default::default();
    let RunStart { model, state } = RunStart::open::<Start, T>(config, task, resume, &device)?;
    let slots =
        SpectralOptimizer::<CpuBackend>::new(config.optimizer.clone()).plan::<Start, _>(&model)?;
    let groups = format!(
        "{} parameters ({})",
        param_count(&slots),
        describe_groups(&slots)
    );
    let mut dict = StateDict::default();
    module_state(&model, &mut dict);
    Ok((dict, state, groups))
}

/// One batch on the host, in the engine's layout (row-major `[B, T]`).
pub enum HostBatch {
    Tokens { idx: Vec<i32>, targets: Vec<i32> },
    Spacings { x: Vec<f32>, y: Vec<f32> },
}

impl HostBatch {
    /// The batch as [`Engine::set_step`] takes it.
    pub fn view(&self) -> Batch<'_> {
        match self {
            Self::Tokens { idx, targets } => Batch::Tokens { idx, targets },
            Self::Spacings { x, y } => Batch::Spacings { x, y },
        }
    }
}

/// The task's training and validation windows, as the burn tasks draw them
/// (`Split::train_starts`, `Split::val_starts`), on the host.
pub struct Windows<'a> {
    data: Data<'a>,
    batching: Batching,
}

enum Data<'a> {
    Text(&'a TextDataset),
    Spacings(&'a SpacingDataset),
}

impl<'a> Windows<'a> {
    pub fn of(task: &'a ConfiguredTask) -> Self {
        match task {
            ConfiguredTask::Text(t) => Self {
                data: Data::Text(&t.data),
                batching: t.batching,
            },
            ConfiguredTask::Spacing(t) => Self {
                data: Data::Spacings(&t.data),
                batching: t.batching,
            },
        }
    }

    /// Training targets per step: batch × T.
    pub fn targets_per_step(&self) -> usize {
        self.batching.batch_size * self.batching.seq_len
    }

    /// The windows starting at `starts`.
    fn gather(&self, starts: &[usize]) -> HostBatch {
        let t = self.batching.seq_len;
        match self.data {
            Data::Text(data) => {
                let (x, y) = gather(data.bytes(), starts, t);
                let ids = |bytes: Vec<u8>| bytes.into_iter().map(i32::from).collect();
                HostBatch::Tokens {
                    idx: ids(x),
                    targets: ids(y),
                }
            }
            Data::Spacings(data) => {
                let (x, y) = gather(data.values(), starts, t);
                HostBatch::Spacings { x, y }
            }
        }
    }

    fn split(&self) -> &crate::data::Split {
        match self.data {
            Data::Text(data) => data.split(),
            Data::Spacings(data) => data.split(),
        }
    }

    /// The training batch of step `s` (0-based).
    pub fn train(&self, s: u64) -> Result<HostBatch, TrainError> {
        let b = &self.batching;
        let starts = self
            .split()
            .train_starts(s, b.batch_size, b.seq_len, b.seed)?;
        Ok(self.gather(&starts))
    }

    /// Mean loss over the fixed validation windows (per target, nats). The engine's batch is
    /// static: the last, partial group of windows is padded with copies of its first window,
    /// whose losses are left out.
    fn val_loss(&self, engine: &Engine) -> Result<f64, TrainError> {
        let b = &self.batching;
        let starts = self.split().val_starts(b.seq_len, b.eval_windows)?;
        let (mut sum, mut count) = (0.0, 0usize);
        for chunk in starts.chunks(b.batch_size) {
            let mut padded = chunk.to_vec();
            padded.resize(b.batch_size, chunk[0]);
            let losses = engine.row_losses(self.gather(&padded).view())?;
            let real = &losses[..chunk.len() * b.seq_len];
            sum += real.iter().map(|&l| l as f64).sum::<f64>();
            count += real.len();
        }
        Ok(sum / count.max(1) as f64)
    }
}
