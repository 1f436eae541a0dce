//! The training loop. Every burn trainer and benchmark of the workspace runs its steps through
//! [`fit`]; what differs between them (where the loss comes from, how gradients are shared
//! between devices, which optimizer steps, what is logged) is a [`Hooks`] implementation. The
//! one other step loop is the CUDA engine's ([`crate::engine::train_on_engine`]): its whole
//! step (clipping and the optimizer included) is one captured CUDA graph, so it cannot call
//! back into hooks between the stages below; it keeps the same schedule, evaluation cadence,
//! checkpoints and metrics lines.
//!
//! Step `s` (0-based; `done = s + 1` steps are complete after it):
//!
//! ```text
//! f      = schedule.factor(s)                       learning-rate factor
//! L      = hooks.loss(model, s)                     [1], mean loss of the step's batch
//! g      = hooks.reduce_gradients(∇L)               data-parallel: mean over devices
//! ‖g‖    = global L2 norm;  g ← g · min(1, clip / (‖g‖ + 1e-6))   (when clip > 0)
//! model  = hooks.after_update(hooks.update(f, model, g))
//! val    = hooks.on_eval(model, done)               when done % eval_interval = 0 or s is last
//! hooks.on_step(model, report)                      loss, f, ‖g‖, optimizer seconds, val
//! ```
//!
//! A NaN or infinite loss, or a finite loss with a NaN or infinite gradient, stops the loop
//! before the step's weights are kept, with the error of [`Hooks::non_finite`] (by default
//! [`TrainError::NonFinite`]) naming the first parameter whose gradient is not finite. The
//! gradient check reads the norm back before the optimizer step (it waits for the backward
//! pass); a loop whose loss is [`LossValue::Unread`] (throughput timing) checks neither.
//!
//! A caller drives it with a model, its hooks and a [`Plan`]:
//!
//! ```ignore
//! let plan = Plan { steps: 0..300, eval_interval: 25, grad_clip: 1.0, schedule };
//! let model = fit(&plan, model, &mut hooks)?;
//! ```

use crate::error::TrainError;
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use spectral::optim::Schedule;
use std::ops::Range;
use std::time::Instant;

/// The steps [`fit`] runs and the rules every step follows.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Steps to run, 0-based (a resumed run starts at its checkpoint's step).
    pub steps: Range<u64>,
    /// [`Hooks::on_eval`] runs after step `done` (1-based) when `done` is a multiple of this,
    /// and after the last step of `steps`; 0: after the last step only.
    pub eval_interval: u64,
    /// Global L2 norm the gradients are clipped to (PyTorch's `clip_grad_norm_`); 0 or less:
    /// no clipping (the norm is still computed for the report).
    pub grad_clip: f64,
    /// Learning-rate factor of each step, handed to [`Hooks::update`].
    pub schedule: Schedule,
}

impl Plan {
    /// Whether [`Hooks::on_eval`] runs after step `done` (1-based).
    pub fn evaluates(&self, done: u64) -> bool {
        done == self.steps.end
            || (self.eval_interval > 0 && done.is_multiple_of(self.eval_interval))
    }
}

/// A learning-rate factor of 1 at every step (warmup 0, no decay).
pub fn constant_schedule() -> Schedule {
    Schedule {
        warmup_steps: 0,
        total_steps: 1,
        min_factor: 1.0,
    }
}

/// When the value of a step's loss is known to the loop. Each read of a device tensor waits
/// for the device to finish the work queued before it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LossValue {
    /// Read by [`Hooks::loss`] before the backward pass (data-parallel: the mean over
    /// devices); checked at once, before the backward pass.
    Read(f64),
    /// Read by the loop once the optimizer step is queued, so the device works through the
    /// backward pass while the host queues the step; checked before the step's weights are
    /// kept.
    AfterStep,
    /// Not read and not checked (throughput timing, where a read would stall the queue);
    /// NaN in the [`StepReport`].
    Unread,
}

