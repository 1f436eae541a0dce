//! One run of the init benchmark: (init, lr, seed) → a [`RunRecord`].

use super::config::{Config, InitBenchError};
use super::jacobian::jacobian_singular_values;
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spectral::device::{materialized, seeded};
use spectral::init::{Init, apply_init};
use spectral::linalg::exact::{singular_values, to_faer};
use spectral::optim::Schedule;
use spectral_models::{Gpt, GptConfig};
use spectral_train::TrainError;
use spectral_train::data::TextDataset;
use spectral_train::data::text::TokenBatch;
use spectral_train::devices::{BackendDevices, DeviceJob};
use spectral_train::train_loop::{Hooks, LossValue, Plan, StepLoss, StepReport, fit, read_norm};
use std::time::Instant;

/// Everything one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub init: String,
    pub lr: f64,
    pub seed: u64,
    /// (step, validation loss in nats); step 0 = before training.
    pub val_curve: Vec<(u64, f64)>,
    /// Global gradient norm (before clipping) at every step.
    pub grad_norms: Vec<f64>,
    /// Median and max condition number σ_max/σ_min over the hidden matrices at step 0 / end.
    pub cond_init: (f64, f64),
    pub cond_final: (f64, f64),
    /// Singular values of the Jacobian of the last position's block-stack output with respect
    /// to the whole input window (`[C, T·C]`), at init, non-increasing.
    pub jacobian_sv: Vec<f64>,
    pub seconds: f64,
}

/// The benchmark's GPT: `layers` pre-norm blocks of width `width`, context `seq_len`.
pub fn model_config(config: &Config) -> GptConfig {
    GptConfig::new()
        .with_n_layer(config.layers)
        .with_n_embd(config.width)
        .with_n_head(config.heads)
        .with_block_size(config.seq_len)
}

/// One run of [`run_one`], as a [`DeviceJob`] for the config's device.
pub struct OneRun<'a> {
    pub config: &'a Config,
    pub data: &'a TextDataset,
    pub init: Init,
    pub lr: f64,
    pub seed: u64,
}

impl DeviceJob for OneRun<'_> {
    type Output = Result<RunRecord, InitBenchError>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Self::Output {
        run_one::<Autodiff<B>>(
            self.config,
            self.data,
            self.init,
            self.lr,
            self.seed,
            &devices.devices[0],
        )
    }
}

