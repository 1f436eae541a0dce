//! `spectral bench train` on the CUDA engine: the captured step (forward, backward, clipping
//! at [`BENCH_GRAD_CLIP`], optimizer) replayed on the benchmark's batches, each written to the
//! device before its step as a training run writes it. The weights are the model's own
//! initialization, drawn by burn on the CPU.

use super::timing::{BENCH_GRAD_CLIP, BenchRun, TimedModel, Timing, TrainBench, bench_task, rates};
use burn::backend::Autodiff;
use spectral::CpuBackend;
use spectral::device::{materialized, seeded};
use spectral::optim::OptimizerConfig;
use spectral::optim::state::StateDict;
use spectral_cuda::models::engine::StepValues;
use spectral_train::TrainError;
use spectral_train::checkpoint::module_state;
use spectral_train::config::{EngineChoice, EnginePrecision, ModelConfig, TrainConfig};
use spectral_train::engine::{Choice, EnginePlan, HostBatch, Windows, choose, open_engine};
use spectral_train::task::{ConfiguredTask, Task};
use std::time::Instant;

/// The engine's plan (activations of type `precision`) and device for the benchmark of `model`
/// on `device` (`cuda[:N]`), or `Choice::Burn` where the engine does not run it (with the
/// reason for `auto`).
pub fn engine_choice(
    model: &TimedModel,
    optimizer: &OptimizerConfig,
    run: BenchRun,
    device: &str,
    (engine, precision): (EngineChoice, EnginePrecision),
) -> Result<Choice, TrainError> {
    let config = TrainConfig {
        model: match model {
            TimedModel::SpacingMdn(m) => ModelConfig::SpacingMdn(m.clone()),
            TimedModel::Gpt(m) => ModelConfig::Gpt(m.clone()),
        },
        optimizer: optimizer.clone(),
        batch_size: run.batch_size,
        seq_len: run.seq_len,
        grad_clip: BENCH_GRAD_CLIP,
        device: device.into(),
        engine,
        engine_precision: precision,
        ..TrainConfig::default()
    };
    choose(&config)
}

/// Times `run.steps` engine steps of `model` after `run.warmup` untimed ones (kernel
/// compilation, capture).
pub fn bench_engine(
    model: &TimedModel,
    plan: &EnginePlan,
    ordinal: usize,
    run: BenchRun,
) -> Result<TrainBench, TrainError> {
    let task = bench_task(model, run)?;
    let start = match &task {
        ConfiguredTask::Spacing(task) => initial_weights(task)?,
        ConfiguredTask::Text(task) => initial_weights(task)?,
    };
    let mut engine = open_engine(plan, ordinal, &start)?;
    engine.capture()?;
    let windows = Windows::of(&task);
    let batches = (0..(run.warmup + run.steps) as u64)
        .map(|s| windows.train(s))
        .collect::<Result<Vec<HostBatch>, _>>()?;
    let step = |s: usize| -> Result<(), TrainError> {
        let values = StepValues {
            matrix_lr: plan.matrix_lr as f32,
            other_lr: plan.other_lr as f32,
            step: s as i32 + 1,
        };
        engine.set_step(batches[s].view(), values)?;
        Ok(engine.step()?)
    };
    for s in 0..run.warmup {
        step(s)?;
    }
    engine.gpu().synchronize()?;
    let started = Instant::now();
    for s in run.warmup..run.warmup + run.steps {
        step(s)?;
    }
    engine.gpu().synchronize()?;
    let seconds = started.elapsed().as_secs_f64();
    let (free, total) = engine.gpu().memory()?;
    Ok(rates(
        run,
        Timing {
            parameters: engine.table().count(),
            seconds,
            gpu_memory_reserved_mib: Some((total - free) as f64 / (1024.0 * 1024.0)),
        },
    ))
}

/// The task's model as burn initializes it (seed 0, as the burn benchmark's), `model/…`.
fn initial_weights<T: Task<Autodiff<CpuBackend>>>(task: &T) -> Result<StateDict, TrainError> {
    let device = Default::default();
    let model =
        seeded::<Autodiff<CpuBackend>, _>(&device, 0, || task.build(&device).map(materialized))?;
    let mut dict = StateDict::default();
    module_state(&model, &mut dict);
    Ok(dict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train_bench::ModelKind;
    use spectral_cuda::models::engine::EngineModel;

    /// Both reference benchmarks run on the engine at their reference shapes; `burn` and the
    /// CPU stay on burn.
    #[test]
    fn the_reference_benchmarks_choose_the_engine() {
        let optimizer = OptimizerConfig::default();
        for kind in [ModelKind::Mdn, ModelKind::Gpt] {
            let (batch_size, seq_len) = kind.default_batch();
            let run = BenchRun {
                batch_size,
                seq_len,
                warmup: 1,
                steps: 1,
            };
            let model = kind.timed_model(seq_len, true);
            let auto = (EngineChoice::Auto, EnginePrecision::Bf16);
            let choice = engine_choice(&model, &optimizer, run, "cuda:0", auto);
            let Ok(Choice::Engine { plan, ordinal: 0 }) = choice else {
                panic!("{kind:?}: {choice:?}");
            };
            let positions = match plan.model {
                EngineModel::SpacingMdn(shape) => shape.positions(),
                EngineModel::Gpt(shape) => shape.seq,
            };
            assert_eq!(positions, if kind == ModelKind::Mdn { 263 } else { 256 });
            for (device, engine) in [("cuda:0", EngineChoice::Burn), ("cpu", EngineChoice::Auto)] {
                let choice = engine_choice(&model, &optimizer, run, device, (engine, auto.1));
                assert_eq!(choice.unwrap(), Choice::Burn { why: None });
            }
        }
    }
}
