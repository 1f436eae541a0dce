//! The timed steps of `spectral bench train`: training steps per second and peak memory of a
//! SpacingMDN or a char-GPT — the whole step the trainer runs (forward, backward, global-norm
//! clipping at 1.0, optimizer step, the task's post-step projection) through the trainer's
//! [`Task`] abstraction, so both models share one timed loop. The SpacingMDN trains on
//! synthetic GUE spacings and the GPT on the embedded Shakespeare, so the benchmark needs no
//! files.

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use spectral::device::{materialized, seeded};
use spectral::optim::{OptimizerConfig, SpectralOptimizer};
use spectral_models::{GptConfig, SpacingMdnConfig};
use spectral_train::TrainError;
use spectral_train::auxiliary::AuxConfig;
use spectral_train::data::{SpacingDataset, TextDataset};
use spectral_train::data_parallel::{PeerHooks, check_shares, on_peers, share_rows};
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};
use spectral_train::run_log::param_count;
use spectral_train::task::{Batching, ConfiguredTask, SpacingTask, Task, TaskError, TextTask};
use spectral_train::train_loop::{Plan, constant_schedule, fit};
use spectral_train::trainer::OneDevice;
use std::ops::Range;
use std::time::Instant;

/// The global gradient norm the trainer clips to by default (`TrainConfig::grad_clip`).
pub const BENCH_GRAD_CLIP: f64 = 1.0;

/// The model the train throughput bench times, by its config (the whole model; the optimizer
/// bench's [`crate::optim_bench::GptMatrices`] holds only the shaped matrices).
#[derive(Clone, Debug)]
pub enum TimedModel {
    /// SpacingMDN on GUE spacings; a target is one spacing.
    SpacingMdn(SpacingMdnConfig),
    /// Char-level GPT on the embedded Shakespeare; a target is one byte.
    Gpt(GptConfig),
}

impl TimedModel {
    /// The closed-form parameter count of the configured model.
    pub fn param_count(&self) -> usize {
        match self {
            Self::SpacingMdn(config) => config.param_count(),
            Self::Gpt(config) => config.param_count(),
        }
    }
}

/// What one run of the benchmark measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainBench {
    pub parameters: usize,
    pub batch_size: usize,
    pub seq_len: usize,
    pub steps: usize,
    pub steps_per_s: f64,
    /// Training targets (spacings or bytes) per second: batch × seq_len per step.
    pub tokens_per_s: f64,
    /// Peak resident memory of the process (MiB), from /proc/self/status (Linux).
    pub peak_rss_mib: Option<f64>,
    /// GPU memory (MiB) reserved by burn's CUDA memory pools after the timed steps
    /// (cubecl `MemoryUsage::bytes_reserved` of the benchmark thread's stream; cubecl keeps
    /// one pool set per stream). burn keeps no peak counter; its default pools (`SubSlices`)
    /// never give pages back without an explicit cleanup, so this is the high-water mark of
    /// the reservation, comparable to PyTorch's `max_memory_reserved`, not to
    /// `max_memory_allocated`. `None` on the CPU.
    pub gpu_memory_reserved_mib: Option<f64>,
}

/// What [`time_task`] measured: the model's size and the wall time of the timed steps.
pub(super) struct Timing {
    pub(super) parameters: usize,
    pub(super) seconds: f64,
    pub(super) gpu_memory_reserved_mib: Option<f64>,
}

/// The loop's plan of benchmark steps `steps`: clipping at [`BENCH_GRAD_CLIP`], the peak
/// learning rate throughout, no evaluation.
fn bench_plan(steps: Range<u64>) -> Plan {
    Plan {
        steps,
        eval_interval: 0,
        grad_clip: BENCH_GRAD_CLIP,
        schedule: constant_schedule(),
    }
}

