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
use burn::tensor::backend::{AutodiffBackend, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use spectral::optim::{ParamSlot, Role, SpectralOptimizer};
use std::path::PathBuf;
use std::time::Instant;

/// What a finished run reports.
#[derive(Clone, Debug)]
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

/// The books of one run: metrics, checkpoints, progress, from [`RunLog::open`] to
/// [`RunLog::finish`], one [`RunLog::on_step`] per step.
pub struct RunLog {
    config: TrainConfig,
    metrics: MetricsLog,
    bar: ProgressBar,
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
        eprintln!("{banner}");
        let bar = ProgressBar::new(config.steps);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {msg} (eta {eta})",
            )
            .expect("valid template"),
        );
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

    /// The books after a step: the best checkpoint when the step's validation loss is the
    /// lowest so far, the last checkpoint on its cadence, the metrics line on the log cadence
    /// or an evaluation step, the progress bar.
    pub fn on_step<B: AutodiffBackend, M: AutodiffModule<B>>(
        &mut self,
        model: &M,
        optimizer: &SpectralOptimizer<B::InnerBackend>,
        report: StepReport<B::InnerBackend>,
    ) -> Result<(), TrainError> {
        let config = &self.config;
        let done = report.done;
        self.last_train = report.loss;
        self.optim_s += report.optim_s;
        if let Some(val) = report.val_loss {
            self.last_val = val;
            if val < self.best_val {
                self.best_val = val;
                self.save::<B, _>(model, done, optimizer, false)?;
            }
        }
        if done.is_multiple_of(config.checkpoint_interval) || done == config.steps {
            self.save::<B, _>(model, done, optimizer, true)?;
        }
        let evaluated = report.val_loss.is_some();
        if done.is_multiple_of(config.log_interval) || evaluated {
            self.write_metrics(report)?;
        }
        self.bar.inc(1);
        Ok(())
    }

    /// The metrics line and the progress message of step `report.done`.
    fn write_metrics<IB: Backend>(&mut self, report: StepReport<IB>) -> Result<(), TrainError> {
        let config = &self.config;
        let done = report.done;
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
            train_loss: report.loss,
            val_loss: report.val_loss,
            lr: config.optimizer.lr * report.lr_factor,
            grad_norm: read_norm(report.grad_norm),
            tokens_per_s,
            wall_s: self.started.elapsed().as_secs_f64(),
            optim_s: self.optim_s,
        };
        self.metrics
            .write(&record)
            .map_err(io_error(self.metrics.path()))?;
        self.bar.set_message(format!(
            "loss {:.4}{} lr {:.2e} {tokens_per_s:.0} tok/s",
            report.loss,
            report
                .val_loss
                .map(|v| format!(" val {v:.4}"))
                .unwrap_or_default(),
            record.lr
        ));
        Ok(())
    }

    /// `last.safetensors` (`last`) or `best.safetensors`: the model, the optimizer state,
    /// the step, the best loss and the config.
    fn save<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        step: u64,
        optimizer: &SpectralOptimizer<B::InnerBackend>,
        last: bool,
    ) -> Result<(), TrainError> {
        let state = Checkpoint {
            step,
            best_val_loss: self.best_val.is_finite().then_some(self.best_val),
            config_toml: self.config.to_toml(),
            optimizer: optimizer.state_dict(),
        };
        let path = if last {
            &self.last_path
        } else {
            &self.best_path
        };
        Ok(checkpoint::save(path, model, &state)?)
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
