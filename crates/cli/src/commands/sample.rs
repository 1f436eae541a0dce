//! `spectral sample text --ckpt FILE` (text from a char-level GPT) and `spectral sample
//! rollouts --ckpt FILE --out FILE2` (free-running SpacingMDN rollouts to a series file):
//! `spectral_train::eval::sample`.

use crate::commands::eval::at_least_one;
use crate::commands::zeros::FormatArg;
use crate::output::{Console, check_binary_stdout};
use anyhow::Result;
use burn::tensor::backend::Backend;
use spectral::DeviceKind;
use spectral_models::generate::Sampling;
use spectral_train::devices::{BackendDevices, DeviceJob, DeviceSet, on_devices};
use spectral_train::eval::load::run_spacings;
use spectral_train::eval::rollout::Feed;
use spectral_train::eval::sample::{
    RolloutOptions, Vocabulary, load_gpt, load_spacing_mdn, rollout_file, sample_rollouts,
    sample_text, write_rollouts,
};
use spectral_zeta::series_file::Format;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SampleCommand,
}

#[derive(clap::Subcommand)]
pub enum SampleCommand {
    /// Text from a char-level GPT checkpoint: the prompt and the bytes sampled after it.
    Text(TextArgs),
    /// Free-running rollouts of a SpacingMDN checkpoint from one seed window, to a file of
    /// count × horizon spacings.
    Rollouts(RolloutArgs),
}

#[derive(clap::Args)]
pub struct TextArgs {
    /// A char-level GPT checkpoint (`spectral train` or `spectral compress` output).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// What the text starts with [default: a newline]; every character must occur in the run's
    /// training text.
    #[arg(long, default_value = "\n", hide_default_value = true)]
    pub prompt: String,
    /// Bytes sampled after the prompt.
    #[arg(long, default_value_t = 500)]
    pub length: usize,
    /// Softmax temperature: 0 is greedy (the most likely byte each step), 1 the model's own
    /// distribution.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Draw only among the K most likely bytes at each step [default: all].
    #[arg(long, value_name = "K", value_parser = at_least_one())]
    pub top_k: Option<usize>,
    /// Seed of the draws [default: the run's seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the text here (atomically) instead of to stdout; the summary line then goes to
    /// stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FeedbackArg {
    /// feed back the mixture mean Σ π μ (deterministic: one rollout)
    Mean,
    /// feed back a draw from the mixture, seeded per rollout and step
    Sampled,
}

#[derive(clap::Args)]
#[command(after_help = "\
The file holds count × horizon spacings, rollout after rollout: value i (index i in txt) is \
step i mod horizon of rollout ⌊i / horizon⌋ (numpy: np.load(f).reshape(count, horizon)). \
Every rollout starts from the same seed window of the run's seq_len spacings; rollout r draws \
from (seed, step, r), so it is the same whatever --count.")]
pub struct RolloutArgs {
    /// A SpacingMDN checkpoint (`spectral train` or `spectral compress` output).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Spacing file of the seed window instead of the one named in the checkpoint's config.
    #[arg(long)]
    pub spacings: Option<PathBuf>,
    /// Index n of the seed window's first spacing δ_n [default: the first window of the
    /// validation split].
    #[arg(long, value_name = "INDEX")]
    pub start: Option<u64>,
    /// Spacings generated per rollout.
    #[arg(long, default_value_t = 100, value_parser = at_least_one())]
    pub horizon: usize,
    /// What each step feeds back.
    #[arg(long, value_enum, default_value = "sampled")]
    pub feedback: FeedbackArg,
    /// Rollouts (sampled feedback only).
    #[arg(long, default_value_t = 1, value_parser = at_least_one())]
    pub count: usize,
    /// Seed of the sampled feedback [default: the run's seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// File format (any of the three holds a spacing of order 1 exactly, as an f64).
    #[arg(long, value_enum, default_value = "f64")]
    pub format: FormatArg,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// `cpu`, or `cuda[:N]` in a binary built with `--features cuda`.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    #[command(flatten)]
    pub kernels: crate::kernels::KernelArgs,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        SampleCommand::Text(args) => {
            args.kernels.apply()?;
            on_devices(&DeviceSet::one(args.device)?, Text(&args))
        }
        SampleCommand::Rollouts(args) => {
            args.kernels.apply()?;
            on_devices(&DeviceSet::one(args.device)?, Rollouts(&args))
        }
    }
}

