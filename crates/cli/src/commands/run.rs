use crate::commands::zeros::write_zeros;
use anyhow::{Context, Result};
use models::SpacingMdn;
use spectral::CpuBackend;
use spectral::plot::{Chart, Mark, Series, write_chart};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use train::data::SpacingDataset;
use train::metrics::MetricsLog;
use train::spacing_eval::{SpacingMetrics, rollout_samples, spacing_metrics};
use train::{ModelConfig, TrainConfig};
use zeta::atomic_file::AtomicFile;
use zeta::series_file::Format;

/// The SpacingMDN both arms of the main job train (with and without its memory bank).
const QUICK_MDN: &str = include_str!("../../../../configs/quick_mdn.toml");

#[derive(clap::Args)]
pub struct Args {
    /// Directory for the outputs (created if missing); default `out/run-<UTC time>`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Zeros to compute, from γ_1 (the statistics need at least 1001).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1001..))]
    pub count: u64,
    /// Training steps of each SpacingMDN (with memory, and the no-memory baseline).
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,
}

/// Model arms of the main job: (name, with memory bank).
const ARMS: [(&str, bool); 2] = [("memory", true), ("baseline", false)];

/// Rollouts: how many, seeded with how many true spacings, for how many steps.
const ROLLOUTS: usize = 64;
const ROLLOUT_HORIZON: usize = 100;

/// The main job: zeros → unfolded spacings → GUE statistics → a SpacingMDN with memory and a
/// no-memory baseline trained the same way → validation NLL and MAE, rollouts → report.md.
pub fn run(args: Args) -> Result<()> {
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("out/run-{}", utc_timestamp())));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let zeros_path = out.join("zeros.f64");
    let spacings_path = out.join("spacings.f64");
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
    write_atomic(
        &out.join("summary.json"),
        &format!("{}\n", serde_json::to_string_pretty(&json)?),
    )?;
    println!("verified: {}", verification.summary());
    println!(
        "{} zeros in {seconds:.2} s; {} unfolded spacings: mean {:.6}, variance {:.6} (GUE: 1, 0.180)",
        args.count, summary.count, summary.mean, summary.variance
    );
    let stats_dir = out.join("stats");
    let report = crate::commands::stats::write_report(&spacings_path, &stats_dir, 1, 10)?;
    crate::figures::write_figures(&report, &stats_dir)?;
    crate::commands::stats::print_summary(&report);

    let mut arms = Vec::new();
    for (name, memory) in ARMS {
        let config = arm_config(name, memory, &spacings_path, &out, args.steps)?;
        println!("training the SpacingMDN {name} ({} steps) ...", args.steps);
        let trained = train::train_on_device(&config, false)?;
        let evaluated = evaluate(&config)?;
        arms.push((name, trained, evaluated));
    }
    let figures = write_run_figures(&out, &arms)?;
    let report_path = out.join("report.md");
    write_atomic(&report_path, &report_markdown(args.count, &arms, &figures))?;
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8}",
        "model", "val NLL", "val MAE", "params", "train s"
    );
    for (name, trained, evaluated) in &arms {
        println!(
            "{name:<10} {:>10.4} {:>10.4} {:>10} {:>8.1}",
            evaluated.metrics.nll, evaluated.metrics.mae, trained.params, trained.seconds
        );
    }
    println!(
        "wrote {} (zeros, spacings, stats/, memory/, baseline/, figures) in {:.0} s",
        report_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn arm_config(
    name: &str,
    memory: bool,
    spacings: &Path,
    out: &Path,
    steps: u64,
) -> Result<TrainConfig> {
    let mut config = TrainConfig::from_toml(QUICK_MDN, "configs/quick_mdn.toml")?;
    config.data.spacings = Some(spacings.to_path_buf());
    config.out = out.join(name);
    config.steps = steps;
    config.schedule.total_steps = steps;
    config.schedule.warmup_steps = config.schedule.warmup_steps.min(steps / 10);
    config.eval_interval = config.eval_interval.min(steps);
    config.checkpoint_interval = config.checkpoint_interval.min(steps);
    if let ModelConfig::SpacingMdn(model) = &mut config.model
        && !memory
    {
        model.memory = None;
    }
    Ok(config)
}

struct Evaluated {
    metrics: SpacingMetrics,
    rollouts: Vec<f64>,
    /// (step, train loss) and (step, val loss) from metrics.jsonl.
    train_curve: Vec<(f64, f64)>,
    val_curve: Vec<(f64, f64)>,
    /// True validation spacings (for the histogram).
    truth: Vec<f64>,
}

/// Loads the run's final checkpoint on the CPU and measures it.
fn evaluate(config: &TrainConfig) -> Result<Evaluated> {
    let device = Default::default();
    let ModelConfig::SpacingMdn(model_config) = &config.model else {
        unreachable!("the main job trains SpacingMDNs")
    };
    let (dict, _) = train::checkpoint::load(&config.out.join("last.safetensors"))?;
    let model: SpacingMdn<CpuBackend> = model_config.init(&device)?;
    let model = train::checkpoint::load_module_state(model, &dict).map_err(anyhow::Error::msg)?;
    let data = SpacingDataset::open(
        config.data.spacings.as_ref().expect("set"),
        config.data.val_fraction,
    )?;
    let metrics = spacing_metrics(
        &model,
        &data,
        config.batch_size,
        config.seq_len,
        256,
        &device,
    )?;
    let rollouts = rollout_samples(
        &model,
        &data,
        ROLLOUTS,
        config.seq_len,
        ROLLOUT_HORIZON,
        config.seed,
        &device,
    )?;
    let records = MetricsLog::read(&config.out.join("metrics.jsonl"))?;
    let truth = data.values()[data.split().val()]
        .iter()
        .map(|&v| v as f64)
        .collect();
    Ok(Evaluated {
        metrics,
        rollouts,
        train_curve: records
            .iter()
            .map(|r| (r.step as f64, r.train_loss))
            .collect(),
        val_curve: records
            .iter()
            .filter_map(|r| r.val_loss.map(|v| (r.step as f64, v)))
            .collect(),
        truth,
    })
}

/// Normalized histogram of `values` on `[0, 4)` in bins of 0.1: `(bin centre, density)`.
fn density_histogram(values: &[f64]) -> Vec<(f64, f64)> {
    const WIDTH: f64 = 0.1;
    let mut counts = [0usize; 40];
    for &v in values {
        if (0.0..4.0).contains(&v) {
            counts[(v / WIDTH) as usize] += 1;
        }
    }
    let total = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| ((i as f64 + 0.5) * WIDTH, c as f64 / (total * WIDTH)))
        .collect()
}