/// Times `run.steps` training steps of `task` after `run.warmup` untimed ones. `gpu_memory`
/// is asked once, after the timed steps have finished on the device.
fn time_task<B: AutodiffBackend, T: Task<B>>(
    task: &T,
    optimizer: &OptimizerConfig,
    run: BenchRun,
    device: &B::Device,
    gpu_memory: &dyn Fn() -> Option<f64>,
) -> Result<Timing, TrainError> {
    let model = seeded::<B, _>(device, 0, || task.build(device).map(materialized))?;
    let optimizer = SpectralOptimizer::<B::InnerBackend>::new(optimizer.clone());
    let parameters = param_count(&optimizer.plan::<B, _>(&model)?);
    // The loss is never read: a read waits for the device and would stall the queue being timed.
    let mut hooks = OneDevice {
        task,
        device,
        optimizer,
        read_loss: false,
        log: None,
    };
    let (warmup, end) = (run.warmup as u64, (run.warmup + run.steps) as u64);
    let model = fit(&bench_plan(0..warmup), model, &mut hooks)?;
    wait_for_device::<B, _>(&model);
    let started = Instant::now();
    let model = fit(&bench_plan(warmup..end), model, &mut hooks)?;
    wait_for_device::<B, _>(&model);
    Ok(Timing {
        parameters,
        seconds: started.elapsed().as_secs_f64(),
        gpu_memory_reserved_mib: gpu_memory(),
    })
}

/// [`time_task`] data-parallel on `devices` through burn's collective: the steps of
/// [`spectral_train::data_parallel`] (each device its share of the batch, loss and gradient
/// all-reduce, clipping, sharded optimizer step). The clock runs on device 0 between two
/// all-reduces that every device reaches after its queued work is done.
fn time_task_parallel<B: AutodiffBackend, T: Task<B> + Sync>(
    task: &T,
    optimizer: &OptimizerConfig,
    run: BenchRun,
    devices: &[B::Device],
    gpu_memory: &dyn Fn() -> Option<f64>,
) -> Result<Timing, TrainError> {
    check_shares(run.batch_size, devices.len())?;
    // Every parameter drawn once, so all replicas start equal.
    let model = seeded::<B, _>(&devices[0], 0, || task.build(&devices[0]).map(materialized))?;
    let parameters = param_count(
        &SpectralOptimizer::<B::InnerBackend>::new(optimizer.clone()).plan::<B, _>(&model)?,
    );
    let (warmup, end) = (run.warmup as u64, (run.warmup + run.steps) as u64);
    let seconds = on_peers::<B, _, _, _>(devices, &model, |peer, device, model| {
        let mut hooks = PeerHooks {
            task,
            peer,
            device,
            rows: share_rows(run.batch_size, peer.shard),
            optimizer: SpectralOptimizer::new(optimizer.clone()),
            lead: None,
            pending: None,
        };
        let model = fit(&bench_plan(0..warmup), model, &mut hooks)?;
        wait_for_device::<B, _>(&model);
        peer.agree::<B::InnerBackend>(0.0, false, device)?;
        let started = Instant::now();
        let model = fit(&bench_plan(warmup..end), model, &mut hooks)?;
        wait_for_device::<B, _>(&model);
        peer.agree::<B::InnerBackend>(0.0, false, device)?;
        Ok(started.elapsed().as_secs_f64())
    })?;
    Ok(Timing {
        parameters,
        seconds: seconds[0],
        gpu_memory_reserved_mib: gpu_memory(),
    })
}

/// How much to run: batches of `batch_size` sequences of `seq_len` targets, `warmup` untimed
/// steps (allocation, kernel compilation, autotuning), then `steps` timed ones.
#[derive(Clone, Copy, Debug)]
pub struct BenchRun {
    pub batch_size: usize,
    pub seq_len: usize,
    pub warmup: usize,
    pub steps: usize,
}

/// Times the training steps of `model` that `run` asks for.
pub fn bench_train<B: AutodiffBackend>(
    model: &TimedModel,
    optimizer: &OptimizerConfig,
    run: BenchRun,
    device: &B::Device,
    gpu_memory: &dyn Fn() -> Option<f64>,
) -> Result<TrainBench, TrainError> {
    let timing = match bench_task(model, run)? {
        ConfiguredTask::Spacing(task) => {
            time_task::<B, _>(&task, optimizer, run, device, gpu_memory)?
        }
        ConfiguredTask::Text(task) => time_task::<B, _>(&task, optimizer, run, device, gpu_memory)?,
    };
    Ok(rates(run, timing))
}

