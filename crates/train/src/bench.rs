//! `spectral bench train`: training steps per second and peak memory of a SpacingMDN
//! (forward, backward, clipping, optimizer step — the whole step the trainer runs), on
//! synthetic GUE spacings so the benchmark needs no files.

use crate::data::SpacingDataset;
use crate::trainer::TrainError;
use burn::optim::GradientsParams;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;
use models::SpacingMdnConfig;
use spectral::optim::{OptimizerConfig, SpectralOptimizer};
use std::time::Instant;

/// What one run of the benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TrainBench {
    pub parameters: usize,
    pub batch_size: usize,
    pub seq_len: usize,
    pub steps: usize,
    pub steps_per_s: f64,
    /// Training targets (spacings) per second.
    pub tokens_per_s: f64,
    /// Peak resident memory of the process (MiB), from /proc/self/status (Linux; CPU runs).
    pub peak_rss_mib: Option<f64>,
}

/// Times `steps` training steps after `warmup` untimed ones.
pub fn bench_train<B: AutodiffBackend>(
    model: &SpacingMdnConfig,
    optimizer: &OptimizerConfig,
    batch_size: usize,
    seq_len: usize,
    warmup: usize,
    steps: usize,
    device: &B::Device,
) -> Result<TrainBench, TrainError> {
    let values = zeta::stats::gue_sample::gue_spacings(batch_size * (seq_len + 1) * 4 + 10_000, 1);
    let data = SpacingDataset::from_values(values, 1, 0.1).map_err(crate::task::TaskError::from)?;
    B::seed(device, 0);
    let mut net = model
        .init::<B>(device)
        .map_err(crate::task::TaskError::from)?;
    let mut opt = SpectralOptimizer::<B::InnerBackend>::new(optimizer.clone());
    let parameters: usize = opt
        .plan::<B, _>(&net)?
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    let mut step =
        |net: models::SpacingMdn<B>, i: usize| -> Result<models::SpacingMdn<B>, TrainError> {
            let (x, y) = data
                .train_batch::<B>(i as u64, batch_size, seq_len, 0, device)
                .map_err(crate::task::TaskError::from)?;
            let loss = net.loss(x, y).map_err(crate::task::TaskError::from)?;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            Ok(opt.step(1.0, net, grads)?)
        };
    for i in 0..warmup {
        net = step(net, i)?;
    }
    // Reading a weight back waits for the device to finish the queued work.
    let sync = |net: &models::SpacingMdn<B>| {
        let _: f64 = net.ln_f.gamma.val().sum().into_scalar().elem();
    };
    sync(&net);
    let started = Instant::now();
    for i in 0..steps {
        net = step(net, warmup + i)?;
    }
    sync(&net);
    let seconds = started.elapsed().as_secs_f64();
    Ok(TrainBench {
        parameters,
        batch_size,
        seq_len,
        steps,
        steps_per_s: steps as f64 / seconds,
        tokens_per_s: (steps * batch_size * seq_len) as f64 / seconds,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// [`bench_train`] on a device named at run time.
pub fn bench_train_on(
    device: spectral::DeviceKind,
    model: &SpacingMdnConfig,
    optimizer: &OptimizerConfig,
    batch_size: usize,
    seq_len: usize,
    warmup: usize,
    steps: usize,
) -> Result<TrainBench, TrainError> {
    match device.check_built()? {
        spectral::DeviceKind::Cpu => bench_train::<burn::backend::Autodiff<spectral::CpuBackend>>(
            model,
            optimizer,
            batch_size,
            seq_len,
            warmup,
            steps,
            &Default::default(),
        ),
        #[cfg(feature = "cuda")]
        spectral::DeviceKind::Cuda(index) => {
            bench_train::<burn::backend::Autodiff<spectral::device::CudaBackend>>(
                model,
                optimizer,
                batch_size,
                seq_len,
                warmup,
                steps,
                &burn::backend::cuda::CudaDevice::new(index),
            )
        }
        #[cfg(not(feature = "cuda"))]
        spectral::DeviceKind::Cuda(_) => {
            unreachable!("check_built refuses cuda without the feature")
        }
    }
}

/// `VmHWM` of this process in MiB (Linux), the peak resident set size.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::CpuBackend;

    #[test]
    fn a_tiny_bench_reports_positive_rates() {
        let model = SpacingMdnConfig::new()
            .with_n_layer(1)
            .with_n_head(2)
            .with_n_embd(8)
            .with_block_size(16);
        let result = bench_train::<burn::backend::Autodiff<CpuBackend>>(
            &model,
            &OptimizerConfig::default(),
            2,
            16,
            1,
            2,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(result.parameters, model.param_count());
        assert!(result.steps_per_s > 0.0 && result.steps_per_s.is_finite());
        assert!(
            (result.tokens_per_s - result.steps_per_s * 32.0).abs() < 1e-6 * result.tokens_per_s
        );
        assert!(result.peak_rss_mib.is_some_and(|m| m > 0.0));
    }
}
