//! The CUDA engine's own optimizer steps on the benchmark's matrices (`spectral bench optim
//! --engine bf16|f32`): spectral-cuda's Muon (momentum, batched quintic Newton–Schulz with
//! iterates of the chosen type on cuBLAS, update; as muon.py with bf16) and its fused AdamW,
//! over the same [`GptMatrices`] weights and gradients as burn's benchmark, from the same
//! seeds.
//!
//! One step is what the engine runs inside its training graph: the optimizer kernels over
//! f32 master weights, writing the compute copy, captured once into a CUDA graph and replayed;
//! the clock reads between two synchronizations of the stream, as in [`super::bench_optimizer`].

use super::{
    BenchError, BenchGradients, GptMatrices, Options, StepTiming, bench_config, median, to_ms,
};
use burn::backend::Autodiff;
use spectral::CpuBackend;
use spectral::optim::Method;
use spectral::optim::groups::named_params;
use spectral_cuda::ops::adamw::{AdamW, Flat, Hyper, StepScalars};
use spectral_cuda::optim::muon::{FlatBuffers, Muon, MuonPlan, MuonSettings};
use spectral_cuda::params::{Group, ParamTable};
use spectral_cuda::{DType, EngineError, Gpu, KernelCache, Layout};
use spectral_train::config::EnginePrecision;
use std::time::Instant;

/// Times `options.steps` engine steps of `method` (Muon or AdamW) on CUDA device `ordinal`,
/// Newton–Schulz iterates and compute copy in `precision`, after `options.warmup` untimed ones.
pub fn bench_engine_optimizer(
    method: Method,
    options: &Options,
    ordinal: usize,
    precision: EnginePrecision,
) -> Result<StepTiming, BenchError> {
    let act = precision.dtype();
    if options.layers == 0 || options.width == 0 || options.steps == 0 {
        return Err(BenchError::Options(format!(
            "layers, width and steps must be at least 1 (got {}, {}, {})",
            options.layers, options.width, options.steps
        )));
    }
    let group = match method {
        Method::Muon => Group::Matrix,
        Method::AdamW => Group::Decayed,
        other => {
            return Err(BenchError::Options(format!(
                "the CUDA engine runs adamw and muon, not {}",
                other.name()
            )));
        }
    };
    let engine = |e: EngineError| BenchError::Device(e.to_string());
    // The problem burn's benchmark times, drawn on the host.
    let device = Default::default();
    let model = GptMatrices::<Autodiff<CpuBackend>>::new(
        options.layers,
        options.width,
        options.seed,
        &device,
    );
    let grads = BenchGradients::<CpuBackend>::new(&model, options.seed, &device).host();
    let weights: Vec<f32> = model.matrices().iter().flat_map(host_values).collect();
    let list = named_params::<Autodiff<CpuBackend>, _>(&model)
        .into_iter()
        .map(|p| (p.path, p.shape, group))
        .collect();
    let table = ParamTable::new(list, &[]);
    let p = table.len();

    let mut gpu = Gpu::open(ordinal, KernelCache::default_dir()).map_err(engine)?;
    gpu.set_f32_products(precision.f32_products());
    let mut layout = Layout::new();
    let params = layout.push("params", p, DType::F32);
    let compute = layout.push("compute", p, act);
    let grad = layout.push("grads", p, DType::F32);
    let first = layout.push("first", p, DType::F32);
    let second = layout.push("second", p, DType::F32);
    let clip = layout.push("clip", 1, DType::F32);
    let lr = layout.push("lr", 1, DType::F32);
    let step = layout.push("step", 1, DType::I32);
    let plan = (method == Method::Muon).then(|| MuonPlan::new(&table, act, &mut layout));
    let arena = gpu.arena(&layout).map_err(engine)?;
    let config = bench_config(method);
    gpu.upload(arena.ptr(params), &weights).map_err(engine)?;
    gpu.upload(arena.ptr(grad), &grads).map_err(engine)?;
    gpu.upload(arena.ptr(clip), &[1.0f32]).map_err(engine)?;
    gpu.upload(arena.ptr(lr), &[config.lr as f32])
        .map_err(engine)?;
    gpu.upload(arena.ptr(step), &[1i32]).map_err(engine)?;
    let graph = match plan {
        Some(plan) => {
            let m = &config.muon;
            let settings = MuonSettings {
                momentum: m.momentum as f32,
                nesterov: m.nesterov,
                weight_decay: m.weight_decay as f32,
                coefficients: m
                    .msign
                    .coefficients()
                    .into_iter()
                    .map(|(a, b, c)| (a as f32, b as f32, c as f32))
                    .collect(),
            };
            let muon = Muon::new(&mut gpu, plan, settings, &arena).map_err(engine)?;
            let flat = FlatBuffers {
                params: arena.ptr(params),
                params_compute: arena.ptr(compute),
                grads: arena.ptr(grad),
                momentum: arena.ptr(first),
                clip: arena.ptr(clip),
                lr: arena.ptr(lr),
            };
            gpu.capture(|gpu| muon.step(gpu, &arena, flat))
        }
        None => {
            let adamw = AdamW::new(&mut gpu, act).map_err(engine)?;
            let a = &config.adamw;
            let hyper = Hyper {
                beta1: a.beta1 as f32,
                beta2: a.beta2 as f32,
                eps: a.eps as f32,
                weight_decay: a.weight_decay as f32,
            };
            let flat = Flat {
                params: arena.ptr(params),
                grads: arena.ptr(grad),
                m: arena.ptr(first),
                v: arena.ptr(second),
                copy: arena.ptr(compute),
            };
            let scalars = StepScalars {
                lr: arena.ptr(lr),
                step: arena.ptr(step),
                clip: arena.ptr(clip),
            };
            gpu.capture(|gpu| adamw.step(gpu, &flat, 0..p, &scalars, &hyper))
        }
    }
    .map_err(engine)?;

    let mut times = Vec::with_capacity(options.steps);
    for s in 0..options.warmup + options.steps {
        // AdamW's bias corrections read the step; Muon ignores it.
        gpu.upload(arena.ptr(step), &[s as i32 + 1])
            .map_err(engine)?;
        gpu.synchronize().map_err(engine)?;
        let clock = Instant::now();
        graph.launch().map_err(engine)?;
        gpu.synchronize().map_err(engine)?;
        let elapsed = clock.elapsed();
        if s >= options.warmup {
            times.push(elapsed);
        }
    }
    let mut after = vec![0f32; p];
    gpu.download(arena.ptr(params), &mut after)
        .map_err(engine)?;
    let (moved, norm) = after
        .iter()
        .zip(&weights)
        .fold((0.0, 0.0), |(moved, norm), (&a, &w)| {
            let d = a as f64 - w as f64;
            (moved + d * d, norm + w as f64 * w as f64)
        });
    Ok(StepTiming {
        method,
        median_ms: to_ms(median(&times)),
        min_ms: to_ms(*times.iter().min().expect("steps >= 1")),
        times_ms: times.into_iter().map(to_ms).collect(),
        warmup: options.warmup,
        matrices: table.params().len(),
        parameters: p,
        weight_change: (moved / norm).sqrt(),
    })
}

/// A CPU tensor's values, row-major.
fn host_values(t: &burn::tensor::Tensor<Autodiff<CpuBackend>, 2>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("an f32 tensor")
}
