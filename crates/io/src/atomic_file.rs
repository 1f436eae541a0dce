//! Writing a file so that it appears whole or not at all: data goes to a temporary file in
//! the destination's directory, which is renamed over the destination only on [`commit`];
//! dropped uncommitted (an error, a panic, Ctrl-C unwinding), it is removed.
//!
//! [`commit`]: AtomicFile::commit

use crate::IoError;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written beside its destination (`.NAME.partial-PID`), moved over it on
/// [`commit`](Self::commit).
pub struct AtomicFile {
    destination: PathBuf,
    temporary: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file beside `destination`. Fails if the directory does not
    /// exist or is not writable, or if `destination` is a directory.
    pub fn create(destination: impl AsRef<Path>) -> Result<Self, IoError> {
        let destination = destination.as_ref().to_path_buf();
        if destination.is_dir() {
            return Err(IoError::new(
                &destination,
                std::io::Error::other("is a directory"),
            ));
        }
        let name = destination
            .file_name()
            .ok_or_else(|| IoError::new(&destination, std::io::Error::other("not a file name")))?;
        let temporary = destination.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&temporary).map_err(|e| IoError::new(&destination, e))?;
        Ok(Self {
            destination,
            temporary,
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

    /// Flushes, syncs and renames the temporary file onto the destination.
    pub fn commit(mut self) -> Result<(), IoError> {
        let writer = self.writer.take().expect("commit once");
        let file = writer
            .into_inner()
            .map_err(|e| IoError::new(&self.destination, e.into_error()))?;
        file.sync_all()
            .map_err(|e| IoError::new(&self.destination, e))?;
        fs::rename(&self.temporary, &self.destination)
            .map_err(|e| IoError::new(&self.destination, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temporary);
        }
    }
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
}
