//! `spectral`: spectral methods in deep learning, with the zeros of the Riemann zeta function
//! as the flagship data set. Each subcommand parses its flags, calls a library crate and
//! prints; errors end as one line on stderr and a non-zero exit.

mod commands;
mod kernels;
mod output;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "spectral", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: 200,000 zeros, their GUE statistics, a SpacingMDN with memory vs a baseline, report.md.
    Run(commands::run::Args),
    /// Compute consecutive zeros of ζ(1/2 + iγ), verified complete by Turing's method.
    Zeros(commands::zeros::Args),
    /// Hardy's Z(t), the zero count N(t) and S(t) = N(t) − θ(t)/π − 1 at given heights.
    #[command(name = "zeta-z")]
    ZetaZ(commands::zeta_z::Args),
    /// Unfold zero ordinates to nearest-neighbour spacings of mean 1.
    Unfold(commands::unfold::Args),
    /// Train a SpacingMDN or a char-level GPT from a TOML config.
    Train(commands::train::Args),
    /// Random-matrix statistics of spacings against GUE, with a GUE control sample.
    Stats(commands::stats::Args),
    /// Benchmarks: `bench optim` times one optimizer step on GPT-2-small matrix shapes.
    Bench(commands::bench::Args),
    /// Evaluate a SpacingMDN checkpoint: NLL, MAE, CRPS, PIT, Err@10/100, rollouts vs GUE, mem_entropy.
    Eval(commands::eval::Args),
    /// Sample a checkpoint: text from a char-level GPT, or SpacingMDN rollouts to a file.
    Sample(commands::sample::Args),
    /// Ablate each memory slot of a SpacingMDN (zero, mean): eff%, rollout Δ, labels.
    Slots(commands::slots::Args),
    /// The six memory diagnostics of a SpacingMDN checkpoint, each a number and a reading.
    Diagnose(commands::diagnose::Args),
    /// SVD compression of a trained checkpoint (energy, rank or parameter budget; optional whitening).
    Compress(commands::compress::Args),
    /// Singular-value statistics and the modular norm of a checkpoint (ours or a PyTorch state_dict).
    Spectrum(commands::spectrum::Args),
    /// The results page (RESULTS.md, tables, plots) from run directories and result files.
    Report(commands::report::Args),
    /// Loss curves (train and validation) of run directories in one chart, SVG and PNG.
    Plot(commands::plot::Args),
}

fn main() {
    // `spectral … | head`: a closed pipe ends the program quietly, as it ends other Unix
    // tools, instead of a panic in `print!` (Rust ignores SIGPIPE by default).
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(e) = spectral_io::clean_up_on_signals() {
        eprintln!("warning: no clean-up on Ctrl-C (partial outputs may stay): {e}");
    }
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Zeros(args) => commands::zeros::run(args),
        Command::ZetaZ(args) => commands::zeta_z::run(args),
        Command::Unfold(args) => commands::unfold::run(args),
        Command::Stats(args) => commands::stats::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Sample(args) => commands::sample::run(args),
        Command::Slots(args) => commands::slots::run(args),
        Command::Diagnose(args) => commands::diagnose::run(args),
        Command::Compress(args) => commands::compress::run(args),
        Command::Spectrum(args) => commands::spectrum::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Plot(args) => commands::plot::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {}", one_line(&error));
        std::process::exit(1);
    }
}

/// `error` and its causes joined by ": ", each cause left out when the text so far already says
/// it (an error type that prints its source inside its own message).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
    }
    line
}
