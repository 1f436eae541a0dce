use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeta::atomic_file::AtomicFile;
use zeta::series_file::{SeriesKind, SeriesReader};
use zeta::stats::gaudin::gaudin_variance;
use zeta::stats::gue_sample::gue_blocks;
use zeta::stats::report::{HeightBlock, SampleStatistics, analyze, analyze_blocks, height_drift};

#[derive(clap::Args)]
pub struct Args {
    /// Spacings file written by `spectral unfold` (or `spectral run`).
    #[arg(long)]
    pub spacings: PathBuf,
    /// Directory for stats.json (created if missing).
    #[arg(long, default_value = "stats")]
    pub out: PathBuf,
    /// Seed of the GUE control sample.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Blocks of heights for the finite-height drift.
    #[arg(long, default_value_t = 10)]
    pub height_blocks: usize,
}

/// What `stats.json` holds (read back by `spectral report`).
#[derive(Serialize, Deserialize)]
pub struct Report {
    pub source: String,
    pub first_index: u64,
    pub zeros: SampleStatistics,
    /// GUE control: bulk spacings of random Hermitian matrices, as many as the zeros.
    pub gue_control: SampleStatistics,
    pub height_drift: Vec<HeightBlock>,
    pub seconds: f64,
}

/// Computes the report for a spacings file and writes `out/stats.json`.
pub fn write_report(
    spacings_path: &Path,
    out: &Path,
    seed: u64,
    height_blocks: usize,
) -> Result<Report> {
    let started = std::time::Instant::now();
    let reader = SeriesReader::open(spacings_path)?;
    let header = reader.header;
    if header.kind != SeriesKind::Spacings {
        bail!(
            "{}: holds zero ordinates, not spacings; run `spectral unfold` first",
            spacings_path.display()
        );
    }
    let spacings = reader.read_all()?;
    if spacings.len() < 1000 {
        bail!(
            "{}: {} spacings are too few for these statistics (need ≥ 1000)",
            spacings_path.display(),
            spacings.len()
        );
    }
    if let Some((i, bad)) = spacings
        .iter()
        .enumerate()
        .find(|(_, s)| !(s.is_finite() && **s > 0.0))
    {
        bail!(
            "{}: spacing {} is {bad}, not a positive number",
            spacings_path.display(),
            header.first_index + i as u64
        );
    }
    let (zeros, gue_control) = rayon::join(
        || analyze(&spacings),
        || analyze_blocks(&gue_blocks(spacings.len(), seed)),
    );
    let report = Report {
        source: spacings_path.display().to_string(),
        first_index: header.first_index,
        zeros,
        gue_control,
        height_drift: height_drift(&spacings, header.first_index, height_blocks),
        seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut file = AtomicFile::create(out.join("stats.json"))?;
    file.write_all(serde_json::to_string_pretty(&report)?.as_bytes())?;
    file.commit()?;
    Ok(report)
}

pub fn print_summary(report: &Report) {
    let (z, g) = (&report.zeros, &report.gue_control);
    let row = |label: &str, zeros: f64, control: f64, theory: Option<f64>| {
        let theory = theory.map_or(String::new(), |t| format!("{t:.5}"));
        println!("{label:<26} {zeros:>12.5} {control:>12.5} {theory:>12}");
    };
    println!(
        "{:<26} {:>12} {:>12} {:>12}",
        "", "zeros", "GUE control", "GUE theory"
    );
    println!(
        "{:<26} {:>12} {:>12} {:>12}",
        "spacings", z.count, g.count, ""
    );
    row("variance", z.variance, g.variance, Some(gaudin_variance()));
    row("KS to Gaudin", z.ks.gaudin, g.ks.gaudin, Some(0.0));
    row("KS to Wigner surmise", z.ks.wigner, g.ks.wigner, None);
    row("KS to Poisson", z.ks.poisson, g.ks.poisson, None);
    row("L1 to Gaudin", z.l1.gaudin, g.l1.gaudin, Some(0.0));
    for (name, zs, gs) in [
        ("Σ²", &z.number_variance, &g.number_variance),
        ("Δ₃", &z.rigidity, &g.rigidity),
    ] {
        for (p, q) in zs
            .iter()
            .zip(gs.iter())
            .filter(|(p, _)| [1.0, 5.0, 20.0].contains(&p.x))
        {
            row(
                &format!("{name}(L = {})", p.x),
                p.measured,
                q.measured,
                Some(p.gue),
            );
        }
    }
    row(
        "autocorrelation lag 1",
        z.autocorrelation[0],
        g.autocorrelation[0],
        None,
    );
    if let (Some(first), Some(last)) = (report.height_drift.first(), report.height_drift.last()) {
        println!(
            "height drift: variance {:.5} at t ≈ {:.0} → {:.5} at t ≈ {:.0} (GUE {:.5})",
            first.variance,
            first.height,
            last.variance,
            last.height,
            gaudin_variance()
        );
    }
}

pub fn run(args: Args) -> Result<()> {
    let report = write_report(&args.spacings, &args.out, args.seed, args.height_blocks)?;
    let figures = crate::figures::write_figures(&report, &args.out)?;
    print_summary(&report);
    println!(
        "wrote {} and {} figures (SVG + PNG) to {} in {:.2} s",
        args.out.join("stats.json").display(),
        figures.len() / 2,
        args.out.display(),
        report.seconds
    );
    Ok(())
}
