//! Where a command's words go, and its JSON: `--json FILE` writes the results there, and
//! `-` (for `--json` or `--out`) puts data on standard output, which moves the table and
//! summary lines to stderr so that the data stay clean.

use anyhow::Result;
use spectral_io::is_stdout;
use std::path::Path;

/// Prints a command's human-readable lines: to stdout, or to stderr when stdout carries data.
#[derive(Clone, Copy, Debug)]
pub struct Console {
    to_stdout: bool,
}

impl Console {
    /// The console of a command whose outputs are `outputs` (`-` is stdout).
    pub fn for_outputs(outputs: &[Option<&Path>]) -> Self {
        Self {
            to_stdout: !outputs.iter().flatten().any(|path| is_stdout(path)),
        }
    }

    /// Prints `text` as it is (a table ending in a newline).
    pub fn print(self, text: &str) {
        if self.to_stdout {
            print!("{text}");
        } else {
            eprint!("{text}");
        }
    }

    /// Prints `line` and a newline.
    pub fn line(self, line: &str) {
        self.print(&format!("{line}\n"));
    }

    /// `--json FILE`: writes `value` as pretty JSON to `path` atomically (or to stdout for
    /// `-`), when asked, and says where.
    pub fn write_json(self, path: Option<&Path>, value: &impl serde::Serialize) -> Result<()> {
        if let Some(path) = path {
            spectral_io::write_json(path, value)?;
            if !is_stdout(path) {
                self.line(&format!("wrote {}", path.display()));
            }
        }
        Ok(())
    }
}

/// Checks, before any work, that each output file's directory exists (`-`, stdout, needs
/// none): a typo in `--json DIR/FILE` would otherwise be found only when the results are
/// written, minutes later.
pub fn check_output_dirs(outputs: &[Option<&Path>]) -> Result<()> {
    for path in outputs.iter().flatten().filter(|path| !is_stdout(path)) {
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|dir| !dir.is_dir()) {
            anyhow::bail!(
                "{}: the directory {} does not exist (create it first)",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Refuses binary data for a terminal: `--out -` with an npy or f64 format needs a pipe or a
/// redirect.
pub fn check_binary_stdout(out: &Path, binary: bool) -> Result<()> {
    use std::io::IsTerminal;
    if binary && is_stdout(out) && std::io::stdout().is_terminal() {
        anyhow::bail!(
            "--out - would print binary data to the terminal: redirect it (`> FILE`, `| …`) or use --format txt"
        );
    }
    Ok(())
}
