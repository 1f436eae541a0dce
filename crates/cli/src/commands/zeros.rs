//! `spectral zeros --start N --count K` (or `--from-t T --count K`): consecutive zeros of ζ,
//! verified complete, into a file.

use crate::output::{Console, check_binary_stdout};
use anyhow::Result;
use spectral::DeviceKind;
use spectral_experiments::zeros_file::write_zeros;
use spectral_zeta::at_height::{first_zero_above, parse_height};
use spectral_zeta::batch::{Cpu, Evaluator};
use spectral_zeta::series_file::Format;
use std::path::PathBuf;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// `index value` per line, 17 significant digits and at least 12 decimals
    Txt,
    /// NumPy float64 array (γ rounded to f64: half an ulp, 3e-5 at index 10¹²)
    Npy,
    /// little-endian f64 deltas from a base, after a 40-byte header (see docs/zeta.md)
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
    #[arg(long, required_unless_present = "from_t", conflicts_with = "from_t")]
    pub start: Option<u64>,
    /// Start at the first zero above this height instead: a decimal, read in double-double
    /// (`267653395648.5`), up to 7.05e12.
    #[arg(long = "from-t", value_name = "T", allow_hyphen_values = true)]
    pub from_t: Option<String>,
    /// Number of consecutive zeros.
    #[arg(long)]
    pub count: u64,
    #[arg(long, value_enum, default_value = "f64")]
    pub format: FormatArg,
    /// Output file [default: zeros-START-COUNT.EXT in the current directory]; `-` writes to
    /// stdout (txt, or npy/f64 into a pipe) and the summary to stderr.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where Z is evaluated: `cpu` (every core) or `cuda[:N]` (the main sums on that GPU, the
    /// rest on the cores; a build with the `cuda` feature). The zeros agree to ~1e-12.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
}

/// The evaluator of `device`, checked and opened before any work.
fn evaluator(device: DeviceKind) -> Result<Box<dyn Evaluator>> {
    Ok(match device.check_built()? {
        DeviceKind::Cpu => Box::new(Cpu::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda(ordinal) => {
            let gpu = spectral_zeta::gpu::Cuda::open(ordinal)?;
            eprintln!("Z on {}", gpu.name());
            Box::new(gpu)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda(_) => unreachable!("check_built refuses CUDA in a build without it"),
    })
}

pub fn run(args: Args) -> Result<()> {
    let format = Format::from(args.format);
    let start = match (&args.from_t, args.start) {
        (Some(t), _) => first_zero_above(parse_height(t)?)?,
        (None, Some(start)) => start,
        (None, None) => unreachable!("clap requires --start or --from-t"),
    };
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(format!(
            "zeros-{start}-{}.{}",
            args.count,
            format.extension()
        ))
    });
    check_binary_stdout(&out, format != Format::Txt)?;
    let console = Console::for_outputs(&[Some(&out)]);
    let mut evaluator = evaluator(args.device)?;
    let started = std::time::Instant::now();
    let verification = write_zeros(start, args.count, format, &out, evaluator.as_mut())?;
    let seconds = started.elapsed().as_secs_f64();
    console.line(&format!("verified: {}", verification.summary()));
    console.line(&format!(
        "evaluations of Z: {} refining zeros, {} one at a time outside the batches",
        verification.refine_evaluations, verification.evaluated_alone
    ));
    console.line(&format!(
        "wrote γ_{}..γ_{} to {} in {seconds:.2} s ({:.0} zeros/s)",
        start,
        start + args.count - 1,
        out.display(),
        args.count as f64 / seconds
    ));
    Ok(())
}
