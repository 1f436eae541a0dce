//! `spectral bench frames`: the notes' FrameGenerator trained on a synthetic video with each
//! init (spectral_train::frame_bench), PSNR and SSIM on held-out clips, mean ± std over seeds, beside
//! the naive baseline (the average of the two input frames).
//!
//! The defaults (h = 8, 150 steps of batch 4) are sized so that 3 inits × 3 seeds take about
//! 6 minutes on the 2-core CI box (≈ 36 s a run; burn's NdArray conv2d is the cost). The
//! notes' h = 256 is `--width 256` (≈ 1000× the conv work).

use anyhow::{Context, Result};
use serde::Serialize;
use spectral::init::Init;
use spectral_train::data::synthetic_video::VideoConfig;
use spectral_train::frame_bench::{
    FrameBenchOptions, FrameData, FrameRun, naive_baseline, train_frames,
};
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug, Serialize)]
pub struct FramesArgs {
    /// Inits to compare, comma-separated (any `spectral::init::Init` name).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "m23_seed,m23_preserving,he"
    )]
    pub inits: Vec<String>,
    /// Seeds (init and batch order), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub seeds: Vec<u64>,
    /// Optimizer steps per run.
    #[arg(long, default_value_t = 150)]
    pub steps: u64,
    /// Hidden channels h of the FrameGenerator (the notes use 256).
    #[arg(long, default_value_t = 8)]
    pub width: usize,
    /// Triplets per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Peak learning rate (AdamW; warmup then cosine to 0.1×).
    #[arg(long, default_value_t = 5e-3)]
    pub lr: f64,
    /// Linear warmup steps.
    #[arg(long, default_value_t = 15)]
    pub warmup: u64,
    /// Training clips.
    #[arg(long, default_value_t = 48)]
    pub train_clips: u64,
    /// Held-out clips (seeds disjoint from the training clips').
    #[arg(long, default_value_t = 8)]
    pub test_clips: u64,
    /// Frames per clip (frames − 2 triplets each).
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Frame side in pixels.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Also write the runs and the table as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

pub fn frames(args: FramesArgs) -> Result<()> {
    let inits = args
        .inits
        .iter()
        .map(|s| s.parse::<Init>().map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(!args.seeds.is_empty(), "--seeds needs at least one seed");
    anyhow::ensure!(
        args.frames >= 3 && args.size >= 11,
        "--frames must be ≥ 3 and --size ≥ 11 (the SSIM window)"
    );
    let options = FrameBenchOptions {
        hidden: args.width,
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        warmup: args.warmup,
        train_clips: args.train_clips,
        test_clips: args.test_clips,
        frames_per_clip: args.frames,
        video: VideoConfig {
            size: args.size,
            ..VideoConfig::default()
        },
    };
    let data = FrameData::generate(&options);
    eprintln!(
        "bench frames: {} training and {} held-out triplets of {}×{}; FrameGenerator h = {} ({} parameters); {} steps of batch {}",
        data.train.len(),
        data.test.len(),
        args.size,
        args.size,
        args.width,
        spectral_models::FrameGeneratorConfig::new()
            .with_hidden(args.width)
            .num_params(),
        args.steps,
        args.batch
    );
    let baseline = naive_baseline(&data.test);
    let bar = spectral_experiments::progress::bar(
        (inits.len() * args.seeds.len()) as u64 * args.steps,
        "steps",
    );
    let mut runs: Vec<FrameRun> = Vec::new();
    for &init in &inits {
        for &seed in &args.seeds {
            bar.set_message(format!("{init} seed {seed}"));
            let run = train_frames(&options, &data, init, seed, |_, _| bar.inc(1))
                .with_context(|| format!("bench frames {init} seed {seed}"))?;
            bar.suspend(|| {
                eprintln!(
                    "bench frames: {init} seed {seed}: PSNR {:.2} dB, SSIM {:.4} (at init {:.2} dB), last train MSE {:.5} ({:.0} s)",
                    run.scores.psnr,
                    run.scores.ssim,
                    run.scores_init.psnr,
                    run.train_mse.last().copied().unwrap_or(f64::NAN),
                    run.seconds
                )
            });
            runs.push(run);
        }
    }
    bar.finish_and_clear();
    let pm = |(m, s): (f64, f64), digits: usize| format!("{m:.digits$} ± {s:.digits$}");
    let mut table = format!(
        "| init | PSNR (dB) | SSIM | train MSE, last step | s/run |\n|---|---|---|---|---|\n| naive (f0 + f2)/2 | {:.2} | {:.4} | — | — |\n",
        baseline.psnr, baseline.ssim
    );
    let mut rows = Vec::new();
    for &init in &inits {
        let mine: Vec<&FrameRun> = runs.iter().filter(|r| r.init == init.name()).collect();
        let stat =
            |f: &dyn Fn(&FrameRun) -> f64| mean_std(&mine.iter().map(|r| f(r)).collect::<Vec<_>>());
        let (psnr, ssim) = (stat(&|r| r.scores.psnr), stat(&|r| r.scores.ssim));
        let mse = stat(&|r| r.train_mse.last().copied().unwrap_or(f64::NAN));
        let seconds = stat(&|r| r.seconds);
        table += &format!(
            "| {init} | {} | {} | {} | {:.0} |\n",
            pm(psnr, 2),
            pm(ssim, 4),
            pm(mse, 5),
            seconds.0
        );
        rows.push(serde_json::json!({
            "init": init.name(), "psnr": psnr, "ssim": ssim, "train_mse_last": mse,
            "seconds": seconds.0, "seeds": mine.len(),
        }));
    }
    println!(
        "{table}\nMean ± std over seeds {:?}; {} held-out triplets (clip seeds disjoint from training).",
        args.seeds,
        data.test.len()
    );
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "args": args,
            "options": options,
            "baseline": baseline,
            "rows": rows,
            "runs": runs,
        });
        spectral_io::write_json(path, &report)?;
        eprintln!("bench frames: wrote {}", path.display());
    }
    Ok(())
}