/// What [`Hooks::loss`] hands the loop.
pub struct StepLoss<B: Backend> {
    /// Mean loss `[1]` to differentiate.
    pub loss: Tensor<B, 1>,
    pub value: LossValue,
}

/// What the loop knows after a step; handed to [`Hooks::on_step`].
pub struct StepReport<B: Backend> {
    /// Steps completed (1-based: 1 after the first optimizer step).
    pub done: u64,
    /// The step's training loss (nats per target for the tasks here); NaN when
    /// [`LossValue::Unread`].
    pub loss: f64,
    /// The schedule's learning-rate factor of the step.
    pub lr_factor: f64,
    /// Global L2 norm of the (reduced) gradient before clipping, `[1]` on the device, not read
    /// back (`None` without gradients): read it with [`read_norm`] only where it is used.
    pub grad_norm: Option<Tensor<B, 1>>,
    /// Seconds of host time in [`Hooks::update`] (kernels on a GPU are asynchronous).
    pub optim_s: f64,
    /// What [`Hooks::on_eval`] returned on an evaluation step (the validation loss); `None`
    /// on other steps.
    pub val_loss: Option<f64>,
}

/// What differs between the loops [`fit`] runs. `M` is the model on the autodiff backend.
pub trait Hooks<B: AutodiffBackend, M: AutodiffModule<B>> {
    /// The loss of the batch of `step` (0-based); `None` ends the loop before this step, with
    /// the model as it is.
    fn loss(&mut self, model: &M, step: u64) -> Result<Option<StepLoss<B>>, TrainError>;

    /// This device's gradients → the step's gradients, before clipping (data-parallel: their
    /// mean over the devices). The identity by default.
    fn reduce_gradients(&mut self, grads: GradientsParams) -> Result<GradientsParams, TrainError> {
        Ok(grads)
    }

    /// One optimizer step at `lr_factor` × the peak learning rate.
    fn update(&mut self, lr_factor: f64, model: M, grads: GradientsParams)
    -> Result<M, TrainError>;

    /// A projection of the updated model (a task's constraint); the identity by default.
    fn after_update(&mut self, model: M) -> M {
        model
    }

    /// The evaluation after step `done` on an evaluation step ([`Plan::eval_interval`]): the
    /// validation loss, or `None` where nothing is evaluated (the default).
    fn on_eval(&mut self, _model: &M, _done: u64) -> Result<Option<f64>, TrainError> {
        Ok(None)
    }

    /// After every step: logging, checkpoints, progress.
    fn on_step(
        &mut self,
        _model: &M,
        _report: StepReport<B::InnerBackend>,
    ) -> Result<(), TrainError> {
        Ok(())
    }

    /// The error that stops the loop at step `step` (1-based) where `what` ("loss", "the
    /// gradient of `PARAM`") is `value`, NaN or infinite.
    fn non_finite(&mut self, step: u64, what: String, value: f64) -> TrainError {
        TrainError::NonFinite {
            step,
            what,
            value,
            last_checkpoint: "none yet".into(),
        }
    }
}

