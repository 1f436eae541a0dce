//! The training loop: schedule, forward, backward, gradient clipping, optimizer step,
//! metrics, evaluation, checkpoints, resume.
//!
//! Outputs in `config.out`: `config.toml` (the resolved config), `metrics.jsonl`,
//! `last.safetensors` (every `checkpoint_interval` steps and at the end) and
//! `best.safetensors` (lowest validation loss). A NaN or infinite loss stops the run with an
//! error naming the step, before that step touches the weights or any checkpoint.

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::config::{ConfigError, TrainConfig};
use crate::metrics::{MetricsLog, Record};
use crate::task::{ConfiguredTask, Task, TaskError};
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use spectral::device::{materialized, seeded};
use spectral::optim::state::StateDict;
use spectral::optim::{ParamSlot, Role, SpectralOptimizer};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("optimizer: {0}")]
    Optimizer(#[from] spectral::optim::OptimError),
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "loss is {loss} at step {step}; stopped before updating the weights (last good checkpoint: {last_checkpoint})"
    )]
    NonFinite {
        step: u64,
        loss: f64,
        last_checkpoint: String,
    },
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error(transparent)]
    Device(#[from] spectral::DeviceError),
    #[error(transparent)]
    Collective(#[from] crate::collective::CollectiveFailure),
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}

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

/// The checkpoint `last_path` a resumed run continues from, refused when another trajectory
/// (model, data, optimizer, schedule, batch, seed) wrote it or when it already holds
/// `config.steps` steps.
pub(crate) fn resume_checkpoint(
    config: &TrainConfig,
    last_path: &Path,
) -> Result<(StateDict, Checkpoint), TrainError> {
    let (model_dict, saved) = checkpoint::load(last_path)?;
    let saved_config =
        TrainConfig::from_toml(&saved.config_toml, &last_path.display().to_string())?;
    if saved_config.trajectory_key() != config.trajectory_key() {
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
pub(crate) fn build_seeded<B: AutodiffBackend, T: Task<B>>(
    config: &TrainConfig,
    task: &T,
    device: &B::Device,
) -> Result<T::Model, TrainError> {
    seeded::<B, _>(device, config.seed, || {
        let model = config.init.apply(task.build(device)?, config.seed);
        Ok(materialized(model))
    })
}

/// Trains the model the config names; `resume` continues from `config.out/last.safetensors`.
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

/// [`train`] on the device the config names (`cpu`, `cuda`, `cuda:N`), or data-parallel on
/// its `devices` when it lists any ([`crate::data_parallel`]).
pub fn train_on_device(config: &TrainConfig, resume: bool) -> Result<TrainSummary, TrainError> {
    if !config.devices.is_empty() {
        return crate::data_parallel::train_on_devices(config, resume);
    }
    let device: spectral::DeviceKind = config.device.parse()?;
    match device.check_built()? {
        spectral::DeviceKind::Cpu => train::<burn::backend::Autodiff<spectral::CpuBackend>>(
            config,
            resume,
            &Default::default(),
        ),
        #[cfg(feature = "cuda")]
        spectral::DeviceKind::Cuda(index) => {
            train::<burn::backend::Autodiff<spectral::device::CudaBackend>>(
                config,
                resume,
                &burn::backend::cuda::CudaDevice::new(index),
            )
        }
        #[cfg(not(feature = "cuda"))]
        spectral::DeviceKind::Cuda(_) => {
            unreachable!("check_built refuses cuda without the feature")
        }
    }
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

fn run<B: AutodiffBackend, T: Task<B>>(
    config: &TrainConfig,
    task: &T,
    resume: bool,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    std::fs::create_dir_all(&config.out).map_err(io_error(&config.out))?;
    let last_path = config.out.join("last.safetensors");
    let best_path = config.out.join("best.safetensors");
    let mut optimizer = SpectralOptimizer::<B::InnerBackend>::new(config.optimizer.clone());
    let mut model = build_seeded::<B, T>(config, task, device)?;
    let mut start = 0;
    let mut best_val = f64::INFINITY;
    if resume {
        let (model_dict, saved) = resume_checkpoint(config, &last_path)?;
        model = checkpoint::load_module_state(model, &model_dict).map_err(TrainError::Resume)?;
        optimizer.load_state_dict(&saved.optimizer, device)?;
        start = saved.step;
        best_val = saved.best_val_loss.unwrap_or(f64::INFINITY);
    }
    let slots = optimizer.plan::<B, _>(&model)?;
    let params: usize = slots
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    let config_path = config.out.join("config.toml");
    std::fs::write(&config_path, config.to_toml()).map_err(io_error(&config_path))?;
    let metrics_path = config.out.join("metrics.jsonl");
    let mut metrics = MetricsLog::open(&metrics_path, start).map_err(io_error(&metrics_path))?;
    eprintln!(
        "{} parameters ({}); optimizer {} on the matrices; {} from step {start}",
        params,
        describe_groups(&slots),
        config.optimizer.method.name(),
        if resume { "resuming" } else { "training" },
    );

    let bar = progress_bar(config.steps, start);
    let started = Instant::now();
    let mut interval_start = Instant::now();
    let mut optim_seconds = 0.0;
    let mut last_train = f64::NAN;
    let mut last_val = f64::NAN;
    let save = |model: &T::Model,
                step: u64,
                best: f64,
                optimizer: &SpectralOptimizer<B::InnerBackend>,
                path: &Path| {
        let state = Checkpoint {
            step,
            best_val_loss: best.is_finite().then_some(best),
            config_toml: config.to_toml(),
            optimizer: optimizer.state_dict(),
        };
        checkpoint::save(path, model, &state)
    };
    for step in start..config.steps {
        let lr_factor = config.schedule.factor(step);
        let loss = task.train_loss(&model, step, device)?;
        // The loss is read once the whole step is queued: a read waits for the device, and
        // reading before the backward pass left the GPU idle while the host built it. A
        // non-finite loss still stops the run before anything of this step is saved.
        let loss_on_device = loss.clone().inner();
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let grad_norm = clip_gradients::<B, _>(&model, &mut grads, config.grad_clip);
        // Not read here: only a logged step's norm is read back (a device wait).
        let optim_started = Instant::now();
        let stepped = optimizer.step(lr_factor, model, grads);
        optim_seconds += optim_started.elapsed().as_secs_f64();
        // Before the step's own error: a non-finite loss is the cause to report.
        let loss_value = loss_on_device.into_scalar().elem::<f64>();
        if !loss_value.is_finite() {
            bar.abandon();
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss: loss_value,
                last_checkpoint: if last_path.exists() {
                    last_path.display().to_string()
                } else {
                    "none yet".into()
                },
            });
        }
        model = task.after_step(stepped?);
        last_train = loss_value;
        let done = step + 1;
        let evaluate = done.is_multiple_of(config.eval_interval) || done == config.steps;
        let val_loss = if evaluate {
            let val = task.val_loss(&model.valid(), device)?;
            last_val = val;
            if val < best_val {
                best_val = val;
                save(&model, done, best_val, &optimizer, &best_path)?;
            }
            Some(val)
        } else {
            None
        };
        if done.is_multiple_of(config.checkpoint_interval) || done == config.steps {
            save(&model, done, best_val, &optimizer, &last_path)?;
        }
        if done.is_multiple_of(config.log_interval) || evaluate {
            let steps_in_interval = if done.is_multiple_of(config.log_interval) {
                config.log_interval
            } else {
                1
            };
            let seconds = interval_start.elapsed().as_secs_f64();
            let tokens_per_s =
                (task.targets_per_step() as u64 * steps_in_interval) as f64 / seconds.max(1e-9);
            interval_start = Instant::now();
            let record = Record {
                step: done,
                train_loss: loss_value,
                val_loss,
                lr: config.optimizer.lr * lr_factor,
                grad_norm: read_norm(grad_norm),
                tokens_per_s,
                wall_s: started.elapsed().as_secs_f64(),
                optim_s: optim_seconds,
            };
            metrics.write(&record).map_err(io_error(metrics.path()))?;
            bar.set_message(format!(
                "loss {loss_value:.4}{} lr {:.2e} {tokens_per_s:.0} tok/s",
                val_loss.map(|v| format!(" val {v:.4}")).unwrap_or_default(),
                record.lr
            ));
        }
        bar.inc(1);
    }
    bar.finish();
    Ok(TrainSummary {
        steps: config.steps,
        final_train_loss: last_train,
        final_val_loss: last_val,
        best_val_loss: best_val,
        seconds: started.elapsed().as_secs_f64(),
        params,
        out: config.out.clone(),
    })
}

/// PyTorch's `clip_grad_norm_`: the global L2 norm of the gradients, and, when
/// `max_norm > 0`, every gradient scaled by `min(1, max_norm / (norm + 1e-6))`.
///
/// Returns the norm before clipping as a `[1]` tensor on the device (`None` without
/// gradients), and reads nothing back: the factor is computed and applied on the device, so
/// the host goes on queueing the optimizer step and the next batch while the GPU runs the
/// backward pass. Read the norm (see [`read_norm`]) only where it is logged; each read waits
/// for the step's backward pass.
pub fn clip_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Option<Tensor<B::InnerBackend, 1>> {
    // One [1] sum of squares per parameter, concatenated and summed once. Not a running
    // `total + s` chain: on burn's CUDA backend the fusion layer merges such a chain over a
    // hundred parameters into one element-wise kernel with a hundred inputs, whose
    // compilation held the host for minutes per step (measured on an H100).
    struct SumSquares<'a, IB: Backend> {
        grads: &'a GradientsParams,
        sums: Vec<Tensor<IB, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B::InnerBackend> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.sums.push(g.powf_scalar(2.0).sum());
            }
        }
    }
    /// Multiplies every gradient by `factor` `[1]`.
    struct Scale<'a, IB: Backend> {
        grads: &'a mut GradientsParams,
        factor: Tensor<IB, 1>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B::InnerBackend> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                let factor = self.factor.clone().unsqueeze::<D>(); // [1, …, 1]
                self.grads.register(param.id, g.mul(factor));
            }
        }
    }
    let mut squares = SumSquares::<B::InnerBackend> {
        grads,
        sums: Vec::new(),
    };
    model.visit(&mut squares);
    if squares.sums.is_empty() {
        return None;
    }
    let norm = Tensor::cat(squares.sums, 0).sum().sqrt(); // [1]
    if max_norm > 0.0 {
        let factor = norm
            .clone()
            .add_scalar(1e-6)
            .recip()
            .mul_scalar(max_norm)
            .clamp_max(1.0);
        model.visit(&mut Scale { grads, factor });
    }
    Some(norm)
}