struct Text<'a>(&'a TextArgs);

impl DeviceJob for Text<'_> {
    type Output = Result<()>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Result<()> {
        let (args, device) = (self.0, &devices.devices[0]);
        let started = Instant::now();
        let (model, config) = load_gpt::<B>(&args.ckpt, device)?;
        let vocabulary = Vocabulary::of_run(&config, model.vocab_size())?;
        let sampling = Sampling {
            temperature: args.temperature,
            top_k: args.top_k,
            seed: args.seed.unwrap_or(config.seed),
        };
        let text = sample_text(&model, &vocabulary, &args.prompt, args.length, &sampling)?;
        let summary = format!(
            "sampled {} bytes after a {}-byte prompt (temperature {}, top-k {}, seed {}) from {} \
             in {:.2} s",
            args.length,
            args.prompt.len(),
            sampling.temperature,
            sampling.top_k.map_or("all".to_string(), |k| k.to_string()),
            sampling.seed,
            args.ckpt.display(),
            started.elapsed().as_secs_f64()
        );
        match &args.out {
            Some(path) => {
                spectral_io::write_atomic(path, text.as_bytes())?;
                Console::for_outputs(&[Some(path)])
                    .line(&format!("{summary}; wrote {}", path.display()));
            }
            None => {
                println!("{text}");
                eprintln!("{summary}");
            }
        }
        Ok(())
    }
}

struct Rollouts<'a>(&'a RolloutArgs);

impl DeviceJob for Rollouts<'_> {
    type Output = Result<()>;
    fn run<B: Backend>(self, devices: BackendDevices<B>) -> Result<()> {
        let (args, device) = (self.0, &devices.devices[0]);
        let started = Instant::now();
        let (model, config) = load_spacing_mdn::<B>(&args.ckpt, device)?;
        let data = run_spacings(&config, args.spacings.as_deref())?;
        let seed = args.seed.unwrap_or(config.seed);
        let options = RolloutOptions {
            start: args.start,
            context: config.seq_len,
            horizon: args.horizon,
            count: args.count,
            feed: match args.feedback {
                FeedbackArg::Mean => Feed::Mean,
                FeedbackArg::Sampled => Feed::Sample { seed },
            },
        };
        let format = Format::from(args.format);
        check_binary_stdout(&args.out, format != Format::Txt)?;
        let file = rollout_file(&args.out, format, args.count, args.horizon)?;
        let rollouts = sample_rollouts(&model, &data, &options, device)?;
        write_rollouts(file, &rollouts.values)?;
        let feedback = match args.feedback {
            FeedbackArg::Mean => "mean feedback".to_string(),
            FeedbackArg::Sampled => format!("sampled feedback, seed {seed}"),
        };
        Console::for_outputs(&[Some(&args.out)]).line(&format!(
            "wrote {} rollout{} × {} spacings ({feedback}; seed window δ_{}..δ_{}) to \
             {} in {:.2} s; mean spacing {:.4} vs {:.4} in the data ({})",
            args.count,
            if args.count == 1 { "" } else { "s" },
            args.horizon,
            rollouts.start,
            rollouts.start + options.context as u64 - 1,
            args.out.display(),
            started.elapsed().as_secs_f64(),
            rollouts.mean(),
            rollouts.data_mean,
            if rollouts.data_span == data.len() {
                "the whole spacing file".to_string()
            } else {
                format!("the {} spacings after the seed window", rollouts.data_span)
            },
        ));
        Ok(())
    }
}
