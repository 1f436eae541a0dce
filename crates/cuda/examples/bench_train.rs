//! Training throughput of the engine's models on one GPU: steps/s of the captured step
//! (forward, backward, clip, optimizer), as `bench/train_ref.py` measures PyTorch's, with its
//! shape defaults: `--model mdn` the SpacingMDN with its memory bank (6 × 256, 8 heads, 8
//! slots, 8 components, batch 512 × 255), `--model gpt` the char-GPT (12 × 768, 12 heads,
//! batch 64 × 256).
//!
//! ```text
//! cargo run --release -p spectral-cuda --example bench_train -- [--model mdn|gpt] \
//!     [--layers L] [--width C] [--heads H] [--batch B] [--seq T] \
//!     [--steps 20] [--warmup 3] [--precision bf16|f32] [--optimizer adamw|muon] [--eager]
//! ```
//!
//! Prints one JSON object: steps/s, tokens/s, the arena's bytes and the GPU's memory in use.
//! Weights are GPT-2's initialization (N(0, 0.02), residual projections scaled, gains 1);
//! batches are random (bytes, or spacings uniform in [0.2, 2)): throughput does not depend on
//! the data.

use std::time::Instant;

use spectral_cuda::models::engine::{Batch, Engine, EngineModel, EngineOptimizer, StepValues};
use spectral_cuda::models::gpt::GptShape;
use spectral_cuda::models::spacing_mdn::MdnShape;
use spectral_cuda::ops::adamw::Hyper;
use spectral_cuda::optim::muon::MuonSettings;
use spectral_cuda::{DType, Gpu, KernelCache};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value")),
        None => default,
    }
}

