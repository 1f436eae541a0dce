use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Zeros file written by `spectral zeros --format f64`.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Spacings file to write (same f64 format, kind = spacings).
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let summary = spectral_zeta::unfold::unfold_file(&args.input, &args.out)?;
    if args.json {
        println!("{}", summary.to_json());
    } else {
        println!(
            "{} spacings: mean {:.6}, variance {:.6}, min {:.6}, max {:.6} → {}",
            summary.count,
            summary.mean,
            summary.variance,
            summary.min,
            summary.max,
            args.out.display()
        );
    }
    Ok(())
}
