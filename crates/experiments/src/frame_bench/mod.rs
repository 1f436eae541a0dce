//! Frame interpolation as an init benchmark (`spectral bench frames`, [`run`]): the notes'
//! FrameGenerator trained on a synthetic video once per (init, seed) ([`one_run`]), PSNR and
//! SSIM on held-out clips, mean ± std over seeds per init ([`FrameRow`]), beside the naive
//! baseline (the average of the two input frames).

pub mod one_run;

pub use one_run::{
    FrameBenchOptions, FrameData, FrameRun, FrameScores, naive_baseline, score, train_frames,
};

use crate::mean_std::{mean_std_pair, plus_minus};
use serde::{Deserialize, Serialize};
use spectral::init::Init;
use spectral_io::{IoError, write_json};
use spectral_train::TrainError;
use std::path::PathBuf;

/// The inits and seeds compared, and the setup every run shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Inits to compare, in table order.
    pub inits: Vec<Init>,
    /// Seeds (init and batch order) of every init.
    pub seeds: Vec<u64>,
    pub options: FrameBenchOptions,
    /// Where the [`Report`] is written as JSON; `None`: nowhere.
    pub json: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            inits: vec![Init::M23Seed, Init::M23Preserving, Init::He],
            seeds: vec![0, 1, 2],
            options: FrameBenchOptions::default(),
            json: None,
        }
    }
}

/// One init's row of the table: (mean, sample std) over its seeds ([`crate::mean_std`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameRow {
    pub init: String,
    /// Held-out PSNR after the last step, dB.
    pub psnr: (f64, f64),
    /// Held-out SSIM after the last step.
    pub ssim: (f64, f64),
    /// Training MSE of the last step.
    pub train_mse_last: (f64, f64),
    /// Mean wall seconds of a run.
    pub seconds: f64,
    pub seeds: usize,
}

/// Every run, the rows over seeds and the baseline (what `spectral bench frames --json`
/// writes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub config: Config,
    /// Held-out triplets every run is scored on.
    pub test_triplets: usize,
    /// The naive interpolation `(f0 + f2) / 2` on the held-out triplets.
    pub baseline: FrameScores,
    /// One per init, in the config's order.
    pub rows: Vec<FrameRow>,
    /// Every (init, seed) run, init-major.
    pub runs: Vec<FrameRun>,
}

