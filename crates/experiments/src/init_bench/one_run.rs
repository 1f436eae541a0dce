//! One run of the init benchmark: (init, lr, seed) → a [`RunRecord`].

use super::jacobian::jacobian_singular_values;
use super::{Config, InitBenchError};
use crate::device::Job;
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
use spectral_train::data::TextDataset;
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

/// One run of [`run_one`], as a [`Job`] for the config's device.
pub struct OneRun<'a> {
    pub config: &'a Config,
    pub data: &'a TextDataset,
    pub init: Init,
    pub lr: f64,
    pub seed: u64,
}

impl Job for OneRun<'_> {
    type Output = RunRecord;
    type Error = InitBenchError;
    fn run<B: Backend>(self, device: &B::Device) -> Result<RunRecord, InitBenchError> {
        run_one::<Autodiff<B>>(
            self.config,
            self.data,
            self.init,
            self.lr,
            self.seed,
            device,
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
    let mut model = seeded::<B, _>(device, seed, || {
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
    let val_batches = data.val_batches::<B::InnerBackend>(
        config.batch,
        config.seq_len,
        config.eval_windows,
        device,
    )?;
    let val_loss = |m: &Gpt<B::InnerBackend>| -> Result<f64, InitBenchError> {
        let mut total = 0.0;
        for (x, y) in &val_batches {
            total += m.loss(x.clone(), y.clone())?.into_scalar().elem::<f64>();
        }
        Ok(total / val_batches.len() as f64)
    };
    let schedule = Schedule {
        warmup_steps: config.warmup,
        total_steps: config.steps,
        min_factor: 0.1,
    };
    let mut optim = AdamWConfig::new()
        .with_beta_2(0.95)
        .with_weight_decay(0.1)
        .init::<B, Gpt<B>>();
    let mut val_curve = vec![(0, val_loss(&model.valid())?)];
    let mut grad_norms = Vec::with_capacity(config.steps as usize);
    for step in 0..config.steps {
        let (x, y) = data.train_batch::<B>(step, config.batch, config.seq_len, seed, device)?;
        let loss = model.loss(x, y)?;
        let value = loss.clone().into_scalar().elem::<f64>();
        if !value.is_finite() {
            eprintln!(
                "bench init: {} lr {lr:e} seed {seed}: loss {value} at step {}",
                init.name(),
                step + 1
            );
            val_curve.push((step + 1, f64::NAN));
            break;
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let norm = spectral_train::trainer::clip_gradients(&model, &mut grads, 1.0);
        let norm = spectral_train::trainer::read_norm(norm);
        grad_norms.push(norm);
        model = optim.step(lr * schedule.factor(step), model, grads);
        let done = step + 1;
        if done.is_multiple_of(config.eval_every) || done == config.steps {
            let val = val_loss(&model.valid())?;
            val_curve.push((done, val));
            phase(&format!("step {done}/{}, val {val:.4}", config.steps));
        }
    }
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
