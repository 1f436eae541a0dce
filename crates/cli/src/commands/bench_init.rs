//! `spectral bench init`: the init benchmark of issue 8 on a deep pre-norm char-GPT, and the
//! QR cost of M23-Spectrum (`--qr-cost`).
//!
//! One run = (init, lr, seed): build the GPT (burn's RNG seeded for the embeddings), redraw
//! every Linear weight with `spectral::init::apply_init`, measure the input–output Jacobian's
//! singular values and the weights' condition numbers, train with AdamW (β = 0.9, 0.95,
//! weight decay 0.1, warmup + cosine, global-norm clip 1.0, identical for every init), evaluate
//! on fixed validation windows, measure the condition numbers again. Each run writes
//! `OUT/runs/<init>_lr<lr>_s<seed>.json`, so runs can be split over processes; `--summarize`
//! reads them all, picks each init's lr by the mean final validation loss over seeds, and
//! writes `OUT/summary.md` and `OUT/summary.json` (mean ± std over seeds).
//!
//! This lives in the CLI crate rather than `train` only because `train` was being edited by
//! another change at the time; the loop is self-contained and can move there as is.

use crate::commands::backend::{Job, on_device};
use anyhow::{Context, Result, bail};
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use models::block::forward_stack;
use models::{Gpt, GptConfig};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use spectral::device::{materialized, seeded};
use spectral::init::{Init, M23Scale, apply_init, mgi_init_stable};
use spectral::linalg::exact::{from_row_major, singular_values, to_faer};
use spectral::optim::Schedule;
use spectral::{CpuBackend, DeviceKind};
use std::path::{Path, PathBuf};
use std::time::Instant;
use train::data::TextDataset;
use zeta::atomic_file::AtomicFile;