impl Report {
    /// The report of `runs`: one row per init of `config`, over its runs.
    pub fn new(
        config: &Config,
        test_triplets: usize,
        baseline: FrameScores,
        runs: Vec<FrameRun>,
    ) -> Self {
        let rows = config
            .inits
            .iter()
            .map(|init| {
                let mine: Vec<&FrameRun> = runs.iter().filter(|r| r.init == init.name()).collect();
                let stat = |f: &dyn Fn(&FrameRun) -> f64| {
                    mean_std_pair(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
                };
                FrameRow {
                    init: init.name().into(),
                    psnr: stat(&|r| r.scores.psnr),
                    ssim: stat(&|r| r.scores.ssim),
                    train_mse_last: stat(&|r| r.train_mse.last().copied().unwrap_or(f64::NAN)),
                    seconds: stat(&|r| r.seconds).0,
                    seeds: mine.len(),
                }
            })
            .collect();
        Self {
            config: config.clone(),
            test_triplets,
            baseline,
            rows,
            runs,
        }
    }

    /// The table (Markdown): the baseline, then one row per init, and a line saying over
    /// what the means are.
    pub fn table(&self) -> String {
        let mut table = format!(
            "| init | PSNR (dB) | SSIM | train MSE, last step | s/run |\n|---|---|---|---|---|\n| naive (f0 + f2)/2 | {:.2} | {:.4} | — | — |\n",
            self.baseline.psnr, self.baseline.ssim
        );
        for row in &self.rows {
            table += &format!(
                "| {} | {} | {} | {} | {:.0} |\n",
                row.init,
                plus_minus(row.psnr, 2),
                plus_minus(row.ssim, 4),
                plus_minus(row.train_mse_last, 5),
                row.seconds
            );
        }
        format!(
            "{table}\nMean ± std over seeds {:?}; {} held-out triplets (clip seeds disjoint from training).",
            self.config.seeds, self.test_triplets
        )
    }
}

/// What can stop the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum FrameBenchError {
    #[error("bench frames: {0}")]
    Config(String),
    #[error("bench frames {init} seed {seed}")]
    Run {
        init: Init,
        seed: u64,
        source: TrainError,
    },
    #[error(transparent)]
    Output(#[from] IoError),
}

/// Generates the triplets, trains and scores every (init, seed) of `config` (a progress bar
/// and one line per run on stderr), and writes the report to `config.json`.
pub fn run(config: &Config) -> Result<Report, FrameBenchError> {
    let options = &config.options;
    if config.seeds.is_empty() {
        return Err(FrameBenchError::Config("no seeds".into()));
    }
    if options.frames_per_clip < 3 || options.video.size < 11 {
        return Err(FrameBenchError::Config(
            "frames per clip must be ≥ 3 and the frame size ≥ 11 (the SSIM window)".into(),
        ));
    }
    let data = FrameData::generate(options);
    let size = options.video.size;
    eprintln!(
        "bench frames: {} training and {} held-out triplets of {size}×{size}; FrameGenerator h = {} ({} parameters); {} steps of batch {}",
        data.train.len(),
        data.test.len(),
        options.hidden,
        spectral_models::FrameGeneratorConfig::new()
            .with_hidden(options.hidden)
            .num_params(),
        options.steps,
        options.batch
    );
    let baseline = naive_baseline(&data.test);
    let bar = spectral_io::progress::Progress::new(
        "bench frames",
        (config.inits.len() * config.seeds.len()) as u64 * options.steps,
        "steps",
    );
    let mut runs: Vec<FrameRun> = Vec::new();
    for &init in &config.inits {
        for &seed in &config.seeds {
            bar.set_message(format!("{init} seed {seed}"));
            let run = train_frames(options, &data, init, seed, |_, _| bar.inc(1))
                .map_err(|source| FrameBenchError::Run { init, seed, source })?;
            bar.suspend(|| {
                eprintln!(
                    "bench frames: {init} seed {seed}: PSNR {:.2} dB, SSIM {:.4} (at init {:.2} dB), last train MSE {:.5} ({:.0} s)",
                    run.scores.psnr,
                    run.scores.ssim,
                    run.scores_init.psnr,
                    run.train_mse.last().copied().unwrap_or(f64::NAN),
                    run.seconds
                )
            });
            runs.push(run);
        }
    }
    bar.finish();
    let report = Report::new(config, data.test.len(), baseline, runs);
    if let Some(path) = &config.json {
        write_json(path, &report)?;
        eprintln!("bench frames: wrote {}", path.display());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed benchmark (`docs/results/bench_frames/frames.json`: 3 inits × seeds 0, 1,
    /// 2 at the defaults): its rows are those [`Report::new`] makes of its runs, and the
    /// table is the one `docs/init.md` quotes.
    #[test]
    fn the_committed_rows_are_those_of_its_runs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/results/bench_frames/frames.json");
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let field = |name: &str| file[name].clone();
        let runs: Vec<FrameRun> = serde_json::from_value(field("runs")).unwrap();
        let baseline: FrameScores = serde_json::from_value(field("baseline")).unwrap();
        let rows: Vec<FrameRow> = serde_json::from_value(field("rows")).unwrap();
        // 8 held-out clips of 8 frames: 6 triplets each.
        let report = Report::new(&Config::default(), 48, baseline, runs);
        // serde_json reads a float to within an ulp (not round-trip exact); the std of values
        // near 15 that spread by 0.04 amplifies that to ~5e-14 relative.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert_eq!(report.rows.len(), rows.len());
        for (got, want) in report.rows.iter().zip(&rows) {
            assert_eq!((&got.init, got.seeds), (&want.init, want.seeds));
            for (a, b) in [
                (got.psnr, want.psnr),
                (got.ssim, want.ssim),
                (got.train_mse_last, want.train_mse_last),
                ((got.seconds, 0.0), (want.seconds, 0.0)),
            ] {
                assert!(close(a.0, b.0) && close(a.1, b.1), "{got:?} vs {want:?}");
            }
        }
        let table = report.table();
        assert!(
            table.contains("| he | 18.82 ± 1.30 | 0.6660 ± 0.0228 | 0.01331 ± 0.00660 | 63 |"),
            "{table}"
        );
    }
}
