//! `spectral bench init`: the init benchmark on a deep pre-norm char-GPT ([`run`]), and the
//! QR cost of M23-Spectrum ([`qr_cost`]).
//!
//! One run = (init, lr, seed) ([`one_run`]): build the GPT (burn's RNG seeded for the
//! embeddings), redraw every Linear weight with `spectral::init::apply_init`, measure the
//! input–output Jacobian's singular values ([`jacobian`]) and the weights' condition numbers,
//! train with AdamW (β = 0.9, 0.95, weight decay 0.1, warmup + cosine, global-norm clip 1.0,
//! identical for every init), evaluate on fixed validation windows, measure the condition
//! numbers again. Each run writes `OUT/runs/<init>_lr<lr>_s<seed>.json`, so runs can be split
//! over processes; the summary ([`summary`]) reads them all, picks each init's lr by the mean
//! final validation loss over seeds, and writes `OUT/summary.md` and `OUT/summary.json`
//! (mean ± std over seeds).

pub mod config;
pub mod jacobian;
pub mod one_run;
pub mod qr_cost;
pub mod summary;

pub use config::{Config, InitBenchError};
pub use one_run::RunRecord;
pub use summary::{Row, Summary, read_records, summary};

use one_run::OneRun;
use serde::{Deserialize, Serialize};
use spectral_io::{write_atomic, write_json};
use spectral_train::data::TextDataset;
use spectral_train::devices::{DeviceSet, on_devices};

/// The summary of every run record in `OUT/runs`: the table and what `OUT/summary.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// The table (Markdown), as written to `OUT/summary.md`.
    pub markdown: String,
    pub summary: Summary,
}

/// Runs every (init, lr, seed) of `config` whose record is not in `OUT/runs` yet (unless
/// `config.summarize`), one progress line per run on stderr, then summarizes all records.
pub fn run(config: &Config) -> Result<Report, InitBenchError> {
    let runs = config.out.join("runs");
    if !config.summarize {
        std::fs::create_dir_all(&runs).map_err(|source| InitBenchError::Io {
            what: "creating",
            path: runs.display().to_string(),
            source,
        })?;
        let data = TextDataset::embedded();
        for &init in &config.inits {
            for &lr in &config.lrs {
                for &seed in &config.seeds {
                    let path = runs.join(format!("{}_lr{lr:e}_s{seed}.json", init.name()));
                    if path.exists() {
                        eprintln!("bench init: {} exists, skipped", path.display());
                        continue;
                    }
                    let job = OneRun {
                        config,
                        data: &data,
                        init,
                        lr,
                        seed,
                    };
                    let record = on_devices(&DeviceSet::one(config.device)?, job)?;
                    eprintln!(
                        "bench init: {} lr {lr:e} seed {seed}: final val {:.4}, grad-norm cv {:.3}, cond {:.1} -> {:.1}, jacobian spread {:.3e} ({:.0} s)",
                        init.name(),
                        record.val_curve.last().map_or(f64::NAN, |v| v.1),
                        summary::cv(&record.grad_norms),
                        record.cond_init.0,
                        record.cond_final.0,
                        summary::spread(&record.jacobian_sv),
                        record.seconds
                    );
                    write_json(&path, &record)?;
                }
            }
        }
    }
    let records = read_records(&runs)?;
    let (markdown, rows) = summary(&records, config.target);
    let summary = Summary {
        args: config.clone(),
        rows,
    };
    write_atomic(config.out.join("summary.md"), markdown.as_bytes())?;
    write_json(config.out.join("summary.json"), &summary)?;
    Ok(Report { markdown, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectral::DeviceKind;
    use spectral::init::Init;
    use std::path::Path;

    pub(super) fn tiny(out: &Path) -> Config {
        Config {
            inits: vec![Init::M23Seed, Init::He],
            seeds: vec![0],
            lrs: vec![1e-3],
            layers: 2,
            width: 16,
            heads: 2,
            seq_len: 8,
            batch: 2,
            steps: 3,
            warmup: 1,
            eval_every: 2,
            eval_windows: 2,
            jacobian_len: 4,
            target: 10.0,
            out: out.to_path_buf(),
            summarize: false,
            device: DeviceKind::Cpu,
        }
    }

    /// `device = cuda` in a build without the feature fails before any run is written.
    #[test]
    fn a_cuda_device_needs_a_cuda_build() {
        if cfg!(feature = "cuda") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = tiny(dir.path());
        config.device = DeviceKind::Cuda(0);
        let error = run(&config).unwrap_err().to_string();
        assert!(error.contains("built without CUDA"), "{error}");
        let runs = std::fs::read_dir(dir.path().join("runs")).unwrap().count();
        assert_eq!(runs, 0);
    }

    #[test]
    fn tiny_benchmark_measures_what_it_claims() {
        let dir = tempfile::tempdir().unwrap();
        run(&tiny(dir.path())).unwrap();
        let text =
            std::fs::read_to_string(dir.path().join("runs/m23_seed_lr1e-3_s0.json")).unwrap();
        let m23: RunRecord = serde_json::from_str(&text).unwrap();
        // Every hidden matrix is M23 (r ≥ 4): its condition number, through f32 storage.
        assert!(
            (m23.cond_init.0 - spectral::init::M23_CONDITION).abs() < 1e-3,
            "{:?}",
            m23.cond_init
        );
        assert!((m23.cond_init.1 - spectral::init::M23_CONDITION).abs() < 1e-3);
        assert_eq!(m23.grad_norms.len(), 3);
        assert_eq!(
            m23.val_curve.iter().map(|v| v.0).collect::<Vec<_>>(),
            [0, 2, 3]
        );
        assert_eq!(m23.jacobian_sv.len(), 16); // [C, T·C] with C = 16
        assert!(m23.jacobian_sv.windows(2).all(|w| w[0] >= w[1]));
        let text = std::fs::read_to_string(dir.path().join("summary.json")).unwrap();
        let summary: Summary = serde_json::from_str(&text).unwrap();
        assert_eq!(summary.args, tiny(dir.path()));
        assert_eq!(summary.rows.len(), 2);
        // A target above the step-0 loss is reached at the first evaluation.
        assert_eq!(summary.rows[0].steps_to_target.0, 0.0);
        // One no run reaches is a dash in the table, not a mean of nothing.
        run(&Config {
            summarize: true,
            target: 0.0,
            ..tiny(dir.path())
        })
        .unwrap();
        let table = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        assert!(table.contains("| – (0/1) |"), "{table}");
        assert!(!table.contains("NaN"), "{table}");
    }
}
