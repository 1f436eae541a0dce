//! The outputs of a configured run, written by the device that keeps the books (the only
//! one, or device 0 of a data-parallel run): `config.toml` (the resolved config, atomic),
//! `metrics.jsonl`, `last.safetensors` (every `checkpoint_interval` steps and after the last)
//! and `best.safetensors` (lowest validation loss), the progress bar and the summary.

use crate::checkpoint::{self, Checkpoint};
use crate::config::TrainConfig;
use crate::error::{TrainError, io_error};
use crate::metrics::{MetricsLog, Record};
use crate::run_start::{StartState, last_path};
use crate::train_loop::{StepReport, read_norm};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use spectral::optim::state::StateDict;
use spectral::optim::{ParamSlot, Role, SpectralOptimizer};
use spectral_io::progress::Progress;
use std::path::PathBuf;
use std::time::Instant;

/// What a finished run reports.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TrainSummary {
    pub steps: u64,
    pub final_train_loss: f64,
    pub final_val_loss: f64,
    pub best_val_loss: f64,
    pub seconds: f64,
    pub params: usize,
    pub out: PathBuf,
}

/// Parameter count per role, for the start-of-run printout.
pub fn describe_groups(slots: &[ParamSlot]) -> String {
    Role::ALL
        .iter()
        .filter_map(|&role| {
            let members: Vec<&ParamSlot> = slots.iter().filter(|s| s.role == role).collect();
            let count: usize = members
                .iter()
                .map(|s| s.shape.iter().product::<usize>())
                .sum();
            (!members.is_empty())
                .then(|| format!("{} {} tensors / {count}", role.name(), members.len()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Total parameter count of the optimizer's slots.
pub fn param_count(slots: &[ParamSlot]) -> usize {
    slots
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum()
}

/// A step as the books see it.
#[derive(Clone, Copy, Debug)]
pub struct LoggedStep {
    /// Steps completed (1-based).
    pub done: u64,
    /// The step's training loss (nats per target); NaN when not read.
    pub loss: f64,
    /// The schedule's learning-rate factor of the step.
    pub lr_factor: f64,
    /// Global L2 norm of the gradient before clipping; NaN when not read.
    pub grad_norm: f64,
    /// Seconds of host time in the optimizer step.
    pub optim_s: f64,
    /// The validation loss on an evaluation step.
    pub val_loss: Option<f64>,
}

/// The books of one run: metrics, checkpoints, progress, from [`RunLog::open`] to
/// [`RunLog::finish`], one [`RunLog::on_step`] per step.
pub struct RunLog {
    config: TrainConfig,
    metrics: MetricsLog,
    bar: Progress,
    last_path: PathBuf,
    best_path: PathBuf,
    params: usize,
    /// Training targets per step (batch × T), for the throughput.
    targets_per_step: usize,
    last_train: f64,
    last_val: f64,
    best_val: f64,
    /// Seconds in the optimizer step so far (cumulative, as `Record::optim_s`).
    optim_s: f64,
    started: Instant,
    interval_start: Instant,
}

impl RunLog {
    /// Writes `config.toml`, opens `metrics.jsonl` (cut back to the start's step), prints
    /// `banner` (what trains, on what) and starts the progress bar at the start's step.
    pub fn open(
        config: &TrainConfig,
        start: &StartState,
        params: usize,
        targets_per_step: usize,
        banner: &str,
    ) -> Result<Self, TrainError> {
        let config_path = config.out.join("config.toml");
        spectral_io::write_atomic(&config_path, config.to_toml().as_bytes()).map_err(|e| {
            TrainError::Io {
                path: config_path.display().to_string(),
                source: e.source,
            }
        })?;
        let metrics_path = config.out.join("metrics.jsonl");
        let metrics =
            MetricsLog::open(&metrics_path, start.step).map_err(io_error(&metrics_path))?;
        eprintln!("{banner}; {}", config.describe_schedule());
        let bar = Progress::new("train", config.steps, "steps");
        bar.set_position(start.step);
        Ok(Self {
            config: config.clone(),
            metrics,
            bar,
            last_path: last_path(config),
            best_path: config.out.join("best.safetensors"),
            params,
            targets_per_step,
            last_train: f64::NAN,
            last_val: f64::NAN,
            best_val: start.best_val,
            optim_s: 0.0,
            started: Instant::now(),
            interval_start: Instant::now(),
        })
    }

    /// The checkpoint a stopped run can resume from, for its error message.
    pub fn last_checkpoint(&self) -> String {
        if self.last_path.exists() {
            self.last_path.display().to_string()
        } else {
            "none yet".into()
        }
    }

    /// Stops the progress bar where it is (the run failed).
    pub fn abandon(&self) {
        self.bar.abandon();
    }

    /// The books after a step of a burn model: [`RunLog::record`], with the gradient norm read
    /// from the device only when the metrics line is written.
    pub fn on_step<B: AutodiffBackend, M: AutodiffModule<B>>(
        &mut self,
        model: &M,
        optimizer: &SpectralOptimizer<B::InnerBackend>,
        report: StepReport<B::InnerBackend>,
    ) -> Result<(), TrainError> {
        let logged = self.writes_metrics(report.done, report.val_loss.is_some());
        let step = LoggedStep {
            done: report.done,
            loss: report.loss,
            lr_factor: report.lr_factor,
            grad_norm: if logged {
                read_norm(report.grad_norm)
            } else {
                f64::NAN
            },
            optim_s: report.optim_s,
            val_loss: report.val_loss,
        };
        self.record(step, || {
            let mut dict = StateDict::default();
            checkpoint::module_state(model, &mut dict);
            Ok((dict, optimizer.state_dict()))
        })
    }

    /// Whether step `done` writes a metrics line (the log cadence, or an evaluation step).
    pub fn writes_metrics(&self, done: u64, evaluated: bool) -> bool {
        done.is_multiple_of(self.config.log_interval) || evaluated
    }

    /// The books after a step: the best checkpoint when the step's validation loss is the
    /// lowest so far, the last checkpoint on its cadence, the metrics line on the log cadence
    /// or an evaluation step, the progress bar. `state` gives the model's parameters
    /// (`model/<path>`) and the optimizer's state dict; it is called only when a checkpoint
    /// is written.
    pub fn record(
        &mut self,
        step: LoggedStep,
        state: impl Fn() -> Result<(StateDict, StateDict), TrainError>,
    ) -> Result<(), TrainError> {
        let (checkpoint_interval, steps) = (self.config.checkpoint_interval, self.config.steps);
        let done = step.done;
        self.last_train = step.loss;
        self.optim_s += step.optim_s;
        // The metrics line before the checkpoints: a checkpoint at step `done` always has its
        // line in the log, so a resume from it finds no gap.
        if self.writes_metrics(done, step.val_loss.is_some()) {
            self.write_metrics(step)?;
        }
        if let Some(val) = step.val_loss {
            self.last_val = val;
            if val < self.best_val {
                self.best_val = val;
                self.save(&state, done, false)?;
            }
        }
        if done.is_multiple_of(checkpoint_interval) || done == steps {
            self.save(&state, done, true)?;
        }
        spectral_io::fault::point(|| format!("step:{done}"));
        self.bar.inc(1);
        Ok(())
    }

    /// The metrics line and the progress message of step `step.done`.
    fn write_metrics(&mut self, step: LoggedStep) -> Result<(), TrainError> {
        let config = &self.config;
        let done = step.done;
        let steps_in_interval = if done.is_multiple_of(config.log_interval) {
            config.log_interval
        } else {
            1
        };
        let seconds = self.interval_start.elapsed().as_secs_f64();
        let tokens_per_s =
            (self.targets_per_step as u64 * steps_in_interval) as f64 / seconds.max(1e-9);
        self.interval_start = Instant::now();
        let record = Record {
            step: done,
            train_loss: step.loss,
            val_loss: step.val_loss,
            lr: config.optimizer.lr * step.lr_factor,
            grad_norm: step.grad_norm,
            tokens_per_s,
            wall_s: self.started.elapsed().as_secs_f64(),
            optim_s: self.optim_s,
        };
        self.metrics
            .write(&record)
            .map_err(io_error(self.metrics.path()))?;
        self.bar.set_message(format!(
            "loss {:.4}{} lr {:.2e} {tokens_per_s:.0} tok/s",
            step.loss,
            step.val_loss
                .map(|v| format!(" val {v:.4}"))
                .unwrap_or_default(),
            record.lr
        ));
        Ok(())
    }

    /// `last.safetensors` (`last`) or `best.safetensors`: the model and optimizer state from
    /// `state`, the step, the best loss and the config.
    fn save(
        &self,
        state: &impl Fn() -> Result<(StateDict, StateDict), TrainError>,
        step: u64,
        last: bool,
    ) -> Result<(), TrainError> {
        let (model, optimizer) = state()?;
        let checkpoint = Checkpoint {
            step,
            best_val_loss: self.best_val.is_finite().then_some(self.best_val),
            config_toml: self.config.to_toml(),
            optimizer,
        };
        let path = if last {
            &self.last_path
        } else {
            &self.best_path
        };
        Ok(checkpoint::save_state(path, model, &checkpoint)?)
    }

    /// Finishes the bar; what the run reports.
    pub fn finish(self) -> TrainSummary {
        self.bar.finish();
        TrainSummary {
            steps: self.config.steps,
            final_train_loss: self.last_train,
            final_val_loss: self.last_val,
            best_val_loss: self.best_val,
            seconds: self.started.elapsed().as_secs_f64(),
            params: self.params,
            out: self.config.out.clone(),
        }
    }
}