/// [`bench_train`] data-parallel on `devices` (one peer each, through burn's collective),
/// the batch split evenly among them: with one device, the cost of the collective path
/// against [`bench_train`].
pub fn bench_train_parallel<B: AutodiffBackend>(
    model: &TimedModel,
    optimizer: &OptimizerConfig,
    run: BenchRun,
    devices: &[B::Device],
    gpu_memory: &dyn Fn() -> Option<f64>,
) -> Result<TrainBench, TrainError> {
    let timing = match bench_task(model, run)? {
        ConfiguredTask::Spacing(task) => {
            time_task_parallel::<B, _>(&task, optimizer, run, devices, gpu_memory)?
        }
        ConfiguredTask::Text(task) => {
            time_task_parallel::<B, _>(&task, optimizer, run, devices, gpu_memory)?
        }
    };
    Ok(rates(run, timing))
}

/// The task of the benchmark: GUE spacings for the SpacingMDN, the embedded text for the GPT.
pub(super) fn bench_task(model: &TimedModel, run: BenchRun) -> Result<ConfiguredTask, TaskError> {
    let batching = Batching {
        batch_size: run.batch_size,
        seq_len: run.seq_len,
        eval_windows: 1,
        seed: 0,
    };
    Ok(match model {
        TimedModel::SpacingMdn(config) => {
            let n = run.batch_size * (run.seq_len + 1) * 4 + 10_000;
            let values = spectral_zeta::stats::gue_sample::gue_spacings(n, 1);
            ConfiguredTask::Spacing(SpacingTask {
                model: config.clone(),
                data: SpacingDataset::from_values(values, 1, 0.1)?,
                batching,
                aux: AuxConfig::default(),
            })
        }
        TimedModel::Gpt(config) => ConfiguredTask::Text(TextTask {
            model: config.clone(),
            data: TextDataset::embedded(),
            batching,
        }),
    })
}

/// Rates of the timed steps.
pub(super) fn rates(run: BenchRun, timing: Timing) -> TrainBench {
    let BenchRun {
        batch_size,
        seq_len,
        steps,
        ..
    } = run;
    let seconds = timing.seconds;
    TrainBench {
        parameters: timing.parameters,
        batch_size,
        seq_len,
        steps,
        steps_per_s: steps as f64 / seconds,
        tokens_per_s: (steps * batch_size * seq_len) as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
        gpu_memory_reserved_mib: timing.gpu_memory_reserved_mib,
    }
}

/// [`bench_train`] on a device named at run time.
pub fn bench_train_on(
    device: spectral::DeviceKind,
    model: &TimedModel,
    optimizer: &OptimizerConfig,
    run: BenchRun,
) -> Result<TrainBench, TrainError> {
    let job = BenchJob {
        model,
        optimizer,
        run,
        parallel: false,
    };
    on_devices(&DeviceSet::one(device)?, job)
}

/// [`bench_train_parallel`] on devices named at run time (`cpu[:N]` or `cuda[:N]`, checked
/// by [`DeviceSet::parse`]).
pub fn bench_train_parallel_on(
    devices: &[String],
    model: &TimedModel,
    optimizer: &OptimizerConfig,
    run: BenchRun,
) -> Result<TrainBench, TrainError> {
    let job = BenchJob {
        model,
        optimizer,
        run,
        parallel: true,
    };
    on_devices(&DeviceSet::parse(devices)?, job)
}

/// The benchmark on the backend [`on_devices`] picks: [`bench_train`] on the first device,
/// or [`bench_train_parallel`] on all of them.
struct BenchJob<'a> {
    model: &'a TimedModel,
    optimizer: &'a OptimizerConfig,
    run: BenchRun,
    parallel: bool,
}

