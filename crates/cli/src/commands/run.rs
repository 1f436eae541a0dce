use crate::commands::zeros::write_zeros;
use anyhow::{Context, Result};
use std::path::PathBuf;
use zeta::atomic_file::AtomicFile;
use zeta::series_file::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the outputs (created if missing).
    #[arg(long, default_value = "runs/default")]
    pub out: PathBuf,
    /// Zeros to compute, from γ_1 (the statistics need at least 1001).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1001..))]
    pub count: u64,
}

/// The main job. Today: zeros → unfolded spacings → summary → GUE statistics report with
/// figures; the training issue adds the SpacingMDN run on these spacings.
pub fn run(args: Args) -> Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let zeros_path = args.out.join("zeros.f64");
    let spacings_path = args.out.join("spacings.f64");
    let started = std::time::Instant::now();
    let verification = write_zeros(1, args.count, Format::F64, &zeros_path)?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = zeta::unfold::unfold_file(&zeros_path, &spacings_path)?;
    let json = serde_json::json!({
        "zeros": args.count,
        "seconds": seconds,
        "verified": verification.summary(),
        "spacings": {
            "count": summary.count,
            "mean": summary.mean,
            "variance": summary.variance,
            "min": summary.min,
            "max": summary.max,
        },
    });
    let json = format!("{}\n", serde_json::to_string_pretty(&json)?);
    let summary_path = args.out.join("summary.json");
    let mut file = AtomicFile::create(&summary_path)?;
    file.write_all(json.as_bytes())?;
    file.commit()?;
    println!("verified: {}", verification.summary());
    println!(
        "{} zeros in {seconds:.2} s; {} unfolded spacings: mean {:.6}, variance {:.6} (GUE: 1, 0.180)",
        args.count, summary.count, summary.mean, summary.variance
    );
    let stats_dir = args.out.join("stats");
    let report = crate::commands::stats::write_report(&spacings_path, &stats_dir, 1, 10)?;
    let figures = crate::figures::write_figures(&report, &stats_dir)?;
    crate::commands::stats::print_summary(&report);
    println!(
        "wrote {}, {}, {} and the GUE statistics report ({}/stats.json, {} figures)",
        zeros_path.display(),
        spacings_path.display(),
        summary_path.display(),
        stats_dir.display(),
        figures.len() / 2
    );
    Ok(())
}
