//! `spectral bench init`: the init benchmark on a deep pre-norm char-GPT
//! (`spectral_experiments::init_bench`), or `--qr-cost`: the time of an M23 init of large square layers.

use anyhow::Result;
use spectral::DeviceKind;
use spectral::init::Init;
use spectral_experiments::init_bench::{self, Config, qr_cost};
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug)]
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
    #[arg(long, default_value_t = Config::default().layers)]
    pub layers: usize,
    /// Residual width C.
    #[arg(long, default_value_t = Config::default().width)]
    pub width: usize,
    /// Attention heads.
    #[arg(long, default_value_t = Config::default().heads)]
    pub heads: usize,
    /// Context (= training window) length T.
    #[arg(long, default_value_t = Config::default().seq_len)]
    pub seq_len: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = Config::default().batch)]
    pub batch: usize,
    /// Optimizer steps per run.
    #[arg(long, default_value_t = Config::default().steps)]
    pub steps: u64,
    /// Linear warmup steps (then cosine to 0.1 of the peak at the last step).
    #[arg(long, default_value_t = Config::default().warmup)]
    pub warmup: u64,
    /// Evaluate every this many steps (and at the end).
    #[arg(long, default_value_t = Config::default().eval_every)]
    pub eval_every: u64,
    /// Fixed validation windows per evaluation.
    #[arg(long, default_value_t = Config::default().eval_windows)]
    pub eval_windows: usize,
    /// Positions of the window whose Jacobian is measured at init.
    #[arg(long, default_value_t = Config::default().jacobian_len)]
    pub jacobian_len: usize,
    /// Validation loss (nats) that defines "steps to target" in the summary.
    #[arg(long, default_value_t = Config::default().target)]
    pub target: f64,
    /// Output directory.
    #[arg(long, default_value = "runs/bench_init")]
    pub out: PathBuf,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda` (training and validation
    /// there; the Jacobian's and weights' SVDs stay on the host, in f64).
    #[arg(long, default_value = "cpu")]
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
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

pub fn init(args: InitArgs) -> Result<()> {
    args.kernels.apply()?;
    if args.qr_cost {
        println!("{:>8} {:>12}  threads", "n", "seconds");
        let config = qr_cost::Config {
            sizes: args.qr_sizes,
        };
        qr_cost::run(&config, |t| {
            println!("{:>8} {:>12.3}  {}", t.n, t.seconds, t.threads)
        });
        return Ok(());
    }
    let config = Config {
        inits: args
            .inits
            .iter()
            .map(|s| s.parse::<Init>().map_err(anyhow::Error::msg))
            .collect::<Result<_>>()?,
        seeds: args.seeds,
        lrs: args.lrs,
        layers: args.layers,
        width: args.width,
        heads: args.heads,
        seq_len: args.seq_len,
        batch: args.batch,
        steps: args.steps,
        warmup: args.warmup,
        eval_every: args.eval_every,
        eval_windows: args.eval_windows,
        jacobian_len: args.jacobian_len,
        target: args.target,
        out: args.out,
        device: args.device,
        summarize: args.summarize,
    };
    let report = init_bench::run(&config)?;
    println!("{}", report.markdown);
    eprintln!(
        "bench init: wrote {}/summary.{{md,json}}",
        config.out.display()
    );
    Ok(())
}