#[derive(clap::Args, Clone, Debug, Serialize)]
pub struct InitArgs {
    /// Inits to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = Init::ALL.map(|i| i.name().to_string()))]
    pub inits: Vec<String>,
    /// Seeds (model init and training windows).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub seeds: Vec<u64>,
    /// Peak learning rates of the per-init grid.
    #[arg(long, value_delimiter = ',', default_value = "1e-3,3e-3,1e-2")]
    pub lrs: Vec<f64>,
    /// Transformer blocks.
    #[arg(long, default_value_t = 24)]
    pub layers: usize,
    /// Residual width C.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Context (= training window) length T.
    #[arg(long, default_value_t = 64)]
    pub seq_len: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Optimizer steps per run.
    #[arg(long, default_value_t = 300)]
    pub steps: u64,
    /// Linear warmup steps (then cosine to 0.1 of the peak at the last step).
    #[arg(long, default_value_t = 30)]
    pub warmup: u64,
    /// Evaluate every this many steps (and at the end).
    #[arg(long, default_value_t = 25)]
    pub eval_every: u64,
    /// Fixed validation windows per evaluation.
    #[arg(long, default_value_t = 64)]
    pub eval_windows: usize,
    /// Positions of the window whose Jacobian is measured at init.
    #[arg(long, default_value_t = 16)]
    pub jacobian_len: usize,
    /// Validation loss (nats) that defines "steps to target" in the summary.
    #[arg(long, default_value_t = 2.5)]
    pub target: f64,
    /// Output directory.
    #[arg(long, default_value = "runs/bench_init")]
    pub out: PathBuf,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda` (training and validation
    /// there; the Jacobian's and weights' SVDs stay on the host, in f64).
    #[arg(long, default_value = "cpu")]
    #[serde(skip)]
    pub device: DeviceKind,
    /// Only summarize the runs already in OUT/runs.
    #[arg(long)]
    pub summarize: bool,
    /// Instead: time `mgi_init_stable` on square layers of these sizes and exit.
    #[arg(long)]
    pub qr_cost: bool,
    /// Square sizes for `--qr-cost`.
    #[arg(long, value_delimiter = ',', default_value = "1024,4096,16384")]
    pub qr_sizes: Vec<usize>,
}

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

pub fn init(args: InitArgs) -> Result<()> {
    if args.qr_cost {
        return qr_cost(&args.qr_sizes);
    }
    if !args.summarize {
        let inits = args
            .inits
            .iter()
            .map(|s| s.parse::<Init>().map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()?;
        let runs = args.out.join("runs");
        std::fs::create_dir_all(&runs).with_context(|| format!("creating {}", runs.display()))?;
        let data = TextDataset::embedded();
        for &init in &inits {
            for &lr in &args.lrs {
                for &seed in &args.seeds {
                    let path = runs.join(format!("{}_lr{lr:e}_s{seed}.json", init.name()));
                    if path.exists() {
                        eprintln!("bench init: {} exists, skipped", path.display());
                        continue;
                    }
                    let run = Run {
                        args: &args,
                        data: &data,
                        init,
                        lr,
                        seed,
                    };
                    let record = on_device(args.device, run)?;
                    eprintln!(
                        "bench init: {} lr {lr:e} seed {seed}: final val {:.4}, grad-norm cv {:.3}, cond {:.1} -> {:.1}, jacobian spread {:.3e} ({:.0} s)",
                        init.name(),
                        record.val_curve.last().map_or(f64::NAN, |v| v.1),
                        cv(&record.grad_norms),
                        record.cond_init.0,
                        record.cond_final.0,
                        spread(&record.jacobian_sv),
                        record.seconds
                    );
                    write_json(&path, &record)?;
                }
            }
        }
    }
    summarize(&args)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(serde_json::to_string_pretty(value)?.as_bytes())?;
    file.commit()?;
    Ok(())
}

/// std/mean (population std).
fn cv(v: &[f64]) -> f64 {
    let (mean, std) = mean_std(v);
    std / mean
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn spread(sv: &[f64]) -> f64 {
    sv.first().copied().unwrap_or(f64::NAN) / sv.last().copied().unwrap_or(f64::NAN)
}

fn model_config(args: &InitArgs) -> GptConfig {
    GptConfig::new()
        .with_n_layer(args.layers)
        .with_n_embd(args.width)
        .with_n_head(args.heads)
        .with_block_size(args.seq_len)
}

/// One run of [`run_one`], as a [`Job`] for `args.device`'s backend.
struct Run<'a> {
    args: &'a InitArgs,
    data: &'a TextDataset,
    init: Init,
    lr: f64,
    seed: u64,
}

impl Job for Run<'_> {
    type Output = RunRecord;
    fn run<B: Backend>(self, device: &B::Device) -> Result<RunRecord> {
        run_one::<Autodiff<B>>(self.args, self.data, self.init, self.lr, self.seed, device)
    }
}

fn run_one<B: AutodiffBackend>(
    args: &InitArgs,
    data: &TextDataset,
    init: Init,
    lr: f64,
    seed: u64,
    device: &B::Device,
) -> Result<RunRecord> {
    let started = Instant::now();
    let mut model = seeded::<B, _>(device, seed, || {
        let model: Gpt<B> = model_config(args).init(device)?;
        anyhow::Ok(materialized(apply_init(model, init, seed)))
    })?;
    // Phase lines on stderr, so a long run (96 layers on a GPU) shows where its time goes.
    let name = format!("bench init: {} lr {lr:e} seed {seed}", init.name());
    let phase =
        |what: &str| eprintln!("{name}: {what} at {:.1} s", started.elapsed().as_secs_f64());
    phase("model built and initialized");
    let jacobian_sv =
        jacobian_singular_values(&model, data, args.jacobian_len.min(args.seq_len), device)?;
    phase("Jacobian spectrum at init done");
    let cond_init = conditions(&model)?;
    phase("condition numbers at init done");
    let val_batches =
        data.val_batches::<B::InnerBackend>(args.batch, args.seq_len, args.eval_windows, device)?;
    let val_loss = |m: &Gpt<B::InnerBackend>| -> Result<f64> {
        let mut total = 0.0;
        for (x, y) in &val_batches {
            total += m.loss(x.clone(), y.clone())?.into_scalar().elem::<f64>();
        }
        Ok(total / val_batches.len() as f64)
    };
    let schedule = Schedule {
        warmup_steps: args.warmup,
        total_steps: args.steps,
        min_factor: 0.1,
    };
    let mut optim = AdamWConfig::new()
        .with_beta_2(0.95)
        .with_weight_decay(0.1)
        .init::<B, Gpt<B>>();
    let mut val_curve = vec![(0, val_loss(&model.valid())?)];
    let mut grad_norms = Vec::with_capacity(args.steps as usize);
    for step in 0..args.steps {
        let (x, y) = data.train_batch::<B>(step, args.batch, args.seq_len, seed, device)?;
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
        let norm = train::trainer::clip_gradients(&model, &mut grads, 1.0);
        let norm = train::trainer::read_norm(norm);
        grad_norms.push(norm);
        model = optim.step(lr * schedule.factor(step), model, grads);
        let done = step + 1;
        if done.is_multiple_of(args.eval_every) || done == args.steps {
            let val = val_loss(&model.valid())?;
            val_curve.push((done, val));
            phase(&format!("step {done}/{}, val {val:.4}", args.steps));
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
fn conditions<BB: Backend>(model: &Gpt<BB>) -> Result<(f64, f64)> {
    let matrices: Vec<_> = hidden_matrices(model).into_iter().map(to_faer).collect();
    let mut conds = matrices
        .par_iter()
        .map(|w| {
            let s = singular_values(w)?;
            Ok(s[0] / s[s.len() - 1])
        })
        .collect::<Result<Vec<f64>>>()?;
    conds.sort_by(f64::total_cmp);
    Ok((conds[conds.len() / 2], conds[conds.len() - 1]))
}

/// Output channels whose Jacobian rows one backward pass computes: the window is repeated this
/// many times along the batch, copy `i` carrying channel `i`'s gradient (at 96 layers × 256 on
/// an H100 this replaced 256 backward passes, 130 s, by 4).
const JACOBIAN_CHUNK: usize = 64;

/// Singular values of `∂h_L[T−1, :] / ∂h_0[0..T, :]` (`[C, T·C]`) for the first validation
/// window of length `t`, `h_0` the embedded input of the block stack and `h_L` its output
/// (before the final LayerNorm). The block stack treats batch rows independently, so a batch
/// of `n` copies of the window, backpropagated from `Σ_k h_L[k, T−1, i₀ + k]`, gives rows
/// `i₀ .. i₀ + n` of the Jacobian at once ([`JACOBIAN_CHUNK`] rows per pass).
fn jacobian_singular_values<B: AutodiffBackend>(
    model: &Gpt<B>,
    data: &TextDataset,
    t: usize,
    device: &B::Device,
) -> Result<Vec<f64>> {
    let h0 = embedded_window(model, data, t, device)?; // [1, T, C]
    let c = h0.dims()[2];
    let rows = jacobian_rows(model, h0, JACOBIAN_CHUNK);
    // Gradients are f32: the rounding in from_row_major loses nothing.
    let j = from_row_major::<CpuBackend>(&rows, c, t * c, &Default::default()); // [C, T·C]
    Ok(singular_values(&to_faer(j))?)
}

/// The Jacobian `∂h_L[T−1, :] / ∂h_0` at `h0: [1, T, C]`, row-major `[C, T·C]`, `chunk` rows
/// per backward pass.
fn jacobian_rows<B: AutodiffBackend>(model: &Gpt<B>, h0: Tensor<B, 3>, chunk: usize) -> Vec<f64> {
    let [_, t, c] = h0.dims();
    let device = h0.device();
    let mask = models::attention::causal_mask::<B>(t, &device); // [T, T]
    let mut rows = Vec::with_capacity(c * t * c);
    for first in (0..c).step_by(chunk) {
        let n = chunk.min(c - first);
        let x = h0.clone().repeat_dim(0, n).require_grad(); // [n, T, C]
        let (out, _) = forward_stack(&model.blocks, x.clone(), &mask, false); // [n, T, C]
        let last = out
            .slice([0..n, t - 1..t, first..first + n])
            .reshape([n, n]);
        // Copy k's output channel first + k: the diagonal of the [n, n] block.
        let pick = Tensor::<B, 2>::eye(n, &device);
        let grads = (last * pick).sum().backward();
        let g = x.grad(&grads).expect("the input requires a gradient"); // [n, T, C]
        rows.extend(g.into_data().iter::<f64>());
    }
    rows
}

/// The block stack's input for the first validation window of length `t`: token plus position
/// embeddings, detached. `[1, T, C]`.
fn embedded_window<B: AutodiffBackend>(
    model: &Gpt<B>,
    data: &TextDataset,
    t: usize,
    device: &B::Device,
) -> Result<Tensor<B, 3>> {
    let (idx, _) = data.val_batches::<B>(1, t, 1, device)?.remove(0); // [1, T]
    let mut h0 = model.tok_emb.forward(idx); // [1, T, C]
    let c = h0.dims()[2];
    if let Some(pos) = &model.pos_emb {
        h0 = h0 + pos.weight.val().narrow(0, 0, t).reshape([1, t, c]);
    }
    Ok(h0.detach())
}

/// One init's row of the summary (at its chosen lr).
#[derive(Debug, Serialize)]
pub struct Row {
    init: String,
    lr: f64,
    seeds: usize,
    /// Runs that reached the target, and their steps to it (first evaluation at or below).
    reached: usize,
    steps_to_target: (f64, f64),
    final_val: (f64, f64),
    grad_cv: (f64, f64),
    cond_init: (f64, f64),
    cond_final: (f64, f64),
    jacobian_spread: (f64, f64),
    /// Mean final validation loss at every lr tried.
    lr_grid: Vec<(f64, f64)>,
}

fn summarize(args: &InitArgs) -> Result<()> {
    let records = read_records(&args.out.join("runs"))?;
    let (md, rows) = summary(&records, args.target);
    println!("{md}");
    let mut file = AtomicFile::create(args.out.join("summary.md"))?;
    file.write_all(md.as_bytes())?;
    file.commit()?;
    write_json(
        &args.out.join("summary.json"),
        &serde_json::json!({ "args": args, "rows": rows }),
    )?;
    eprintln!(
        "bench init: wrote {}/summary.{{md,json}}",
        args.out.display()
    );
    Ok(())
}

/// Every run record (`*.json`) in `dir`; an error when there is none.
pub fn read_records(dir: &Path) -> Result<Vec<RunRecord>> {
    let mut records: Vec<RunRecord> = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)?;
            records.push(serde_json::from_str(&text).with_context(|| path.display().to_string())?);
        }
    }
    if records.is_empty() {
        bail!("no runs in {}", dir.display());
    }
    Ok(records)
}

/// The summary table (Markdown) of `records` and its rows: each init at the lr with the
/// lowest mean final validation loss, mean ± std (population) over its seeds, steps to
/// `target` (nats).
pub fn summary(records: &[RunRecord], target: f64) -> (String, Vec<Row>) {
    let final_val = |r: &RunRecord| r.val_curve.last().map_or(f64::NAN, |v| v.1);
    let mut rows = Vec::new();
    for init in Init::ALL {
        let mine: Vec<&RunRecord> = records.iter().filter(|r| r.init == init.name()).collect();
        if mine.is_empty() {
            continue;
        }
        let mut lrs: Vec<f64> = mine.iter().map(|r| r.lr).collect();
        lrs.sort_by(f64::total_cmp);
        lrs.dedup();
        let lr_grid: Vec<(f64, f64)> = lrs
            .iter()
            .map(|&lr| {
                let v: Vec<f64> = mine
                    .iter()
                    .filter(|r| r.lr == lr)
                    .map(|r| final_val(r))
                    .collect();
                let (m, _) = mean_std(&v);
                (lr, if m.is_finite() { m } else { f64::INFINITY })
            })
            .collect();
        let (lr, _) = *lr_grid
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("at least one lr");
        let at: Vec<&RunRecord> = mine.iter().copied().filter(|r| r.lr == lr).collect();
        let steps: Vec<f64> = at
            .iter()
            .filter_map(|r| {
                r.val_curve
                    .iter()
                    .find(|(_, v)| *v <= target)
                    .map(|(s, _)| *s as f64)
            })
            .collect();
        let stat =
            |f: &dyn Fn(&RunRecord) -> f64| mean_std(&at.iter().map(|r| f(r)).collect::<Vec<_>>());
        rows.push(Row {
            init: init.name().into(),
            lr,
            seeds: at.len(),
            reached: steps.len(),
            steps_to_target: if steps.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                mean_std(&steps)
            },
            final_val: stat(&|r| final_val(r)),
            grad_cv: stat(&|r| cv(&r.grad_norms)),
            cond_init: stat(&|r| r.cond_init.0),
            cond_final: stat(&|r| r.cond_final.0),
            jacobian_spread: stat(&|r| spread(&r.jacobian_sv)),
            lr_grid,
        });
    }
    let pm = |(m, s): (f64, f64), digits: usize| format!("{m:.digits$} ± {s:.digits$}");
    let mut md = format!(
        "| init | lr | steps to val ≤ {} (reached) | final val loss | grad-norm std/mean | median cond, init | median cond, end | Jacobian σmax/σmin at init |\n|---|---|---|---|---|---|---|---|\n",
        target
    );
    for r in &rows {
        md += &format!(
            "| {} | {:e} | {} ({}/{}) | {} | {} | {} | {} | {:.3e} ± {:.1e} |\n",
            r.init,
            r.lr,
            if r.reached == 0 {
                "–".to_string() // no run reached the target: no mean
            } else {
                pm(r.steps_to_target, 0)
            },
            r.reached,
            r.seeds,
            pm(r.final_val, 4),
            pm(r.grad_cv, 3),
            pm(r.cond_init, 1),
            pm(r.cond_final, 1),
            r.jacobian_spread.0,
            r.jacobian_spread.1,
        );
    }
    md += "\nMean final validation loss per lr (the grid):\n\n";
    for r in &rows {
        let grid: Vec<String> = r
            .lr_grid
            .iter()
            .map(|(lr, v)| format!("{lr:e}: {v:.4}"))
            .collect();
        md += &format!("- {}: {}\n", r.init, grid.join(", "));
    }
    (md, rows)
}

/// Times `mgi_init_stable(n, n)` (two Haar QRs + two products, f64 on the host, faer's
/// default parallelism) for each size.
fn qr_cost(sizes: &[usize]) -> Result<()> {
    println!("{:>8} {:>12}  threads", "n", "seconds");
    for &n in sizes {
        let started = Instant::now();
        let w = mgi_init_stable(n, n, M23Scale::Seed, 0);
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(&w);
        println!(
            "{n:>8} {seconds:>12.3}  {}",
            std::thread::available_parallelism().map_or(0, |p| p.get())
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(out: &Path) -> InitArgs {
        InitArgs {
            inits: vec!["m23_seed".into(), "he".into()],
            seeds: vec![0],
            lrs: vec![1e-3],
            layers: 2,
            width: 16,
            heads: 2,
            seq_len: 8,
            batch: 2,
            steps: 3,
            warmup: 1,
            eval_every: 2,
            eval_windows: 2,
            jacobian_len: 4,
            target: 10.0,
            out: out.to_path_buf(),
            summarize: false,
            qr_cost: false,
            qr_sizes: vec![],
            device: DeviceKind::Cpu,
        }
    }

    /// `--device cuda` in a build without the feature fails before any run is written.
    #[test]
    fn a_cuda_device_needs_a_cuda_build() {
        if cfg!(feature = "cuda") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut args = tiny(dir.path());
        args.device = DeviceKind::Cuda(0);
        let error = init(args).unwrap_err().to_string();
        assert!(error.contains("built without CUDA"), "{error}");
        let runs = std::fs::read_dir(dir.path().join("runs")).unwrap().count();
        assert_eq!(runs, 0);
    }

    #[test]
    fn tiny_benchmark_measures_what_it_claims() {
        let dir = tempfile::tempdir().unwrap();
        init(tiny(dir.path())).unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("runs/m23_seed_lr1e-3_s0.json")).unwrap();
        let m23: RunRecord = serde_json::from_str(&text).unwrap();
        // Every hidden matrix is M23 (r ≥ 4): its condition number, through f32 storage.
        assert!(
            (m23.cond_init.0 - spectral::init::M23_CONDITION).abs() < 1e-3,
            "{:?}",
            m23.cond_init
        );
        assert!((m23.cond_init.1 - spectral::init::M23_CONDITION).abs() < 1e-3);
        assert_eq!(m23.grad_norms.len(), 3);
        assert_eq!(
            m23.val_curve.iter().map(|v| v.0).collect::<Vec<_>>(),
            [0, 2, 3]
        );
        assert_eq!(m23.jacobian_sv.len(), 16); // [C, T·C] with C = 16
        assert!(m23.jacobian_sv.windows(2).all(|w| w[0] >= w[1]));
        let text = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        let rows = summary["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        // A target above the step-0 loss is reached at the first evaluation.
        assert_eq!(rows[0]["steps_to_target"][0].as_f64(), Some(0.0));
        // One no run reaches is a dash in the table, not a mean of nothing.
        init(InitArgs {
            summarize: true,
            target: 0.0,
            ..tiny(dir.path())
        })
        .unwrap();
        let table = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(table.contains("| – (0/1) |"), "{table}");
        assert!(!table.contains("NaN"), "{table}");
    }

    /// The batched Jacobian equals the one-channel-per-pass definition (chunks of 5 over
    /// C = 16: three full chunks and a remainder).
    #[test]
    fn batched_jacobian_equals_one_backward_per_channel() {
        type B = Autodiff<CpuBackend>;
        let device = Default::default();
        let args = tiny(Path::new("unused"));
        let model = seeded::<B, _>(&device, 3, || {
            let model = model_config(&args).init::<B>(&device).unwrap();
            materialized(apply_init(model, Init::He, 3))
        });
        let data = TextDataset::embedded();
        let t = 4;
        let h0 = embedded_window(&model, &data, t, &device).unwrap();
        let c = h0.dims()[2];
        let batched = jacobian_rows(&model, h0.clone(), 5);
        let mask = models::attention::causal_mask::<B>(t, &device);
        let mut want = Vec::new();
        for i in 0..c {
            let x = h0.clone().require_grad();
            let (out, _) = forward_stack(&model.blocks, x.clone(), &mask, false);
            let grads = out.slice([0..1, t - 1..t, i..i + 1]).sum().backward();
            want.extend(x.grad(&grads).unwrap().into_data().iter::<f64>());
        }
        assert_eq!(batched.len(), c * t * c);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let worst = batched
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
        // f32 rounding only (2.2e-5 of the largest entry here: NdArray's matmul blocks a batch
        // of 5 differently from a batch of 1); a wrong channel or copy would be off by O(1).
        assert!(worst <= 1e-4 * scale, "{worst} of {scale}");
    }

    #[test]
    fn spread_and_cv() {
        assert_eq!(spread(&[4.0, 2.0, 0.5]), 8.0);
        assert!((cv(&[1.0, 3.0]) - 0.5).abs() < 1e-15);
    }
}
