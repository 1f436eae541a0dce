//! Output that appears whole or not at all, and progress on stderr, for every crate of the
//! workspace.
//!
//! - [`AtomicFile`]: bytes go to a temporary file beside the destination, renamed over it on
//!   [`commit`](AtomicFile::commit); an uncommitted file is removed when dropped.
//! - [`write_atomic`], [`write_json`], [`read_json`]: whole files in one call.
//! - [`clean_up_on_signals`]: SIGINT and SIGTERM remove the temporary files, then exit.
//! - [`fault`]: the kill points of the fault tests.
//! - [`progress`]: a bar on a terminal, a plain line every ten seconds otherwise.
//!
//! Every error names the file it concerns ([`IoError`]).
//!
//! ```
//! # fn main() -> Result<(), spectral_io::IoError> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("report.json");
//! spectral_io::write_json(&path, &serde_json::json!({"zeros": 10, "verified": true}))?;
//! let back: serde_json::Value = spectral_io::read_json(&path)?;
//! assert_eq!(back["zeros"], 10);
//! assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
//! # Ok(())
//! # }
//! ```

pub mod atomic_file;
pub mod fault;
pub mod progress;

pub use atomic_file::{AtomicFile, available_space, is_stdout};

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// An I/O failure on `path`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct IoError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl IoError {
    pub fn new(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            path: path.into(),
            source,
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), IoError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Writes `value` to `path` atomically as pretty-printed JSON with a final newline.
pub fn write_json(path: impl AsRef<Path>, value: &impl Serialize) -> Result<(), IoError> {
    let path = path.as_ref();
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| IoError::new(path, std::io::Error::other(e)))?;
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Reads a JSON file into `T`; a parse error names the file, line and column.
pub fn read_json<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<T, IoError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, e))?;
    serde_json::from_str(&text).map_err(|e| IoError::new(path, std::io::Error::other(e)))
}

/// From now on SIGINT (Ctrl-C) and SIGTERM remove every temporary file of the process
/// ([`atomic_file::remove_temporaries`]), say so on stderr and exit with 128 + the signal's
/// number, as the shell reports a process killed by it. Outputs already committed stay;
/// a partial one never appears. Call once, at the start of `main`.
pub fn clean_up_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let removed = atomic_file::remove_temporaries();
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                eprintln!("interrupted ({name}); removed {removed} unfinished output file(s)");
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}