/// A small xorshift: reproducible weights and batches without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let kind: String = arg(&args, "--model", "mdn".to_string());
    let model = match kind.as_str() {
        "gpt" => {
            let seq = arg(&args, "--seq", 256);
            EngineModel::Gpt(GptShape {
                vocab: 256,
                layers: arg(&args, "--layers", 12),
                heads: arg(&args, "--heads", 12),
                width: arg(&args, "--width", 768),
                block_size: seq,
                batch: arg(&args, "--batch", 64),
                seq,
            })
        }
        "mdn" => EngineModel::SpacingMdn(MdnShape {
            layers: arg(&args, "--layers", 6),
            heads: arg(&args, "--heads", 8),
            width: arg(&args, "--width", 256),
            slots: 8,
            slot_id: true,
            components: 8,
            sigma_floor: 1e-3,
            batch: arg(&args, "--batch", 512),
            seq: arg(&args, "--seq", 255),
        }),
        other => return Err(format!("--model {other}: mdn or gpt").into()),
    };
    let steps: usize = arg(&args, "--steps", 20);
    let warmup: usize = arg(&args, "--warmup", 3);
    let precision: String = arg(&args, "--precision", "bf16".to_string());
    let optimizer_name: String = arg(&args, "--optimizer", "adamw".to_string());
    let eager = args.iter().any(|a| a == "--eager");
    let act = match precision.as_str() {
        "bf16" => DType::BF16,
        "f32" => DType::F32,
        other => return Err(format!("--precision {other}: bf16 or f32").into()),
    };
    let adamw = Hyper {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let optimizer = match optimizer_name.as_str() {
        "adamw" => EngineOptimizer::AdamW(adamw),
        "muon" => EngineOptimizer::Muon {
            muon: MuonSettings::default(),
            adamw,
        },
        other => return Err(format!("--optimizer {other}: adamw or muon").into()),
    };

    let start = Instant::now();
    let gpu = Gpu::open(0, KernelCache::default_dir())?;
    let device = gpu.name();
    let mut engine = Engine::new(gpu, model, act, optimizer, 1.0)?;
    let trunk = model.trunk();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let residual_std = 0.02 / (2.0 * trunk.layers as f64).sqrt();
    let values: Vec<(String, Vec<f32>)> = engine
        .table()
        .params()
        .iter()
        .map(|p| {
            let residual = p.name.ends_with("o.weight") || p.name.ends_with("proj.weight");
            let std = if residual { residual_std } else { 0.02 };
            let v = if p.name.ends_with("gamma") {
                vec![1.0; p.len()]
            } else if p.shape.len() == 1 {
                vec![0.0; p.len()]
            } else {
                (0..p.len()).map(|_| (rng.normal() * std) as f32).collect()
            };
            (p.name.clone(), v)
        })
        .collect();
    engine.set_params(&values)?;
    let (data_rows, seq) = match model {
        EngineModel::Gpt(s) => (s.batch * s.seq, s.seq),
        EngineModel::SpacingMdn(s) => (s.batch * s.seq, s.seq),
    };
    // One batch's inputs and targets: next-token (or next-spacing) pairs of one random stream
    // per sequence.
    let draw = |rng: &mut Rng| -> (Vec<f32>, Vec<f32>) {
        let mut x = Vec::with_capacity(data_rows);
        let mut y = Vec::with_capacity(data_rows);
        for _ in 0..data_rows / seq {
            let stream: Vec<f32> = (0..=seq).map(|_| rng.next() as f32).collect();
            x.extend_from_slice(&stream[..seq]);
            y.extend_from_slice(&stream[1..]);
        }
        (x, y)
    };
    let set =
        |engine: &Engine, rng: &mut Rng, step: usize| -> Result<(), Box<dyn std::error::Error>> {
            let values = StepValues {
                matrix_lr: 0.02,
                other_lr: 1e-3,
                step: step as i32,
            };
            let (x, y) = draw(rng);
            match model {
                EngineModel::Gpt(_) => {
                    let ids = |v: &[f32]| -> Vec<i32> {
                        v.iter().map(|u| (u * 256.0) as i32 % 256).collect()
                    };
                    let (idx, targets) = (ids(&x), ids(&y));
                    engine.set_step(
                        Batch::Tokens {
                            idx: &idx,
                            targets: &targets,
                        },
                        values,
                    )?
                }
                EngineModel::SpacingMdn(_) => {
                    let spacing =
                        |v: &[f32]| -> Vec<f32> { v.iter().map(|u| 0.2 + 1.8 * u).collect() };
                    let (x, y) = (spacing(&x), spacing(&y));
                    engine.set_step(Batch::Spacings { x: &x, y: &y }, values)?
                }
            }
            Ok(())
        };
    if !eager {
        engine.capture()?;
    }
    let setup_s = start.elapsed().as_secs_f64();
    let mut first_loss = f32::NAN;
    for step in 1..=warmup {
        set(&engine, &mut rng, step)?;
        engine.step()?;
        if step == 1 {
            first_loss = engine.loss()?;
        }
    }
    engine.gpu().synchronize()?;
    let timed = Instant::now();
    for step in warmup + 1..=warmup + steps {
        set(&engine, &mut rng, step)?;
        engine.step()?;
    }
    engine.gpu().synchronize()?;
    let seconds = timed.elapsed().as_secs_f64();
    let last_loss = engine.loss()?;
    let (free, total) = engine.gpu().memory()?;
    let mib = (1u64 << 20) as f64;
    println!(
        "{{\"model\": \"{kind}\", \"engine\": \"spectral-cuda\", \"device\": \"{device}\", \"precision\": \"{precision}\", \
         \"optimizer\": \"{optimizer_name}\", \"graph\": {}, \"layers\": {}, \"width\": {}, \"heads\": {}, \
         \"batch_size\": {}, \"seq_len\": {seq}, \"parameters\": {}, \"steps\": {steps}, \"warmup\": {warmup}, \
         \"setup_s\": {setup_s:.2}, \"steps_per_s\": {:.4}, \"tokens_per_s\": {:.0}, \"first_loss\": {first_loss}, \
         \"last_loss\": {last_loss}, \"arena_mib\": {:.1}, \"gpu_memory_used_mib\": {:.1}}}",
        !eager,
        trunk.layers,
        trunk.width,
        trunk.heads,
        trunk.batch,
        engine.table().count(),
        steps as f64 / seconds,
        (steps * data_rows) as f64 / seconds,
        engine.arena_bytes() as f64 / mib,
        (total - free) as f64 / mib,
    );
    Ok(())
}