fn write_run_figures(
    out: &Path,
    arms: &[(&str, train::TrainSummary, Evaluated)],
) -> Result<Vec<String>> {
    let mut loss = Chart {
        title: "SpacingMDN training: NLL per spacing".into(),
        x_label: "step".into(),
        y_label: "loss (nats)".into(),
        series: Vec::new(),
    };
    for (name, _, evaluated) in arms {
        loss.series.push(Series::new(
            format!("{name} train"),
            evaluated.train_curve.clone(),
            Mark::Line,
        ));
        loss.series.push(Series::new(
            format!("{name} val"),
            evaluated.val_curve.clone(),
            Mark::Dots,
        ));
    }
    let mut spacings = Chart {
        title: "Next-spacing distribution: model rollouts vs the zeros vs GUE".into(),
        x_label: "spacing s (mean 1)".into(),
        y_label: "density".into(),
        series: vec![Series::new(
            "true validation spacings",
            density_histogram(&arms[0].2.truth),
            Mark::Bars(0.1),
        )],
    };
    for (name, _, evaluated) in arms {
        spacings.series.push(Series::new(
            format!("{name} rollouts ({}×{})", ROLLOUTS, ROLLOUT_HORIZON),
            density_histogram(&evaluated.rollouts),
            Mark::Dots,
        ));
    }
    let gue: Vec<(f64, f64)> = (0..=160)
        .map(|i| {
            let s = i as f64 * 0.025;
            (s, zeta::stats::gaudin::gaudin_density(s))
        })
        .collect();
    spacings
        .series
        .push(Series::new("GUE (Gaudin)", gue, Mark::Line));
    write_chart(&out.join("loss_curves"), &loss)?;
    write_chart(&out.join("rollouts"), &spacings)?;
    Ok(vec!["loss_curves.png".into(), "rollouts.png".into()])
}

fn report_markdown(
    count: u64,
    arms: &[(&str, train::TrainSummary, Evaluated)],
    figures: &[String],
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# spectral run\n");
    let _ = writeln!(
        md,
        "The first {count} zeros of ζ, verified complete, unfolded to spacings (`spacings.f64`); \
         their GUE statistics are in `stats/`. Two SpacingMDNs (`configs/quick_mdn.toml`) were \
         trained on the first 90 % of the spacings and evaluated on the last 10 %.\n"
    );
    let _ = writeln!(
        md,
        "| model | val NLL (nats) | val MAE | parameters | steps | train time (s) | rollout mean | rollout variance |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (name, trained, evaluated) in arms {
        let n = evaluated.rollouts.len() as f64;
        let mean = evaluated.rollouts.iter().sum::<f64>() / n;
        let var = evaluated
            .rollouts
            .iter()
            .map(|v| (v - mean).powi(2))
            .sum::<f64>()
            / n;
        let _ = writeln!(
            md,
            "| {name} | {:.4} | {:.4} | {} | {} | {:.1} | {mean:.3} | {var:.3} |",
            evaluated.metrics.nll,
            evaluated.metrics.mae,
            trained.params,
            trained.steps,
            trained.seconds
        );
    }
    let truth = &arms[0].2.truth;
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let var = truth.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let _ = writeln!(
        md,
        "\nTrue validation spacings: mean {mean:.3}, variance {var:.3} (GUE: 1, 0.180).\n"
    );
    for figure in figures {
        let _ = writeln!(md, "![{figure}]({figure})\n");
    }
    md
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(text.as_bytes())?;
    file.commit()?;
    Ok(())
}

/// `YYYYMMDD-HHMMSS` in UTC (civil date from days since 1970, Hinnant's algorithm).
fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
