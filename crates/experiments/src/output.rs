//! Result files, written atomically (a temporary file in the same directory, then a rename:
//! a reader never sees half a file).

use serde::Serialize;
use std::path::Path;
use zeta::ZetaError;
use zeta::atomic_file::AtomicFile;

/// What can go wrong writing a result file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Write(#[from] ZetaError),
    #[error("{path}: cannot serialize")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

/// Writes `text` to `path`.
pub fn write_text(path: &Path, text: &str) -> Result<(), OutputError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(text.as_bytes())?;
    Ok(file.commit()?)
}

/// Writes `value` to `path` as pretty-printed JSON (no trailing newline).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| OutputError::Json {
        path: path.display().to_string(),
        source,
    })?;
    write_text(path, &text)
}
