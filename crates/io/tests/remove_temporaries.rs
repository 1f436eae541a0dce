//! What a signal handler does before it exits: every temporary file of the process goes,
//! so an interrupted write leaves nothing beside its destination. (Its own test binary: it
//! removes the temporaries of every thread of the process.)

use spectral_io::AtomicFile;
use spectral_io::atomic_file::remove_temporaries;
use std::fs;

#[test]
fn every_uncommitted_temporary_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = AtomicFile::create(dir.path().join("a.bin")).unwrap();
    first.write_all(b"partial").unwrap();
    let mut second = AtomicFile::create(dir.path().join("b.bin")).unwrap();
    second.write_all(b"partial").unwrap();
    let mut done = AtomicFile::create(dir.path().join("c.bin")).unwrap();
    done.write_all(b"whole").unwrap();
    done.commit().unwrap();
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    assert_eq!(remove_temporaries(), 2);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["c.bin"]);
    // The writers left without their files cannot commit.
    assert!(first.commit().is_err());
    drop(second);
    assert_eq!(remove_temporaries(), 0);
}
