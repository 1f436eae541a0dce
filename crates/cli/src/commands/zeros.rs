//! `spectral zeros --start N --count K`: consecutive zeros of ζ, verified complete, into a file.

use anyhow::Result;
use spectral_experiments::zeros_file::write_zeros;
use spectral_zeta::series_file::Format;
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// `index value` per line, 17 significant digits
    Txt,
    /// NumPy float64 array
    Npy,
    /// raw little-endian f64 after a 32-byte header (see the README)
    F64,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Txt => Format::Txt,
            FormatArg::Npy => Format::Npy,
            FormatArg::F64 => Format::F64,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Index N of the first zero (γ_1 ≈ 14.1347 is the first).
    #[arg(long)]
    pub start: u64,
    /// Number of consecutive zeros.
    #[arg(long)]
    pub count: u64,
    #[arg(long, value_enum, default_value = "f64")]
    pub format: FormatArg,
    /// Output file [default: zeros-START-COUNT.EXT in the current directory].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let format = Format::from(args.format);
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "zeros-{}-{}.{}",
            args.start,
            args.count,
            format.extension()
        ))
    });
    let started = std::time::Instant::now();
    let verification = write_zeros(args.start, args.count, format, &out)?;
    let seconds = started.elapsed().as_secs_f64();
    println!("verified: {}", verification.summary());
    println!(
        "wrote γ_{}..γ_{} to {} in {seconds:.2} s ({:.0} zeros/s)",
        args.start,
        args.start + args.count - 1,
        out.display(),
        args.count as f64 / seconds
    );
    Ok(())
}
