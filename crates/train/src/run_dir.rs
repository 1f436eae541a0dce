//! One run directory, one process, one run: [`claim`] takes a run directory for a training
//! run before anything is written into it.
//!
//! - **A lock** `OUT/.lock` holding the owner's pid, created exclusively: a second process
//!   training into the same directory is refused, naming the pid that holds it. A lock left
//!   by a process that is gone (a kill) is taken over. It is removed when the claim drops.
//! - **No silent replacement**: a fresh run into a directory that already holds a run
//!   ([`RUN_FILES`]) is refused unless it resumes it ([`Start::Resume`]) or replaces it
//!   ([`Start::Overwrite`], which removes those files first).

use crate::error::TrainError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The files a training run writes into its directory; with them go the evaluations of its
/// checkpoints (`eval.json`, `slots.json`), which a replaced run would leave stale.
pub const RUN_FILES: [&str; 6] = [
    "config.toml",
    "metrics.jsonl",
    "last.safetensors",
    "best.safetensors",
    "eval.json",
    "slots.json",
];

/// How a run treats what its directory already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run: the directory must not hold one.
    Fresh,
    /// Continue the run the directory holds (from `last.safetensors`).
    Resume,
    /// A new run replacing the one the directory holds.
    Overwrite,
}

impl Start {
    pub fn resumes(self) -> bool {
        self == Start::Resume
    }
}

/// A run directory held by this process; the lock goes when it drops.
#[derive(Debug)]
pub struct RunDirClaim {
    lock: PathBuf,
}

impl Drop for RunDirClaim {
    fn drop(&mut self) {
        // Only our own lock: a process that took a stale one over keeps it.
        if read_pid(&self.lock) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.lock);
        }
    }
}

/// The run files `dir` holds, by name (empty when it holds no run).
pub fn run_files_in(dir: &Path) -> Vec<&'static str> {
    RUN_FILES
        .into_iter()
        .filter(|name| dir.join(name).exists())
        .collect()
}

/// Creates `out` if needed, takes its lock and applies `start` (module doc).
pub fn claim(out: &Path, start: Start) -> Result<RunDirClaim, TrainError> {
    std::fs::create_dir_all(out).map_err(|source| TrainError::Io {
        path: out.display().to_string(),
        source,
    })?;
    let claim = lock(out)?;
    let held = run_files_in(out);
    match start {
        Start::Fresh if !held.is_empty() => {
            return Err(TrainError::RunExists {
                dir: out.display().to_string(),
                files: held.join(", "),
            });
        }
        Start::Overwrite => {
            for name in held {
                let path = out.join(name);
                std::fs::remove_file(&path).map_err(|source| TrainError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
            }
        }
        _ => {}
    }
    Ok(claim)
}

fn lock(out: &Path) -> Result<RunDirClaim, TrainError> {
    let path = out.join(".lock");
    let io = |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    };
    // Two attempts: the second after removing a lock whose owner is gone.
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                writeln!(file, "{}", std::process::id()).map_err(io)?;
                return Ok(RunDirClaim { lock: path });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match read_pid(&path) {
                Some(pid) if spectral_io::atomic_file::process_alive(pid) => {
                    return Err(TrainError::RunDirBusy {
                        dir: out.display().to_string(),
                        pid,
                    });
                }
                // The owner is gone (or never wrote its pid and died): the lock is stale.
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            },
            Err(e) => return Err(io(e)),
        }
    }
    Err(TrainError::RunDirBusy {
        dir: out.display().to_string(),
        pid: read_pid(&path).unwrap_or(0),
    })
}

fn read_pid(lock: &Path) -> Option<u32> {
    std::fs::read_to_string(lock).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_while_the_first_holds() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let first = claim(&out, Start::Fresh).unwrap();
        let error = claim(&out, Start::Fresh).unwrap_err().to_string();
        assert!(
            error.contains(&format!("process {}", std::process::id())),
            "{error}"
        );
        drop(first);
        assert!(!out.join(".lock").exists());
        claim(&out, Start::Fresh).unwrap();
    }

    #[test]
    fn a_stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        std::fs::write(dir.path().join(".lock"), format!("{dead}\n")).unwrap();
        let held = claim(dir.path(), Start::Fresh).unwrap();
        assert_eq!(read_pid(&held.lock), Some(std::process::id()));
    }

    #[test]
    fn a_fresh_run_never_replaces_one_and_overwrite_removes_only_run_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.jsonl"), "{}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let error = claim(dir.path(), Start::Fresh).unwrap_err().to_string();
        assert!(
            error.contains("metrics.jsonl")
                && error.contains("--resume")
                && error.contains("--overwrite"),
            "{error}"
        );
        assert!(dir.path().join("metrics.jsonl").exists());
        drop(claim(dir.path(), Start::Resume).unwrap());
        assert!(dir.path().join("metrics.jsonl").exists());
        drop(claim(dir.path(), Start::Overwrite).unwrap());
        assert!(!dir.path().join("metrics.jsonl").exists());
        assert!(dir.path().join("notes.txt").exists());
    }
}
