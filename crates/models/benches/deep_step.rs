//! Host time of one training step's forward and backward pass against depth: a char-GPT of
//! width 16 on one 4-token window (NdArray, CPU), so small that burn's autodiff bookkeeping,
//! not arithmetic, is most of the time. Time per layer should stay flat from 12 to 96 layers
//! (it grew with depth before the vendored burn-autodiff patch, `vendor/README.md`).
//! Run: `cargo bench -p models --bench deep_step`.

use burn::backend::Autodiff;
use burn::prelude::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spectral::CpuBackend;
use spectral_models::{Gpt, GptConfig};

type B = Autodiff<CpuBackend>;

fn forward_backward(c: &mut Criterion) {
    let device = Default::default();
    let mut group = c.benchmark_group("gpt_width16_forward_backward");
    group.sample_size(20);
    for layers in [12, 48, 96] {
        let model: Gpt<B> = GptConfig::new()
            .with_n_layer(layers)
            .with_n_embd(16)
            .with_n_head(2)
            .with_block_size(4)
            .with_vocab_size(65)
            .init(&device)
            .expect("a valid config");
        let tokens = Tensor::<B, 2, Int>::zeros([1, 4], &device);
        group.throughput(Throughput::Elements(layers as u64));
        group.bench_with_input(BenchmarkId::from_parameter(layers), &layers, |b, _| {
            b.iter(|| {
                let loss = model.loss(tokens.clone(), tokens.clone()).expect("shapes");
                loss.backward()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward_backward);
criterion_main!(benches);
