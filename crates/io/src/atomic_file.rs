//! Writing a file so that it appears whole or not at all: data goes to a temporary file in
//! the destination's directory, which is renamed over the destination only on [`commit`].
//! Uncommitted, the temporary file is removed: when dropped (an error, a panic), when the
//! commit itself fails (a full disk), on SIGINT/SIGTERM once [`crate::clean_up_on_signals`] is
//! installed, and, after a kill that no handler sees (SIGKILL, power loss), by the next
//! [`AtomicFile::create`] of the same destination (a temporary whose process is gone).
//!
//! A destination that exists must be a regular file: a rename would replace a symlink, a
//! device node (`/dev/null`) or a FIFO with a regular file, so those are refused. The
//! destination `-` is standard output (`--out -`, `--json -`), written as it comes.
//!
//! [`commit`]: AtomicFile::commit

use crate::IoError;
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files of this process not yet committed or removed.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A file being written beside its destination (`.NAME.partial-PID`), moved over it on
/// [`commit`](Self::commit).
pub struct AtomicFile {
    destination: PathBuf,
    /// `None` for standard output.
    temporary: Option<PathBuf>,
    /// `None` once committed or once the commit failed.
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file beside `destination`. Fails if the directory does not
    /// exist or is not writable, or if `destination` exists and is not a regular file (a
    /// directory, a symlink, a device node, a FIFO).
    pub fn create(destination: impl AsRef<Path>) -> Result<Self, IoError> {
        let destination = destination.as_ref().to_path_buf();
        if is_stdout(&destination) {
            use std::os::fd::AsFd;
            let stdout = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| IoError::new(&destination, e))?;
            return Ok(Self {
                destination,
                temporary: None,
                writer: Some(BufWriter::with_capacity(1 << 20, File::from(stdout))),
            });
        }
        if let Ok(meta) = fs::symlink_metadata(&destination) {
            let kind = meta.file_type();
            if !kind.is_file() {
                let what = if kind.is_dir() {
                    "is a directory"
                } else if kind.is_symlink() {
                    "is a symlink; outputs replace files, not links: name the file it points to"
                } else {
                    "is not a regular file (a device, FIFO or socket); outputs go to regular files"
                };
                return Err(IoError::new(&destination, std::io::Error::other(what)));
            }
        }
        let name = destination
            .file_name()
            .ok_or_else(|| IoError::new(&destination, std::io::Error::other("not a file name")))?
            .to_string_lossy()
            .into_owned();
        remove_orphans(&destination, &name);
        let temporary =
            destination.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let file = File::create(&temporary).map_err(|e| IoError::new(&destination, e))?;
        live().insert(temporary.clone());
        Ok(Self {
            destination,
            temporary: Some(temporary),
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.destination
    }

    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Writes `bytes`, naming the destination in any error.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let destination = self.destination.clone();
        self.writer()
            .write_all(bytes)
            .map_err(|e| IoError::new(destination, e))
    }

    /// Flushes, syncs and renames the temporary file onto the destination. On failure the
    /// temporary file is removed and the destination is as it was.
    pub fn commit(mut self) -> Result<(), IoError> {
        let writer = self.writer.take().expect("commit once");
        let Some(temporary) = self.temporary.clone() else {
            return writer
                .into_inner()
                .map(drop)
                .map_err(|e| IoError::new(&self.destination, e.into_error()));
        };
        let result = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|file| file.sync_all())
            .and_then(|()| {
                crate::fault::point(|| {
                    let name = self.destination.file_name().unwrap_or_default();
                    format!("commit:{}", name.to_string_lossy())
                });
                fs::rename(&temporary, &self.destination)
            });
        if result.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        live().remove(&temporary);
        result.map_err(|e| IoError::new(&self.destination, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some()
            && let Some(temporary) = &self.temporary
        {
            let _ = fs::remove_file(temporary);
            live().remove(temporary);
        }
    }
}

/// Whether `path` is `-`, standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn live() -> std::sync::MutexGuard<'static, BTreeSet<PathBuf>> {
    // A panic while the set was held leaves it consistent (inserts and removes are whole).
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every temporary file this process has open (for a signal handler about to exit);
/// returns how many it removed. An [`AtomicFile`] still held is left without its file: its
/// commit fails.
pub fn remove_temporaries() -> usize {
    let mut live = live();
    let removed = live.iter().filter(|p| fs::remove_file(p).is_ok()).count();
    live.clear();
    removed
}

/// Removes the temporaries `.NAME.partial-PID` beside `destination` whose process is gone
/// (killed before it could clean up). Ones of live processes (a concurrent writer) stay.
fn remove_orphans(destination: &Path, name: &str) {
    let dir = match destination.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether a process `pid` exists (signal 0 probes without sending anything).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for the process's existence and permission.
    let status = unsafe { libc::kill(pid, 0) };
    status == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Bytes free for an unprivileged user on the file system holding `directory`.
pub fn available_space(directory: &Path) -> Option<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(directory.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stats` is a valid out-pointer.
    let status = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if status != 0 {
        return None;
    }
    // SAFETY: statvfs succeeded, so it initialized `stats`.
    let stats = unsafe { stats.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        drop(file);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn unwritable_destination_is_an_error() {
        assert!(AtomicFile::create("/nonexistent-dir/out.bin").is_err());
        assert!(available_space(Path::new("/")).unwrap() > 0);
    }

    /// A rename over a symlink or a device node would replace it with a regular file.
    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        fs::write(&target, "kept").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = AtomicFile::create(&link).err().unwrap().to_string();
        assert!(error.contains("is a symlink"), "{error}");
        let error = AtomicFile::create("/dev/null").err().unwrap().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A commit that fails (here the rename: the destination became a directory) leaves
    /// no temporary file behind.
    #[test]
    fn a_failed_commit_removes_the_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"data").unwrap();
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "x").unwrap();
        assert!(file.commit().is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    /// The temporary of a process that is gone is removed by the next writer of the same
    /// destination; one of a live process (this one's parent) is not.
    #[test]
    fn orphaned_temporaries_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let orphan = dir.path().join(format!(".out.bin.partial-{dead}"));
        fs::write(&orphan, "left by a kill -9").unwrap();
        let parent = std::os::unix::process::parent_id();
        let busy = dir.path().join(format!(".out.bin.partial-{parent}"));
        fs::write(&busy, "being written").unwrap();
        let other = dir.path().join(format!(".other.bin.partial-{dead}"));
        fs::write(&other, "another destination's").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert!(!orphan.exists());
        assert!(busy.exists() && other.exists());
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
