//! What the memory-bank section needs and a run may lack: a SpacingMDN run's `eval.json`,
//! computed here on the CPU exactly as `spectral eval --ckpt CKPT --json RUN/eval.json`
//! computes it, or named as that command.

use super::{EVAL_JSON, ReportError, Result, SLOTS_JSON};
use spectral::CpuBackend;
use spectral_train::eval::suite::evaluate;
use spectral_train::eval::{EvalSettings, load_spacing_mdn};
use spectral_train::runs::TrainRun;
use std::path::PathBuf;

/// The checkpoint a run is evaluated from: `best.safetensors` (lowest validation loss), else
/// `last.safetensors`; `None` when the run kept neither.
pub fn checkpoint(run: &TrainRun) -> Option<PathBuf> {
    ["best.safetensors", "last.safetensors"]
        .into_iter()
        .map(|name| run.dir.join(name))
        .find(|path| path.is_file())
}

/// The checkpoint named in commands for `run`: [`checkpoint`], or `RUN/best.safetensors`.
fn checkpoint_shown(run: &TrainRun) -> PathBuf {
    checkpoint(run).unwrap_or_else(|| run.dir.join("best.safetensors"))
}

/// The command that writes `run`'s `eval.json`.
pub fn eval_command(run: &TrainRun) -> String {
    format!(
        "spectral eval --ckpt {} --json {}",
        checkpoint_shown(run).display(),
        run.dir.join(EVAL_JSON).display()
    )
}

/// The command that writes `run`'s `slots.json`.
pub fn slots_command(run: &TrainRun) -> String {
    format!(
        "spectral slots --ckpt {} --json {}",
        checkpoint_shown(run).display(),
        run.dir.join(SLOTS_JSON).display()
    )
}

/// Evaluates `run`'s [`checkpoint`] with the run's own settings ([`EvalSettings::for_run`])
/// on the CPU, with the eval suite's progress on stderr, and writes `RUN/eval.json`.
pub fn write_eval(run: &TrainRun) -> Result<()> {
    let failed = |source| ReportError::Eval {
        run: run.dir.display().to_string(),
        source,
    };
    let ckpt = checkpoint(run).ok_or_else(|| ReportError::NoCheckpoint {
        run: run.dir.display().to_string(),
        command: eval_command(run),
    })?;
    let device = Default::default();
    let loaded = load_spacing_mdn::<CpuBackend>(&ckpt, &device).map_err(failed)?;
    let data = loaded.dataset(None).map_err(failed)?;
    let mut settings = EvalSettings::for_run(&loaded.config);
    for note in settings.fit(data.split()).map_err(failed)? {
        eprintln!("note: {note}");
    }
    let report = evaluate(&loaded.model, &data, &settings, &device).map_err(failed)?;
    spectral_io::write_json(run.dir.join(EVAL_JSON), &report)?;
    Ok(())
}
