//! `spectral compress --ckpt FILE (--energy P | --rank K | --params F) [--whiten --calib N]
//! --out FILE2`: SVD compression of a trained checkpoint; prints the per-layer table.

use crate::output::Console;
use anyhow::{Result, bail};
use spectral::compress::{DEFAULT_DAMPING, RankRule};
use spectral_train::compress::{AnyModel, CompressOptions, CompressReport, compress_checkpoint};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).args(["energy", "rank", "params"])))]
pub struct Args {
    /// A training checkpoint (`spectral train` output, e.g. runs/x/best.safetensors).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Keep, per layer, the least rank holding this fraction of Σσ² (0 < P ≤ 1). The σ are the
    /// weight's own; with --whiten they are those of the whitened weight LᵀW, so P is a
    /// fraction of the layer's output energy on the calibration data, and ranks come out much
    /// lower for the same P.
    #[arg(long)]
    pub energy: Option<f64>,
    /// Keep this rank in every layer.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Keep this fraction of the block matrices' parameters, shared greedily across layers.
    #[arg(long)]
    pub params: Option<f64>,
    /// Whiten by each layer's input Gram matrix on calibration data (SVD-LLM): truncate where
    /// the outputs lose least, and measure --energy on the outputs (see --energy).
    #[arg(long)]
    pub whiten: bool,
    /// Calibration windows (of the run's seq_len, from the training split) for --whiten.
    #[arg(long, default_value_t = 64)]
    pub calib: usize,
    /// Where the compressed checkpoint goes (loadable by `spectral_train::compress::load`).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the report as JSON to FILE (`-`: stdout, the table then on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// GPT only: print this many bytes sampled from the compressed model (greedy = 0 temperature).
    #[arg(long, default_value_t = 0)]
    pub sample: usize,
    /// Prompt of the sample.
    #[arg(long, default_value = "ROMEO:")]
    pub prompt: String,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
}

/// The per-layer table and the summary line; `rule` is the one `r` was compressed by.
fn print_table(r: &CompressReport, rule: RankRule, console: Console) {
    let width = r
        .layers
        .iter()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    console.line(&format!(
        "{:<width$} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "layer", "d_in×d_out", "rank", "params", "after", "rel err", "out err"
    ));
    for l in &r.layers {
        let rank = l.rank.map_or("dense".to_string(), |k| k.to_string());
        let out = l
            .rel_output_error
            .map_or("-".to_string(), |e| format!("{e:.4}"));
        console.line(&format!(
            "{:<width$} {:>9} {:>6} {:>9} {:>9} {:>9.4} {:>9}",
            l.name,
            format!("{}x{}", l.d_in, l.d_out),
            rank,
            l.params_before,
            l.params_after,
            l.rel_error,
            out
        ));
    }
    console.line(&format!(
        "{} {}{}: block matrices {} → {} parameters ({:.2}x); model {} → {} ({:.2}x); val loss {:.4} → {:.4} ({:+.4}); wrote {}",
        r.model,
        r.rule,
        match (r.whiten, matches!(rule, RankRule::Energy(_))) {
            (true, true) => " whitened (energy of the layers' outputs on the calibration data)",
            (true, false) => " whitened",
            (false, _) => "",
        },
        r.matrix_params_before,
        r.matrix_params_after,
        r.matrix_params_before as f64 / r.matrix_params_after.max(1) as f64,
        r.model_params_before,
        r.model_params_after,
        r.ratio(),
        r.val_loss_before,
        r.val_loss_after,
        r.val_loss_after - r.val_loss_before,
        r.out.display()
    ));
}

pub fn run(args: Args) -> Result<()> {
    let rule = match (args.energy, args.rank, args.params) {
        (Some(p), None, None) => RankRule::Energy(p),
        (None, Some(k), None) => RankRule::Fixed(k),
        (None, None, Some(f)) => RankRule::Params(f),
        _ => bail!("give exactly one of --energy, --rank, --params"),
    };
    rule.validate()?;
    crate::output::check_output_dirs(&[args.json.as_deref(), Some(&args.out)])?;
    if args.whiten && args.calib == 0 {
        bail!("--calib must be at least 1 with --whiten");
    }
    let options = CompressOptions {
        rule,
        whiten: args.whiten,
        calib_windows: args.calib,
        damping: DEFAULT_DAMPING,
    };
    let device = Default::default();
    let (report, model) =
        compress_checkpoint::<spectral::CpuBackend>(&args.ckpt, &args.out, &options, &device)?;
    let console = Console::for_outputs(&[args.json.as_deref()]);
    print_table(&report, rule, console);
    console.write_json(args.json.as_deref(), &report)?;
    if args.sample > 0 {
        let AnyModel::Gpt(gpt) = &model else {
            bail!("--sample needs a GPT checkpoint");
        };
        let prompt: Vec<usize> = args.prompt.bytes().map(usize::from).collect();
        let ids =
            spectral_models::generate::generate(gpt, &prompt, args.sample, args.temperature, 1)?;
        let bytes: Vec<u8> = ids.into_iter().map(|t| t as u8).collect();
        console.line(&format!(
            "--- sample ---\n{}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    Ok(())
}