/// Runs the steps of `plan` on `model` (module doc) and returns the trained model.
pub fn fit<B: AutodiffBackend, M: AutodiffModule<B>, H: Hooks<B, M>>(
    plan: &Plan,
    mut model: M,
    hooks: &mut H,
) -> Result<M, TrainError> {
    for step in plan.steps.clone() {
        let lr_factor = plan.schedule.factor(step);
        let Some(StepLoss { loss, value }) = hooks.loss(&model, step)? else {
            return Ok(model);
        };
        if let LossValue::Read(value) = value
            && !value.is_finite()
        {
            return Err(hooks.non_finite(step + 1, "loss".into(), value));
        }
        // Read once the whole step is queued: reading before the backward pass left the GPU
        // idle while the host built it.
        let loss_on_device = (value == LossValue::AfterStep).then(|| loss.clone().inner());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut grads = hooks.reduce_gradients(grads)?;
        let grad_norm = gradient_norm::<B, M>(&model, &grads);
        if value != LossValue::Unread
            && let Some(norm) = grad_norm.clone().map(|n| read_norm(Some(n)))
            && !norm.is_finite()
        {
            // A non-finite loss (not read yet when it is read after the step) is the cause.
            if let Some(on_device) = &loss_on_device {
                let loss = on_device.clone().into_scalar().elem::<f64>();
                if !loss.is_finite() {
                    return Err(hooks.non_finite(step + 1, "loss".into(), loss));
                }
            }
            // Before clipping, which would spread the NaN over every gradient.
            let (what, value) = first_non_finite_gradient::<B, M>(&model, &grads)
                .unwrap_or_else(|| ("the gradient norm".into(), norm));
            return Err(hooks.non_finite(step + 1, what, value));
        }
        clip_gradients::<B, M>(&model, &mut grads, grad_norm.as_ref(), plan.grad_clip);
        let optim_started = Instant::now();
        let stepped = hooks.update(lr_factor, model, grads);
        let optim_s = optim_started.elapsed().as_secs_f64();
        // Before the step's own error: a non-finite loss is the cause to report.
        let loss = match (value, loss_on_device) {
            (LossValue::Read(value), _) => value,
            (_, Some(on_device)) => {
                let value = on_device.into_scalar().elem::<f64>();
                if !value.is_finite() {
                    return Err(hooks.non_finite(step + 1, "loss".into(), value));
                }
                value
            }
            _ => f64::NAN,
        };
        model = hooks.after_update(stepped?);
        let done = step + 1;
        let val_loss = if plan.evaluates(done) {
            hooks.on_eval(&model, done)?
        } else {
            None
        };
        let report = StepReport {
            done,
            loss,
            lr_factor,
            grad_norm,
            optim_s,
            val_loss,
        };
        hooks.on_step(&model, report)?;
    }
    Ok(model)
}

/// The global L2 norm of the gradients, as a `[1]` tensor on the device (`None` without
/// gradients). Nothing is read back: the host goes on queueing the optimizer step and the
/// next batch while the GPU runs the backward pass. Read the norm (see [`read_norm`]) only
/// where it is used; each read waits for the step's backward pass.
fn gradient_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
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
    let mut squares = SumSquares::<B::InnerBackend> {
        grads,
        sums: Vec::new(),
    };
    model.visit(&mut squares);
    if squares.sums.is_empty() {
        return None;
    }
    Some(Tensor::cat(squares.sums, 0).sum().sqrt()) // [1]
}

/// PyTorch's `clip_grad_norm_` given the gradients' global `norm` ([`gradient_norm`]): when
/// `max_norm > 0`, every gradient scaled by `min(1, max_norm / (norm + 1e-6))`, the factor
/// computed and applied on the device (nothing read back).
fn clip_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    norm: Option<&Tensor<B::InnerBackend, 1>>,
    max_norm: f64,
) {
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
    let Some(norm) = norm else { return };
    if max_norm > 0.0 {
        let factor = norm
            .clone()
            .add_scalar(1e-6)
            .recip()
            .mul_scalar(max_norm)
            .clamp_max(1.0);
        model.visit(&mut Scale { grads, factor });
    }
}

/// The first parameter (by its dotted path in `model`) whose gradient holds a NaN or an
/// infinity, with one such value; `None` when every gradient is finite.
fn first_non_finite_gradient<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> Option<(String, f64)> {
    struct Find<'a> {
        grads: &'a GradientsParams,
        path: Vec<String>,
        found: Option<(String, f64)>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Find<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if self.found.is_some() {
                return;
            }
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let bad = g.into_data().iter::<f64>().find(|v| !v.is_finite());
                if let Some(value) = bad {
                    let path = self.path.join(".");
                    self.found = Some((format!("the gradient of `{path}`"), value));
                }
            }
        }
    }
    let mut find = Find {
        grads,
        path: Vec::new(),
        found: None,
    };
    model.visit(&mut find);
    find.found
}

