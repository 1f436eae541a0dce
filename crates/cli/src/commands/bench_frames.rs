//! `spectral bench frames`: the notes' FrameGenerator trained on a synthetic video with each
//! init (`spectral_experiments::frame_bench`), PSNR and SSIM on held-out clips, mean ± std over
//! seeds, beside the naive baseline (the average of the two input frames).
//!
//! The defaults (h = 8, 150 steps of batch 4) are sized so that 3 inits × 3 seeds take about
//! 6 minutes on the 2-core CI box (≈ 36 s a run; burn's NdArray conv2d is the cost). The
//! notes' h = 256 is `--width 256` (≈ 1000× the conv work).

use anyhow::Result;
use spectral::init::Init;
use spectral_experiments::frame_bench::{self, Config, FrameBenchOptions};
use spectral_train::data::synthetic_video::VideoConfig;
use std::path::PathBuf;

fn defaults() -> FrameBenchOptions {
    FrameBenchOptions::default()
}

#[derive(clap::Args, Clone, Debug)]
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
    #[arg(long, default_value_t = defaults().steps)]
    pub steps: u64,
    /// Hidden channels h of the FrameGenerator (the notes use 256).
    #[arg(long, default_value_t = defaults().hidden)]
    pub width: usize,
    /// Triplets per step.
    #[arg(long, default_value_t = defaults().batch)]
    pub batch: usize,
    /// Peak learning rate (AdamW; warmup then cosine to 0.1×).
    #[arg(long, default_value_t = defaults().lr)]
    pub lr: f64,
    /// Linear warmup steps.
    #[arg(long, default_value_t = defaults().warmup)]
    pub warmup: u64,
    /// Training clips.
    #[arg(long, default_value_t = defaults().train_clips)]
    pub train_clips: u64,
    /// Held-out clips (seeds disjoint from the training clips').
    #[arg(long, default_value_t = defaults().test_clips)]
    pub test_clips: u64,
    /// Frames per clip (frames − 2 triplets each).
    #[arg(long, default_value_t = defaults().frames_per_clip)]
    pub frames: usize,
    /// Frame side in pixels.
    #[arg(long, default_value_t = defaults().video.size)]
    pub size: usize,
    /// Also write the runs and the table as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn frames(args: FramesArgs) -> Result<()> {
    let config = Config {
        inits: args
            .inits
            .iter()
            .map(|s| s.parse::<Init>().map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?,
        seeds: args.seeds,
        options: FrameBenchOptions {
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
        },
        json: args.json,
    };
    println!("{}", frame_bench::run(&config)?.table());
    Ok(())
}