/// The value of a norm from [`clip_gradients`] (0 without gradients); waits for the device.
pub fn read_norm<B: Backend>(norm: Option<Tensor<B, 1>>) -> f64 {
    norm.map_or(0.0, |n| n.into_scalar().elem::<f64>())
}

pub(crate) fn progress_bar(total: u64, start: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {msg} (eta {eta})",
        )
        .expect("valid template"),
    );
    bar.set_position(start);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Distribution;
    use spectral::device::CpuBackend;

    type B = Autodiff<CpuBackend>;

    /// A linear layer `[3, 4]` with bias and the gradients of `sum((x·W + b)²)` at a random x.
    fn layer_and_grads(scale: f64) -> (Linear<B>, GradientsParams) {
        let device = Default::default();
        let (layer, x) = seeded::<B, _>(&device, 7, || {
            let layer = materialized(LinearConfig::new(3, 4).init::<B>(&device));
            let x = Tensor::<B, 2>::random([5, 3], Distribution::Normal(0.0, scale), &device);
            (layer, x)
        });
        let loss = layer.forward(x).powf_scalar(2.0).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        (layer, grads)
    }

    /// The layer's gradients, weight then bias, in f64.
    fn flat(layer: &Linear<B>, grads: &GradientsParams) -> Vec<f64> {
        let weight = grads.get::<CpuBackend, 2>(layer.weight.id).unwrap();
        let bias = grads
            .get::<CpuBackend, 1>(layer.bias.as_ref().unwrap().id)
            .unwrap();
        let mut values: Vec<f64> = weight.into_data().iter::<f64>().collect();
        values.extend(bias.into_data().iter::<f64>());
        values
    }

    fn l2(values: &[f64]) -> f64 {
        values.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_reports_the_norm_before() {
        let (layer, mut grads) = layer_and_grads(10.0);
        let before = flat(&layer, &grads);
        let norm = read_norm(clip_gradients(&layer, &mut grads, 1.0));
        assert!((norm - l2(&before)).abs() <= 1e-5 * l2(&before), "{norm}");
        assert!(norm > 1.0, "the test needs a norm over the limit: {norm}");
        let after = flat(&layer, &grads);
        assert!((l2(&after) - 1.0).abs() < 1e-5, "{}", l2(&after));
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b / (norm + 1e-6)).abs() <= 1e-6 * b.abs().max(1e-3));
        }
    }

    #[test]
    fn gradients_under_the_limit_or_without_one_are_left_bit_for_bit() {
        for max_norm in [1e9, 0.0] {
            let (layer, mut grads) = layer_and_grads(10.0);
            let before = flat(&layer, &grads);
            let norm = read_norm(clip_gradients(&layer, &mut grads, max_norm));
            assert!((norm - l2(&before)).abs() <= 1e-5 * l2(&before));
            assert_eq!(flat(&layer, &grads), before, "max_norm {max_norm}");
        }
    }
}
