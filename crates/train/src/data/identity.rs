//! Which data file a run read: its absolute path and the sha256 of its bytes, written into the
//! run's config (and so into every checkpoint) when training starts, checked when an
//! evaluation opens the file again.

use super::DataError;
use crate::config::DataConfig;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The sha256 of the bytes of `path`, as 64 lowercase hex digits.
pub fn sha256_hex(path: &Path) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Errors unless `path` holds the bytes whose sha256 is `expected` (nothing is checked
/// without one).
pub fn check(path: &Path, expected: Option<&str>) -> Result<(), DataError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let found = sha256_hex(path)?;
    if found != expected.to_ascii_lowercase() {
        return Err(DataError::Changed {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(())
}

/// The run's data file (`spacings`, else `text`; none for the embedded text) made absolute and
/// its sha256 recorded, so that the run can be evaluated from any directory and a changed file
/// is noticed; a sha256 the config already states must match.
pub fn pin(data: &mut DataConfig) -> Result<(), DataError> {
    let file = match (&mut data.spacings, &mut data.text) {
        (Some(path), _) | (None, Some(path)) => path,
        (None, None) => return Ok(()),
    };
    *file = absolute(file)?;
    match &data.sha256 {
        Some(expected) => check(file, Some(expected))?,
        None => data.sha256 = Some(sha256_hex(file)?),
    }
    Ok(())
}

fn absolute(path: &Path) -> Result<PathBuf, DataError> {
    path.canonicalize().map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_hex(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Longer than one read buffer: the digest covers every chunk.
        let long = dir.path().join("long");
        std::fs::write(&long, vec![b'a'; (1 << 20) + 3]).unwrap();
        std::fs::write(&path, vec![b'a'; (1 << 20) + 2]).unwrap();
        assert_ne!(sha256_hex(&long).unwrap(), sha256_hex(&path).unwrap());
    }

    #[test]
    fn pin_makes_the_path_absolute_and_catches_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.f64");
        std::fs::write(&file, b"one").unwrap();
        let mut data = DataConfig {
            spacings: Some(file.clone()),
            ..DataConfig::default()
        };
        pin(&mut data).unwrap();
        assert!(data.spacings.as_ref().unwrap().is_absolute());
        let recorded = data.sha256.clone().unwrap();
        assert_eq!(recorded, sha256_hex(&file).unwrap());
        // Pinning again with the recorded digest passes; after a change it names both.
        pin(&mut data).unwrap();
        std::fs::write(&file, b"two").unwrap();
        let error = pin(&mut data).unwrap_err().to_string();
        assert!(error.contains(&recorded[..12]), "{error}");
        // The embedded text has no file to pin.
        let mut embedded = DataConfig::default();
        pin(&mut embedded).unwrap();
        assert_eq!(embedded.sha256, None);
    }
}