/// The value of a norm from [`gradient_norm`] (0 without gradients); waits for the device.
pub fn read_norm<B: Backend>(norm: Option<Tensor<B, 1>>) -> f64 {
    norm.map_or(0.0, |n| n.into_scalar().elem::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Autodiff;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Distribution;
    use spectral::device::{CpuBackend, materialized, seeded};

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

    /// Hooks on a linear layer that record what the loop asked: the loss `mean((x·W + b)²)`
    /// at a fixed x, NaN at step `nan_at` (0-based), `None` from step `stop_at`.
    struct Recorder {
        x: Tensor<B, 2>,
        value: LossValue,
        nan_at: Option<u64>,
        /// A step whose loss is finite but whose weight gradient is NaN.
        nan_gradient_at: Option<u64>,
        stop_at: Option<u64>,
        updates: Vec<f64>,
        evals: Vec<u64>,
        steps: Vec<(u64, f64)>,
    }

    impl Recorder {
        fn new(value: LossValue) -> Self {
            let device = Default::default();
            let x = seeded::<B, _>(&device, 3, || {
                Tensor::<B, 2>::random([5, 3], Distribution::Normal(0.0, 1.0), &device)
            });
            Self {
                x,
                value,
                nan_at: None,
                nan_gradient_at: None,
                stop_at: None,
                updates: Vec::new(),
                evals: Vec::new(),
                steps: Vec::new(),
            }
        }
    }

    impl Hooks<B, Linear<B>> for Recorder {
        fn loss(
            &mut self,
            model: &Linear<B>,
            step: u64,
        ) -> Result<Option<StepLoss<B>>, TrainError> {
            if self.stop_at == Some(step) {
                return Ok(None);
            }
            let mut loss = model.forward(self.x.clone()).powf_scalar(2.0).mean();
            if self.nan_at == Some(step) {
                loss = loss.mul_scalar(f64::NAN);
            }
            if self.nan_gradient_at == Some(step) {
                // √(0·W) = 0 adds nothing, but its derivative is ∞ · 0 = NaN.
                loss = loss + model.weight.val().mul_scalar(0.0).sqrt().sum();
            }
            let value = match self.value {
                LossValue::Read(_) => LossValue::Read(loss.clone().into_scalar().elem::<f64>()),
                other => other,
            };
            Ok(Some(StepLoss { loss, value }))
        }

        fn update(
            &mut self,
            lr_factor: f64,
            model: Linear<B>,
            _grads: GradientsParams,
        ) -> Result<Linear<B>, TrainError> {
            self.updates.push(lr_factor);
            Ok(model)
        }

        fn on_eval(&mut self, _model: &Linear<B>, done: u64) -> Result<Option<f64>, TrainError> {
            self.evals.push(done);
            Ok(Some(done as f64))
        }

        fn on_step(
            &mut self,
            _model: &Linear<B>,
            report: StepReport<CpuBackend>,
        ) -> Result<(), TrainError> {
            assert_eq!(
                report.val_loss,
                self.evals
                    .last()
                    .filter(|&&e| e == report.done)
                    .map(|&e| e as f64)
            );
            let norm = read_norm(report.grad_norm);
            assert!(norm > 0.0 || (norm.is_nan() && self.nan_gradient_at.is_some()));
            self.steps.push((report.done, report.loss));
            Ok(())
        }
    }

    fn plan(steps: Range<u64>, eval_interval: u64) -> Plan {
        Plan {
            steps,
            eval_interval,
            grad_clip: 1.0,
            schedule: Schedule {
                warmup_steps: 2,
                total_steps: 7,
                min_factor: 0.1,
            },
        }
    }

    fn layer() -> Linear<B> {
        let device = Default::default();
        seeded::<B, _>(&device, 7, || {
            materialized(LinearConfig::new(3, 4).init::<B>(&device))
        })
    }

    #[test]
    fn every_step_updates_at_the_schedule_and_evaluation_follows_the_cadence() {
        let schedule = plan(0..7, 3).schedule;
        for value in [
            LossValue::AfterStep,
            LossValue::Read(0.0),
            LossValue::Unread,
        ] {
            let mut hooks = Recorder::new(value);
            fit(&plan(1..7, 3), layer(), &mut hooks).unwrap();
            let factors: Vec<f64> = (1..7).map(|s| schedule.factor(s)).collect();
            assert_eq!(hooks.updates, factors, "{value:?}");
            assert_eq!(hooks.evals, vec![3, 6, 7], "{value:?}");
            let done: Vec<u64> = hooks.steps.iter().map(|s| s.0).collect();
            assert_eq!(done, (2..=7).collect::<Vec<_>>());
            // The loss does not change (the update keeps the model): one value, or NaN unread.
            let first = hooks.steps[0].1;
            if value == LossValue::Unread {
                assert!(hooks.steps.iter().all(|s| s.1.is_nan()));
            } else {
                assert!(first > 0.0 && hooks.steps.iter().all(|s| s.1 == first));
            }
        }
    }

    #[test]
    fn a_nan_loss_stops_before_its_step_is_kept_and_none_ends_the_loop() {
        // Read at once, or read once the gradient shows NaN: no update of step 3 runs.
        for (value, updates) in [(LossValue::AfterStep, 2), (LossValue::Read(0.0), 2)] {
            let mut hooks = Recorder::new(value);
            hooks.nan_at = Some(2);
            let error = fit(&plan(0..7, 3), layer(), &mut hooks).unwrap_err();
            assert!(
                matches!(error, TrainError::NonFinite { step: 3, ref value, ref what, .. } if value.is_nan() && what == "loss"),
                "{error}"
            );
            assert_eq!(hooks.updates.len(), updates, "{value:?}");
            assert_eq!(hooks.steps.len(), 2, "{value:?}");
        }
        let mut hooks = Recorder::new(LossValue::AfterStep);
        hooks.stop_at = Some(4);
        fit(&plan(0..7, 3), layer(), &mut hooks).unwrap();
        assert_eq!(hooks.steps.len(), 4);
        assert_eq!(hooks.evals, vec![3]);
    }

    /// A finite loss with a NaN gradient stops the loop before the optimizer sees it, naming
    /// the parameter; unread (throughput) loops do not check.
    #[test]
    fn a_nan_gradient_stops_before_the_update_and_names_its_parameter() {
        for value in [LossValue::AfterStep, LossValue::Read(0.0)] {
            let mut hooks = Recorder::new(value);
            hooks.nan_gradient_at = Some(2);
            let error = fit(&plan(0..7, 3), layer(), &mut hooks).unwrap_err();
            let TrainError::NonFinite {
                step, what, value, ..
            } = &error
            else {
                panic!("{error}");
            };
            assert_eq!((*step, what.as_str()), (3, "the gradient of `weight`"));
            assert!(value.is_nan());
            assert_eq!(hooks.updates.len(), 2, "the update of step 3 never ran");
        }
        let mut hooks = Recorder::new(LossValue::Unread);
        hooks.nan_gradient_at = Some(2);
        fit(&plan(0..7, 3), layer(), &mut hooks).unwrap();
        assert_eq!(hooks.updates.len(), 7);
    }

    #[test]
    fn clipping_scales_to_the_max_norm_and_reports_the_norm_before() {
        let (layer, mut grads) = layer_and_grads(10.0);
        let before = flat(&layer, &grads);
        let norm_tensor = gradient_norm(&layer, &grads);
        clip_gradients(&layer, &mut grads, norm_tensor.as_ref(), 1.0);
        let norm = read_norm(norm_tensor);
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
            let norm_tensor = gradient_norm(&layer, &grads);
            clip_gradients(&layer, &mut grads, norm_tensor.as_ref(), max_norm);
            let norm = read_norm(norm_tensor);
            assert!((norm - l2(&before)).abs() <= 1e-5 * l2(&before));
            assert_eq!(flat(&layer, &grads), before, "max_norm {max_norm}");
        }
    }
}
