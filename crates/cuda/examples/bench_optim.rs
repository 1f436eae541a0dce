//! The engine's Muon and TEON steps alone on GPT-2 small's hidden matrices (12 blocks of Q, K,
//! V, O `[768, 768]`, fc `[768, 3072]` and proj `[3072, 768]` in burn's `[d_in, d_out]`
//! layout), as `bench/optim_ref.py` times PyTorch's `muon` and `teon`: each step the captured
//! graph of the optimizer kernels (momentum, Newton–Schulz on cuBLAS with iterates of the
//! activation type, update of the f32 master weights and the compute copy), between two
//! synchronizations of the stream. TEON's stacks are `spectral::optim::teon::teon_groups`'s
//! with the default settings: Q, K, V of layers (0, 1), (2, 3), … as `[1536, 768]`.
//!
//! ```text
//! cargo run --release -p spectral-cuda --example bench_optim -- \
//!     [--layers 12] [--width 768] [--steps 20] [--warmup 5] [--precision bf16|f32]
//! ```
//!
//! Prints one line per method: median and minimum milliseconds per step. Weights N(0, 0.02²)
//! and gradients N(0, 0.01²), the same gradients every step, as in `bench/optim_ref.py` (same
//! law, not the same draws).

use burn::module::ParamId;
use spectral::optim::teon::{TeonConfig, teon_groups};
use spectral::optim::{ParamSlot, Role};
use spectral_cuda::optim::muon::{FlatBuffers, Muon, MuonPlan, MuonSettings};
use spectral_cuda::params::{Group, ParamTable};
use spectral_cuda::{DType, Gpu, KernelCache, Layout};
use std::time::Instant;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} needs a value")),
        None => default,
    }
}

/// A small xorshift with Box–Muller normals: reproducible draws without a dependency.
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
    let layers: usize = arg(&args, "--layers", 12);
    let c: usize = arg(&args, "--width", 768);
    let steps: usize = arg(&args, "--steps", 20);
    let warmup: usize = arg(&args, "--warmup", 5);
    let precision: String = arg(&args, "--precision", "bf16".to_string());
    let act = match precision.as_str() {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        other => return Err(format!("--precision {other}: bf16 or f32").into()),
    };
    let mut list = Vec::new();
    for l in 0..layers {
        for (name, shape) in [
            ("attn.q", [c, c]),
            ("attn.k", [c, c]),
            ("attn.v", [c, c]),
            ("attn.o", [c, c]),
            ("mlp.fc", [c, 4 * c]),
            ("mlp.proj", [4 * c, c]),
        ] {
            list.push((
                format!("blocks.{l}.{name}.weight"),
                shape.to_vec(),
                Group::Matrix,
            ));
        }
    }
    let table = ParamTable::new(list, &[]);
    let slots: Vec<ParamSlot> = table
        .params()
        .iter()
        .map(|p| ParamSlot {
            id: ParamId::new(),
            path: p.name.clone(),
            shape: p.shape.clone(),
            role: Role::Matrix,
        })
        .collect();
    let stacks: Vec<Vec<String>> = teon_groups(&slots, &TeonConfig::default())
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|g| g.iter().map(|&i| slots[i].path.clone()).collect())
        .collect();
    let p = table.len();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let weights: Vec<f32> = (0..p).map(|_| (0.02 * rng.normal()) as f32).collect();
    let grads: Vec<f32> = (0..p).map(|_| (0.01 * rng.normal()) as f32).collect();

    for (method, stacks) in [("muon", Vec::new()), ("teon", stacks)] {
        let mut gpu = Gpu::open(0, KernelCache::default_dir())?;
        let mut layout = Layout::new();
        let params = layout.push("params", p, DType::F32);
        let compute = layout.push("compute", p, act);
        let grad = layout.push("grads", p, DType::F32);
        let momentum = layout.push("momentum", p, DType::F32);
        let clip = layout.push("clip", 1, DType::F32);
        let lr = layout.push("lr", 1, DType::F32);
        let plan = MuonPlan::stacked(&table, &stacks, act, &mut layout)?;
        let groups: Vec<String> = plan
            .groups
            .iter()
            .map(|g| format!("{}×{}×[{}, {}]", g.stacks(), g.stack, g.rows, g.cols))
            .collect();
        let arena = gpu.arena(&layout)?;
        let muon = Muon::new(&mut gpu, plan, MuonSettings::default(), &arena)?;
        gpu.upload(arena.ptr(params), &weights)?;
        gpu.upload(arena.ptr(grad), &grads)?;
        gpu.upload(arena.ptr(clip), &[1.0f32])?;
        gpu.upload(arena.ptr(lr), &[0.02f32])?;
        let flat = FlatBuffers {
            params: arena.ptr(params),
            params_compute: arena.ptr(compute),
            grads: arena.ptr(grad),
            momentum: arena.ptr(momentum),
            clip: arena.ptr(clip),
            lr: arena.ptr(lr),
        };
        let graph = gpu.capture(|gpu| muon.step(gpu, &arena, flat))?;
        let mut times = Vec::with_capacity(steps);
        for s in 0..warmup + steps {
            gpu.synchronize()?;
            let clock = Instant::now();
            graph.launch()?;
            gpu.synchronize()?;
            if s >= warmup {
                times.push(clock.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let n = times.len();
        let median = (times[(n - 1) / 2] + times[n / 2]) / 2.0;
        println!(
            "engine {method} {precision}: median {:.3} ms, min {:.3} ms per step ({steps} steps \
             after {warmup}; stacks × K × [d_in, d_out]: {})",
            median,
            times[0],
            groups.join(", ")
        );
    }
    Ok(())
}
