//! `spectral report` ([`run`]): the results page (`RESULTS.md`, tables and SVG/PNG plots) assembled
//! from what the other commands leave on disk under one directory.
//!
//! | found under DIR | section | module |
//! |---|---|---|
//! | run directories of `spectral train` (`config.toml` + `metrics.jsonl`) but the memory bank's | Optimizer shoot-out, one subsection per study ([`crate::shootout::studies`]) | [`shootout`] |
//! | records of `spectral bench init` (`<init>_lr<lr>_s<seed>.json`) | Init | [`init_bench`] |
//! | SpacingMDN run directories with `eval.json` (`spectral eval --json`), or with a checkpoint and outside an optimizer grid (the main job's arms), and optionally `slots.json` (`spectral slots --json`) | Memory bank | [`memory`] |
//! | `sweep.json` of `bench/compress_sweep.py` | Compression | [`compress`] |
//! | `stats.json` of `spectral stats` | Zeta statistics | [`zeta`] |
//!
//! A section appears only when its files are there; nothing found is an error. A memory-bank
//! run without `eval.json` is evaluated on the CPU first ([`evaluate`]), unless
//! [`Config::evaluate`] is off: then the error names the commands that would.

pub mod compress;
pub mod evaluate;
pub mod init_bench;
pub mod memory;
pub mod shootout;
pub mod zeta;

pub use crate::shootout::Targets;
use serde::{Deserialize, Serialize};
use spectral::plot::PlotError;
use spectral_io::{IoError, write_atomic};
use spectral_train::runs::{RunsError, TrainRun, run_dirs};
use std::path::{Path, PathBuf};

/// File names the report gives a meaning to.
pub const EVAL_JSON: &str = "eval.json";
pub const SLOTS_JSON: &str = "slots.json";
pub const STATS_JSON: &str = "stats.json";
pub const SWEEP_JSON: &str = "sweep.json";

/// Which directory, where the page goes, the shoot-out's targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory searched (recursively) for run directories and result files.
    pub runs: PathBuf,
    /// Where `RESULTS.md` and its figures go.
    pub out: PathBuf,
    #[serde(default)]
    pub targets: Targets,
    /// Evaluate memory-bank runs that lack `eval.json` (else: an error naming the commands).
    #[serde(default = "evaluate_by_default")]
    pub evaluate: bool,
}

fn evaluate_by_default() -> bool {
    true
}

/// What can stop the report; each names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0} is not a directory")]
    NotADirectory(String),
    #[error(
        "nothing to report under {0}: no run directories (config.toml + metrics.jsonl), bench-init records, {SWEEP_JSON} or {STATS_JSON}"
    )]
    Nothing(String),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: unexpected contents")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{0}: no rows")]
    EmptySweep(String),
    #[error("evaluating {run}")]
    Eval {
        run: String,
        source: spectral_train::eval::EvalError,
    },
    #[error(
        "{run} has no checkpoint (best.safetensors or last.safetensors) to evaluate; `{command}` needs one"
    )]
    NoCheckpoint { run: String, command: String },
    #[error(
        "the memory-bank section needs eval.json of {} run(s); write it with:\n{}\n(or leave out --no-evaluate and the report runs these on the CPU)",
        .0.len(),
        .0.join("\n")
    )]
    Unevaluated(Vec<String>),
    #[error(transparent)]
    Runs(#[from] RunsError),
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error(transparent)]
    Output(#[from] IoError),
}

/// The report's results.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// `f(source)` as a [`ReportError::Io`] of `what` on `path`.
fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ReportError {
    let path = path.display().to_string();
    move |source| ReportError::Io { what, path, source }
}

/// One section of the page: its Markdown (starting with a `## ` heading).
pub struct Section {
    pub title: &'static str,
    pub markdown: String,
}

/// What was written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Written {
    pub page: PathBuf,
    /// The sections' titles, in the page's order.
    pub sections: Vec<String>,
    pub figures: usize,
}

/// `path` relative to `root` for display (the path itself when it is not under `root`).
pub fn relative(path: &Path, root: &Path) -> String {
    let shown = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    if shown.is_empty() { ".".into() } else { shown }
}

/// Every file named `name` under `root`, sorted; hidden directories skipped.
pub fn files_named(root: &Path, name: &str) -> Result<Vec<PathBuf>> {
    Ok(all_files(root)?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name))
        .collect())
}

