//! Running the `spectral` binary from the integration tests (each test file includes this as
//! `mod common;`, so a file may use only some of it).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `spectral ARGS` with `dir` as the working directory.
pub fn spectral(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spectral"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn spectral")
}

/// The stdout of a run that must have succeeded (its stderr in the panic otherwise).
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The single stderr line of a run that must have failed.
pub fn error_line(output: Output) -> String {
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert_eq!(text.lines().count(), 1, "one error line expected: {text}");
    text
}