/// Builds, measures, trains and measures again (module doc of [`super`]); phase lines on
/// stderr, so a long run (96 layers on a GPU) shows where its time goes.
pub fn run_one<B: AutodiffBackend>(
    config: &Config,
    data: &TextDataset,
    init: Init,
    lr: f64,
    seed: u64,
    device: &B::Device,
) -> Result<RunRecord, InitBenchError> {
    let started = Instant::now();
    let model = seeded::<B, _>(device, seed, || {
        let model: Gpt<B> = model_config(config).init(device)?;
        Ok::<_, InitBenchError>(materialized(apply_init(model, init, seed)))
    })?;
    let name = format!("bench init: {} lr {lr:e} seed {seed}", init.name());
    let phase =
        |what: &str| eprintln!("{name}: {what} at {:.1} s", started.elapsed().as_secs_f64());
    phase("model built and initialized");
    let jacobian_sv = jacobian_singular_values(
        &model,
        data,
        config.jacobian_len.min(config.seq_len),
        device,
    )?;
    phase("Jacobian spectrum at init done");
    let cond_init = conditions(&model)?;
    phase("condition numbers at init done");
    let schedule = Schedule {
        warmup_steps: config.warmup,
        total_steps: config.steps,
        min_factor: 0.1,
    };
    let plan = Plan {
        steps: 0..config.steps,
        eval_interval: config.eval_every,
        grad_clip: 1.0,
        schedule,
    };
    let mut hooks = InitBenchSteps {
        data,
        seed,
        lr,
        batch: config.batch,
        seq_len: config.seq_len,
        val_batches: data.val_batches::<B::InnerBackend>(
            config.batch,
            config.seq_len,
            config.eval_windows,
            device,
        )?,
        optim: AdamWConfig::new()
            .with_beta_2(0.95)
            .with_weight_decay(0.1)
            .init::<B, Gpt<B>>(),
        val_curve: Vec::new(),
        grad_norms: Vec::with_capacity(config.steps as usize),
        name: &name,
        started,
        total_steps: config.steps,
        device,
    };
    let initial = hooks.val_loss(&model.valid())?;
    hooks.val_curve.push((0, initial));
    let model = fit(&plan, model, &mut hooks)?;
    let InitBenchSteps {
        val_curve,
        grad_norms,
        ..
    } = hooks;
    let cond_final = conditions(&model)?;
    Ok(RunRecord {
        init: init.name().into(),
        lr,
        seed,
        val_curve,
        grad_norms,
        cond_init,
        cond_final,
        jacobian_sv,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The init benchmark's steps on [`fit`]: a text batch per step, burn's AdamW at the
/// scheduled lr, the validation loss on the eval steps, the gradient norm of every step; a
/// non-finite loss ends the run (recorded as a NaN point of the curve), it is not an error.
struct InitBenchSteps<'a, B: AutodiffBackend, O> {
    data: &'a TextDataset,
    seed: u64,
    lr: f64,
    batch: usize,
    seq_len: usize,
    val_batches: Vec<TokenBatch<B::InnerBackend>>,
    optim: O,
    val_curve: Vec<(u64, f64)>,
    grad_norms: Vec<f64>,
    name: &'a str,
    started: Instant,
    total_steps: u64,
    device: &'a B::Device,
}

impl<B: AutodiffBackend, O> InitBenchSteps<'_, B, O> {
    /// Mean loss (nats per token) over the validation batches.
    fn val_loss(&self, model: &Gpt<B::InnerBackend>) -> Result<f64, TrainError> {
        let mut total = 0.0;
        for (x, y) in &self.val_batches {
            total += model
                .loss(x.clone(), y.clone())?
                .into_scalar()
                .elem::<f64>();
        }
        Ok(total / self.val_batches.len() as f64)
    }
}

impl<B: AutodiffBackend, O: Optimizer<Gpt<B>, B>> Hooks<B, Gpt<B>> for InitBenchSteps<'_, B, O> {
    fn loss(&mut self, model: &Gpt<B>, step: u64) -> Result<Option<StepLoss<B>>, TrainError> {
        let (x, y) =
            self.data
                .train_batch::<B>(step, self.batch, self.seq_len, self.seed, self.device)?;
        let loss = model.loss(x, y)?;
        let value = loss.clone().into_scalar().elem::<f64>();
        if !value.is_finite() {
            eprintln!("{}: loss {value} at step {}", self.name, step + 1);
            self.val_curve.push((step + 1, f64::NAN));
            return Ok(None);
        }
        Ok(Some(StepLoss {
            loss,
            value: LossValue::Read(value),
        }))
    }

    fn update(
        &mut self,
        lr_factor: f64,
        model: Gpt<B>,
        grads: GradientsParams,
    ) -> Result<Gpt<B>, TrainError> {
        Ok(self.optim.step(self.lr * lr_factor, model, grads))
    }

    fn on_eval(&mut self, model: &Gpt<B>, done: u64) -> Result<Option<f64>, TrainError> {
        let val = self.val_loss(&model.valid())?;
        self.val_curve.push((done, val));
        eprintln!(
            "{}: step {done}/{}, val {val:.4} at {:.1} s",
            self.name,
            self.total_steps,
            self.started.elapsed().as_secs_f64()
        );
        Ok(Some(val))
    }

    fn on_step(
        &mut self,
        _model: &Gpt<B>,
        report: StepReport<B::InnerBackend>,
    ) -> Result<(), TrainError> {
        self.grad_norms.push(read_norm(report.grad_norm));
        Ok(())
    }
}

/// The hidden matrices `blocks.*.attn.{q,k,v,o}.weight`, `blocks.*.mlp.{fc,proj}.weight`.
fn hidden_matrices<BB: Backend>(model: &Gpt<BB>) -> Vec<Tensor<BB, 2>> {
    model
        .blocks
        .iter()
        .flat_map(|b| {
            [
                &b.attn.q,
                &b.attn.k,
                &b.attn.v,
                &b.attn.o,
                &b.mlp.fc,
                &b.mlp.proj,
            ]
            .map(|l| l.weight.val())
        })
        .collect()
}

/// (median, max) of σ_max/σ_min over the hidden matrices (faer's SVD in f64; the matrices are
/// read to the host first, then decomposed in parallel, one per thread).
fn conditions<BB: Backend>(model: &Gpt<BB>) -> Result<(f64, f64), InitBenchError> {
    let matrices: Vec<_> = hidden_matrices(model).into_iter().map(to_faer).collect();
    let mut conds = matrices
        .par_iter()
        .map(|w| {
            let s = singular_values(w)?;
            Ok(s[0] / s[s.len() - 1])
        })
        .collect::<Result<Vec<f64>, InitBenchError>>()?;
    conds.sort_by(f64::total_cmp);
    Ok((conds[conds.len() / 2], conds[conds.len() - 1]))
}