/// Every file under `root`, sorted; hidden directories skipped.
pub fn all_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io("reading", &dir))? {
            let entry = entry.map_err(io("reading", &dir))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads `path` as JSON of type `T`, naming the file on failure.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io("reading", path))?;
    serde_json::from_str(&text).map_err(|source| ReportError::Json {
        path: path.display().to_string(),
        source,
    })
}

/// The directories of the memory-bank section's runs: SpacingMDN runs that were evaluated
/// (`eval.json`), and those with a checkpoint in a study that is no optimizer grid (one
/// method and lr: the main job's arms, memory variants), which [`run`] evaluates.
fn memory_bank_runs(runs: &[TrainRun]) -> Vec<PathBuf> {
    crate::shootout::studies(runs)
        .iter()
        .filter(|study| study.kind == "spacing_mdn")
        .flat_map(|study| {
            let grid = study.is_grid();
            study.runs.iter().filter(move |r| {
                r.dir.join(EVAL_JSON).is_file() || (!grid && evaluate::checkpoint(r).is_some())
            })
        })
        .map(|r| r.dir.clone())
        .collect()
}

/// Builds every section from `config.runs` and writes `OUT/RESULTS.md` with its figures
/// beside it.
pub fn run(config: &Config) -> Result<Written> {
    let (runs, out, targets) = (config.runs.as_path(), config.out.as_path(), config.targets);
    if !runs.is_dir() {
        return Err(ReportError::NotADirectory(runs.display().to_string()));
    }
    std::fs::create_dir_all(out).map_err(io("creating", out))?;
    let mut train_runs = Vec::new();
    for dir in run_dirs(runs)? {
        train_runs.push(TrainRun::open(&dir)?);
    }
    let memory_dirs = memory_bank_runs(&train_runs);
    let missing: Vec<&TrainRun> = train_runs
        .iter()
        .filter(|r| memory_dirs.contains(&r.dir) && !r.dir.join(EVAL_JSON).is_file())
        .collect();
    if !missing.is_empty() && !config.evaluate {
        return Err(ReportError::Unevaluated(
            missing.iter().map(|r| evaluate::eval_command(r)).collect(),
        ));
    }
    for (i, run) in missing.iter().enumerate() {
        eprintln!(
            "report: evaluating {} on the CPU ({} of {}; `{}` does the same)",
            run.dir.display(),
            i + 1,
            missing.len(),
            evaluate::eval_command(run)
        );
        evaluate::write_eval(run)?;
    }
    let (memory_runs, shootout_runs): (Vec<TrainRun>, Vec<TrainRun>) = train_runs
        .into_iter()
        .partition(|r| memory_dirs.contains(&r.dir));
    let mut sections = Vec::new();
    let mut figures = 0;
    if !shootout_runs.is_empty() {
        let (section, n) = shootout::section(&shootout_runs, runs, out, targets)?;
        sections.push(section);
        figures += n;
    }
    if let Some(section) = init_bench::section(runs)? {
        sections.push(section);
    }
    if !memory_runs.is_empty() {
        sections.push(memory::section(&memory_runs, runs)?);
    }
    for path in files_named(runs, SWEEP_JSON)? {
        let (section, n) = compress::section(&path, runs, out)?;
        sections.push(section);
        figures += n;
    }
    for (i, path) in files_named(runs, STATS_JSON)?.iter().enumerate() {
        let figure_dir = if i == 0 {
            "zeta".to_string()
        } else {
            format!("zeta_{i}")
        };
        let (section, n) = zeta::section(path, runs, out, &figure_dir)?;
        sections.push(section);
        figures += n;
    }
    if sections.is_empty() {
        return Err(ReportError::Nothing(runs.display().to_string()));
    }
    let mut page = format!(
        "# Results\n\nAssembled by `spectral report --runs {}` from the files under that directory; each section names its sources.\n\n",
        runs.display()
    );
    for section in &sections {
        page += &section.markdown;
        page += "\n";
    }
    let path = out.join("RESULTS.md");
    write_atomic(&path, page.as_bytes())?;
    Ok(Written {
        page: path,
        sections: sections.iter().map(|s| s.title.to_string()).collect(),
        figures,
    })
}