impl DeviceJob for BenchJob<'_> {
    type Output = Result<TrainBench, TrainError>;

    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Self::Output {
        let Self {
            model,
            optimizer,
            run,
            parallel,
        } = self;
        if parallel {
            // No GPU memory figure: cubecl keeps pools per stream, and the device threads'
            // streams are not this thread's.
            bench_train_parallel::<Autodiff<B>>(model, optimizer, run, &devices.devices, &|| None)
        } else {
            let device = &devices.devices[0];
            let memory = || (devices.memory_reserved_mib)(device);
            bench_train::<Autodiff<B>>(model, optimizer, run, device, &memory)
        }
    }
}

/// Waits until the device has finished the queued work, by reading one parameter back (one
/// device stream: the read comes after everything queued before it).
fn wait_for_device<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M) {
    struct ReadOne(bool);
    impl<B: AutodiffBackend> ModuleVisitor<B> for ReadOne {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if !self.0 {
                let _: f64 = param.val().sum().into_scalar().elem();
                self.0 = true;
            }
        }
    }
    model.visit(&mut ReadOne(false));
}

/// `VmHWM` of this process in MiB (Linux), the peak resident set size.
pub(super) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;

    fn tiny_bench(model: &TimedModel, batch: usize, seq_len: usize) -> TrainBench {
        bench_train::<burn::backend::Autodiff<CpuBackend>>(
            model,
            &OptimizerConfig::default(),
            BenchRun {
                batch_size: batch,
                seq_len,
                warmup: 1,
                steps: 2,
            },
            &Default::default(),
            &|| None,
        )
        .unwrap()
    }

    fn check_rates(result: &TrainBench, model: &TimedModel, batch: usize, seq_len: usize) {
        assert_eq!(result.parameters, model.param_count());
        assert_eq!(
            (result.batch_size, result.seq_len, result.steps),
            (batch, seq_len, 2)
        );
        assert!(result.steps_per_s > 0.0 && result.steps_per_s.is_finite());
        let targets = (batch * seq_len) as f64;
        assert!(
            (result.tokens_per_s - result.steps_per_s * targets).abs() < 1e-6 * result.tokens_per_s
        );
        assert!(result.peak_rss_mib.is_some_and(|m| m > 0.0));
        assert_eq!(result.gpu_memory_reserved_mib, None);
    }

    #[test]
    fn a_tiny_spacing_mdn_bench_reports_positive_rates() {
        let model = TimedModel::SpacingMdn(
            SpacingMdnConfig::new()
                .with_n_layer(1)
                .with_n_head(2)
                .with_n_embd(8)
                .with_block_size(16),
        );
        let result = tiny_bench(&model, 2, 16);
        check_rates(&result, &model, 2, 16);
    }

    #[test]
    fn a_tiny_bench_on_two_cpu_devices_reports_positive_rates() {
        let model = TimedModel::Gpt(
            GptConfig::new()
                .with_n_layer(1)
                .with_n_head(2)
                .with_n_embd(8)
                .with_block_size(12),
        );
        let run = BenchRun {
            batch_size: 4,
            seq_len: 12,
            warmup: 1,
            steps: 2,
        };
        let devices = ["cpu:0".to_string(), "cpu:1".to_string()];
        let result =
            bench_train_parallel_on(&devices, &model, &OptimizerConfig::default(), run).unwrap();
        check_rates(&result, &model, 4, 12);
        let odd = BenchRun {
            batch_size: 3,
            ..run
        };
        let error = bench_train_parallel_on(&devices, &model, &OptimizerConfig::default(), odd)
            .unwrap_err();
        assert!(error.to_string().contains("does not divide"), "{error}");
    }

    #[test]
    fn a_tiny_gpt_bench_reports_positive_rates() {
        let model = TimedModel::Gpt(
            GptConfig::new()
                .with_n_layer(1)
                .with_n_head(2)
                .with_n_embd(8)
                .with_block_size(12),
        );
        let result = tiny_bench(&model, 3, 12);
        // 256-byte vocabulary, tied head: the embedding dominates the count.
        assert_eq!(
            result.parameters,
            256 * 8 + 12 * 8 + (12 * 64 + 13 * 8) + 2 * 8
        );
        check_rates(&result, &model, 3, 12);
    }
}
